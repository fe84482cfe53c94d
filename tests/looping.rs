//! Looping sessions rendered offline: record, overdub, undo, multiply, as a player would.

mod common;

use std::sync::atomic::Ordering::Relaxed;

use common::*;
use samspill::render::{render, RenderError, Rendered, Script};

#[global_allocator]
static ALLOC_CHECK: assert_no_alloc::AllocDisabler = assert_no_alloc::AllocDisabler;

/// Two players: one lays down the first take (0.5–2.5 s), the other plays over it (3–5 s).
fn players(dir: &std::path::Path) {
    let mut first = vec![0f32; secs(9.0)];
    for (i, s) in sine(220.0, 0.15, 2.0).iter().enumerate() {
        first[secs(0.5) + i] = *s + 0.05 * ((i as f32) * 0.031).sin();
    }
    let mut second = vec![0f32; secs(9.0)];
    for (i, s) in sine(330.0, 0.12, 2.0).iter().enumerate() {
        second[secs(3.0) + i] = *s;
    }
    write_wav(&dir.join("first.wav"), &[first]);
    write_wav(&dir.join("second.wav"), &[second]);
}

fn session(dir: &std::path::Path, steps: &str) -> Rendered {
    let text = format!(
        r#"
soundfont = "none"
length_secs = 9.0
[looper]
tracks = 2
max_secs = 20
undo_levels = 4
sync = "tempo"
bpm = 120
[[input]]
file = "first.wav"
[[input]]
file = "second.wav"
[[command]]
at_secs = 0.5
loop = "record"
track = 1
[[command]]
at_secs = 2.5
loop = "record"
track = 1
{steps}
"#
    );
    let script = Script::parse(&text, "session.toml", dir).unwrap_or_else(|e| panic!("{e}"));
    let before = assert_no_alloc::violation_count();
    let out = render(&script).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        assert_no_alloc::violation_count(),
        before,
        "the looper allocated on the audio path"
    );
    out
}

#[test]
fn record_a_bar_overdub_undo_and_the_loop_is_the_first_take_again() {
    let dir = tempfile::tempdir().unwrap();
    players(dir.path());
    let plain = session(dir.path(), "");
    let undone = session(
        dir.path(),
        r#"
[[command]]
at_secs = 3.0
loop = "overdub"
track = 1
[[command]]
at_secs = 5.0
loop = "overdub"
track = 1
[[command]]
at_secs = 5.5
loop = "undo"
track = 1
"#,
    );
    let later = secs(6.5)..secs(9.0);
    assert!(
        rms(&plain.left[later.clone()]) > 0.02,
        "the loop does not play"
    );
    // The overdub is heard on the next pass, before the undo.
    let next_pass = secs(5.05)..secs(5.45);
    let diff: Vec<f32> = plain.left[next_pass.clone()]
        .iter()
        .zip(&undone.left[next_pass])
        .map(|(a, b)| a - b)
        .collect();
    assert!(rms(&diff) > 0.02, "the overdub was not heard");
    assert!(
        plain.left[later.clone()] == undone.left[later.clone()]
            && plain.right[later.clone()] == undone.right[later],
        "after undo the loop is not the first take bit for bit"
    );
    // 2 s at 120 bpm is one bar: the loop is exactly one cycle long.
    let m = &undone.shared.loops[0];
    assert_eq!(m.loop_frames.load(Relaxed), secs(2.0) as u32);
    assert_eq!(m.state.load(Relaxed), 4, "the track should be playing");
}

#[test]
fn redo_brings_the_overdub_back_and_multiply_doubles_the_loop() {
    let dir = tempfile::tempdir().unwrap();
    players(dir.path());
    let dub = r#"
[[command]]
at_secs = 3.0
loop = "overdub"
track = 1
[[command]]
at_secs = 5.0
loop = "overdub"
track = 1
"#;
    let kept = session(dir.path(), dub);
    let redone = session(
        dir.path(),
        &format!(
            "{dub}
[[command]]
at_secs = 5.5
loop = \"undo\"
track = 1
[[command]]
at_secs = 6.0
loop = \"redo\"
track = 1
"
        ),
    );
    let later = secs(7.0)..secs(9.0);
    assert!(
        kept.left[later.clone()] == redone.left[later],
        "redo did not restore the overdub"
    );

    let multiplied = session(
        dir.path(),
        r#"
[[command]]
at_secs = 3.0
loop = "multiply"
track = 1
[[command]]
at_secs = 5.0
loop = "multiply"
track = 1
"#,
    );
    let m = &multiplied.shared.loops[0];
    assert_eq!(m.loop_frames.load(Relaxed), secs(4.0) as u32);
    assert_eq!(m.cycle_frames.load(Relaxed), secs(2.0) as u32);
}

