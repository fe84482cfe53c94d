//! The test's OSC side, shared by the OSC and JACK tests: a UDP socket on 127.0.0.1 that
//! sends to Samspill the way SooperLooper's GUI would and reads its replies.
#![allow(dead_code)]

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use rosc::{OscMessage, OscPacket, OscType};
use samspill::control::osc::encode;

/// How long a `get` waits for its answer; none by then means the looper is not ready.
pub const REPLY_WAIT: Duration = Duration::from_millis(500);

/// A port free a moment ago, for Samspill's `--osc-port`.
pub fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn s(v: &str) -> OscType {
    OscType::String(v.into())
}

pub struct OscClient {
    pub sock: UdpSocket,
    pub server: SocketAddr,
    /// Where Samspill sends replies: this socket, as `osc.udp://127.0.0.1:port/`.
    pub url: String,
}

impl OscClient {
    /// A client for Samspill listening on 127.0.0.1:`port`.
    pub fn new(port: u16) -> OscClient {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let url = format!("osc.udp://127.0.0.1:{}/", sock.local_addr().unwrap().port());
        OscClient {
            sock,
            server: SocketAddr::from(([127, 0, 0, 1], port)),
            url,
        }
    }

    pub fn send(&self, addr: &str, args: Vec<OscType>) {
        self.sock.send_to(&encode(addr, args), self.server).unwrap();
    }

    /// Waits until loop 0's `param` reads `want`; fails with what it read last and
    /// `context()` (e.g. Samspill's stderr).
    pub fn wait_for(
        &self,
        param: &str,
        want: f32,
        timeout: Duration,
        context: impl Fn() -> String,
    ) {
        let start = Instant::now();
        let mut last = None;
        while start.elapsed() < timeout {
            last = self.get(param);
            if last == Some(want) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "{param} read {last:?}, not {want}, for {timeout:?}\nsamspill stderr:\n{}",
            context()
        );
    }

    /// `/sl/0/hit s:cmd`; when it was sent.
    pub fn hit(&self, cmd: &str) -> Instant {
        self.send("/sl/0/hit", vec![s(cmd)]);
        Instant::now()
    }

    /// Throws away replies that came late: they are not the next question's answer.
    pub fn drain(&self) {
        let mut buf = [0u8; 4096];
        self.sock.set_nonblocking(true).unwrap();
        while self.sock.recv_from(&mut buf).is_ok() {}
        self.sock.set_nonblocking(false).unwrap();
    }

    /// The next message to `path`, skipping others, within `wait`.
    pub fn receive(&self, path: &str, wait: Duration) -> Option<OscMessage> {
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

    /// `/sl/<index>/get s:param` → the value loop `want_loop` reports; `None` when no
    /// reply came. A reply of another shape fails the test.
    pub fn get_loop(&self, index: i32, want_loop: i32, param: &str) -> Option<f32> {
        self.drain();
        self.send(
            &format!("/sl/{index}/get"),
            vec![s(param), s(&self.url), s("/got")],
        );
        let m = self.receive("/got", REPLY_WAIT)?;
        match m.args.as_slice() {
            [OscType::Int(i), OscType::String(p), OscType::Float(v)]
                if *i == want_loop && p == param =>
            {
                Some(*v)
            }
            other => panic!("odd reply to /sl/{index}/get {param}: {other:?}"),
        }
    }

    /// `/sl/0/get s:param` → its value.
    pub fn get(&self, param: &str) -> Option<f32> {
        self.get_loop(0, 0, param)
    }

    /// `/set s:param f:value`.
    pub fn set_global(&self, param: &str, value: f32) {
        self.send("/set", vec![s(param), OscType::Float(value)]);
    }

    /// `/get s:param` → its value (SooperLooper answers for loop -2, the globals).
    pub fn get_global(&self, param: &str) -> Option<f32> {
        self.drain();
        self.send("/get", vec![s(param), s(&self.url), s("/global")]);
        let m = self.receive("/global", REPLY_WAIT)?;
        match m.args.as_slice() {
            [OscType::Int(-2), OscType::String(p), OscType::Float(v)] if p == param => Some(*v),
            other => panic!("odd reply to /get {param}: {other:?}"),
        }
    }

    /// Pings until the looper is ready; (hosturl, version, loop count) of the last reply.
    pub fn ping_until_loops(&self, wait: Duration) -> Option<(String, String, i32)> {
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
