//! The SoundFont instrument as a player meets it: the same level and pitch at every
//! rate, notes that ring out after panic, and a synth that rests when nothing sounds.

mod common;

use std::sync::atomic::Ordering::Relaxed;

use common::*;
use samspill::controller::load_soundfont;
use samspill::engine::{Command, Engine, EngineConfig, MidiEvent};
use samspill::{new_engine, Controller};

#[global_allocator]
static ALLOC_CHECK: assert_no_alloc::AllocDisabler = assert_no_alloc::AllocDisabler;

fn engine_with_soundfont(rate: u32) -> (Controller, Engine) {
    let (c, mut e) = new_engine(&EngineConfig {
        sample_rate: rate,
        inputs: vec![],
    });
    let sf = load_soundfont(&test_soundfont(), rate).unwrap();
    c.send(Command::InstallSoundFont(sf)).unwrap();
    run(&mut e, &[], 64);
    assert_eq!(c.shared().soundfont_active.load(Relaxed), 1);
    (c, e)
}

/// Plays `frames` frames in blocks of `block`, with MIDI events at absolute frames
/// (counted from the engine's current frame), under the allocation checker.
fn play(
    e: &mut Engine,
    frames: usize,
    block: usize,
    events: &[(usize, [u8; 3])],
) -> (Vec<f32>, Vec<f32>) {
    let (mut l, mut r) = (vec![0f32; frames], vec![0f32; frames]);
    let before = assert_no_alloc::violation_count();
    let mut at = 0;
    let mut midi = Vec::with_capacity(events.len());
    while at < frames {
        let n = block.min(frames - at);
        midi.clear();
        midi.extend(
            events
                .iter()
                .filter(|(f, _)| (at..at + n).contains(f))
                .map(|(f, d)| MidiEvent {
                    frame: (f - at) as u32,
                    data: *d,
                    len: 3,
                }),
        );
        let (ol, or) = (&mut l[at..at + n], &mut r[at..at + n]);
        assert_no_alloc::assert_no_alloc(|| e.process(&[], ol, or, &midi));
        at += n;
    }
    assert_eq!(
        assert_no_alloc::violation_count(),
        before,
        "the engine allocated"
    );
    (l, r)
}

fn run(e: &mut Engine, events: &[(usize, [u8; 3])], frames: usize) -> (Vec<f32>, Vec<f32>) {
    play(e, frames, 64, events)
}

/// An A4 held for half a second at `rate`: its level (dB) and pitch (Hz).
fn a4(e: &mut Engine, rate: u32) -> (f32, f64) {
    let n = rate as usize / 2;
    let (l, _) = run(
        e,
        &[(0, [0x90, 69, 100]), (n, [0x80, 69, 0])],
        n + rate as usize * 2,
    );
    let held = &l[n / 4..n];
    (
        db(rms(held)),
        spectral_peak_hz_at_rate(held, rate, 400.0, 480.0),
    )
}