#[test]
fn loop_commands_without_a_looper_or_on_a_missing_track_name_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "length_secs = 1\n[[command]]\nat_secs = 0\nloop = \"record\"\ntrack = 1\n",
            2,
            "[looper]",
        ),
        (
            "[looper]\ntracks = 2\n\n[[command]]\nat_secs = 0\nloop = \"record\"\ntrack = 3\n",
            4,
            "track 3",
        ),
        (
            "[looper]\n[[command]]\nat_secs = 0\nloop = \"fly\"\ntrack = 1\n",
            2,
            "unknown loop",
        ),
        ("[looper]\nsync = \"tempo\"\n", 1, "bpm"),
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
fn a_manual_latency_offset_moves_new_layers_earlier_by_exactly_that_much() {
    let dir = tempfile::tempdir().unwrap();
    // One click at 1.0 s, recorded into a 2 s loop.
    let mut click = vec![0f32; secs(9.0)];
    click[secs(1.0)] = 0.5;
    write_wav(&dir.path().join("click.wav"), &[click]);
    let heard_at = |offset: i32| {
        let text = format!(
            r#"
soundfont = "none"
length_secs = 6.0
[looper]
tracks = 1
max_secs = 10
sync = "off"
latency_offset = {offset}
[[input]]
file = "click.wav"
[[command]]
at_secs = 0.5
loop = "record"
track = 1
[[command]]
at_secs = 2.5
loop = "record"
track = 1
"#
        );
        let out = render(&Script::parse(&text, "s.toml", dir.path()).unwrap()).unwrap();
        // The loop's first replay of the click, after the live click is long gone.
        let from = secs(2.6);
        let to = secs(4.5);
        let at = (from..to)
            .max_by(|a, b| out.left[*a].abs().total_cmp(&out.left[*b].abs()))
            .unwrap();
        assert!(out.left[at].abs() > 0.1, "no click heard from the loop");
        at as i64
    };
    assert_eq!(heard_at(0) - heard_at(480), 480);
}

#[test]
fn a_track_recording_the_mix_hears_the_same_as_one_recording_the_inputs() {
    let dir = tempfile::tempdir().unwrap();
    players(dir.path());
    // No instruments sound, so the mix before the loops is the inputs, frame for frame.
    let inputs = session(dir.path(), "");
    let mix = session(
        dir.path(),
        r#"
[[command]]
at_secs = 0.1
loop = "source"
track = 1
source = "mix"
"#,
    );
    assert!(
        rms(&mix.left[secs(6.5)..secs(9.0)]) > 0.02,
        "the loop recorded from the mix does not play"
    );
    assert!(
        inputs.left == mix.left && inputs.right == mix.right,
        "the loop recorded from the mix differs from the one recorded from the inputs"
    );
}

#[test]
fn a_track_recording_input_two_alone_plays_back_only_the_second_player() {
    let dir = tempfile::tempdir().unwrap();
    players(dir.path());
    // One take over both players (0.5–5.5 s): the first plays 0.5–2.5 s, the second 3–5 s.
    let take = |source: &str| {
        let text = format!(
            r#"
soundfont = "none"
length_secs = 11.0
[looper]
tracks = 1
max_secs = 20
sync = "off"
[[input]]
file = "first.wav"
[[input]]
file = "second.wav"
[[command]]
at_secs = 0.1
loop = "source"
track = 1
source = "{source}"
[[command]]
at_secs = 0.5
loop = "record"
track = 1
[[command]]
at_secs = 5.5
loop = "record"
track = 1
"#
        );
        let script = Script::parse(&text, "s.toml", dir.path()).unwrap_or_else(|e| panic!("{e}"));
        render(&script).unwrap_or_else(|e| panic!("{e}"))
    };
    // On the second pass (from 5.5 s) only the loop sounds: the first player's part of
    // it is at 5.5–7.5 s, the second's at 8–10 s.
    let (first_part, second_part) = (secs(5.6)..secs(7.4), secs(8.1)..secs(9.9));
    let second = take("input 2");
    assert!(
        rms(&second.left[second_part.clone()]) > 0.02,
        "the second player is not in the loop"
    );
    assert!(
        rms(&second.left[first_part.clone()]) < 1e-4,
        "the first player was recorded too: {}",
        rms(&second.left[first_part.clone()])
    );
    let both = take("inputs");
    assert!(rms(&both.left[first_part]) > 0.02 && rms(&both.left[second_part]) > 0.02);
}

#[test]
fn a_source_the_script_cannot_give_names_every_form() {
    let dir = tempfile::tempdir().unwrap();
    let with = |source: &str| {
        format!(
            "[looper]\n[[input]]\nfile = \"first.wav\"\n[[command]]\nat_secs = 0\nloop = \"source\"\ntrack = 1\nsource = \"{source}\"\n"
        )
    };
    players(dir.path());
    for (source, words) in [
        (
            "guitar",
            "\"inputs\", \"instruments\", \"mix\" or \"input N\"",
        ),
        ("input 0", "\"input N\""),
        ("input 2", "the script has 1 input"),
    ] {
        match Script::parse(&with(source), "s.toml", dir.path()) {
            Err(RenderError::Script { line, message, .. }) => {
                assert_eq!(line, 4, "{source}: {message}");
                assert!(message.contains(words), "{source}: {message}");
            }
            Err(e) => panic!("{source}: wrong error {e}"),
            Ok(_) => panic!("source = {source:?} was accepted"),
        }
    }
}
