//! The engine driven block by block, as a device callback would: glides, meters,
//! frame-exact commands, hand-back of what the audio thread lets go of.

mod common;

use std::sync::Arc;

use common::*;
use samspill::engine::{Command, Engine, EngineConfig, InputConfig};
use samspill::{new_engine, Controller};

#[global_allocator]
static ALLOC_CHECK: assert_no_alloc::AllocDisabler = assert_no_alloc::AllocDisabler;

fn mono_engine() -> (Controller, Engine) {
    new_engine(&EngineConfig {
        sample_rate: SR,
        inputs: vec![InputConfig {
            name: "mic".into(),
            channel: 0,
            right_channel: None,
        }],
    })
}

/// Runs `input` through in `block`-frame pieces, under the allocation checker.
fn run(engine: &mut Engine, input: &[f32], block: usize) -> (Vec<f32>, Vec<f32>) {
    let (mut l, mut r) = (vec![0f32; input.len()], vec![0f32; input.len()]);
    let before = assert_no_alloc::violation_count();
    for ((i, ol), or) in input
        .chunks(block)
        .zip(l.chunks_mut(block))
        .zip(r.chunks_mut(block))
    {
        assert_no_alloc::assert_no_alloc(|| engine.process(&[i], ol, or, &[]));
    }
    assert_eq!(
        assert_no_alloc::violation_count(),
        before,
        "the engine allocated"
    );
    (l, r)
}

fn max_jump(x: &[f32]) -> f32 {
    x.windows(2).fold(0f32, |m, w| m.max((w[1] - w[0]).abs()))
}

#[test]
fn muting_an_input_glides_out_instead_of_clicking() {
    let (c, mut e) = mono_engine();
    // A low tone: its own largest step is tiny, so a click would stand out.
    let x = sine(50.0, 0.5, 1.0);
    let steady = max_jump(&run(&mut e, &x[..secs(0.5)], 64).0);
    c.send_at(
        secs(0.5) as u64 + 17,
        Command::InputMute {
            input: 0,
            muted: true,
        },
    )
    .unwrap();
    let (l, _) = run(&mut e, &x[secs(0.5)..], 64);
    assert!(
        max_jump(&l) <= steady * 1.5,
        "mute stepped: {} vs {steady}",
        max_jump(&l)
    );
    assert!(rms(&l[l.len() - 4800..]) < 1e-6, "muted input still heard");
}

#[test]
fn a_command_lands_on_its_frame_whatever_the_block_size() {
    let at = 10_007u64;
    let render = |block: usize| {
        let (c, mut e) = mono_engine();
        c.send_at(at, Command::MasterGain { db: -60.0 }).unwrap();
        run(&mut e, &vec![0.25; secs(0.5)], block).0
    };
    let a = render(64);
    let b = render(500);
    assert_eq!(a, b);
    let latency = {
        let (_, e) = mono_engine();
        e.latency_frames()
    };
    // Unchanged up to the command (after the limiter's delay), gliding down after it.
    let steady = a[at as usize - 1];
    let first_change = latency
        + 10
        + a[latency + 10..]
            .iter()
            .position(|s| *s < steady - 1e-6)
            .unwrap();
    assert_eq!(first_change, at as usize + latency);
}

#[test]
fn meters_read_what_was_played() {
    let (c, mut e) = mono_engine();
    c.send(Command::InputGain { input: 0, db: -6.0 }).unwrap();
    let x = sine(1000.0, 0.8, 1.0);
    let (l, _) = run(&mut e, &x, 128);
    let s = c.snapshot();
    let input = s.inputs[0];
    assert!(
        (input.peak - 0.8 * 0.501).abs() < 0.01,
        "input peak {}",
        input.peak
    );
    // RMS of a sine is peak / sqrt 2.
    assert!(
        (input.rms - 0.8 * 0.501 / 2f32.sqrt()).abs() < 0.01,
        "input rms {}",
        input.rms
    );
    let out_peak = l[l.len() - 128..].iter().fold(0f32, |m, v| m.max(v.abs()));
    assert!(
        (s.master.peak - out_peak).abs() < 0.02,
        "master {} vs {out_peak}",
        s.master.peak
    );
    assert_eq!(s.frames, x.len() as u64);
    assert_eq!(s.limiter_reduction_db, 0.0);
}

