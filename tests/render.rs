//! Offline renders of whole scripts, asserted like a listener would: pitch, sustain,
//! loudness safety, repeatability, and no allocation on the audio path.

mod common;

use common::*;
use samspill::render::{render, RenderError, Script};

// Every render in this binary runs `Engine::process` under this checker.
#[global_allocator]
static ALLOC_CHECK: assert_no_alloc::AllocDisabler = assert_no_alloc::AllocDisabler;

fn script(dir: &std::path::Path, text: &str) -> Script {
    Script::parse(text, "test.toml", dir).unwrap_or_else(|e| panic!("{e}"))
}

fn render_text(dir: &std::path::Path, text: &str) -> samspill::render::Rendered {
    render(&script(dir, text)).unwrap_or_else(|e| panic!("{e}"))
}

fn note_script(soundfont: &str, patch: &str) -> String {
    format!(
        r#"
soundfont = "{soundfont}"
patch = "{patch}"
length_secs = 2.0
[[note]]
at_secs = 0.1
key = 69
velocity = 100
length_secs = 1.5
"#
    )
}

#[test]
fn a_440_hz_note_has_its_spectral_peak_at_440_hz() {
    let dir = tempfile::tempdir().unwrap();
    let sf = test_soundfont();
    for (soundfont, patch) in [
        ("none", "piano"),
        ("none", "epiano"),
        ("none", "pad"),
        (sf.to_str().unwrap(), "piano"),
        (sf.to_str().unwrap(), "epiano"),
    ] {
        let out = render_text(dir.path(), &note_script(soundfont, patch));
        let window = &out.left[secs(0.4)..secs(1.4)];
        assert!(
            rms(window) > 0.003,
            "{soundfont}/{patch}: the note is silent"
        );
        let peak = spectral_peak_hz(window, 100.0, 2000.0);
        assert!(
            (peak - 440.0).abs() < 2.0,
            "{soundfont}/{patch}: spectral peak at {peak:.1} Hz"
        );
    }
}

#[test]
fn the_sustain_pedal_holds_notes_until_it_is_lifted() {
    let dir = tempfile::tempdir().unwrap();
    let sf = test_soundfont();
    for soundfont in ["none", sf.to_str().unwrap()] {
        let base = format!(
            r#"
soundfont = "{soundfont}"
patch = "organ"
length_secs = 4.0
[[note]]
at_secs = 0.1
key = 60
length_secs = 0.4
"#
        );
        let pedal = format!(
            "{base}
[[command]]
at_secs = 0.05
midi = [0xB0, 64, 127]
[[command]]
at_secs = 2.0
midi = [0xB0, 64, 0]
"
        );
        let free = render_text(dir.path(), &base);
        let held = render_text(dir.path(), &pedal);
        let at = |x: &[f32], s: f64| rms(&x[secs(s)..secs(s + 0.2)]);
        assert!(at(&held.left, 0.2) > 0.01, "{soundfont}: no sound at all");
        assert!(
            at(&held.left, 1.2) > 0.3 * at(&held.left, 0.2),
            "{soundfont}: the pedal did not hold the note"
        );
        assert!(
            at(&free.left, 1.2) < 0.05 * at(&free.left, 0.2),
            "{soundfont}: without the pedal the note should have ended"
        );
        assert!(
            at(&held.left, 3.5) < 0.05 * at(&held.left, 0.2),
            "{soundfont}: lifting the pedal should release the note"
        );
    }
}

#[test]
fn plus_20_db_on_an_input_never_passes_minus_1_dbfs_true_peak() {
    let dir = tempfile::tempdir().unwrap();
    // A guitar-ish mix of tones at intersample-unfriendly frequencies, plus a square.
    let mut x = sine(440.0, 0.4, 3.0);
    for (i, s) in sine(11_997.0, 0.3, 3.0).iter().enumerate() {
        x[i] += s;
    }
    for (i, s) in x.iter_mut().enumerate().skip(secs(1.5)) {
        *s = if (i / 37) % 2 == 0 { 0.7 } else { -0.7 };
    }
    write_wav(&dir.path().join("hot.wav"), &[x]);
    let out = render_text(
        dir.path(),
        r#"
soundfont = "none"
master_db = 6
[[input]]
file = "hot.wav"
gain_db = 20
"#,
    );
    let ceiling = 10f32.powf(-1.0 / 20.0);
    for ch in [&out.left, &out.right] {
        let tp = reference_true_peak(ch);
        assert!(
            tp <= ceiling,
            "true peak {:.2} dBFS is over -1 dBFS",
            db(tp)
        );
        // And it is loud, not just silenced.
        assert!(rms(&ch[secs(0.5)..secs(1.0)]) > 0.3);
    }
}

