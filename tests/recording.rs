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
                part_frames: 0,
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

/// A room simulated around a running engine: a player who first plays a known noise,
/// then plays back exactly what they hear, a round trip late. The song desk records a
/// take of the noise, then a second take on a new track while the first plays (after
/// a count-in): the second take must equal the first, frame for frame, only quieter by
/// the levels on the way (master, the input's send) — the overdub lines up with what
/// the player heard.
#[test]
fn an_overdub_of_what_the_player_hears_lines_up_with_the_take_it_plays_along_to() {
    use samspill::control::songs::{SongDesk, SongLine};
    use std::sync::atomic::{AtomicBool, AtomicU8};
    use std::sync::Arc;

    let (c, mut e) = new_engine(&EngineConfig {
        sample_rate: SR,
        inputs: vec![InputConfig {
            name: "mic".into(),
            channel: 0,
            right_channel: None,
        }],
    });
    // The player's own playing is not sent back out (else it would feed back).
    c.send(Command::InputMonitor {
        input: 0,
        on: false,
    })
    .unwrap();
    const ROOM: usize = 300;
    let round_trip = e.latency_frames() + ROOM;
    c.shared().latency_frames.store(round_trip as u32, Relaxed);
    let mode = Arc::new(AtomicU8::new(0));
    let quit = Arc::new(AtomicBool::new(false));
    let (m2, q2) = (mode.clone(), quit.clone());
    let room = std::thread::spawn(move || {
        let mut heard = vec![0f32; 1 << 22];
        let mut at = 0usize;
        let noise = |f: usize| {
            let x = (f as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40;
            (x as f32 / (1u64 << 24) as f32 - 0.5) * 0.6
        };
        let (mut l, mut r, mut input) = (vec![0f32; 256], vec![0f32; 256], vec![0f32; 256]);
        let started = Instant::now();
        while !q2.load(Relaxed) {
            for (i, x) in input.iter_mut().enumerate() {
                let f = at + i;
                *x = match m2.load(Relaxed) {
                    0 => noise(f),
                    // What the speakers played a round trip ago.
                    _ => f.checked_sub(ROOM).map_or(0.0, |g| heard[g % heard.len()]),
                };
            }
            let ins: [&[f32]; 1] = [&input];
            assert_no_alloc::assert_no_alloc(|| e.process(&ins, &mut l, &mut r, &[]));
            for (i, v) in l.iter().enumerate() {
                let n = heard.len();
                heard[(at + i) % n] = *v;
            }
            at += 256;
            // About real time, as the desk's waits are in wall-clock time.
            let due = Duration::from_secs_f64(at as f64 / SR as f64);
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                std::thread::sleep(wait);
            }
        }
    });

    let allocations = assert_no_alloc::violation_count();
    let data = tempfile::tempdir().unwrap();
    let mut desk = SongDesk::new(c.clone(), data.path().to_owned()).unwrap();
    let say = |desk: &mut SongDesk, l: SongLine| desk.run(l).unwrap_or_else(|e| panic!("{e}"));
    say(&mut desk, SongLine::New("Overdub".into()));
    say(&mut desk, SongLine::Tempo(150.0, Some(4)));
    say(&mut desk, SongLine::CountIn(1));
    say(&mut desk, SongLine::Click(false));
    assert!(say(&mut desk, SongLine::Record(None)).starts_with("recording: track 1, take 1"));
    std::thread::sleep(Duration::from_millis(3500));
    assert!(say(&mut desk, SongLine::Stop).starts_with("take: track 1, take 1:"));
    // Now the player plays back what they hear.
    mode.store(1, Relaxed);
    assert!(say(&mut desk, SongLine::Record(None)).starts_with("recording: track 2, take 1"));
    std::thread::sleep(Duration::from_millis(3000));
    assert!(say(&mut desk, SongLine::Stop).starts_with("take: track 2, take 1:"));
    quit.store(true, Relaxed);
    room.join().unwrap();
    assert_eq!(
        assert_no_alloc::violation_count(),
        allocations,
        "the engine allocated while a song played and a take recorded"
    );

    let read = |f: &str| -> Vec<f32> {
        hound::WavReader::open(data.path().join("Overdub/takes").join(f))
            .unwrap()
            .samples::<i32>()
            .step_by(2)
            .map(|s| s.unwrap() as f32 / 8_388_607.0)
            .collect()
    };
    let (one, two) = (read("track01-take001.wav"), read("track02-take001.wav"));
    assert!(one.len() > SR as usize && two.len() > SR as usize / 2);
    let n = two.len().min(one.len());
    // The best lag between the two, and how well the second is the first, scaled.
    let fit = |lag: i64| -> (f64, f64) {
        let (mut xy, mut xx, mut yy) = (0f64, 0f64, 0f64);
        for p in 1000..n - 1000 {
            let x = one[(p as i64 + lag) as usize] as f64;
            let y = two[p] as f64;
            xy += x * y;
            xx += x * x;
            yy += y * y;
        }
        (xy / (xx * yy).sqrt(), xy / xx)
    };
    let best = (-600i64..=600)
        .max_by(|a, b| fit(*a).0.total_cmp(&fit(*b).0))
        .unwrap();
    let (corr, gain) = fit(best);
    eprintln!("overdub against the take: lag {best}, correlation {corr:.6}, gain {gain:.4}");
    assert_eq!(
        best, 0,
        "the overdub is {best} frames off the take it played along to"
    );
    assert!(
        corr > 0.9999,
        "the overdub is not the take: correlation {corr}"
    );
    let worst = (1000..n - 1000)
        .map(|p| (two[p] - gain as f32 * one[p]).abs())
        .fold(0f32, f32::max);
    assert!(worst < 1e-4, "frame for frame it is off by up to {worst}");
}