#[test]
fn a_live_rate_change_keeps_the_soundfonts_level_and_pitch() {
    let (c48, mut e48) = engine_with_soundfont(48_000);
    let (c44, mut e44) = engine_with_soundfont(44_100);
    let (level48, pitch48) = a4(&mut e48, 48_000);
    let (level44, pitch44) = a4(&mut e44, 44_100);
    // The running engines change rate both ways; the rebuilt synths must match.
    // The SoundFonts go back to be rebuilt at the new rate and come back by themselves.
    e48.set_sample_rate(samspill::prep::for_rate(44_100));
    e44.set_sample_rate(samspill::prep::for_rate(48_000));
    for (c, e) in [(&c48, &mut e48), (&c44, &mut e44)] {
        assert_eq!(c.shared().soundfont_active.load(Relaxed), 0);
        let start = std::time::Instant::now();
        while c.shared().soundfont_active.load(Relaxed) == 0 {
            assert!(
                start.elapsed() < std::time::Duration::from_secs(30),
                "the SoundFont never came back"
            );
            run(e, &[], 64);
            c.collect_garbage();
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }
    let (level48_44, pitch48_44) = a4(&mut e48, 44_100);
    let (level44_48, pitch44_48) = a4(&mut e44, 48_000);
    for (what, level, pitch) in [
        ("44.1 kHz", level44, pitch44),
        ("48 → 44.1 kHz", level48_44, pitch48_44),
        ("44.1 → 48 kHz", level44_48, pitch44_48),
    ] {
        assert!(
            (level - level48).abs() < 1.0,
            "{what}: {level:.1} dB against {level48:.1} dB at 48 kHz"
        );
        assert!(
            (pitch - pitch48).abs() < 1.0 && (pitch - 440.0).abs() < 3.0,
            "{what}: {pitch:.1} Hz against {pitch48:.1} Hz at 48 kHz"
        );
    }
}

#[test]
fn a_soundfont_loaded_at_the_old_rate_is_rebuilt_at_the_new_one() {
    let (c, mut e) = new_engine(&EngineConfig {
        sample_rate: 48_000,
        inputs: vec![],
    });
    // Loaded for 44.1 kHz while the engine moved to 48 kHz.
    let sf = load_soundfont(&test_soundfont(), 44_100).unwrap();
    c.send(Command::InstallSoundFont(sf)).unwrap();
    run(&mut e, &[], 64);
    assert_eq!(
        c.shared().soundfont_active.load(Relaxed),
        0,
        "installed at the wrong rate"
    );
    // The control side rebuilds it in the background and sends it again.
    let started = std::time::Instant::now();
    while c.shared().soundfont_active.load(Relaxed) == 0 {
        assert!(
            started.elapsed().as_secs() < 30,
            "the SoundFont never came back"
        );
        c.collect_garbage();
        std::thread::sleep(std::time::Duration::from_millis(10));
        run(&mut e, &[], 64);
    }
    let (_, pitch) = a4(&mut e, 48_000);
    assert!((pitch - 440.0).abs() < 3.0, "{pitch:.1} Hz");
}

#[test]
fn panic_lets_notes_ring_out_even_with_the_pedal_down() {
    let rate = 48_000;
    let (c, mut e) = engine_with_soundfont(rate);
    // A chord held by the sustain pedal, keys already let go.
    run(
        &mut e,
        &[
            (0, [0xB0, 64, 127]),
            (0, [0x90, 60, 100]),
            (0, [0x90, 64, 100]),
            (4800, [0x80, 60, 0]),
            (4800, [0x80, 64, 0]),
        ],
        rate as usize,
    );
    let (before, _) = run(&mut e, &[], 2400);
    c.send(Command::AllNotesOff).unwrap();
    let (after, _) = run(&mut e, &[], rate as usize * 4);
    let level = rms(&before);
    assert!(level > 1e-3, "the chord is not sounding: {level}");
    // Not cut: the first few milliseconds after panic still carry the notes.
    let first = rms(&after[..240]);
    assert!(
        first > level * 0.3,
        "panic cut the notes: {first} from {level}"
    );
    // But they end, pedal or not.
    let last = rms(&after[after.len() - 4800..]);
    assert!(
        last < level * 1e-3,
        "notes still sound after panic: {last} from {level}"
    );
}

#[test]
fn an_idle_soundfont_rests_and_wakes_on_its_own_grid() {
    let rate = 48_000;
    let (_c, mut e) = engine_with_soundfont(rate);
    let grid = samspill::engine::command::SOUNDFONT_BLOCK_FRAMES;
    // First note at a frame off the grid; where its sound starts shows the grid's phase.
    let start = e.frame() as usize;
    let first_at = 1000 + 17;
    let (l1, _) = run(
        &mut e,
        &[
            (first_at, [0x90, 72, 100]),
            (first_at + 4800, [0x80, 72, 0]),
        ],
        rate as usize * 4,
    );
    let onset = |x: &[f32]| x.iter().position(|s| s.abs() > 1e-4);
    let onset1 = start + onset(&l1).expect("the first note sounds");
    assert!(
        e.soundfont_resting(),
        "the synth still renders after its tail died away"
    );
    // Silence while it rests is exact.
    let (quiet, _) = run(&mut e, &[], 12_345);
    assert!(quiet.iter().all(|s| *s == 0.0));
    // A note at another odd frame wakes it, on the grid it would have had.
    let start2 = e.frame() as usize;
    let (l2, _) = run(&mut e, &[(333, [0x90, 72, 100])], 9600);
    assert!(!e.soundfont_resting());
    let onset2 = start2 + onset(&l2).expect("the second note sounds");
    assert_eq!(
        (onset2 - onset1) % grid,
        0,
        "the grid moved while the synth rested: onsets at {onset1} and {onset2}"
    );
    // And no later than a note on an awake synth (the same attack, the limiter's
    // look-ahead), give or take where each fell on the grid.
    let late1 = onset1 - (start + first_at);
    let late = onset2 - (start2 + 333);
    assert!(
        late < late1 + grid,
        "the note came {late} frames late, an awake one {late1}"
    );
}
