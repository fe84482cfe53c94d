//! OSC end to end: a real `samspill headless` (no sound card, internal clock), driven by
//! UDP from this test the way SooperLooper's GUI or TouchOSC would; and the parser
//! fuzzed with random and mangled packets.

mod common_osc;

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common_osc::{free_port, s, OscClient as Client};
use rosc::OscType;
use samspill::control::osc::{encode, parse};
use samspill::control::{LoopControl, OscServer};
use samspill::controller::{build_looper, LooperConfig};
use samspill::engine::looper::SyncMode;
use samspill::engine::{Command as EngineCommand, EngineConfig, InputConfig};

#[global_allocator]
static ALLOC_CHECK: assert_no_alloc::AllocDisabler = assert_no_alloc::AllocDisabler;

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

impl Client {
    /// Asks until the state is `want` (the engine runs in real time) or time runs out.
    fn wait_state(&self, want: f32, wait: Duration) -> f32 {
        self.wait_state_of(0, want, wait)
    }

    /// Like [`Client::wait_state`], for loop `track`.
    fn wait_state_of(&self, track: i32, want: f32, wait: Duration) -> f32 {
        let until = Instant::now() + wait;
        let mut last = -1.0;
        while Instant::now() < until {
            if let Some(v) = self.get_loop(track, track, "state") {
                last = v;
                if v == want {
                    break;
                }
            }
            std::thread::sleep(Duration::from_millis(20));
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

#[test]
fn loop_minus_three_is_the_selected_loop_and_only_that_one() {
    let port = free_port();
    let mut samspill = Headless::start(port);
    let osc = Client::new(port);
    osc.ping_until_loops(Duration::from_secs(30))
        .filter(|p| p.2 == 4)
        .expect("looper ready with four tracks");

    assert_eq!(
        osc.get_global("selected_loop_num"),
        Some(0.0),
        "loop 0 is selected at first, as in SooperLooper"
    );
    osc.set_global("selected_loop_num", 2.0);
    assert_eq!(osc.get_global("selected_loop_num"), Some(2.0));

    // A hit on -3 records on loop 2; the others stay off.
    osc.send("/sl/-3/hit", vec![s("record")]);
    assert_eq!(
        osc.wait_state_of(2, 2.0, Duration::from_secs(3)),
        2.0,
        "the selected loop records"
    );
    for other in [0, 1, 3] {
        assert_eq!(
            osc.get_loop(other, other, "state"),
            Some(0.0),
            "loop {other} was not selected"
        );
    }
    // A get on -3 answers for the selected loop, under its own number.
    assert_eq!(osc.get_loop(-3, 2, "state"), Some(2.0));

    // A loop the looper does not have is not selected; the selection stays.
    osc.set_global("selected_loop_num", 4.0);
    osc.set_global("selected_loop_num", -7.0);
    assert_eq!(osc.get_global("selected_loop_num"), Some(2.0));

    // -1 selects every loop: a get on -3 then answers four times, once per loop.
    osc.set_global("selected_loop_num", -1.0);
    assert_eq!(osc.get_global("selected_loop_num"), Some(-1.0));
    osc.drain();
    osc.send("/sl/-3/get", vec![s("state"), s(&osc.url), s("/all")]);
    let mut answered: Vec<OscType> = (0..4)
        .filter_map(|_| osc.receive("/all", Duration::from_secs(1)))
        .map(|m| m.args[0].clone())
        .collect();
    answered.sort_by_key(|a| format!("{a:?}"));
    assert_eq!(
        answered,
        (0..4).map(OscType::Int).collect::<Vec<_>>(),
        "every loop answers for -3 when all are selected"
    );
    assert!(samspill.quit());
}

const SR: u32 = 48_000;
/// The round trip the device reports in the compensation test.
const DEVICE_FRAMES: u32 = 300;

fn secs(t: f64) -> usize {
    (t * SR as f64) as usize
}

/// An engine with one mono input whose device reports `device_frames` of round trip,
/// a two-track looper without sync, and an OSC server on a free port talking to it.
fn looper_with_osc(
    device_frames: u32,
) -> (
    samspill::Controller,
    samspill::engine::Engine,
    OscServer,
    Client,
) {
    let (controller, engine) = samspill::new_engine(&EngineConfig {
        sample_rate: SR,
        inputs: vec![InputConfig {
            name: "mic".into(),
            channel: 0,
            right_channel: None,
        }],
    });
    controller
        .shared()
        .latency_frames
        .store(device_frames, std::sync::atomic::Ordering::Relaxed);
    let config = LooperConfig {
        tracks: 2,
        max_secs: 4.0,
        sync: SyncMode::Off,
        ..LooperConfig::default()
    };
    controller
        .send(EngineCommand::InstallLooper(build_looper(&config, SR)))
        .unwrap();
    let server = OscServer::start(LoopControl::new(controller.clone()), 0).unwrap();
    let osc = Client::new(server.local_addr().port());
    (controller, engine, server, osc)
}

/// Records a click at 1.0 s into a loop from 0.5 s to 2.5 s on an engine whose device
/// reports `DEVICE_FRAMES` of round trip, after `set_up` talked to its OSC server; the
/// frame where the loop plays the click back. More compensation plays it earlier.
fn click_replayed_at(set_up: impl Fn(&Client)) -> i64 {
    let (_controller, mut engine, _server, osc) = looper_with_osc(DEVICE_FRAMES);

    let mut click = vec![0f32; secs(6.0)];
    click[secs(1.0)] = 0.5;
    let (mut left, mut right) = (vec![0f32; click.len()], vec![0f32; click.len()]);
    let mut run = |from: usize, to: usize| {
        for at in (from..to).step_by(256) {
            let end = (at + 256).min(to);
            let (i, l, r) = (&click[at..end], &mut left[at..end], &mut right[at..end]);
            assert_no_alloc::assert_no_alloc(|| engine.process(&[i], l, r, &[]));
        }
    };
    let before = assert_no_alloc::violation_count();
    run(0, 256);
    assert!(
        osc.ping_until_loops(Duration::from_secs(5))
            .is_some_and(|p| p.2 == 2),
        "the looper is installed"
    );
    set_up(&osc);
    // The server handles messages in order: once a get is answered, the hit before it
    // is in the engine's queue, and the engine takes it at the next block.
    let hit = |osc: &Client| {
        osc.hit("record");
        assert!(osc.get("state").is_some());
    };
    run(256, secs(0.5));
    hit(&osc);
    run(secs(0.5), secs(2.5));
    hit(&osc);
    run(secs(2.5), click.len());
    assert_eq!(
        assert_no_alloc::violation_count(),
        before,
        "the engine allocated"
    );
    let at = (secs(2.6)..secs(4.5))
        .max_by(|a, b| left[*a].abs().total_cmp(&left[*b].abs()))
        .unwrap();
    assert!(left[at].abs() > 0.1, "no click heard from the loop");
    at as i64
}

#[test]
fn sooperlooper_latency_settings_set_the_compensation_the_engine_uses() {
    // autoset_latency 1 (the default): the device's round trip, all counted as input.
    let auto = click_replayed_at(|osc| {
        assert_eq!(osc.get_global("autoset_latency"), Some(1.0));
        assert_eq!(osc.get("input_latency"), Some(DEVICE_FRAMES as f32));
        assert_eq!(osc.get("output_latency"), Some(0.0));
        // Autoset owns the latencies: a value set now is not taken.
        osc.send(
            "/sl/0/set",
            vec![s("input_latency"), OscType::Float(5000.0)],
        );
        assert_eq!(osc.get("input_latency"), Some(DEVICE_FRAMES as f32));
    });

    // autoset_latency 0, then 200 in + 400 out: 600 frames compensated in all.
    let manual = click_replayed_at(|osc| {
        osc.set_global("autoset_latency", 0.0);
        assert_eq!(osc.get_global("autoset_latency"), Some(0.0));
        assert_eq!(
            osc.get("input_latency"),
            Some(DEVICE_FRAMES as f32),
            "switching autoset off keeps what was compensated"
        );
        osc.send("/sl/0/set", vec![s("input_latency"), OscType::Int(200)]);
        // One compensation for all loops: set on loop 1, read on loop 0.
        osc.send("/sl/1/set", vec![s("output_latency"), OscType::Int(400)]);
        assert_eq!(osc.get("input_latency"), Some(200.0));
        assert_eq!(osc.get("output_latency"), Some(400.0));
        assert_eq!(
            osc.get_global("latency_offset"),
            Some(600.0 - DEVICE_FRAMES as f32),
            "the manual offset makes up the difference to the device's round trip"
        );
    });
    assert_eq!(
        auto - manual,
        600 - DEVICE_FRAMES as i64,
        "the loop plays the click earlier by the extra compensation"
    );

    // Back to autoset: the device's figure alone again, whatever was set by hand.
    let back = click_replayed_at(|osc| {
        osc.set_global("autoset_latency", 0.0);
        osc.send("/sl/0/set", vec![s("input_latency"), OscType::Int(1000)]);
        osc.set_global("autoset_latency", 1.0);
        assert_eq!(osc.get_global("latency_offset"), Some(0.0));
        assert_eq!(osc.get("input_latency"), Some(DEVICE_FRAMES as f32));
    });
    assert_eq!(back, auto);
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
        encode("/set", vec![s("selected_loop_num"), OscType::Int(2)]),
        encode(
            "/sl/-3/set",
            vec![s("input_latency"), OscType::Float(128.0)],
        ),
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
        if let Ok(req) = parse(&p) {
            assert_accepted_only_what_it_understood(&p, &req);
        }
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
        if let Ok(req) = parse(&p) {
            ok += 1;
            assert_accepted_only_what_it_understood(&p, &req);
        }
    }
    // Some mutations stay valid (a changed float); most must be refused.
    assert!(ok < 50_000, "every mangled packet was accepted");
}

/// What every accepted packet must be: one well-formed OSC message (trailing bytes and
/// all), understood from its address and arguments alone — the same message encoded
/// afresh reads the same — and with every number in it finite.
fn assert_accepted_only_what_it_understood(p: &[u8], req: &samspill::control::osc::OscRequest) {
    use samspill::control::osc::OscRequest;
    let (rest, packet) = rosc::decoder::decode_udp(p)
        .unwrap_or_else(|e| panic!("accepted, but not OSC ({e:?}): {p:?}"));
    assert!(
        rest.is_empty(),
        "accepted with {} bytes left over: {p:?}",
        rest.len()
    );
    let rosc::OscPacket::Message(msg) = &packet else {
        panic!("accepted a bundle: {p:?}");
    };
    let again = rosc::encoder::encode(&packet).expect("re-encodes");
    assert_eq!(
        parse(&again).as_ref(),
        Ok(req),
        "{} {:?} reads differently when encoded afresh",
        msg.addr,
        msg.args
    );
    if let OscRequest::Set { value, .. } | OscRequest::GlobalSet { value, .. } = req {
        assert!(
            value.is_finite(),
            "accepted a value that is not a number: {p:?}"
        );
    }
}

#[test]
fn out_peak_meter_reads_what_a_loop_plays() {
    let (_controller, mut engine, _server, osc) = looper_with_osc(0);
    let tone: Vec<f32> = (0..secs(1.0))
        .map(|i| 0.5 * (i as f32 * 0.05).sin())
        .collect();
    let silence = vec![0f32; secs(0.5)];
    let (mut l, mut r) = (vec![0f32; 256], vec![0f32; 256]);
    let mut run = |x: &[f32]| {
        for piece in x.chunks(256) {
            let n = piece.len();
            engine.process(&[piece], &mut l[..n], &mut r[..n], &[]);
        }
    };
    run(&silence[..256]);
    assert!(osc
        .ping_until_loops(Duration::from_secs(5))
        .is_some_and(|p| p.2 == 2));
    osc.hit("record");
    assert!(osc.get("state").is_some());
    run(&tone);
    osc.hit("record");
    assert!(osc.get("state").is_some());
    // The live input is silent now: what is heard is the loop.
    run(&silence);
    let peak = osc.get("out_peak_meter").expect("out_peak_meter");
    // The mono input and the track are each panned to the centre: -3 dB twice.
    assert!((peak - 0.25).abs() < 0.02, "loop 0 peak {peak}");
    osc.send(
        "/sl/1/get",
        vec![s("out_peak_meter"), s(&osc.url), s("/one")],
    );
    let m = osc.receive("/one", Duration::from_secs(2)).expect("reply");
    assert_eq!(m.args[2], OscType::Float(0.0), "an empty loop reads silent");
}

/// What SooperLooper's GUI (slgui) says when it connects: one ping, then `/register` for
/// the loop count and `/register_update` for the globals it shows. It pings only once,
/// so a client that came before the looper must be told the loops when they come.
#[test]
fn slgui_connecting_before_the_looper_learns_the_loops_and_follows_the_globals() {
    let (controller, mut engine) = samspill::new_engine(&EngineConfig {
        sample_rate: SR,
        inputs: vec![],
    });
    let server = OscServer::start(LoopControl::new(controller.clone()), 0).unwrap();
    let gui = Client::new(server.local_addr().port());
    gui.send("/ping", vec![s(&gui.url), s("/pingack")]);
    let m = gui
        .receive("/pingack", Duration::from_secs(2))
        .expect("a ping reply");
    assert_eq!(
        m.args.get(2),
        Some(&OscType::Int(0)),
        "no looper yet: {:?}",
        m.args
    );
    gui.send("/register", vec![s(&gui.url), s("/pingack")]);
    for ctrl in ["tempo", "sync_source", "eighth_per_cycle", "tap_tempo"] {
        gui.send("/register_update", vec![s(ctrl), s(&gui.url), s("/ctrl")]);
    }
    // Each global is told once, as it is now.
    let mut told = std::collections::HashMap::new();
    let until = Instant::now() + Duration::from_secs(2);
    while told.len() < 4 && Instant::now() < until {
        if let Some(m) = gui.receive("/ctrl", Duration::from_millis(200)) {
            if let [OscType::Int(-2), OscType::String(c), OscType::Float(v)] = &m.args[..] {
                told.insert(c.clone(), *v);
            }
        }
    }
    assert_eq!(told.len(), 4, "globals told: {told:?}");
    assert_eq!(
        told["sync_source"], 1.0,
        "the first loop sets the cycle at start"
    );

    // The looper comes: the GUI is told, without pinging again.
    let config = LooperConfig {
        tracks: 3,
        max_secs: 2.0,
        ..LooperConfig::default()
    };
    controller
        .send(EngineCommand::InstallLooper(build_looper(&config, SR)))
        .unwrap();
    let (mut l, mut r) = (vec![0f32; 64], vec![0f32; 64]);
    engine.process(&[], &mut l, &mut r, &[]);
    let m = gui
        .receive("/pingack", Duration::from_secs(2))
        .expect("told the new loop count");
    assert_eq!(m.args.get(2), Some(&OscType::Int(3)), "{:?}", m.args);

    // A tempo set elsewhere (here: another OSC client) reaches the GUI as it changes.
    let other = Client::new(server.local_addr().port());
    other.set_global("tempo", 96.0);
    let mut seen = std::collections::HashMap::new();
    let until = Instant::now() + Duration::from_secs(2);
    while seen.len() < 2 && Instant::now() < until {
        if let Some(m) = gui.receive("/ctrl", Duration::from_millis(200)) {
            if let [OscType::Int(-2), OscType::String(c), OscType::Float(v)] = &m.args[..] {
                seen.insert(c.clone(), *v);
            }
        }
    }
    assert_eq!(seen.get("tempo"), Some(&96.0), "{seen:?}");
    assert_eq!(
        seen.get("sync_source"),
        Some(&-3.0),
        "the tempo sets the cycle now: {seen:?}"
    );
    // Unregistered, it hears no more.
    gui.send(
        "/unregister_update",
        vec![s("tempo"), s(&gui.url), s("/ctrl")],
    );
    gui.send("/unregister", vec![s(&gui.url), s("/pingack")]);
    std::thread::sleep(Duration::from_millis(300));
    gui.drain();
    other.set_global("tempo", 100.0);
    let late = gui.receive("/ctrl", Duration::from_millis(500));
    assert!(
        late.as_ref()
            .is_none_or(|m| m.args.get(1) != Some(&s("tempo"))),
        "still told after unregistering: {late:?}"
    );
}
