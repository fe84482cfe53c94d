//! Helpers for the JACK end-to-end tests: a private jackd per test (always stopped, also
//! when the test fails), the real `samspill headless` binary, and small JACK clients in
//! the test process that feed, record and play a keyboard.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use jack::{
    AudioIn, AudioOut, Client, ClientOptions, Control, MidiOut, Port, ProcessHandler, ProcessScope,
    RawMidi,
};
use ringbuf::traits::{Consumer, Observer, Producer, Split};
use ringbuf::{HeapCons, HeapProd, HeapRb};

// The signal measures the offline tests use.
#[path = "../common/mod.rs"]
mod common;
pub use common::magnitude_at;

pub const SR: u32 = 48_000;
pub const PERIOD: u32 = 256;

/// JACK clients find their server through this process-wide variable, so the tests in
/// one binary take turns.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// The turn of one test: holds the lock and says which server the test's clients use.
pub struct Turn {
    _guard: MutexGuard<'static, ()>,
    pub server: String,
    pub dir: tempfile::TempDir,
}

impl Turn {
    pub fn take(test: &str) -> Turn {
        jackd_path();
        let guard = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
        // libjack's own chatter ("cannot connect to server socket") is expected here.
        jack::set_logger(jack::LoggerType::None);
        // The test's JACK threads are made from this one and inherit its priority.
        raise_priority(0);
        let server = format!("samspill-{test}-{}", std::process::id());
        // Safe here: the lock keeps other tests from opening clients meanwhile.
        std::env::set_var("JACK_DEFAULT_SERVER", &server);
        std::env::set_var("JACK_NO_AUDIO_RESERVATION", "1");
        Turn {
            _guard: guard,
            server,
            dir: tempfile::tempdir().expect("a temp dir"),
        }
    }
}

/// Asks the scheduler to prefer `pid` (0: this thread) over ordinary work, as audio
/// software does, so builds running beside the tests on CI do not starve the graph.
/// Only possible as root; elsewhere it is quietly skipped.
fn raise_priority(pid: libc::id_t) {
    // Safety: a plain syscall on our own process or thread.
    unsafe {
        let who = if pid == 0 {
            libc::syscall(libc::SYS_gettid) as libc::id_t
        } else {
            pid
        };
        libc::setpriority(libc::PRIO_PROCESS, who, -10);
    }
}

/// Runs the child with raised priority (see `raise_priority`).
fn prefer(cmd: &mut Command) -> &mut Command {
    use std::os::unix::process::CommandExt;
    // Safety: setpriority is async-signal safe, fit for the gap between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::setpriority(libc::PRIO_PROCESS, 0, -10);
            Ok(())
        })
    }
}

/// A private jackd on the dummy driver; killed and waited for when dropped.
pub struct Jackd {
    child: Option<Child>,
    pub name: String,
    log: PathBuf,
}

fn jackd_path() -> PathBuf {
    for dir in ["/usr/bin", "/usr/local/bin", "/bin"] {
        let p = PathBuf::from(dir).join("jackd");
        if p.is_file() {
            return p;
        }
    }
    panic!(
        "jackd is missing: the JACK end-to-end tests need it. Install it with `apt-get install jackd2`."
    );
}