#[test]
fn an_input_the_device_lacks_is_silence_not_a_crash() {
    let (_c, mut e) = new_engine(&EngineConfig {
        sample_rate: SR,
        inputs: vec![InputConfig {
            name: "gone".into(),
            channel: 7,
            right_channel: Some(8),
        }],
    });
    let (l, r) = run(&mut e, &sine(440.0, 0.5, 0.1), 64);
    assert!(l.iter().chain(&r).all(|s| *s == 0.0));
}

#[test]
fn odd_and_huge_blocks_and_garbage_midi_are_taken_in_stride() {
    let (_c, mut e) = mono_engine();
    let x = sine(300.0, 0.3, 0.5);
    let mut seed = 12345u32;
    let mut pos = 0;
    let mut out = vec![0f32; 5000];
    let mut out_r = vec![0f32; 5000];
    while pos + 5000 < x.len() {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        let n = 1 + (seed as usize % 4999);
        let bytes = [(seed >> 8) as u8, (seed >> 16) as u8, (seed >> 24) as u8];
        let midi = [samspill::MidiEvent::new(seed % 9000, &bytes)];
        e.process(&[&x[pos..pos + n]], &mut out[..n], &mut out_r[..n], &midi);
        assert!(out[..n].iter().all(|s| s.is_finite() && s.abs() <= 1.0));
        pos += n;
    }
}

#[test]
fn a_replaced_soundfont_is_freed_on_the_control_side() {
    let (c, mut e) = mono_engine();
    let first = samspill::controller::load_soundfont(&test_soundfont(), SR).unwrap();
    let font: Arc<rustysynth::SoundFont> = first.font.clone();
    c.send(Command::InstallSoundFont(first)).unwrap();
    run(&mut e, &[0.0; 256], 64);
    // Ours, the SoundFontSynth's, and the one inside rustysynth's synthesizer.
    assert_eq!(
        Arc::strong_count(&font),
        3,
        "the engine should hold the first font"
    );
    let second = samspill::controller::load_soundfont(&test_soundfont(), SR).unwrap();
    c.send(Command::InstallSoundFont(second)).unwrap();
    // The swap happens inside the checked block: the old synth must not be freed there.
    run(&mut e, &[0.0; 256], 64);
    assert_eq!(
        Arc::strong_count(&font),
        3,
        "handed back but not yet collected"
    );
    c.collect_garbage();
    assert_eq!(
        Arc::strong_count(&font),
        1,
        "the old font was not handed back"
    );
}

#[test]
fn loop_meters_and_undo_counts_reach_the_panel() {
    use samspill::controller::{build_looper, LooperConfig};
    use samspill::engine::looper::LoopOp;
    use std::sync::atomic::Ordering::Relaxed;

    let (c, mut e) = mono_engine();
    let config = LooperConfig {
        tracks: 2,
        max_secs: 4.0,
        undo_levels: 3,
        ..LooperConfig::default()
    };
    c.send(Command::InstallLooper(build_looper(&config, SR)))
        .unwrap();
    let op = |op| Command::Loop { track: 0, op };
    let loops = &c.shared().loops;
    let x = sine(500.0, 0.5, 1.0);
    let silence = vec![0f32; x.len()];

    c.send(op(LoopOp::Record)).unwrap();
    run(&mut e, &x, 64);
    c.send(op(LoopOp::Record)).unwrap();
    // Playing the recorded tone back (the live input is silent now).
    run(&mut e, &silence, 64);
    let (peak, rms) = (loops[0].level.peak.load(), loops[0].level.rms.load());
    // Centre pan twice (the input strip, then the track): -3 dB each side, each time.
    let side = 0.5 * 0.5;
    assert!((peak - side).abs() < 0.02, "loop peak {peak}");
    assert!((rms - side / 2f32.sqrt()).abs() < 0.02, "loop rms {rms}");
    assert_eq!(
        loops[1].level.peak.load(),
        0.0,
        "an empty track reads silent"
    );
    assert_eq!(loops[0].undo_levels.load(Relaxed), 1);
    assert_eq!(loops[0].redo_levels.load(Relaxed), 0);

    c.send(op(LoopOp::Undo)).unwrap();
    run(&mut e, &silence[..4800], 64);
    assert_eq!(loops[0].undo_levels.load(Relaxed), 0);
    assert_eq!(loops[0].redo_levels.load(Relaxed), 1);
    c.send(op(LoopOp::Mute)).unwrap();
    run(&mut e, &silence[..4800], 64);
    assert_eq!(loops[0].level.peak.load(), 0.0);
}

