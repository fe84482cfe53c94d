//! Numbers that are not numbers: refused by name wherever they come in, and silenced by
//! the engine as its last line, so they never reach the speakers or a loop.

mod common;

use std::sync::atomic::Ordering::Relaxed;

use common::*;
use samspill::control::lines::{ControlLine, LineError};
use samspill::engine::{Command, EngineConfig, InputConfig};
use samspill::new_engine;
use samspill::render::{render, RenderError, Script};
use samspill::session::settings::Settings;

#[global_allocator]
static ALLOC_CHECK: assert_no_alloc::AllocDisabler = assert_no_alloc::AllocDisabler;

fn all_finite(x: &[f32]) -> bool {
    x.iter().all(|s| s.is_finite())
}

#[test]
fn typed_lines_name_the_value_they_refuse() {
    for (line, value) in [
        ("master nan", "NaN"),
        ("instruments inf", "inf"),
        ("gain 1 NaN", "NaN"),
        ("pan 2 -inf", "-inf"),
    ] {
        match ControlLine::parse(line) {
            Err(e) => assert!(
                matches!(e, LineError::NotFinite(_))
                    && e.to_string()
                        .ends_with(&format!("must be a number, not {value}")),
                "{line}: {e}"
            ),
            Ok(_) => panic!("{line} was taken"),
        }
    }
    assert!(ControlLine::parse("master -6").is_ok());
    let e = samspill::control::lines::LoopLine::parse("tempo nan")
        .unwrap()
        .unwrap_err();
    assert!(e.to_string().contains("not NaN"), "{e}");
}

#[test]
fn scripts_name_the_line_and_the_value() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "master_db = nan\n",
            1,
            "master_db must be a number, not NaN",
        ),
        (
            "length_secs = 1\ntail_secs = inf\n",
            2,
            "tail_secs must be zero or more seconds, not inf",
        ),
        (
            "length_secs = 1\n\n[[command]]\nat_secs = 0.5\ninput = 1\ngain_db = inf\n",
            3,
            "gain_db must be a number, not inf",
        ),
        (
            "[looper]\nsync = \"tempo\"\nbpm = nan\n",
            1,
            "bpm must be a number, not NaN",
        ),
    ];
    write_wav(&dir.path().join("in.wav"), &[vec![0.0; 480]]);
    for (text, line, words) in cases {
        let text = format!("{text}\n[[input]]\nfile = \"in.wav\"\n");
        match Script::parse(&text, "s.toml", dir.path()) {
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
fn settings_with_nan_go_back_to_their_defaults_and_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("settings.toml");
    std::fs::write(
        &path,
        "master_db = nan\neasy_mode = true\n[looper]\nminutes_per_track = inf\ntempo_bpm = 96\n",
    )
    .unwrap();
    let (s, note) = Settings::load_from(&path);
    let note = note.expect("a note about the bad numbers");
    assert_eq!(s.master_db, Settings::default().master_db);
    assert_eq!(
        s.looper.minutes_per_track,
        Settings::default().looper.minutes_per_track
    );
    assert!(s.easy_mode, "the good settings are kept");
    assert_eq!(s.looper.tempo_bpm, 96.0);
    assert!(
        note.contains("master_db must be a number, not NaN"),
        "{note}"
    );
    assert!(
        note.contains("minutes_per_track must be a number, not inf"),
        "{note}"
    );
}

#[test]
fn a_nan_gain_that_reaches_the_engine_is_refused_there_too() {
    let (c, mut e) = new_engine(&EngineConfig {
        sample_rate: SR,
        inputs: vec![InputConfig {
            name: "mic".into(),
            channel: 0,
            right_channel: None,
        }],
    });
    let x = sine(440.0, 0.3, 1.0);
    c.send(Command::MasterGain { db: f32::NAN }).unwrap();
    c.send(Command::InputGain {
        input: 0,
        db: f32::INFINITY,
    })
    .unwrap();
    c.send(Command::InstrumentGain {
        db: f32::NEG_INFINITY,
    })
    .unwrap();
    let (mut l, mut r) = (vec![0f32; x.len()], vec![0f32; x.len()]);
    for ((i, ol), or) in x.chunks(64).zip(l.chunks_mut(64)).zip(r.chunks_mut(64)) {
        assert_no_alloc::assert_no_alloc(|| e.process(&[i], ol, or, &[]));
    }
    assert!(all_finite(&l) && all_finite(&r));
    assert!(rms(&l[secs(0.5)..]) > 0.05, "the input still plays");
    assert_eq!(c.shared().bad_numbers.load(Relaxed), 3);
}

#[test]
fn input_that_is_not_numbers_is_silenced_and_never_looped() {
    let dir = tempfile::tempdir().unwrap();
    // A tone with a damaged stretch (NaN and Inf) in the middle of what the loop records.
    let mut x = sine(220.0, 0.2, 6.0);
    for (i, s) in x[secs(1.0)..secs(1.0) + 300].iter_mut().enumerate() {
        *s = if i % 2 == 0 { f32::NAN } else { f32::INFINITY };
    }
    write_wav(&dir.path().join("in.wav"), &[x]);
    let text = r#"
soundfont = "none"
length_secs = 6.0
[looper]
tracks = 1
max_secs = 10
[[input]]
file = "in.wav"
[[command]]
at_secs = 0.5
loop = "record"
track = 1
[[command]]
at_secs = 2.5
loop = "record"
track = 1
[[command]]
at_secs = 2.5
input = 1
mute = true
"#;
    let script = Script::parse(text, "s.toml", dir.path()).unwrap();
    let out = render(&script).unwrap();
    assert!(
        all_finite(&out.left) && all_finite(&out.right),
        "not-numbers reached the output"
    );
    // After the input is muted only the loop plays: finite, and the tone is in it.
    let looped = &out.left[secs(3.0)..secs(6.0)];
    assert!(rms(looped) > 0.02, "the loop is silent");
    assert!(
        magnitude_at(looped, 220.0) > 10.0 * magnitude_at(looped, 330.0),
        "the loop lost its tone"
    );
    // The damaged stretch plays back as a gap, once per pass of the loop.
    let bad = out.shared.bad_numbers.load(Relaxed);
    assert!((1..=10).contains(&bad), "{bad} pieces silenced");
}