impl Jackd {
    pub fn start(turn: &Turn) -> Jackd {
        let log = turn.dir.path().join(format!("jackd-{}.log", now_tag()));
        let out = std::fs::File::create(&log).expect("jackd log");
        let err = out.try_clone().expect("jackd log");
        let child = prefer(&mut Command::new(jackd_path()))
            .args(["-n", &turn.server, "-r", "-d", "dummy", "-r"])
            .arg(SR.to_string())
            .arg("-p")
            .arg(PERIOD.to_string())
            .env("JACK_NO_AUDIO_RESERVATION", "1")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("could not start jackd: {e}"));
        let mut j = Jackd {
            child: Some(child),
            name: turn.server.clone(),
            log,
        };
        j.wait_until_it_answers();
        j
    }

    fn wait_until_it_answers(&mut self) {
        let start = Instant::now();
        loop {
            if let Ok((c, _)) = Client::new("probe", ClientOptions::NO_START_SERVER) {
                drop(c);
                return;
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!(
                    "jackd exited ({status}) before it answered:\n{}",
                    self.log()
                );
            }
            if start.elapsed() > Duration::from_secs(10) {
                panic!("jackd did not answer within 10 s:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Stops the server the way a person would (SIGTERM), then for sure.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            terminate(&mut c, Duration::from_secs(5));
            // Clients of a server that went away leave their semaphores behind.
            let tag = format!("_{}_", self.name);
            if let Ok(dir) = std::fs::read_dir("/dev/shm") {
                for e in dir.flatten() {
                    if e.file_name().to_string_lossy().contains(&tag) {
                        let _ = std::fs::remove_file(e.path());
                    }
                }
            }
        }
    }
}

impl Drop for Jackd {
    fn drop(&mut self) {
        self.stop();
    }
}

fn now_tag() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// SIGTERM, wait up to `grace`, then SIGKILL; always reaps the child.
pub fn terminate(child: &mut Child, grace: Duration) -> Option<ExitStatus> {
    if let Ok(Some(s)) = child.try_wait() {
        return Some(s);
    }
    // Safety: signalling our own child by its pid.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let start = Instant::now();
    while start.elapsed() < grace {
        if let Ok(Some(s)) = child.try_wait() {
            return Some(s);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

/// The real `samspill headless`, its stdout as lines and its stderr kept for messages.
pub struct Samspill {
    child: Option<Child>,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    pub seen: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<String>>,
    pub client: String,
}

impl Samspill {
    /// Starts `samspill headless --host jack --jack-name <client> --soundfont none`, with a
    /// small looper and no OSC socket (the OSC tests have their own).
    pub fn start(turn: &Turn, client: &str, with_stdin: bool, extra: &[&str]) -> Samspill {
        let mut args = vec!["--no-osc", "--loop-secs", "5"];
        args.extend_from_slice(extra);
        Samspill::start_with(turn, client, with_stdin, &args)
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    fn transcript(&self) -> String {
        format!(
            "stdout:\n{}\nstderr:\n{}",
            self.seen.lock().unwrap().join("\n"),
            self.stderr()
        )
    }

    /// Waits for a stdout line starting with `prefix`.
    pub fn wait_line(&self, prefix: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) if l.starts_with(prefix) => return l,
                Ok(_) => continue,
                Err(_) => panic!(
                    "no line starting with {prefix:?} within {timeout:?}\n{}",
                    self.transcript()
                ),
            }
        }
    }

    pub fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("started with stdin");
        writeln!(stdin, "{line}").expect("samspill reads stdin");
        stdin.flush().expect("flush");
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }

    /// Waits for the process to end by itself.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let mut child = self.child.take().expect("running");
        let start = Instant::now();
        loop {
            if let Ok(Some(s)) = child.try_wait() {
                return s;
            }
            if start.elapsed() > timeout {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "samspill did not stop within {timeout:?}\n{}",
                    self.transcript()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn signal(&mut self, sig: libc::c_int) {
        if let Some(c) = &self.child {
            // Safety: signalling our own child by its pid.
            unsafe { libc::kill(c.id() as libc::pid_t, sig) };
        }
    }

    /// Fails the test if the audio thread allocated (the debug binary's checker says so).
    pub fn assert_no_allocation_on_the_audio_thread(&self) {
        let err = self.stderr();
        assert!(
            !err.contains("Tried to (de)allocate memory"),
            "the audio thread allocated:\n{err}"
        );
    }
}

impl Drop for Samspill {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            terminate(&mut c, Duration::from_secs(3));
        }
    }
}

/// Opens a client on the test's server.
pub fn client(name: &str) -> Client {
    Client::new(name, ClientOptions::NO_START_SERVER)
        .unwrap_or_else(|e| panic!("test client {name}: {e:?}"))
        .0
}

/// Waits until `port` exists on the server.
pub fn wait_for_port(c: &Client, port: &str, timeout: Duration) {
    let start = Instant::now();
    while c.port_by_name(port).is_none() {
        assert!(start.elapsed() < timeout, "the port {port} did not appear");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Connects two ports by name, retrying briefly while the graph settles.
pub fn connect(c: &Client, from: &str, to: &str) {
    let start = Instant::now();
    loop {
        match c.connect_ports_by_name(from, to) {
            Ok(()) => return,
            Err(e) if start.elapsed() > Duration::from_secs(3) => {
                panic!("could not connect {from} to {to}: {e:?}")
            }
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// The feeder's signal: white noise keyed on the absolute frame, so the test knows
/// what went in at every frame and the delay is unambiguous.
pub fn noise(frame: u32) -> f32 {
    let mut x = frame.wrapping_mul(0x9E37_79B1);
    x ^= x >> 15;
    x = x.wrapping_mul(0x85EB_CA77);
    x ^= x >> 13;
    x = x.wrapping_mul(0xC2B2_AE3D);
    x ^= x >> 16;
    NOISE_AMP * (x as f32 / u32::MAX as f32 * 2.0 - 1.0)
}
/// Moderate: after -6 dB master and -3 dB centre pan, far below the limiter.
pub const NOISE_AMP: f32 = 0.25;

pub struct Feeder {
    port: Port<AudioOut>,
}

impl ProcessHandler for Feeder {
    fn process(&mut self, _: &Client, ps: &ProcessScope) -> Control {
        let t0 = ps.last_frame_time();
        for (i, s) in self.port.as_mut_slice(ps).iter_mut().enumerate() {
            *s = noise(t0.wrapping_add(i as u32));
        }
        Control::Continue
    }
}

/// A client whose port `out` plays [`noise`].
pub fn start_feeder(name: &str) -> (jack::AsyncClient<(), Feeder>, String) {
    let c = client(name);
    let port = c.register_port("out", AudioOut::default()).unwrap();
    let port_name = port.name().unwrap();
    let active = c.activate_async((), Feeder { port }).unwrap();
    (active, port_name)
}

/// What the recorder heard: (frame time, frames) per cycle and the samples in order.
#[derive(Default)]
pub struct Recording {
    pub blocks: Vec<(u32, u32)>,
    pub samples: Vec<f32>,
}

impl Recording {
    /// Where the recorded frame times jump: (end of one cycle, start of the next). A
    /// window with a jump lost cycles (a dropout the recorder saw) and is not judged.
    pub fn gaps(&self) -> Vec<(u32, u32)> {
        self.blocks
            .windows(2)
            .filter(|w| w[1].0 != w[0].0.wrapping_add(w[0].1))
            .map(|w| (w[0].0.wrapping_add(w[0].1), w[1].0))
            .collect()
    }

    /// The absolute frame of sample `i`.
    pub fn frame_of(&self, i: usize) -> u32 {
        let mut at = 0usize;
        for &(t, n) in &self.blocks {
            if i < at + n as usize {
                return t.wrapping_add((i - at) as u32);
            }
            at += n as usize;
        }
        panic!("sample {i} was not recorded");
    }

    /// Index of the first sample recorded at or after absolute frame `frame`.
    pub fn index_at(&self, frame: u32) -> Option<usize> {
        let mut at = 0usize;
        for &(t, n) in &self.blocks {
            let d = frame.wrapping_sub(t);
            if d < n {
                return Some(at + d as usize);
            }
            if (d as i32) < 0 {
                return Some(at);
            }
            at += n as usize;
        }
        None
    }
}

pub struct RecorderProcess {
    port: Port<AudioIn>,
    samples: HeapProd<f32>,
    blocks: HeapProd<(u32, u32)>,
    overflow: Arc<AtomicBool>,
}

impl ProcessHandler for RecorderProcess {
    fn process(&mut self, _: &Client, ps: &ProcessScope) -> Control {
        let s = self.port.as_slice(ps);
        if self.samples.vacant_len() >= s.len() && self.blocks.vacant_len() > 0 {
            self.samples.push_slice(s);
            let _ = self.blocks.try_push((ps.last_frame_time(), s.len() as u32));
        } else {
            self.overflow.store(true, Ordering::Relaxed);
        }
        Control::Continue
    }
}

/// Records its port `in` into pre-allocated rings that the test drains.
pub struct Recorder {
    pub client: jack::AsyncClient<(), RecorderProcess>,
    pub port: String,
    samples: HeapCons<f32>,
    blocks: HeapCons<(u32, u32)>,
    overflow: Arc<AtomicBool>,
    pub got: Recording,
}

impl Recorder {
    pub fn start(name: &str) -> Recorder {
        let c = client(name);
        let port = c.register_port("in", AudioIn::default()).unwrap();
        let port_name = port.name().unwrap();
        let (sp, sc) = HeapRb::<f32>::new(SR as usize * 8).split();
        let (bp, bc) = HeapRb::<(u32, u32)>::new(8192).split();
        let overflow = Arc::new(AtomicBool::new(false));
        let client = c
            .activate_async(
                (),
                RecorderProcess {
                    port,
                    samples: sp,
                    blocks: bp,
                    overflow: overflow.clone(),
                },
            )
            .unwrap();
        Recorder {
            client,
            port: port_name,
            samples: sc,
            blocks: bc,
            overflow,
            got: Recording::default(),
        }
    }

    /// Moves what was recorded so far into `got`; blocks and samples stay in step
    /// because the process callback pushes samples before their block.
    pub fn drain(&mut self) {
        while let Some((t, n)) = self.blocks.try_pop() {
            let start = self.got.samples.len();
            self.got.samples.resize(start + n as usize, 0.0);
            let popped = self.samples.pop_slice(&mut self.got.samples[start..]);
            assert_eq!(popped, n as usize, "recorder rings out of step");
            self.got.blocks.push((t, n));
        }
        assert!(
            !self.overflow.load(Ordering::Relaxed),
            "the test's recorder overflowed"
        );
    }

    /// Records for `d`, draining as it goes.
    pub fn record_for(&mut self, d: Duration) {
        let end = Instant::now() + d;
        while Instant::now() < end {
            std::thread::sleep(Duration::from_millis(30));
            self.drain();
        }
        self.drain();
    }

    pub fn forget(&mut self) {
        self.drain();
        self.got = Recording::default();
    }
}

/// A MIDI keyboard client: messages queued by the test go out at a chosen frame of the
/// next cycle; the absolute frame each went out at is kept.
pub struct KeyboardProcess {
    port: Port<MidiOut>,
    queue: HeapCons<(u32, [u8; 3])>,
    sent_at: Arc<AtomicU64>,
    /// Messages per cycle to pour out, spread over the cycle (0: none).
    flood: Arc<AtomicU64>,
    flooded: Arc<AtomicU64>,
    next: u32,
}

impl ProcessHandler for KeyboardProcess {
    fn process(&mut self, _: &Client, ps: &ProcessScope) -> Control {
        let mut w = self.port.writer(ps);
        let n = ps.n_frames();
        while let Some((offset, bytes)) = self.queue.try_pop() {
            let time = offset.min(n - 1);
            if w.write(&RawMidi {
                time,
                bytes: &bytes,
            })
            .is_ok()
            {
                self.sent_at.store(
                    ps.last_frame_time().wrapping_add(time) as u64 | (1 << 40),
                    Ordering::SeqCst,
                );
            }
        }
        let count = self.flood.load(Ordering::Relaxed) as u32;
        for i in 0..count {
            self.next = self.next.wrapping_add(1);
            let key = 36 + (self.next * 7 % 48) as u8;
            // Notes on and off, and now and then bytes that are not MIDI at all.
            let bytes = match self.next % 50 {
                0 => [0x90, 0xFF, 0x10],
                k if k % 2 == 0 => [0x90, key, 90],
                _ => [0x80, key, 0],
            };
            let time = i * n / count.max(1);
            if w.write(&RawMidi {
                time,
                bytes: &bytes,
            })
            .is_ok()
            {
                self.flooded.fetch_add(1, Ordering::Relaxed);
            }
        }
        Control::Continue
    }
}

pub struct Keyboard {
    pub client: jack::AsyncClient<(), KeyboardProcess>,
    pub port: String,
    queue: HeapProd<(u32, [u8; 3])>,
    sent_at: Arc<AtomicU64>,
    flood: Arc<AtomicU64>,
    /// Flood messages JACK accepted.
    pub flooded: Arc<AtomicU64>,
}

impl Keyboard {
    pub fn start(name: &str) -> Keyboard {
        let c = client(name);
        let port = c.register_port("out", MidiOut::default()).unwrap();
        let port_name = port.name().unwrap();
        let (qp, qc) = HeapRb::<(u32, [u8; 3])>::new(64).split();
        let sent_at = Arc::new(AtomicU64::new(0));
        let flood = Arc::new(AtomicU64::new(0));
        let flooded = Arc::new(AtomicU64::new(0));
        let client = c
            .activate_async(
                (),
                KeyboardProcess {
                    port,
                    queue: qc,
                    sent_at: sent_at.clone(),
                    flood: flood.clone(),
                    flooded: flooded.clone(),
                    next: 0,
                },
            )
            .unwrap();
        Keyboard {
            client,
            port: port_name,
            queue: qp,
            sent_at,
            flood,
            flooded,
        }
    }

    /// Pours out `per_cycle` messages every cycle until set back to 0.
    pub fn flood(&self, per_cycle: u64) {
        self.flood.store(per_cycle, Ordering::Relaxed);
    }

    /// Plays `bytes` at frame `offset` of the next cycle; returns the absolute frame.
    pub fn play(&mut self, offset: u32, bytes: [u8; 3]) -> u32 {
        self.sent_at.store(0, Ordering::SeqCst);
        self.queue
            .try_push((offset, bytes))
            .expect("keyboard queue");
        let start = Instant::now();
        loop {
            let v = self.sent_at.load(Ordering::SeqCst);
            if v != 0 {
                return v as u32;
            }
            assert!(
                start.elapsed() < Duration::from_secs(2),
                "the keyboard never played"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

/// The strongest frequency between `lo` and `hi`, to half a hertz.
pub fn strongest_hz(x: &[f32], lo: f64, hi: f64) -> f64 {
    let mut best = (lo, 0f64);
    let mut f = lo;
    while f <= hi {
        let m = magnitude_at(x, f);
        if m > best.1 {
            best = (f, m);
        }
        f += 0.5;
    }
    best.0
}

pub fn rms(x: &[f32]) -> f32 {
    (x.iter().map(|s| (s * s) as f64).sum::<f64>() / x.len().max(1) as f64).sqrt() as f32
}

impl Samspill {
    /// Like [`Samspill::start`] but with the caller's own options after
    /// `headless --host jack --jack-name <client> --soundfont none` (e.g. an OSC port and a
    /// longer looper instead of `--no-osc --loop-secs 5`).
    pub fn start_with(turn: &Turn, client: &str, with_stdin: bool, args: &[&str]) -> Samspill {
        let mut child = prefer(&mut Command::new(env!("CARGO_BIN_EXE_samspill")))
            .args([
                "headless",
                "--host",
                "jack",
                "--jack-name",
                client,
                "--soundfont",
                "none",
            ])
            .args(args)
            .env("JACK_DEFAULT_SERVER", &turn.server)
            .env("JACK_NO_AUDIO_RESERVATION", "1")
            .env("SAMSPILL_DATA_DIR", turn.dir.path())
            .stdin(if with_stdin {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the samspill binary starts");
        Samspill::watch(child.stdin.take(), &mut child, client).with_child(child)
    }

    fn watch(stdin: Option<ChildStdin>, child: &mut Child, client: &str) -> Samspill {
        let (tx, lines) = crossbeam_channel::unbounded();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let out = child.stdout.take().expect("stdout");
        let seen2 = seen.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                seen2.lock().unwrap().push(line.clone());
                let _ = tx.send(line);
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err = child.stderr.take().expect("stderr");
        let err_text = stderr.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                err_text
                    .lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Samspill {
            child: None,
            stdin,
            lines,
            seen,
            stderr,
            client: client.to_string(),
        }
    }

    fn with_child(mut self, child: Child) -> Samspill {
        self.child = Some(child);
        self
    }

    /// The process id (for reading its CPU time).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }
}

/// A signal keyed on the absolute frame, as a feeder plays it.
pub type Signal = Box<dyn Fn(u32) -> f32 + Send>;

pub struct SignalFeederProcess {
    port: Port<AudioOut>,
    signal: Signal,
    on: Arc<AtomicBool>,
}

impl ProcessHandler for SignalFeederProcess {
    fn process(&mut self, _: &Client, ps: &ProcessScope) -> Control {
        let t0 = ps.last_frame_time();
        let on = self.on.load(Ordering::Relaxed);
        for (i, s) in self.port.as_mut_slice(ps).iter_mut().enumerate() {
            *s = if on {
                (self.signal)(t0.wrapping_add(i as u32))
            } else {
                0.0
            };
        }
        Control::Continue
    }
}

/// A client whose port `out` plays `signal` while switched on, silence otherwise
/// (switched per cycle).
pub struct SignalFeeder {
    pub client: jack::AsyncClient<(), SignalFeederProcess>,
    pub port: String,
    pub on: Arc<AtomicBool>,
}

impl SignalFeeder {
    pub fn start(name: &str, signal: Signal, on: bool) -> SignalFeeder {
        let c = client(name);
        let port = c.register_port("out", AudioOut::default()).unwrap();
        let port_name = port.name().unwrap();
        let on = Arc::new(AtomicBool::new(on));
        let client = c
            .activate_async(
                (),
                SignalFeederProcess {
                    port,
                    signal,
                    on: on.clone(),
                },
            )
            .unwrap();
        SignalFeeder {
            client,
            port: port_name,
            on,
        }
    }

    pub fn set(&self, on: bool) {
        self.on.store(on, Ordering::Relaxed);
    }
}

pub struct PlayerProcess {
    input: Port<AudioIn>,
    output: Port<AudioOut>,
    gain: f32,
    /// Plays along only for the frames it processes in `from .. from + len` (`len` 0:
    /// never), counted by `played`, not by JACK's frame time: when the server's clock
    /// jumps after a late wakeup no audio is lost, and the window stays whole.
    from: Arc<AtomicU64>,
    len: Arc<AtomicU64>,
    now: Arc<AtomicU64>,
    played: Arc<AtomicU64>,
}

impl ProcessHandler for PlayerProcess {
    fn process(&mut self, _: &Client, ps: &ProcessScope) -> Control {
        self.now
            .store(ps.last_frame_time() as u64, Ordering::Relaxed);
        let t0 = self.played.load(Ordering::Relaxed) as u32;
        self.played
            .store(t0.wrapping_add(ps.n_frames()) as u64, Ordering::Relaxed);
        let from = self.from.load(Ordering::Relaxed) as u32;
        let len = self.len.load(Ordering::Relaxed) as u32;
        let heard = self.input.as_slice(ps);
        let out = self.output.as_mut_slice(ps);
        for (i, (o, h)) in out.iter_mut().zip(heard).enumerate() {
            let f = t0.wrapping_add(i as u32);
            *o = if f.wrapping_sub(from) < len {
                self.gain * h
            } else {
                0.0
            };
        }
        Control::Continue
    }
}

/// A musician playing along: its port `out` plays what its port `in` hears, scaled by
/// `gain`, in the same cycle, during a window of the frames it processes, set by the test.
pub struct Player {
    pub client: jack::AsyncClient<(), PlayerProcess>,
    pub input: String,
    pub output: String,
    from: Arc<AtomicU64>,
    len: Arc<AtomicU64>,
    now: Arc<AtomicU64>,
    played: Arc<AtomicU64>,
}

impl Player {
    pub fn start(name: &str, gain: f32) -> Player {
        let c = client(name);
        let input = c.register_port("in", AudioIn::default()).unwrap();
        let output = c.register_port("out", AudioOut::default()).unwrap();
        let (in_name, out_name) = (input.name().unwrap(), output.name().unwrap());
        let from = Arc::new(AtomicU64::new(0));
        let len = Arc::new(AtomicU64::new(0));
        let now = Arc::new(AtomicU64::new(0));
        let played = Arc::new(AtomicU64::new(0));
        let client = c
            .activate_async(
                (),
                PlayerProcess {
                    input,
                    output,
                    gain,
                    from: from.clone(),
                    len: len.clone(),
                    now: now.clone(),
                    played: played.clone(),
                },
            )
            .unwrap();
        Player {
            client,
            input: in_name,
            output: out_name,
            from,
            len,
            now,
            played,
        }
    }

    /// Plays along for `len` processed frames from [`Player::played`] = `from`.
    pub fn play_window(&self, from: u32, len: u32) {
        self.len.store(0, Ordering::SeqCst);
        self.from.store(from as u64, Ordering::SeqCst);
        self.len.store(len as u64, Ordering::SeqCst);
    }

    /// The frame time of the last cycle it ran.
    pub fn frame_now(&self) -> u32 {
        self.now.load(Ordering::Relaxed) as u32
    }

    /// How many frames it has processed (what [`Player::play_window`] counts in).
    pub fn played(&self) -> u32 {
        self.played.load(Ordering::Relaxed) as u32
    }
}

impl Samspill {
    /// `samspill headless --host alsa --device <pcm> --soundfont none` and the caller's
    /// options, with `home` as HOME (where its `.asoundrc` is) and the test's JACK
    /// server for ALSA's `jack` plugin.
    pub fn start_alsa(turn: &Turn, home: &std::path::Path, pcm: &str, args: &[&str]) -> Samspill {
        let mut child = prefer(&mut Command::new(env!("CARGO_BIN_EXE_samspill")))
            .args([
                "headless",
                "--host",
                "alsa",
                "--device",
                pcm,
                "--soundfont",
                "none",
            ])
            .args(args)
            .env("HOME", home)
            .env("JACK_DEFAULT_SERVER", &turn.server)
            .env("JACK_NO_AUDIO_RESERVATION", "1")
            .env("SAMSPILL_DATA_DIR", turn.dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the samspill binary starts");
        Samspill::watch(child.stdin.take(), &mut child, pcm).with_child(child)
    }

    /// A `name=value` figure from the `status` reply's `levels:` line.
    pub fn level(&mut self, name: &str) -> i64 {
        self.send("status");
        let levels = self.wait_line("levels:", Duration::from_secs(5));
        let key = format!("{name}=");
        levels
            .split_whitespace()
            .find_map(|w| w.strip_prefix(key.as_str()))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {levels:?}"))
    }
}

/// Sparse clicks, one sample each, every `CLICK_EVERY` frames.
pub const CLICK_EVERY: u32 = 6000;
pub fn click(frame: u32) -> f32 {
    if frame.is_multiple_of(CLICK_EVERY) {
        0.5
    } else {
        0.0
    }
}

/// Waits until JACK's frame time, as `now` reads it, is about halfway between two
/// clicks: a loop started or stopped then has its seam (the looper's 64-frame crossfade,
/// and the last round trip's worth of input written after the stop) between clicks,
/// where every click keeps its full height.
pub fn wait_between_clicks(now: impl Fn() -> u32) {
    let start = Instant::now();
    while !(CLICK_EVERY * 2 / 5..CLICK_EVERY * 3 / 5).contains(&(now() % CLICK_EVERY)) {
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "the frame time stands still"
        );
        std::thread::sleep(Duration::from_micros(500));
    }
}

/// What a recorder heard, cycle after cycle as it processed them.
///
/// Not laid out by JACK's frame time: when the dummy server wakes late (a busy two-core
/// machine, without any client at fault) it moves its frame clock on by the periods it
/// overslept, but every client still processes every cycle in order, so no audio is
/// lost and the loop is still whole in the stream (measured: 7 server xruns and two
/// clock jumps in 20 s under load, the loop periodic across both to a correlation of
/// 0.999). A client that really missed a cycle breaks the stream, and the test with it.
pub struct Timeline {
    pub samples: Vec<Option<f32>>,
}

impl Timeline {
    pub fn of(r: &Recording) -> Timeline {
        assert!(!r.blocks.is_empty(), "nothing was recorded");
        Timeline {
            samples: r.samples.iter().map(|s| Some(*s)).collect(),
        }
    }

    pub fn get(&self, i: usize) -> Option<f32> {
        self.samples.get(i).copied().flatten()
    }

    /// Normalised correlation of the timeline with itself `lag` frames later, over
    /// `from .. from + len`.
    pub fn self_correlation(&self, from: usize, len: usize, lag: usize) -> (f64, usize) {
        let (mut xy, mut xx, mut yy, mut n) = (0f64, 0f64, 0f64, 0usize);
        for i in from..from + len {
            if let (Some(x), Some(y)) = (self.get(i), self.get(i + lag)) {
                let (x, y) = (x as f64, y as f64);
                xy += x * y;
                xx += x * x;
                yy += y * y;
                n += 1;
            }
        }
        (xy / (xx * yy).sqrt().max(1e-30), n)
    }

    /// The loudest sample.
    pub fn peak(&self) -> f32 {
        self.samples
            .iter()
            .flatten()
            .fold(0f32, |m, v| m.max(v.abs()))
    }

    /// Every sample at or above `floor` (clicks are single samples): (index, height).
    pub fn peaks(&self, from: usize, to: usize, floor: f32) -> Vec<(usize, f32)> {
        (from..to.min(self.samples.len()))
            .filter_map(|i| self.get(i).map(|v| (i, v.abs())))
            .filter(|(_, v)| *v >= floor)
            .collect()
    }

    /// The loop's clicks (at least 0.5 × `h0`, the original height), each with the copy
    /// around it; clicks with missed frames within `CLICK_SPAN` are left out.
    pub fn landings(&self, h0: f32) -> Vec<Landing> {
        const SPAN: usize = CLICK_SPAN;
        let mut out: Vec<Landing> = Vec::new();
        let end = self.samples.len().saturating_sub(SPAN);
        for (at, h) in self.peaks(SPAN, end, 0.5 * h0) {
            if out.last().is_some_and(|l| at - l.at < 2 * SPAN) {
                continue; // part of the click before
            }
            if (at - SPAN..at + SPAN).any(|i| self.get(i).is_none()) {
                continue;
            }
            // The copy: the strongest other sample nearby that is not a faint echo.
            let copy_at = self
                .peaks(at - SPAN, at + SPAN, 0.15 * h0)
                .into_iter()
                .filter(|(i, _)| *i != at)
                .max_by(|a, b| a.1.total_cmp(&b.1))
                .map(|(i, _)| i as i64 - at as i64);
            out.push(Landing {
                at,
                reinforced: h / h0,
                copy_at,
            });
        }
        out
    }
}

/// How far around a click [`Timeline::landings`] looks for its copy.
pub const CLICK_SPAN: usize = 1500;

/// One click as heard after an overdub: how much louder than the original it is, and
/// where a second, separate copy sits relative to it (`None`: it landed on the click).
#[derive(Debug, Clone, Copy)]
pub struct Landing {
    pub at: usize,
    pub reinforced: f32,
    pub copy_at: Option<i64>,
}
