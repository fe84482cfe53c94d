//! Recording onto a disk that fills up: `samspill headless` (internal clock, no sound
//! card needed) records into a data folder on a 4 MiB tmpfs until it is full. The take
//! stops with a plain message, is kept, the engine still answers, and the take before it
//! is intact. Mounting needs root, as CI runs; elsewhere the test says so and fails.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Tmpfs {
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(dir)
            .output()
            .expect("mount runs");
        assert!(
            out.status.success(),
            "this test mounts a small tmpfs to fill, which needs root (CI runs as root): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs(dir.to_owned())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

struct Headless {
    child: Child,
    stdin: ChildStdin,
    lines: crossbeam_channel::Receiver<String>,
    seen: Vec<String>,
}

impl Headless {
    fn start(data: &Path) -> Headless {
        let mut child = Command::new(env!("CARGO_BIN_EXE_samspill"))
            .args(["headless", "--host", "none", "--soundfont", "none"])
            .env("SAMSPILL_DATA_DIR", data)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("samspill starts");
        let (tx, lines) = crossbeam_channel::unbounded();
        let out = child.stdout.take().unwrap();
        let err = child.stderr.take().unwrap();
        let tx2 = tx.clone();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(l);
            }
        });
        std::thread::spawn(move || {
            for l in BufReader::new(err).lines().map_while(Result::ok) {
                let _ = tx2.send(format!("stderr: {l}"));
            }
        });
        let stdin = child.stdin.take().unwrap();
        Headless {
            child,
            stdin,
            lines,
            seen: Vec::new(),
        }
    }

    fn send(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").unwrap();
        self.stdin.flush().unwrap();
    }

    fn wait(&mut self, prefix: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    self.seen.push(l.clone());
                    if l.starts_with(prefix) {
                        return l;
                    }
                }
                Err(_) => panic!(
                    "no {prefix:?} within {timeout:?}; it said:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    fn frames(&mut self) -> u64 {
        self.send("status");
        let l = self.wait("levels:", Duration::from_secs(5));
        l.split_whitespace()
            .find_map(|w| w.strip_prefix("frames="))
            .and_then(|v| v.parse().ok())
            .unwrap()
    }
}

impl Drop for Headless {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_full_disk_stops_the_take_in_plain_words_keeps_it_and_the_music_plays_on() {
    let dir = tempfile::tempdir().unwrap();
    let _fs = Tmpfs::mount(dir.path(), "4m");
    let mut s = Headless::start(dir.path());
    s.wait("ready:", Duration::from_secs(15));
    s.send("song new Full");
    let made = s.wait("song:", Duration::from_secs(5));
    assert!(made.contains("room on disk for"), "{made}");

    // Stopped during the count-in (a bar by default): nothing recorded, and said so.
    s.send("record");
    s.wait("recording:", Duration::from_secs(5));
    s.send("stop");
    let early = s.wait("stopped:", Duration::from_secs(10));
    assert_eq!(
        early,
        "stopped: during the count-in, so nothing was recorded on track 1"
    );
    assert_eq!(
        std::fs::read_dir(dir.path().join("songs/Full/takes"))
            .unwrap()
            .count(),
        0,
        "no file is left of it"
    );
    s.send("song count-in 0");
    s.wait("song count-in:", Duration::from_secs(5));

    // A first take of two seconds, whole.
    s.send("record");
    s.wait("recording:", Duration::from_secs(5));
    std::thread::sleep(Duration::from_secs(2));
    s.send("stop");
    let first = s.wait("take:", Duration::from_secs(10));
    // Two seconds, less the moment a take is scheduled ahead (0.2 s) so that it and the
    // song start on one frame.
    assert!(
        first.starts_with("take: track 1, take 1: 0:01.8")
            || first.starts_with("take: track 1, take 1: 0:01.9"),
        "{first}"
    );

    // A second one runs until the disk is full.
    s.send("record 1");
    s.wait("recording: track 1, take 2", Duration::from_secs(5));
    // (take 2: the count-in's empty take was never filed)
    let stopped = s.wait("stopped:", Duration::from_secs(60));
    assert!(
        stopped.starts_with("stopped: the disk is full. The take on track 1 is kept ("),
        "{stopped}"
    );
    // The engine still runs and answers.
    let a = s.frames();
    std::thread::sleep(Duration::from_millis(300));
    let b = s.frames();
    assert!(b > a, "the engine stopped: frames {a} then {b}");
    // No new take starts on a full disk, and it says why.
    s.send("record 1");
    let refused = s.wait("stderr: samspill:", Duration::from_secs(5));
    assert!(refused.contains("the disk is full"), "{refused}");

    // Both takes are whole WAV files; the song lists them, the second as ended early.
    let takes = dir.path().join("songs/Full/takes");
    let one = hound::WavReader::open(takes.join("track01-take001.wav")).unwrap();
    let secs_one = one.duration() as f64 / one.spec().sample_rate as f64;
    assert!((1.75..1.95).contains(&secs_one), "take 1 is {secs_one} s");
    assert_eq!(one.into_samples::<i32>().filter(Result::is_err).count(), 0);
    let two = hound::WavReader::open(takes.join("track01-take002.wav")).unwrap();
    assert!(
        two.duration() > 48_000,
        "take 2 is {} frames",
        two.duration()
    );
    assert_eq!(two.into_samples::<i32>().filter(Result::is_err).count(), 0);
    let song = std::fs::read_to_string(dir.path().join("songs/Full/song.toml")).unwrap();
    assert_eq!(song.matches("[[tracks.takes]]").count(), 2, "{song}");
    assert!(
        song.contains("ended_early = \"the disk is full\""),
        "{song}"
    );

    s.send("quit");
    s.wait("stopped", Duration::from_secs(10));
    assert!(s.child.wait().unwrap().success());
}