fn full_script(dir: &std::path::Path, soundfont: &str) -> String {
    write_wav(&dir.join("voice.wav"), &[sine(220.0, 0.3, 2.0)]);
    write_wav(
        &dir.join("guitar.wav"),
        &[sine(330.0, 0.5, 2.5), sine(331.0, 0.5, 2.5)],
    );
    format!(
        r#"
soundfont = "{soundfont}"
patch = "epiano"
length_secs = 3.0
[[input]]
file = "voice.wav"
gain_db = 6
pan = -0.5
[[input]]
file = "guitar.wav"
start_secs = 0.25
gain_db = 18
[[note]]
at_secs = 0.1
key = 60
length_secs = 1.0
[[note]]
at_secs = 0.2
key = 64
velocity = 60
length_secs = 1.0
[[note]]
at_secs = 0.3
key = 36
channel = 10
length_secs = 0.1
[[note]]
at_secs = 0.5
key = 38
channel = 10
length_secs = 0.1
[[note]]
at_secs = 0.7
key = 42
channel = 10
length_secs = 0.1
[[command]]
at_secs = 0.6
patch = "pad"
[[command]]
at_secs = 0.8
master_db = -3
[[command]]
at_secs = 0.9
input = 1
mute = true
[[command]]
at_secs = 1.1
midi = [0xE0, 0, 96]
[[command]]
at_secs = 1.2
midi = [0x90, 67, 90]
[[command]]
at_secs = 1.3
midi = [0xF8]
[[command]]
at_secs = 1.4
midi = [0x93, 200]
[[command]]
at_secs = 1.5
all_notes_off = true
[[command]]
at_secs = 1.6
input = 2
pan = 0.7
"#
    )
}

#[test]
fn a_whole_session_renders_without_a_single_allocation_on_the_audio_path() {
    // First prove the checker counts: an allocation inside it must show up.
    let before = assert_no_alloc::violation_count();
    assert_no_alloc::assert_no_alloc(|| std::hint::black_box(vec![1u8; 16]));
    assert!(
        assert_no_alloc::violation_count() > before,
        "the allocation checker is not active"
    );

    let dir = tempfile::tempdir().unwrap();
    let sf = test_soundfont();
    for soundfont in ["none", sf.to_str().unwrap()] {
        let text = full_script(dir.path(), soundfont);
        assert_no_alloc::reset_violation_count();
        let out = render_text(dir.path(), &text);
        assert_eq!(
            assert_no_alloc::violation_count(),
            0,
            "{soundfont}: the engine allocated on the audio path"
        );
        assert!(rms(&out.left) > 0.01);
        let shared = &out.shared;
        use std::sync::atomic::Ordering::Relaxed;
        assert!(
            shared.midi_malformed.load(Relaxed) >= 1,
            "the bad MIDI bytes were not counted"
        );
    }
}

#[test]
fn the_same_script_renders_identical_bytes_twice() {
    let dir = tempfile::tempdir().unwrap();
    let sf = test_soundfont();
    let text = full_script(dir.path(), sf.to_str().unwrap());
    std::fs::write(dir.path().join("s.toml"), &text).unwrap();
    let a = dir.path().join("a.wav");
    let b = dir.path().join("b.wav");
    samspill::render::render_file(&dir.path().join("s.toml"))
        .unwrap()
        .write_wav(&a)
        .unwrap();
    samspill::render::render_file(&dir.path().join("s.toml"))
        .unwrap()
        .write_wav(&b)
        .unwrap();
    let (a, b) = (std::fs::read(a).unwrap(), std::fs::read(b).unwrap());
    assert!(a.len() > 100_000);
    assert!(a == b, "two renders of one script differ");
}