/// Two mono inputs, 440 Hz on the first and 660 Hz on the second, recorded for 1 s into
/// track 1 from `source` (first input monitored or not), then 1 s of the loop alone.
/// The whole output, left side.
fn two_inputs_into_a_loop(first_monitored: bool, source: u8) -> Vec<f32> {
    use samspill::controller::{build_looper, LooperConfig};
    use samspill::engine::looper::{LoopOp, SyncMode};

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
    let config = LooperConfig {
        tracks: 2,
        max_secs: 4.0,
        sync: SyncMode::Off,
        ..LooperConfig::default()
    };
    c.send(Command::InstallLooper(build_looper(&config, SR)))
        .unwrap();
    c.send(Command::InputMonitor {
        input: 0,
        on: first_monitored,
    })
    .unwrap();
    let op = |op| Command::Loop { track: 0, op };
    c.send(op(LoopOp::SetSource(source))).unwrap();
    let (mut a, mut b) = (sine(440.0, 0.4, 1.0), sine(660.0, 0.4, 1.0));
    a.resize(secs(2.0), 0.0);
    b.resize(secs(2.0), 0.0);
    let mut out = vec![0f32; a.len()];
    let mut right = vec![0f32; a.len()];
    let before = assert_no_alloc::violation_count();
    for (at, (l, r)) in (0..a.len())
        .step_by(128)
        .zip(out.chunks_mut(128).zip(right.chunks_mut(128)))
    {
        if at == 0 || at == secs(1.0) {
            c.send_at(at as u64, op(LoopOp::Record)).unwrap();
        }
        let end = at + l.len();
        let ins: [&[f32]; 2] = [&a[at..end], &b[at..end]];
        assert_no_alloc::assert_no_alloc(|| e.process(&ins, l, r, &[]));
    }
    assert_eq!(
        assert_no_alloc::violation_count(),
        before,
        "the engine allocated"
    );
    let published = c.shared().loops[0]
        .source
        .load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(
        published, source as u32,
        "the panel reads the track's source"
    );
    out
}

#[test]
fn loops_record_an_unmonitored_input_and_single_inputs_on_their_own() {
    use samspill::engine::looper::{SOURCE_INPUTS, SOURCE_INPUT_BASE};
    let live = secs(0.2)..secs(0.8);
    let looped = secs(1.2)..secs(1.8);
    let has = |x: &[f32], hz: f64| magnitude_at(x, hz) > 50.0 * magnitude_at(x, 550.0);

    let heard = two_inputs_into_a_loop(true, SOURCE_INPUTS);
    let direct = two_inputs_into_a_loop(false, SOURCE_INPUTS);
    // Not monitored: the first input is not in what is heard live...
    assert!(has(&heard[live.clone()], 440.0));
    assert!(
        !has(&direct[live.clone()], 440.0),
        "the unmonitored input was heard"
    );
    assert!(has(&direct[live.clone()], 660.0));
    // ...but the loop took it in all the same, exactly as if it had been monitored.
    assert!(has(&direct[looped.clone()], 440.0) && has(&direct[looped.clone()], 660.0));
    assert!(
        heard[secs(1.05)..] == direct[secs(1.05)..],
        "the loop differs with the input's monitoring"
    );

    // A track recording the second input alone has its tone and not the first's.
    let alone = two_inputs_into_a_loop(true, SOURCE_INPUT_BASE + 1);
    assert!(has(&alone[looped.clone()], 660.0));
    assert!(
        !has(&alone[looped], 440.0),
        "the first input leaked into the second's loop"
    );
}

#[test]
fn commands_with_no_room_to_wait_are_refused_never_applied_early() {
    use std::sync::atomic::Ordering::Relaxed;
    let (c, mut e) = mono_engine();
    let x = sine(440.0, 0.3, 0.5);
    let far = secs(60.0) as u64;
    // More changes timed for later than the engine can hold: a minute away, silence.
    let held = samspill::engine::PENDING_CAPACITY;
    for _ in 0..held + 40 {
        c.send_at(far, Command::MasterGain { db: -120.0 }).unwrap();
    }
    // One due now still applies.
    c.send(Command::InputGain { input: 0, db: -6.0 }).unwrap();
    let (l, _) = run(&mut e, &x, 64);
    assert_eq!(c.shared().commands_refused.load(Relaxed), 40);
    assert!(
        rms(&l[secs(0.25)..]) > 0.02,
        "a change for later was applied now"
    );
    assert_eq!(c.snapshot().commands_refused, 40);
}
