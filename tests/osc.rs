//! OSC end to end: a real `samspill headless` (no sound card, internal clock), driven by
//! UDP from this test the way SooperLooper's GUI or TouchOSC would; and the parser
//! fuzzed with random and mangled packets.

use std::io::Write;
use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rosc::{OscMessage, OscPacket, OscType};
use samspill::control::osc::{encode, parse};

/// The headless process; told to quit (then killed if it will not) however the test ends.
struct Headless {
    child: Child,
    _data: tempfile::TempDir,
}

impl Headless {
    fn start(port: u16) -> Headless {
        let data = tempfile::tempdir().unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_samspill"))
            .args(["headless", "--host", "none", "--soundfont", "none"])
            .args(["--loop-secs", "10", "--osc-port", &port.to_string()])
            .env("SAMSPILL_DATA_DIR", data.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("samspill starts");
        Headless { child, _data: data }
    }

    fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Quits through stdin; true if it stopped on its own with success.
    fn quit(&mut self) -> bool {
        if let Some(stdin) = self.child.stdin.as_mut() {
            let _ = stdin.write_all(b"quit\n");
            let _ = stdin.flush();
        }
        let until = Instant::now() + Duration::from_secs(10);
        while Instant::now() < until {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }
}

impl Drop for Headless {
    fn drop(&mut self) {
        if self.alive() && !self.quit() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn s(v: &str) -> OscType {
    OscType::String(v.into())
}

/// The test's side: a UDP socket that sends to samspill and takes its replies.
struct Client {
    sock: UdpSocket,
    server: SocketAddr,
    url: String,
}

impl Client {
    fn new(port: u16) -> Client {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let url = format!("osc.udp://127.0.0.1:{}/", sock.local_addr().unwrap().port());
        Client {
            sock,
            server: SocketAddr::from(([127, 0, 0, 1], port)),
            url,
        }
    }

    fn send(&self, addr: &str, args: Vec<OscType>) {
        self.sock.send_to(&encode(addr, args), self.server).unwrap();
    }

    /// The next message to `path`, skipping others, within `wait`.
    fn receive(&self, path: &str, wait: Duration) -> Option<OscMessage> {
        let until = Instant::now() + wait;
        let mut buf = [0u8; 4096];
        while Instant::now() < until {
            if let Ok((n, _)) = self.sock.recv_from(&mut buf) {
                if let Ok((_, OscPacket::Message(m))) = rosc::decoder::decode_udp(&buf[..n]) {
                    if m.addr == path {
                        return Some(m);
                    }
                }
            }
        }
        None
    }

    /// `/sl/0/get param` → its value.
    fn get(&self, param: &str) -> Option<f32> {
        self.send("/sl/0/get", vec![s(param), s(&self.url), s("/got")]);
        let m = self.receive("/got", Duration::from_secs(1))?;
        assert_eq!(m.args[0], OscType::Int(0), "{m:?}");
        assert_eq!(m.args[1], s(param), "{m:?}");
        match m.args[2] {
            OscType::Float(v) => Some(v),
            _ => panic!("not a float: {m:?}"),
        }
    }

    /// Asks until the state is `want` (the engine runs in real time) or time runs out.
    fn wait_state(&self, want: f32, wait: Duration) -> f32 {
        let until = Instant::now() + wait;
        let mut last = -1.0;
        while Instant::now() < until {
            if let Some(v) = self.get("state") {
                last = v;
                if v == want {
                    break;
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        last
    }

    /// Pings until the looper is ready; (hosturl, version, loop count) of the last reply.
    fn ping_until_loops(&self, wait: Duration) -> Option<(String, String, i32)> {
        let until = Instant::now() + wait;
        let mut last = None;
        while Instant::now() < until {
            self.send("/ping", vec![s(&self.url), s("/pong")]);
            if let Some(m) = self.receive("/pong", Duration::from_millis(300)) {
                if let [OscType::String(h), OscType::String(v), OscType::Int(n)] = &m.args[..] {
                    last = Some((h.clone(), v.clone(), *n));
                    if *n > 0 {
                        break;
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        last
    }
}

#[test]
fn record_a_loop_over_osc_and_watch_it_play() {
    let port = free_port();
    let mut samspill = Headless::start(port);
    let osc = Client::new(port);

    let (host, version, loops) = osc
        .ping_until_loops(Duration::from_secs(30))
        .expect("samspill answers /ping");
    assert_eq!(host, format!("osc.udp://127.0.0.1:{port}/"));
    assert_eq!(version, env!("CARGO_PKG_VERSION"));
    assert_eq!(loops, 4, "the looper is ready with its four tracks");
    assert_eq!(osc.get("state"), Some(0.0), "an empty track is off");

    // Record, let it run half a second, stop: the loop plays.
    osc.send("/sl/0/hit", vec![s("record")]);
    assert_eq!(
        osc.wait_state(2.0, Duration::from_secs(3)),
        2.0,
        "recording"
    );
    std::thread::sleep(Duration::from_millis(500));
    osc.send("/sl/0/hit", vec![s("record")]);
    assert_eq!(osc.wait_state(4.0, Duration::from_secs(3)), 4.0, "playing");
    let len = osc.get("loop_len").expect("loop_len");
    assert!(len > 0.2 && len < 5.0, "loop_len {len}");

    // Auto updates of the play position, then no more once unregistered.
    osc.send(
        "/sl/0/register_auto_update",
        vec![s("loop_pos"), OscType::Int(50), s(&osc.url), s("/pos")],
    );
    for n in 0..3 {
        let m = osc
            .receive("/pos", Duration::from_secs(2))
            .unwrap_or_else(|| panic!("auto update {n} did not come"));
        assert_eq!(m.args[..2], [OscType::Int(0), s("loop_pos")]);
    }
    osc.send(
        "/sl/0/unregister_auto_update",
        vec![s("loop_pos"), s(&osc.url), s("/pos")],
    );
    std::thread::sleep(Duration::from_millis(200));
    while osc.receive("/pos", Duration::from_millis(50)).is_some() {}
    assert!(osc.receive("/pos", Duration::from_millis(300)).is_none());

    // Garbage and strangers change nothing and stop nothing.
    for junk in [
        &b"\x00\xff garbage"[..],
        b"#bundle\0",
        b"/sl/0/hit\0\0\0,s\0\0rec",
        b"",
    ] {
        osc.sock.send_to(junk, osc.server).unwrap();
    }
    osc.send("/sl/0/hit", vec![s("dance")]);
    osc.send("/sl/7/hit", vec![s("record")]);
    // A reply somewhere else on the network is refused.
    osc.send(
        "/sl/0/get",
        vec![s("state"), s("osc.udp://192.0.2.1:9000/"), s("/x")],
    );
    std::thread::sleep(Duration::from_millis(200));
    assert!(samspill.alive(), "samspill survived the garbage");
    assert_eq!(osc.get("state"), Some(4.0), "still playing");

    // Tempo, set and read back as a global.
    osc.send("/set", vec![s("tempo"), OscType::Float(96.0)]);
    osc.send("/get", vec![s("tempo"), s(&osc.url), s("/tempo")]);
    let m = osc
        .receive("/tempo", Duration::from_secs(1))
        .expect("tempo");
    assert_eq!(m.args, [OscType::Int(-2), s("tempo"), OscType::Float(96.0)]);

    assert!(samspill.quit(), "quit on stdin stops samspill cleanly");
}

#[test]
fn loop_lines_on_stdin_steer_the_looper_too() {
    let port = free_port();
    let mut samspill = Headless::start(port);
    let osc = Client::new(port);
    osc.ping_until_loops(Duration::from_secs(30))
        .filter(|p| p.2 > 0)
        .expect("looper ready");
    let stdin = samspill.child.stdin.as_mut().unwrap();
    stdin.write_all(b"loop 1 foot\n").unwrap();
    stdin.flush().unwrap();
    assert_eq!(
        osc.wait_state(2.0, Duration::from_secs(3)),
        2.0,
        "foot: record"
    );
    std::thread::sleep(Duration::from_millis(300));
    let stdin = samspill.child.stdin.as_mut().unwrap();
    stdin.write_all(b"loop 1 foot\n").unwrap();
    stdin.flush().unwrap();
    assert_eq!(
        osc.wait_state(4.0, Duration::from_secs(3)),
        4.0,
        "foot: play"
    );
    let stdin = samspill.child.stdin.as_mut().unwrap();
    stdin.write_all(b"loop 1 foot\n").unwrap();
    stdin.flush().unwrap();
    assert_eq!(
        osc.wait_state(5.0, Duration::from_secs(3)),
        5.0,
        "foot: overdub"
    );
    assert!(samspill.quit());
}

/// xorshift64*: enough randomness for fuzzing, no crate needed, same run every time.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn valid_packets() -> Vec<Vec<u8>> {
    let url = s("osc.udp://127.0.0.1:9000/");
    vec![
        encode("/ping", vec![url.clone(), s("/pong")]),
        encode("/sl/0/hit", vec![s("record")]),
        encode("/sl/-1/hit", vec![s("mute_off")]),
        encode("/sl/1/set", vec![s("wet"), OscType::Float(0.5)]),
        encode("/sl/-3/get", vec![s("loop_len"), url.clone(), s("/g")]),
        encode(
            "/sl/0/register_auto_update",
            vec![s("state"), OscType::Int(100), url.clone(), s("/u")],
        ),
        encode(
            "/sl/0/unregister_auto_update",
            vec![s("state"), url.clone(), s("/u")],
        ),
        encode("/set", vec![s("tempo"), OscType::Double(120.0)]),
        encode("/get", vec![s("tempo"), url, s("/t")]),
    ]
}

#[test]
fn the_parser_never_panics_on_random_bytes() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for _ in 0..20_000 {
        let len = rng.below(200);
        let mut p: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        // Half of them look like OSC at the start, to get past the first checks.
        if rng.below(2) == 0 {
            p.splice(0..0, b"/sl/0/hit\0\0\0,".iter().copied());
        }
        let _ = parse(&p);
    }
}

#[test]
fn the_parser_never_panics_on_mangled_valid_packets() {
    let mut rng = Rng(42);
    let valid = valid_packets();
    for p in &valid {
        assert!(parse(p).is_ok(), "{:?}", String::from_utf8_lossy(p));
    }
    let mut ok = 0;
    for _ in 0..50_000 {
        let mut p = valid[rng.below(valid.len())].clone();
        for _ in 0..1 + rng.below(4) {
            let i = rng.below(p.len());
            match rng.below(5) {
                0 => p[i] = rng.next() as u8,
                1 => p.truncate(i),
                2 => p.insert(i, rng.next() as u8),
                3 => {
                    p.remove(i);
                }
                // Type tags and lengths are where decoders break: poke likely ones.
                _ => p[i] = *b"sifdhbtTFNI[]\0\xff".get(rng.below(15)).unwrap_or(&0),
            }
            if p.is_empty() {
                break;
            }
        }
        if parse(&p).is_ok() {
            ok += 1;
        }
    }
    // Some mutations stay valid (a changed float); most must be refused.
    assert!(ok < 50_000, "every mangled packet was accepted");
}