#[test]
fn block_size_does_not_change_what_is_heard() {
    let dir = tempfile::tempdir().unwrap();
    let sf = test_soundfont();
    for soundfont in ["none", sf.to_str().unwrap()] {
        // The SoundFont and the looper too: a loop recorded, overdubbed and played, and a
        // note after the SoundFont has come to rest.
        let text = format!(
            r#"{}
[looper]
tracks = 2
max_secs = 4
[[command]]
at_secs = 0.05
loop = "record"
track = 1
[[command]]
at_secs = 1.05
loop = "record"
track = 1
[[command]]
at_secs = 1.5
loop = "overdub"
track = 1
[[command]]
at_secs = 2.0
loop = "overdub"
track = 1
[[note]]
at_secs = 2.9
key = 72
length_secs = 0.05
"#,
            full_script(dir.path(), soundfont)
        );
        let a = render_text(dir.path(), &format!("block_frames = 64\n{text}"));
        // Devices deliver powers of two; the built-in synth glides in 16-frame steps
        // counted from each block, so an odd size moves its glides by a rounding error.
        let odd = if soundfont == "none" { 128 } else { 37 };
        for block in [256, 1024, odd] {
            let b = render_text(dir.path(), &format!("block_frames = {block}\n{text}"));
            // Commands and notes land on their frame, not on a block boundary.
            assert!(
                a.left == b.left && a.right == b.right,
                "{soundfont}: 64- and {block}-frame blocks differ"
            );
        }
    }
}

#[test]
fn broken_scripts_name_the_line_and_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "sample_rate = 48000\npatch = \"kazoo\"\n",
            2,
            "unknown patch",
        ),
        ("[[note]]\nat_secs = 1\nkey = 60\n", 1, "length_secs"),
        (
            "length_secs = 1\n\n[[command]]\nat_secs = 1\n",
            3,
            "does nothing",
        ),
        ("[[input]]\nfile = \"nope.wav\"\n", 1, "does not exist"),
        ("x = = 1\n", 1, ""),
        (
            "[[command]]\nat_secs = 1\ninput = 3\nmute = true\n",
            1,
            "input 3 does not exist",
        ),
    ];
    for (text, line, words) in cases {
        match Script::parse(text, "s.toml", dir.path()) {
            Err(RenderError::Script {
                line: l, message, ..
            }) => {
                assert_eq!(l, line, "{text:?}: {message}");
                assert!(message.contains(words), "{text:?}: {message}");
            }
            Err(e) => panic!("{text:?}: wrong error {e}"),
            Ok(_) => panic!("{text:?} was accepted"),
        }
    }
}

#[test]
fn damaged_files_give_a_clear_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.wav"),
        b"RIFF\x10\x00\x00\x00WAVEjunkjunkjunk",
    )
    .unwrap();
    let e = render(&script(dir.path(), "[[input]]\nfile = \"bad.wav\"\n"))
        .err()
        .expect("a corrupt WAV was accepted");
    assert!(e.to_string().contains("damaged"), "{e}");

    // A real MIDI file cut short.
    let mut smf = b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x00\x60MTrk\x00\x00\x00\x20".to_vec();
    smf.extend_from_slice(&[0x00, 0x90, 60, 100, 0x60, 0x80]);
    std::fs::write(dir.path().join("cut.mid"), &smf).unwrap();
    let e = render(&script(dir.path(), "[[midi]]\nfile = \"cut.mid\"\n"))
        .err()
        .expect("a truncated MIDI file was accepted");
    assert!(e.to_string().contains("truncated"), "{e}");
}

#[test]
fn the_command_line_says_what_is_wrong_and_exits_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "patch = \"kazoo\"\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_samspill"))
        .args(["render", bad.to_str().unwrap(), "-o"])
        .arg(dir.path().join("o.wav"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("line 1") && stderr.contains("unknown patch"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!dir.path().join("o.wav").exists());
}

#[test]
fn the_demo_song_renders_as_music() {
    let demo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/demo/demo.toml");
    let out = samspill::render::render_file(&demo).unwrap_or_else(|e| panic!("{e}"));
    let secs_long = out.left.len() as f64 / out.sample_rate as f64;
    assert!(
        (30.0..60.0).contains(&secs_long),
        "the demo is {secs_long:.1} s long"
    );
    let level = db(rms(&out.left));
    assert!(
        (-24.0..-10.0).contains(&level),
        "the demo plays at {level:.1} dBFS RMS"
    );
    let peak = out
        .left
        .iter()
        .chain(&out.right)
        .fold(0f32, |m, s| m.max(s.abs()));
    assert!(peak <= 10f32.powf(-1.0 / 20.0), "peak {peak}");
    // Bass and cymbals both there: a band, not a beep.
    let mid = &out.left[secs(10.0)..secs(12.0)];
    let low: f64 = (40..120)
        .step_by(5)
        .map(|f| magnitude_at(mid, f as f64))
        .sum();
    let high: f64 = (6000..9000)
        .step_by(150)
        .map(|f| magnitude_at(mid, f as f64))
        .sum();
    assert!(low > 1.0 && high > 0.05, "low {low:.2} high {high:.3}");
}
