//! Takes recorded from the running engine, offline: the engine driven block by block
//! under the allocation checker with takes armed, the take writer draining them to
//! disk, and the files compared with what the engine heard and played.

mod common;

use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use common::*;
use samspill::disk::{TakeFormat, TakeWriter, WriterEvent, WriterJob};
use samspill::engine::recorder::{TakeSource, TakeTap};
use samspill::engine::{Command, EngineConfig, InputConfig, ALL_TAKES};
use samspill::new_engine;

#[global_allocator]
static ALLOC_CHECK: assert_no_alloc::AllocDisabler = assert_no_alloc::AllocDisabler;

fn read_stereo(path: &std::path::Path) -> (Vec<f32>, Vec<f32>) {
    let v: Vec<f32> = hound::WavReader::open(path)
        .unwrap()
        .samples::<f32>()
        .map(Result::unwrap)
        .collect();
    v.chunks(2).map(|f| (f[0], f[1])).unzip()
}

/// Four takes at once (every input, input 2 alone, the instruments, the mix) over 1.5 s
/// of a running engine with a 300-frame round trip and a dropout on the way.
#[test]
fn takes_on_disk_are_what_the_engine_heard_shifted_by_the_round_trip() {
    let (c, mut e) = new_engine(&EngineConfig {
        sample_rate: SR,
        inputs: (0..2)
            .map(|k| InputConfig {
                name: format!("in {k}"),
                channel: k,
                right_channel: None,
            })
            .collect(),
    });
    const LATENCY: usize = 300;
    c.shared().latency_frames.store(LATENCY as u32, Relaxed);
    // Input 1 is not played through the speakers: its take has it all the same.
    c.send(Command::InputMonitor {
        input: 0,
        on: false,
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let writer = TakeWriter::start().unwrap();
    let sources = [
        TakeSource::Inputs,
        TakeSource::Input(1),
        TakeSource::Instruments,
        TakeSource::Mix,
    ];
    let (start, stop) = (secs(0.25) as u64 + 17, secs(1.75) as u64 + 5);
    for (id, s) in sources.iter().enumerate() {
        let (tap, feed) = TakeTap::new(id as u32, *s, SR as usize * 4);
        writer
            .write(WriterJob {
                feed,
                path: dir.path().join(format!("{id}.wav")),
                sample_rate: SR,
                format: TakeFormat::Float32,
            })
            .unwrap();
        c.send_at(start, Command::StartTake(tap)).unwrap();
    }
    c.send_at(stop, Command::StopTake { id: ALL_TAKES })
        .unwrap();
    c.send_at(
        secs(1.0) as u64,
        Command::Midi {
            data: [0x90, 64, 100],
            len: 3,
        },
    )
    .unwrap();

    let n = secs(2.5);
    let (mut a, mut b) = (sine(440.0, 0.4, 2.5), sine(660.0, 0.3, 2.5));
    a.truncate(n);
    b.truncate(n);
    let (mut out_l, mut out_r) = (vec![0f32; n], vec![0f32; n]);
    let before = assert_no_alloc::violation_count();
    let mut at = 0;
    // Odd block sizes, as devices and JACK buffer changes give them.
    for block in [64usize, 100, 128, 37, 256].iter().cycle() {
        if at >= n {
            break;
        }
        let end = (at + block).min(n);
        if at >= secs(1.2) && at < secs(1.2) + 64 {
            // A dropout the device reports.
            c.shared().xruns.fetch_add(1, Relaxed);
        }
        let ins: [&[f32]; 2] = [&a[at..end], &b[at..end]];
        let (l, r) = (&mut out_l[at..end], &mut out_r[at..end]);
        assert_no_alloc::assert_no_alloc(|| e.process(&ins, l, r, &[]));
        at = end;
        // The control side runs alongside, as it would.
        c.collect_garbage();
    }
    assert_eq!(
        assert_no_alloc::violation_count(),
        before,
        "the engine allocated with takes armed"
    );

    let mut finished = vec![None; sources.len()];
    let deadline = Instant::now() + Duration::from_secs(10);
    while finished.iter().any(Option::is_none) {
        let left = deadline.saturating_duration_since(Instant::now());
        match writer.events().recv_timeout(left).expect("takes finish") {
            WriterEvent::Finished {
                id,
                frames,
                dropouts,
                lost_frames,
                ..
            } => finished[id as usize] = Some((frames, dropouts, lost_frames)),
            WriterEvent::Failed { why, .. } => panic!("a take failed: {why}"),
            _ => {}
        }
    }
    let len = (stop - start) as usize;
    let dropout_at = (secs(1.2) as u64 - start) as usize;
    for (id, f) in finished.iter().enumerate() {
        let (frames, dropouts, lost) = f.clone().unwrap();
        assert_eq!(
            frames as usize, len,
            "take {id} is as long as it was recorded"
        );
        assert_eq!(lost, 0);
        // The mark sits at the first frame the take had after the dropout was counted.
        let live = sources[id].is_live();
        let mark = dropouts.first().copied().expect("the dropout is marked") as usize;
        let heard_at = if live {
            dropout_at - LATENCY
        } else {
            dropout_at
        };
        assert!(
            mark.abs_diff(heard_at) <= 256,
            "take {id}: dropout marked at {mark}, it came at {heard_at}"
        );
    }
    let (start, stop) = (start as usize, stop as usize);

    // The mix: exactly what the speakers played, from start to stop.
    let (ml, mr) = read_stereo(&dir.path().join("3.wav"));
    assert_eq!(ml, out_l[start..stop]);
    assert_eq!(mr, out_r[start..stop]);

    // Input 2 alone: the input a round trip after the start, sample for sample (its
    // level is the strip's: one factor for the whole take).
    let (il, ir) = read_stereo(&dir.path().join("1.wav"));
    let live = &b[start + LATENCY..stop + LATENCY];
    let k = 1000;
    let (gl, gr) = (il[k] / live[k], ir[k] / live[k]);
    assert!(gl > 0.3 && gr > 0.3, "input 2 is in its take: {gl} {gr}");
    for i in 0..len {
        assert!(
            (il[i] - gl * live[i]).abs() < 1e-6 && (ir[i] - gr * live[i]).abs() < 1e-6,
            "input 2's take is off at frame {i}"
        );
    }
    // Every input, the unmonitored one included.
    let (al, _) = read_stereo(&dir.path().join("0.wav"));
    let a_level = magnitude_at(&al, 440.0);
    let b_level = magnitude_at(&al, 660.0);
    assert!(
        a_level > 0.1 * b_level && b_level > 0.1 * a_level,
        "both inputs are in the take: {a_level} {b_level}"
    );
    // The instruments: silent until the note (played at 1 s, heard a round trip on).
    let (nl, _) = read_stereo(&dir.path().join("2.wav"));
    let note = secs(1.0) - start - LATENCY;
    assert!(
        rms(&nl[..note - 64]) == 0.0,
        "the instruments were silent before the note"
    );
    assert!(
        rms(&nl[note + 64..note + 4864]) > 0.01,
        "the note is in the take"
    );
}
