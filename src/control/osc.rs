//! OSC control on 127.0.0.1, speaking SooperLooper's protocol where both have the same
//! thing, so its GUI, TouchOSC layouts and scripts written for it work here.
//!
//! Loopback only, on purpose: OSC has no authentication, and a therapy room's network is
//! not ours to open. The server binds 127.0.0.1 and replies only to loopback addresses.
//! The parser ([`parse`]) is pure so it can be fuzzed; the server runs on its own thread
//! and never blocks the audio.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rosc::{OscMessage, OscPacket, OscType};

use super::ops::{state, LoopCommand, LoopControl, TrackSel};
use crate::engine::looper::{LoopOp, Quantize, SyncMode};

/// SooperLooper uses 9951; a SooperLooper client finds us where it looks first.
pub const DEFAULT_OSC_PORT: u16 = 9951;
/// Auto-update registrations kept at most, so a runaway client cannot flood us.
pub const MAX_REGISTRATIONS: usize = 64;
/// The loop index SooperLooper puts in replies about global parameters.
pub const GLOBAL_INDEX: i32 = -2;
const MIN_INTERVAL_MS: u32 = 10;
const MAX_INTERVAL_MS: u32 = 60_000;
/// Nested `[` in type tags allowed; deeper is refused before decoding (deep nesting
/// costs deep recursion when the message is dropped).
const MAX_ARRAY_DEPTH: usize = 4;
const MAX_PATH_LEN: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OscError {
    #[error("not an OSC message: {0}")]
    NotOsc(String),
    #[error("OSC bundles are not taken; send plain messages")]
    Bundle,
    #[error("arrays nested too deep")]
    TooDeep,
    #[error("unknown OSC address {0}")]
    UnknownAddress(String),
    #[error("wrong arguments for {0}")]
    BadArgs(String),
    #[error("no loop {0}")]
    BadLoop(String),
    #[error("unknown command {0}")]
    UnknownCommand(String),
    #[error("unknown parameter {0}")]
    UnknownParam(String),
    #[error("return URL {0} is not osc.udp://host:port/")]
    BadReturnUrl(String),
    #[error("replies go to this computer only, not to {0}")]
    NotLoopback(String),
}

#[derive(Debug, thiserror::Error)]
pub enum OscStartError {
    #[error("OSC listens on this computer only (127.0.0.1), not on {0}.")]
    NotLoopback(SocketAddr),
    #[error("Could not open OSC port {port}: {source}. Another program (SooperLooper?) may use it; pick another with --osc-port.")]
    Bind { port: u16, source: std::io::Error },
    #[error("Could not start the OSC thread: {0}")]
    Thread(std::io::Error),
}

/// Where a reply goes: a loopback address and an OSC path.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ReturnTo {
    pub addr: SocketAddr,
    pub path: String,
}

/// `#` in `/sl/#/...`: a loop from 0, -1 all, -3 the selected one (`selected_loop_num`,
/// kept in [`LoopControl`] so every surface shares it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoopIndex {
    One(u8),
    All,
    Selected,
}

/// `/sl/#/hit` commands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HitCmd {
    Op(LoopCommand),
    MuteOn,
    MuteOff,
}

/// Per-loop parameters both SooperLooper and we have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoopParam {
    State,
    LoopLen,
    LoopPos,
    CycleLen,
    Feedback,
    /// The loop's volume, linear.
    Wet,
    /// SooperLooper pans each channel 0..1; a stereo track here has one balance.
    Pan1,
    /// 0.5, 1 or 2 (the speeds a track has).
    Rate,
    /// 0 off, 1 cycle, 2 eighth (here: a beat), 3 loop (here: a cycle).
    Quantize,
    /// Samples. The engine has one compensation for all loops, so these are the same on
    /// every loop and setting one loop's sets them all.
    InputLatency,
    OutputLatency,
    /// Peak of what the loop plays now, linear (read only).
    OutPeakMeter,
}

