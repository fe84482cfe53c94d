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
    // ALSA's and JACK's own complaints go through Samspill, not onto the terminal.
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.is_empty(), "library noise on stderr: {err}");
    let text = String::from_utf8_lossy(&out.stdout);
    // The sections, in order, each with its entries indented under it.
    let headers: Vec<&str> = text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with(' '))
        .collect();
    let order = [
        "Audio outputs (ALSA):",
        "Audio inputs (ALSA):",
        "JACK:",
        "MIDI inputs:",
    ];
    let mut at = 0;
    for h in &headers {
        if at < order.len() && h.starts_with(order[at]) {
            at += 1;
        }
    }
    assert_eq!(
        at,
        order.len(),
        "sections missing or out of order: {headers:?}"
    );
    // Plugins are named on one line of their own, never offered as sound cards.
    let section = |title: &str| -> Vec<&str> {
        text.lines()
            .skip_while(|l| !l.starts_with(title))
            .skip(1)
            .take_while(|l| l.starts_with(' '))
            .collect()
    };
    for title in ["Audio outputs (ALSA):", "Audio inputs (ALSA):"] {
        let entries = section(title);
        assert!(!entries.is_empty(), "{title} has no lines");
        for e in entries {
            let name = e.trim().split([' ', '(']).next().unwrap_or("");
            assert!(
                e.trim() == "none"
                    || e.contains("no sound card")
                    || name == "default"
                    || e.contains("(hw:CARD="),
                "{title} offers a plugin as a device: {e}"
            );
        }
    }
    // With no sound card here, the text says so in plain words.
    let no_card = !std::path::Path::new("/dev/snd").exists();
    if no_card {
        assert!(text.starts_with("No sound card was found."), "{text}");
    }
    // And `--details` shows what the libraries said, kept for a bug report.
    let out = Command::new(env!("CARGO_BIN_EXE_samspill"))
        .args(["devices", "--details"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("What the sound libraries said:"), "{text}");
    if no_card {
        assert!(text.contains("\n  ALSA "), "{text}");
    }
}

/// `samspill headless` on the internal clock, typed to on stdin; its stdout read line
/// by line on a thread of its own.
struct Typed {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
    data: tempfile::TempDir,
}

impl Typed {
    fn start() -> Typed {
        let data = tempfile::tempdir().unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_samspill"))
            .args(["headless", "--host", "none", "--soundfont", "none"])
            .args(["--no-osc", "--loop-secs", "3"])
            .env("SAMSPILL_DATA_DIR", data.path())
            .env_remove("DISPLAY")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Typed { child, lines, data }
    }

    fn type_line(&mut self, line: &str) {
        use std::io::Write;
        let stdin = self.child.stdin.as_mut().unwrap();
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
    }

    /// The first line from now on that starts with `start` (within 20 s).
    fn answer(&self, start: &str) -> String {
        let until = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let left = until.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) if l.starts_with(start) => return l,
                Ok(_) => {}
                Err(_) => panic!("no line starting {start:?}"),
            }
        }
    }

    /// Types `loops` until the looper answers with loop 1's line, and returns it.
    fn loop_one(&mut self) -> String {
        for _ in 0..100 {
            self.type_line("loops");
            let l = self.answer("loop");
            if l.starts_with("loop 1:") {
                return l;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("the looper never came");
    }
}

impl Drop for Typed {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `len=0.52s` from a `loops` line.
fn len_secs(line: &str) -> f32 {
    let len = line.split_whitespace().find_map(|w| w.strip_prefix("len="));
    len.and_then(|w| w.trim_end_matches('s').parse().ok())
        .unwrap_or_else(|| panic!("{line}"))
}

#[test]
fn jam_lines_save_list_and_open_a_jam_in_the_users_jams_folder() {
    let mut s = Typed::start();
    s.answer("ready:");
    s.loop_one();
    s.type_line("jam list");
    assert_eq!(s.answer("jams:"), "jams: none saved yet");

    s.type_line("loop 1 record");
    std::thread::sleep(std::time::Duration::from_millis(600));
    s.type_line("loop 1 record");
    std::thread::sleep(std::time::Duration::from_millis(200));
    let recorded = len_secs(&s.loop_one());
    assert!(recorded > 0.3, "{recorded}");

    s.type_line("jam save Tirsdag kveld");
    assert_eq!(s.answer("jam"), "jam saved: Tirsdag-kveld");
    let saved = s.data.path().join("jams").join("Tirsdag-kveld");
    assert!(saved.join("session.toml").is_file() && saved.join("track-1.wav").is_file());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&saved), 0o700);
        assert_eq!(mode(&saved.join("track-1.wav")), 0o600);
    }
    s.type_line("jam list");
    let listed = s.answer("jams:");
    assert!(listed.starts_with("jams: Tirsdag-kveld ("), "{listed}");

    s.type_line("loop 1 clear");
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert_eq!(len_secs(&s.loop_one()), 0.0);
    s.type_line("jam open Tirsdag-kveld");
    assert_eq!(s.answer("jam"), "jam opened: Tirsdag-kveld (1 loop)");
    std::thread::sleep(std::time::Duration::from_millis(200));
    let reopened = len_secs(&s.loop_one());
    assert!(
        (reopened - recorded).abs() < 0.011,
        "{reopened} vs {recorded}"
    );

    // A name that is not listed opens nothing, and says so on stderr; the next line works.
    s.type_line("jam open ../Tirsdag-kveld");
    s.type_line("jam list");
    assert!(s.answer("jam").starts_with("jams: Tirsdag-kveld ("));
    s.type_line("quit");
    assert_eq!(s.answer("stopped"), "stopped");
}
