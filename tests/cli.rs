//! The command line with bad input: a plain message, a non-zero exit, never a panic.

use std::process::{Command, Stdio};

fn samspill(args: &[&str]) -> (bool, String) {
    let data = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_samspill"))
        .args(args)
        .env("SAMSPILL_DATA_DIR", data.path())
        .env_remove("DISPLAY")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{stderr}");
    (out.status.success(), stderr)
}

#[test]
fn an_unknown_device_name_is_refused_in_plain_words() {
    let (ok, err) = samspill(&["headless", "--host", "alsa", "--device", "Nope USB"]);
    assert!(!ok);
    assert!(err.contains("no audio device called \"Nope USB\""), "{err}");
    assert!(err.contains("samspill devices"), "{err}");
}

#[test]
fn impossible_buffer_sizes_and_rates_are_refused() {
    let (ok, err) = samspill(&["headless", "--host", "none", "--buffer", "100"]);
    assert!(!ok);
    assert!(err.contains("power of two"), "{err}");
    let (ok, err) = samspill(&["headless", "--host", "none", "--rate", "1000"]);
    assert!(!ok, "{err}");
}

#[test]
fn a_missing_script_is_named() {
    let (ok, err) = samspill(&["render", "/nonexistent/song.toml", "-o", "/tmp/x.wav"]);
    assert!(!ok);
    assert!(err.contains("/nonexistent/song.toml"), "{err}");
}

#[test]
fn devices_lists_what_there_is_without_failing() {
    let out = Command::new(env!("CARGO_BIN_EXE_samspill"))
        .arg("devices")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("JACK"), "{text}");
    assert!(text.to_lowercase().contains("midi"), "{text}");
}