impl LoopParam {
    fn from_name(name: &str) -> Option<LoopParam> {
        Some(match name {
            "state" => LoopParam::State,
            "loop_len" => LoopParam::LoopLen,
            "loop_pos" => LoopParam::LoopPos,
            "cycle_len" => LoopParam::CycleLen,
            "feedback" => LoopParam::Feedback,
            "wet" => LoopParam::Wet,
            "pan_1" => LoopParam::Pan1,
            "rate" => LoopParam::Rate,
            "quantize" => LoopParam::Quantize,
            "input_latency" => LoopParam::InputLatency,
            "output_latency" => LoopParam::OutputLatency,
            "out_peak_meter" => LoopParam::OutPeakMeter,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            LoopParam::State => "state",
            LoopParam::LoopLen => "loop_len",
            LoopParam::LoopPos => "loop_pos",
            LoopParam::CycleLen => "cycle_len",
            LoopParam::Feedback => "feedback",
            LoopParam::Wet => "wet",
            LoopParam::Pan1 => "pan_1",
            LoopParam::Rate => "rate",
            LoopParam::Quantize => "quantize",
            LoopParam::InputLatency => "input_latency",
            LoopParam::OutputLatency => "output_latency",
            LoopParam::OutPeakMeter => "out_peak_meter",
        }
    }

    fn settable(self) -> bool {
        matches!(
            self,
            LoopParam::Feedback
                | LoopParam::Wet
                | LoopParam::Pan1
                | LoopParam::Rate
                | LoopParam::Quantize
                | LoopParam::InputLatency
                | LoopParam::OutputLatency
        )
    }

    fn gettable(self) -> bool {
        !matches!(self, LoopParam::Rate | LoopParam::Quantize)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GlobalParam {
    Tempo,
    /// Any value is a tap.
    TapTempo,
    /// Beats per bar × 2, as SooperLooper counts it.
    EighthPerCycle,
    /// Frames added to the measured round trip when overdubs are lined up (by hand;
    /// may be negative). Samspill's own; it reads back what was last set.
    LatencyOffset,
    /// The loop index -3 addresses; -1 all loops.
    SelectedLoopNum,
    /// 1: compensate the device's measured round trip (plus `latency_offset`); 0: compensate
    /// `input_latency` + `output_latency` as set.
    AutosetLatency,
    /// What the cycle follows, in SooperLooper's numbers: -3 the internal tempo, 0 nothing,
    /// n > 0 loop n (Samspill: the first loop recorded).
    SyncSource,
}

impl GlobalParam {
    fn from_name(name: &str) -> Option<GlobalParam> {
        Some(match name {
            "tempo" => GlobalParam::Tempo,
            "tap_tempo" => GlobalParam::TapTempo,
            // SooperLooper spells it both ways.
            "eighth_per_cycle" | "eigth_per_cycle" => GlobalParam::EighthPerCycle,
            "latency_offset" => GlobalParam::LatencyOffset,
            "selected_loop_num" => GlobalParam::SelectedLoopNum,
            "autoset_latency" => GlobalParam::AutosetLatency,
            "sync_source" => GlobalParam::SyncSource,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            GlobalParam::Tempo => "tempo",
            GlobalParam::TapTempo => "tap_tempo",
            GlobalParam::EighthPerCycle => "eighth_per_cycle",
            GlobalParam::LatencyOffset => "latency_offset",
            GlobalParam::SelectedLoopNum => "selected_loop_num",
            GlobalParam::AutosetLatency => "autoset_latency",
            GlobalParam::SyncSource => "sync_source",
        }
    }
}

/// One OSC message, understood.
#[derive(Clone, Debug, PartialEq)]
pub enum OscRequest {
    Ping {
        ret: ReturnTo,
    },
    Hit {
        loops: LoopIndex,
        cmd: HitCmd,
    },
    /// `/sl/#/up` and `forceup`: a button let go; nothing here holds, so nothing to do.
    Release,
    Set {
        loops: LoopIndex,
        param: LoopParam,
        value: f32,
    },
    Get {
        loops: LoopIndex,
        param: LoopParam,
        ret: ReturnTo,
    },
    Register {
        loops: LoopIndex,
        param: LoopParam,
        interval_ms: u32,
        ret: ReturnTo,
    },
    Unregister {
        loops: LoopIndex,
        param: LoopParam,
        ret: ReturnTo,
    },
    GlobalSet {
        param: GlobalParam,
        value: f32,
    },
    GlobalGet {
        param: GlobalParam,
        ret: ReturnTo,
    },
    /// `/register s:url s:path`: told the ping reply again whenever the loop count changes
    /// (how SooperLooper's GUI learns of loops that come after it connected).
    ConfigRegister {
        ret: ReturnTo,
    },
    ConfigUnregister {
        ret: ReturnTo,
    },
    /// `/register_update s:ctrl s:url s:path` (and `register_auto_update`) for a global
    /// control: `(i:-2, s:ctrl, f:value)` whenever it changes.
    GlobalRegister {
        param: GlobalParam,
        ret: ReturnTo,
    },
    GlobalUnregister {
        param: GlobalParam,
        ret: ReturnTo,
    },
}

/// Refuses bundles and deep arrays before the decoder sees them (both recurse).
fn precheck(packet: &[u8]) -> Result<(), OscError> {
    match packet.first() {
        Some(b'#') => return Err(OscError::Bundle),
        Some(b'/') => {}
        _ => return Err(OscError::NotOsc("no address".into())),
    }
    let Some(nul) = packet.iter().position(|b| *b == 0) else {
        return Ok(()); // the decoder says what is wrong
    };
    let tags_at = (nul + 4) & !3;
    let tags = packet.get(tags_at..).unwrap_or(&[]);
    let mut depth = 0usize;
    for b in tags.iter().take_while(|b| **b != 0) {
        match b {
            b'[' => {
                depth += 1;
                if depth > MAX_ARRAY_DEPTH {
                    return Err(OscError::TooDeep);
                }
            }
            b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

fn text(arg: Option<&OscType>) -> Option<&str> {
    match arg? {
        OscType::String(s) => Some(s),
        _ => None,
    }
}

fn number(arg: Option<&OscType>) -> Option<f32> {
    let v = match arg? {
        OscType::Float(f) => *f,
        OscType::Double(d) => *d as f32,
        OscType::Int(i) => *i as f32,
        OscType::Long(l) => *l as f32,
        OscType::Bool(b) => f32::from(u8::from(*b)),
        _ => return None,
    };
    v.is_finite().then_some(v)
}

/// Reads `osc.udp://host:port/`; the host must be this computer.
pub fn parse_return_url(url: &str) -> Result<SocketAddr, OscError> {
    let bad = || OscError::BadReturnUrl(url.chars().take(80).collect());
    let rest = url.strip_prefix("osc.udp://").ok_or_else(bad)?;
    let hostport = rest.split('/').next().ok_or_else(bad)?;
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let (h, p) = v6.split_once("]:").ok_or_else(bad)?;
        (h, p)
    } else {
        hostport.rsplit_once(':').ok_or_else(bad)?
    };
    let port: u16 = port.parse().map_err(|_| bad())?;
    if port == 0 {
        return Err(bad());
    }
    // No name lookups: "localhost" is the only name, and it means 127.0.0.1.
    let ip: IpAddr = if host.eq_ignore_ascii_case("localhost") {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        host.parse()
            .map_err(|_| OscError::NotLoopback(host.into()))?
    };
    if !ip.is_loopback() {
        return Err(OscError::NotLoopback(host.into()));
    }
    // Our socket is IPv4; a reply to ::1 would not leave it.
    let ip = match ip {
        IpAddr::V6(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
        v4 => v4,
    };
    Ok(SocketAddr::new(ip, port))
}

fn return_to(
    url: Option<&OscType>,
    path: Option<&OscType>,
    addr: &str,
) -> Result<ReturnTo, OscError> {
    let args = || OscError::BadArgs(addr.into());
    let url = text(url).ok_or_else(args)?;
    let path = text(path).ok_or_else(args)?;
    if !path.starts_with('/') || path.len() > MAX_PATH_LEN || path.contains(char::is_whitespace) {
        return Err(args());
    }
    Ok(ReturnTo {
        addr: parse_return_url(url)?,
        path: path.to_owned(),
    })
}

fn loop_index(word: &str) -> Result<LoopIndex, OscError> {
    match word.parse::<i32>() {
        Ok(-1) => Ok(LoopIndex::All),
        Ok(-3) => Ok(LoopIndex::Selected),
        Ok(i) => u8::try_from(i)
            .ok()
            .filter(|i| (*i as usize) < crate::engine::looper::MAX_TRACKS)
            .map(LoopIndex::One)
            .ok_or_else(|| OscError::BadLoop(word.chars().take(20).collect())),
        Err(_) => Err(OscError::BadLoop(word.chars().take(20).collect())),
    }
}

fn hit_cmd(name: &str) -> Result<HitCmd, OscError> {
    match name {
        "mute_on" => Ok(HitCmd::MuteOn),
        "mute_off" => Ok(HitCmd::MuteOff),
        // Speeds and clear are ours alone; SooperLooper's names are the ones it has.
        n => LoopCommand::from_name(n)
            .map(HitCmd::Op)
            .ok_or_else(|| OscError::UnknownCommand(n.chars().take(40).collect())),
    }
}

/// Understands one OSC packet. Pure: no sockets, no engine; never panics.
pub fn parse(packet: &[u8]) -> Result<OscRequest, OscError> {
    precheck(packet)?;
    let (rest, decoded) =
        rosc::decoder::decode_udp(packet).map_err(|e| OscError::NotOsc(e.to_string()))?;
    // A message is its whole packet: bytes after it mean a sender that got it wrong.
    if !rest.is_empty() {
        return Err(OscError::NotOsc(format!(
            "{} bytes after the message",
            rest.len()
        )));
    }
    let msg = match decoded {
        OscPacket::Message(m) => m,
        OscPacket::Bundle(_) => return Err(OscError::Bundle),
    };
    understand(&msg)
}

fn understand(msg: &OscMessage) -> Result<OscRequest, OscError> {
    let addr = msg.addr.as_str();
    let a = &msg.args;
    let args = || OscError::BadArgs(addr.chars().take(80).collect());
    let unknown = || OscError::UnknownAddress(addr.chars().take(80).collect());
    match addr {
        "/ping" => {
            return Ok(OscRequest::Ping {
                ret: return_to(a.first(), a.get(1), addr)?,
            })
        }
        "/set" => {
            let name = text(a.first()).ok_or_else(args)?;
            let param = GlobalParam::from_name(name)
                .ok_or_else(|| OscError::UnknownParam(name.chars().take(40).collect()))?;
            return Ok(OscRequest::GlobalSet {
                param,
                value: number(a.get(1)).ok_or_else(args)?,
            });
        }
        "/get" => {
            let name = text(a.first()).ok_or_else(args)?;
            let param = GlobalParam::from_name(name)
                .ok_or_else(|| OscError::UnknownParam(name.chars().take(40).collect()))?;
            return Ok(OscRequest::GlobalGet {
                param,
                ret: return_to(a.get(1), a.get(2), addr)?,
            });
        }
        "/register" | "/unregister" => {
            let ret = return_to(a.first(), a.get(1), addr)?;
            return Ok(if addr == "/register" {
                OscRequest::ConfigRegister { ret }
            } else {
                OscRequest::ConfigUnregister { ret }
            });
        }
        "/register_update"
        | "/unregister_update"
        | "/register_auto_update"
        | "/unregister_auto_update" => {
            let name = text(a.first()).ok_or_else(args)?;
            let param = GlobalParam::from_name(name)
                .ok_or_else(|| OscError::UnknownParam(name.chars().take(40).collect()))?;
            // The auto form carries an interval first; globals are sent on change anyway.
            let at = if addr == "/register_auto_update" {
                2
            } else {
                1
            };
            let ret = return_to(a.get(at), a.get(at + 1), addr)?;
            return Ok(if addr.starts_with("/register") {
                OscRequest::GlobalRegister { param, ret }
            } else {
                OscRequest::GlobalUnregister { param, ret }
            });
        }
        _ => {}
    }
    let mut parts = addr.strip_prefix("/sl/").ok_or_else(unknown)?.split('/');
    let (Some(index), Some(verb), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(unknown());
    };
    let loops = loop_index(index)?;
    let param = |arg: Option<&OscType>| -> Result<LoopParam, OscError> {
        let name = text(arg).ok_or_else(args)?;
        LoopParam::from_name(name)
            .ok_or_else(|| OscError::UnknownParam(name.chars().take(40).collect()))
    };
    match verb {
        "hit" | "down" => Ok(OscRequest::Hit {
            loops,
            cmd: hit_cmd(text(a.first()).ok_or_else(args)?)?,
        }),
        "up" | "forceup" => {
            text(a.first()).ok_or_else(args)?;
            Ok(OscRequest::Release)
        }
        "set" => {
            let p = param(a.first())?;
            if !p.settable() {
                return Err(OscError::UnknownParam(p.name().into()));
            }
            Ok(OscRequest::Set {
                loops,
                param: p,
                value: number(a.get(1)).ok_or_else(args)?,
            })
        }
        "get" => {
            let p = param(a.first())?;
            if !p.gettable() {
                return Err(OscError::UnknownParam(p.name().into()));
            }
            Ok(OscRequest::Get {
                loops,
                param: p,
                ret: return_to(a.get(1), a.get(2), addr)?,
            })
        }
        "register_auto_update" => {
            let p = param(a.first())?;
            if !p.gettable() {
                return Err(OscError::UnknownParam(p.name().into()));
            }
            let ms = number(a.get(1)).ok_or_else(args)?;
            Ok(OscRequest::Register {
                loops,
                param: p,
                interval_ms: (ms.max(0.0) as u32).clamp(MIN_INTERVAL_MS, MAX_INTERVAL_MS),
                ret: return_to(a.get(2), a.get(3), addr)?,
            })
        }
        "unregister_auto_update" => Ok(OscRequest::Unregister {
            loops,
            param: param(a.first())?,
            ret: return_to(a.get(1), a.get(2), addr)?,
        }),
        _ => Err(unknown()),
    }
}

/// What the server has seen, for the status line and tests.
#[derive(Debug, Default)]
pub struct OscStats {
    pub received: AtomicU64,
    /// Unknown addresses, malformed packets, loops that do not exist, refused replies.
    pub ignored: AtomicU64,
    pub replies: AtomicU64,
}

/// The OSC server thread. Stops when dropped.
pub struct OscServer {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    addr: SocketAddr,
    stats: Arc<OscStats>,
}

impl OscServer {
    /// Listens on 127.0.0.1:`port` (0 picks a free port).
    pub fn start(control: LoopControl, port: u16) -> Result<OscServer, OscStartError> {
        Self::start_on(
            control,
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port),
        )
    }

    /// Listens on `addr`, which must be a loopback address.
    pub fn start_on(control: LoopControl, addr: SocketAddr) -> Result<OscServer, OscStartError> {
        if !addr.ip().is_loopback() || addr.is_ipv6() {
            return Err(OscStartError::NotLoopback(addr));
        }
        let socket = UdpSocket::bind(addr).map_err(|source| OscStartError::Bind {
            port: addr.port(),
            source,
        })?;
        let addr = socket.local_addr().map_err(|source| OscStartError::Bind {
            port: addr.port(),
            source,
        })?;
        let stop = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(OscStats::default());
        let mut worker = Worker {
            socket,
            control,
            stats: stats.clone(),
            regs: Vec::new(),
            config_regs: Vec::new(),
            global_regs: Vec::new(),
            loops_told: None,
            host_url: format!("osc.udp://127.0.0.1:{}/", addr.port()),
            latency_offset: 0,
            latency: Latency::default(),
        };
        let s = stop.clone();
        let thread = std::thread::Builder::new()
            .name("osc".into())
            .spawn(move || worker.run(&s))
            .map_err(OscStartError::Thread)?;
        Ok(OscServer {
            stop,
            thread: Some(thread),
            addr,
            stats,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn stats(&self) -> &OscStats {
        &self.stats
    }
}

impl Drop for OscServer {
    fn drop(&mut self) {
        self.stop.store(true, Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct Registration {
    track: u8,
    param: LoopParam,
    ret: ReturnTo,
    interval: Duration,
    due: Instant,
}

/// SooperLooper's latency settings on top of our model, where the engine compensates the
/// device's round trip (`Shared::latency_frames`) plus a hand-set offset.
struct Latency {
    autoset: bool,
    /// With autoset off: the samples SooperLooper's GUI shows; the offset sent is
    /// `input + output - device round trip`, so the total is what was asked for.
    input: u32,
    output: u32,
    /// The round trip the last offset was worked out against.
    device_seen: u32,
}

impl Default for Latency {
    fn default() -> Self {
        Self {
            autoset: true,
            input: 0,
            output: 0,
            device_seen: 0,
        }
    }
}

/// Largest latency taken, in samples: two seconds at 48 kHz.
const MAX_LATENCY: f32 = 96_000.0;

struct Worker {
    socket: UdpSocket,
    control: LoopControl,
    stats: Arc<OscStats>,
    regs: Vec<Registration>,
    host_url: String,
    latency_offset: i32,
    latency: Latency,
    /// Clients told the loop count whenever it changes (`/register`).
    config_regs: Vec<ReturnTo>,
    /// Global controls sent on change: the client, the control and what it was told last.
    global_regs: Vec<(ReturnTo, GlobalParam, Option<f32>)>,
    /// The loop count the last ping reply carried.
    loops_told: Option<i32>,
}

impl Worker {
    fn run(&mut self, stop: &AtomicBool) {
        // One buffer, the largest UDP datagram.
        let mut buf = vec![0u8; 65_536];
        while !stop.load(Relaxed) {
            let now = Instant::now();
            let wait = self
                .regs
                .iter()
                .map(|r| r.due.saturating_duration_since(now))
                .min()
                .unwrap_or(Duration::from_millis(100))
                .clamp(Duration::from_millis(1), Duration::from_millis(100));
            let _ = self.socket.set_read_timeout(Some(wait));
            // Errors (a timeout, an ICMP "port unreachable" from a client gone) just loop.
            if let Ok((n, _from)) = self.socket.recv_from(&mut buf) {
                self.stats.received.fetch_add(1, Relaxed);
                let handled = match parse(buf.get(..n).unwrap_or(&[])) {
                    Ok(req) => self.handle(req),
                    Err(_) => false,
                };
                if !handled {
                    self.stats.ignored.fetch_add(1, Relaxed);
                }
            }
            self.follow_device_latency();
            self.send_updates(Instant::now());
            self.send_config_changes();
            self.send_global_changes();
        }
    }

    fn device_latency(&self) -> u32 {
        self.control
            .controller()
            .shared()
            .latency_frames
            .load(Relaxed)
    }

    /// Sends the hand-set offset; remembered only once the engine has it.
    fn send_latency_offset(&mut self, frames: i32) -> bool {
        let frames = frames.clamp(-(MAX_LATENCY as i32), MAX_LATENCY as i32);
        let cmd = crate::engine::Command::LoopLatencyOffset(frames);
        let sent = self.control.controller().send(cmd).is_ok();
        if sent {
            self.latency_offset = frames;
        }
        sent
    }

    /// With autoset off: the offset that makes the compensation input + output.
    fn apply_manual_latency(&mut self) -> bool {
        let device = self.device_latency();
        self.latency.device_seen = device;
        let want = self.latency.input as i64 + self.latency.output as i64;
        self.send_latency_offset((want - device as i64) as i32)
    }

    /// A new device (or a new JACK graph) changes the round trip; a total set by hand
    /// must stay what it was.
    fn follow_device_latency(&mut self) {
        if !self.latency.autoset && self.device_latency() != self.latency.device_seen {
            self.apply_manual_latency();
        }
    }

    /// SooperLooper's input and output latency in samples. The device reports only its
    /// whole round trip, so with autoset it all counts as input and output reads 0.
    fn latency_parts(&self) -> (u32, u32) {
        if self.latency.autoset {
            (self.device_latency(), 0)
        } else {
            (self.latency.input, self.latency.output)
        }
    }

    fn set_latency(&mut self, param: LoopParam, value: f32) -> bool {
        // As in SooperLooper, autoset owns these; set autoset_latency 0 first.
        if self.latency.autoset {
            return false;
        }
        let samples = value.round().clamp(0.0, MAX_LATENCY) as u32;
        match param {
            LoopParam::InputLatency => self.latency.input = samples,
            _ => self.latency.output = samples,
        }
        self.apply_manual_latency()
    }

    fn set_autoset(&mut self, on: bool) -> bool {
        if on == self.latency.autoset {
            return true;
        }
        if on {
            // Back to the device's figure: the offset the hand-set total needed goes.
            if !self.send_latency_offset(0) {
                return false;
            }
        } else {
            // Off keeps what is compensated now, as the starting input latency.
            let device = self.device_latency();
            let now = (device as i64 + self.latency_offset as i64).clamp(0, MAX_LATENCY as i64);
            self.latency.input = now as u32;
            self.latency.output = 0;
            self.latency.device_seen = device;
        }
        self.latency.autoset = on;
        true
    }

    fn sel(&self, loops: LoopIndex) -> TrackSel {
        match loops {
            LoopIndex::One(i) => TrackSel::One(i),
            LoopIndex::All => TrackSel::All,
            LoopIndex::Selected => self.control.selected(),
        }
    }

    fn reply(&self, ret: &ReturnTo, args: Vec<OscType>) {
        // Checked when parsed; checked again because a reply must never leave the machine.
        if !ret.addr.ip().is_loopback() {
            self.stats.ignored.fetch_add(1, Relaxed);
            return;
        }
        let msg = OscPacket::Message(OscMessage {
            addr: ret.path.clone(),
            args,
        });
        if let Ok(bytes) = rosc::encoder::encode(&msg) {
            if self.socket.send_to(&bytes, ret.addr).is_ok() {
                self.stats.replies.fetch_add(1, Relaxed);
            }
        }
    }

    fn tracks_of(&self, loops: LoopIndex) -> Vec<u8> {
        let n = self.control.tracks() as u8;
        match self.sel(loops) {
            TrackSel::One(i) if i < n => vec![i],
            TrackSel::One(_) => vec![],
            TrackSel::All => (0..n).collect(),
        }
    }

    fn value(&self, track: u8, param: LoopParam) -> Option<f32> {
        let t = track as usize;
        let r = self.control.reading(t)?;
        Some(match param {
            LoopParam::State => r.state as f32,
            LoopParam::LoopLen => r.loop_len_secs,
            LoopParam::LoopPos => r.loop_pos_secs,
            LoopParam::CycleLen => r.cycle_len_secs,
            LoopParam::Feedback => self.control.feedback(t)?,
            LoopParam::Wet => self.control.volume(t)?,
            LoopParam::Pan1 => (self.control.pan(t)? + 1.0) / 2.0,
            LoopParam::InputLatency => self.latency_parts().0 as f32,
            LoopParam::OutputLatency => self.latency_parts().1 as f32,
            LoopParam::OutPeakMeter => r.out_peak,
            LoopParam::Rate | LoopParam::Quantize => return None,
        })
    }

    /// Does what `req` asks; false when it could not (counted as ignored).
    fn handle(&mut self, req: OscRequest) -> bool {
        match req {
            OscRequest::Ping { ret } => {
                self.tell_config(&ret);
                true
            }
            OscRequest::ConfigRegister { ret } => {
                if !self.config_regs.contains(&ret) {
                    if self.config_regs.len() >= MAX_REGISTRATIONS {
                        return false;
                    }
                    self.config_regs.push(ret.clone());
                }
                // The looper may have come between the client's ping and now.
                if self.loops_told != Some(self.control.tracks() as i32) {
                    self.tell_config(&ret);
                }
                true
            }
            OscRequest::ConfigUnregister { ret } => {
                let before = self.config_regs.len();
                self.config_regs.retain(|r| *r != ret);
                self.config_regs.len() < before
            }
            OscRequest::GlobalRegister { param, ret } => {
                let known = self
                    .global_regs
                    .iter()
                    .any(|(r, p, _)| *r == ret && *p == param);
                if !known {
                    if self.global_regs.len() >= MAX_REGISTRATIONS {
                        return false;
                    }
                    // Told at once on the next pass (nothing told yet), then on change.
                    self.global_regs.push((ret, param, None));
                }
                true
            }
            OscRequest::GlobalUnregister { param, ret } => {
                let before = self.global_regs.len();
                self.global_regs
                    .retain(|(r, p, _)| !(*r == ret && *p == param));
                self.global_regs.len() < before
            }
            OscRequest::Release => true,
            OscRequest::Hit { loops, cmd } => match cmd {
                HitCmd::Op(c) => self.control.hit_sel(self.sel(loops), c.op()).is_ok(),
                HitCmd::MuteOn | HitCmd::MuteOff => {
                    let want_muted = cmd == HitCmd::MuteOn;
                    let tracks = self.tracks_of(loops);
                    for t in &tracks {
                        let muted = self
                            .control
                            .reading(*t as usize)
                            .is_some_and(|r| r.state == state::MUTED);
                        if muted != want_muted {
                            let _ = self.control.hit(*t as usize, LoopOp::Mute);
                        }
                    }
                    !tracks.is_empty()
                }
            },
            OscRequest::Set {
                loops,
                param,
                value,
            } => self.set(loops, param, value),
            OscRequest::Get { loops, param, ret } => {
                let mut any = false;
                for t in self.tracks_of(loops) {
                    if let Some(v) = self.value(t, param) {
                        self.reply(&ret, reading_args(t, param, v));
                        any = true;
                    }
                }
                any
            }
            OscRequest::Register {
                loops,
                param,
                interval_ms,
                ret,
            } => {
                let interval = Duration::from_millis(interval_ms as u64);
                let mut all_kept = true;
                for track in self.tracks_of(loops) {
                    let same =
                        |r: &Registration| r.track == track && r.param == param && r.ret == ret;
                    if let Some(r) = self.regs.iter_mut().find(|r| same(r)) {
                        r.interval = interval;
                    } else if self.regs.len() < MAX_REGISTRATIONS {
                        self.regs.push(Registration {
                            track,
                            param,
                            ret: ret.clone(),
                            interval,
                            due: Instant::now(),
                        });
                    } else {
                        all_kept = false;
                    }
                }
                all_kept
            }
            OscRequest::Unregister { loops, param, ret } => {
                let tracks = self.tracks_of(loops);
                let before = self.regs.len();
                self.regs
                    .retain(|r| !(r.param == param && r.ret == ret && tracks.contains(&r.track)));
                self.regs.len() < before
            }
            OscRequest::GlobalSet { param, value } => match param {
                GlobalParam::Tempo => {
                    let meter = self.control.tempo().map_or(4, |(_, m)| m);
                    self.control.set_tempo(value, meter).is_ok()
                }
                GlobalParam::TapTempo => self.control.tap().is_ok(),
                GlobalParam::EighthPerCycle => {
                    let bpm = self.control.tempo().map_or(120.0, |(b, _)| b);
                    let beats = (value / 2.0).round().max(1.0) as u32;
                    self.control.set_tempo(bpm, beats).is_ok()
                }
                GlobalParam::LatencyOffset => {
                    let before = self.latency_offset;
                    let sent = self.send_latency_offset(value.round() as i32);
                    if sent && !self.latency.autoset {
                        // The hand-set total moved with it; input latency takes the change.
                        let input =
                            self.latency.input as i64 + (self.latency_offset - before) as i64;
                        self.latency.input = input.clamp(0, MAX_LATENCY as i64) as u32;
                    }
                    sent
                }
                GlobalParam::SelectedLoopNum => match value.round() as i32 {
                    -1 => self.control.select(TrackSel::All).is_ok(),
                    n => {
                        u8::try_from(n).is_ok_and(|t| self.control.select(TrackSel::One(t)).is_ok())
                    }
                },
                GlobalParam::AutosetLatency => self.set_autoset(value >= 0.5),
                GlobalParam::SyncSource => {
                    let mode = match value.round() as i32 {
                        -3 => {
                            let (bpm, beats_per_bar) = self.control.tempo().unwrap_or((120.0, 4));
                            SyncMode::Tempo { bpm, beats_per_bar }
                        }
                        0 => SyncMode::Off,
                        n if n > 0 => SyncMode::FirstLoop,
                        // MIDI and JACK clocks: not followed here.
                        _ => return false,
                    };
                    self.control.set_sync(mode).is_ok()
                }
            },
            OscRequest::GlobalGet { param, ret } => {
                let v = self.global_value(param);
                self.reply(&ret, global_args(param, v));
                true
            }
        }
    }

    /// A global control's value, in SooperLooper's units.
    fn global_value(&self, param: GlobalParam) -> f32 {
        let tempo = self.control.tempo();
        match param {
            // 0: loops are not following a tempo.
            GlobalParam::Tempo | GlobalParam::TapTempo => tempo.map_or(0.0, |(b, _)| b),
            GlobalParam::EighthPerCycle => tempo.map_or(8.0, |(_, m)| (m * 2) as f32),
            GlobalParam::LatencyOffset => self.latency_offset as f32,
            GlobalParam::SelectedLoopNum => match self.control.selected() {
                TrackSel::One(t) => t as f32,
                TrackSel::All => -1.0,
            },
            GlobalParam::AutosetLatency => f32::from(u8::from(self.latency.autoset)),
            GlobalParam::SyncSource => match self.control.sync() {
                SyncMode::Tempo { .. } => -3.0,
                SyncMode::Off => 0.0,
                SyncMode::FirstLoop => 1.0,
            },
        }
    }

    /// SooperLooper's ping reply: where we are, our version and how many loops there are.
    fn tell_config(&mut self, ret: &ReturnTo) {
        let count = self.control.tracks() as i32;
        self.loops_told = Some(count);
        self.reply(
            ret,
            vec![
                OscType::String(self.host_url.clone()),
                OscType::String(env!("CARGO_PKG_VERSION").into()),
                OscType::Int(count),
            ],
        );
    }

    /// Registered clients hear of a new loop count (the looper is built after OSC starts,
    /// and a jam may bring more tracks).
    fn send_config_changes(&mut self) {
        let count = self.control.tracks() as i32;
        if self.config_regs.is_empty() || self.loops_told == Some(count) {
            return;
        }
        for ret in self.config_regs.clone() {
            self.tell_config(&ret);
        }
    }

    /// Global controls registered for updates, sent when they change (from any surface).
    fn send_global_changes(&mut self) {
        for i in 0..self.global_regs.len() {
            let (ret, param, told) = self.global_regs[i].clone();
            let v = self.global_value(param);
            if told != Some(v) {
                self.global_regs[i].2 = Some(v);
                self.reply(&ret, global_args(param, v));
            }
        }
    }

    fn set(&mut self, loops: LoopIndex, param: LoopParam, value: f32) -> bool {
        let op = match param {
            LoopParam::InputLatency | LoopParam::OutputLatency => {
                // One compensation for all loops: any loop that exists sets it.
                if self.tracks_of(loops).is_empty() {
                    return false;
                }
                return self.set_latency(param, value);
            }
            LoopParam::Feedback => LoopOp::SetFeedback(value.clamp(0.0, 1.0)),
            LoopParam::Wet => LoopOp::SetVolume(value.clamp(0.0, 4.0)),
            LoopParam::Pan1 => LoopOp::SetPan(value.clamp(0.0, 1.0) * 2.0 - 1.0),
            LoopParam::Rate => match value {
                v if (0.4..0.6).contains(&v) => LoopOp::HalfSpeed,
                v if (0.9..1.1).contains(&v) => LoopOp::NormalSpeed,
                v if (1.9..2.1).contains(&v) => LoopOp::DoubleSpeed,
                _ => return false,
            },
            LoopParam::Quantize => {
                // The looper's quantize is one setting for all tracks.
                let q = match value.round() as i32 {
                    0 => Quantize::Off,
                    1 | 3 => Quantize::Cycle,
                    2 => Quantize::Beat,
                    _ => return false,
                };
                return self.control.set_quantize(q).is_ok();
            }
            LoopParam::State
            | LoopParam::LoopLen
            | LoopParam::LoopPos
            | LoopParam::CycleLen
            | LoopParam::OutPeakMeter => return false,
        };
        self.control.hit_sel(self.sel(loops), op).is_ok()
    }

    fn send_updates(&mut self, now: Instant) {
        let mut due = Vec::new();
        for r in &mut self.regs {
            if r.due <= now {
                // From now, not from the missed time: a stalled thread does not burst.
                r.due = now + r.interval;
                due.push((r.track, r.param, r.ret.clone()));
            }
        }
        for (track, param, ret) in due {
            if let Some(v) = self.value(track, param) {
                self.reply(&ret, reading_args(track, param, v));
            }
        }
    }
}

/// SooperLooper's reply shape for a global control: (i:-2, s:control, f:value).
fn global_args(param: GlobalParam, value: f32) -> Vec<OscType> {
    vec![
        OscType::Int(GLOBAL_INDEX),
        OscType::String(param.name().into()),
        OscType::Float(value),
    ]
}

/// SooperLooper's reply shape: (i:loop, s:control, f:value).
fn reading_args(track: u8, param: LoopParam, value: f32) -> Vec<OscType> {
    vec![
        OscType::Int(track as i32),
        OscType::String(param.name().into()),
        OscType::Float(value),
    ]
}

/// Encodes a message (for tests and clients).
pub fn encode(addr: &str, args: Vec<OscType>) -> Vec<u8> {
    rosc::encoder::encode(&OscPacket::Message(OscMessage {
        addr: addr.into(),
        args,
    }))
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> OscType {
        OscType::String(v.into())
    }

    const URL: &str = "osc.udp://127.0.0.1:9000/";

    #[test]
    fn sooperlooper_messages_are_understood() {
        assert_eq!(
            parse(&encode("/sl/0/hit", vec![s("record")])),
            Ok(OscRequest::Hit {
                loops: LoopIndex::One(0),
                cmd: HitCmd::Op(LoopCommand::Record)
            })
        );
        assert_eq!(
            parse(&encode("/sl/-1/hit", vec![s("mute_on")])),
            Ok(OscRequest::Hit {
                loops: LoopIndex::All,
                cmd: HitCmd::MuteOn
            })
        );
        assert_eq!(
            parse(&encode("/sl/2/set", vec![s("feedback"), OscType::Int(1)])),
            Ok(OscRequest::Set {
                loops: LoopIndex::One(2),
                param: LoopParam::Feedback,
                value: 1.0
            })
        );
        let ret = ReturnTo {
            addr: "127.0.0.1:9000".parse().unwrap(),
            path: "/back".into(),
        };
        assert_eq!(
            parse(&encode("/sl/-3/get", vec![s("state"), s(URL), s("/back")])),
            Ok(OscRequest::Get {
                loops: LoopIndex::Selected,
                param: LoopParam::State,
                ret: ret.clone()
            })
        );
        assert_eq!(
            parse(&encode(
                "/ping",
                vec![s("osc.udp://localhost:9000"), s("/back")]
            )),
            Ok(OscRequest::Ping { ret: ret.clone() })
        );
        assert_eq!(
            parse(&encode(
                "/sl/1/register_auto_update",
                vec![s("loop_pos"), OscType::Int(1), s(URL), s("/back")]
            )),
            Ok(OscRequest::Register {
                loops: LoopIndex::One(1),
                param: LoopParam::LoopPos,
                interval_ms: MIN_INTERVAL_MS,
                ret
            })
        );
        assert_eq!(
            parse(&encode("/set", vec![s("tempo"), OscType::Float(96.0)])),
            Ok(OscRequest::GlobalSet {
                param: GlobalParam::Tempo,
                value: 96.0
            })
        );
    }

    #[test]
    fn sooperlooper_selection_and_latency_names_are_understood() {
        assert_eq!(
            parse(&encode(
                "/set",
                vec![s("selected_loop_num"), OscType::Int(-1)]
            )),
            Ok(OscRequest::GlobalSet {
                param: GlobalParam::SelectedLoopNum,
                value: -1.0
            })
        );
        assert_eq!(
            parse(&encode("/set", vec![s("autoset_latency"), OscType::Int(0)])),
            Ok(OscRequest::GlobalSet {
                param: GlobalParam::AutosetLatency,
                value: 0.0
            })
        );
        for (name, param) in [
            ("input_latency", LoopParam::InputLatency),
            ("output_latency", LoopParam::OutputLatency),
        ] {
            assert_eq!(
                parse(&encode("/sl/-3/set", vec![s(name), OscType::Float(256.0)])),
                Ok(OscRequest::Set {
                    loops: LoopIndex::Selected,
                    param,
                    value: 256.0
                })
            );
            assert!(parse(&encode("/sl/0/get", vec![s(name), s(URL), s("/b")])).is_ok());
        }
    }

    #[test]
    fn replies_only_go_to_this_computer() {
        assert!(parse_return_url("osc.udp://127.0.0.1:9000/").is_ok());
        assert!(parse_return_url("osc.udp://127.1.2.3:9000").is_ok());
        assert!(parse_return_url("osc.udp://[::1]:9000/").is_ok());
        for far in [
            "osc.udp://10.0.0.2:9000/",
            "osc.udp://example.org:9000/",
            "osc.udp://0.0.0.0:9000/",
        ] {
            assert!(
                matches!(parse_return_url(far), Err(OscError::NotLoopback(_))),
                "{far}"
            );
        }
        for bad in [
            "http://127.0.0.1:9000/",
            "osc.udp://127.0.0.1/",
            "osc.udp://127.0.0.1:0/",
            "osc.udp://127.0.0.1:99999/",
        ] {
            assert!(
                matches!(parse_return_url(bad), Err(OscError::BadReturnUrl(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn what_we_do_not_know_is_an_error_not_a_panic() {
        for (packet, what) in [
            (encode("/sl/0/hit", vec![s("dance")]), "unknown command"),
            (encode("/sl/9/hit", vec![s("record")]), "no loop"),
            (encode("/sl/x/hit", vec![s("record")]), "no loop"),
            (
                encode("/sl/0/hit", vec![OscType::Int(3)]),
                "wrong arguments",
            ),
            (
                encode("/sl/0/get", vec![s("state"), s(URL)]),
                "wrong arguments",
            ),
            (
                encode("/sl/0/set", vec![s("state"), OscType::Float(1.0)]),
                "unknown parameter",
            ),
            (encode("/quit", vec![]), "unknown OSC address"),
            (b"#bundle\0\0\0\0\0\0\0\0\x01".to_vec(), "bundles"),
            (b"garbage".to_vec(), "not an OSC"),
            (b"/a\0\0,[[[[[[\0\0".to_vec(), "nested"),
        ] {
            let e = parse(&packet).unwrap_err().to_string();
            assert!(e.contains(what), "{e}");
        }
    }

    #[test]
    fn the_server_refuses_anything_but_loopback() {
        let (c, _engine) = crate::new_engine(&crate::EngineConfig::default());
        let lc = LoopControl::new(c);
        let any: SocketAddr = "0.0.0.0:0".parse().unwrap();
        assert!(matches!(
            OscServer::start_on(lc.clone(), any),
            Err(OscStartError::NotLoopback(_))
        ));
        let server = OscServer::start(lc, 0).unwrap();
        assert!(server.local_addr().ip().is_loopback());
    }
}
