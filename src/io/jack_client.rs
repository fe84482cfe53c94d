//! A native JACK client: one process callback with audio ports `in_1`.., `out_left`,
//! `out_right` and a MIDI port `midi_in` whose events reach the engine at their exact frame.
//! The latency the engine adds (the limiter's look-ahead) is reported on the ports, so
//! other JACK programs can line up with Samspill.

use std::ffi::c_void;
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};
use std::sync::{Arc, Once};
use std::time::Duration;

use jack::jack_sys as j;
use jack::{
    AsyncClient, AudioIn, AudioOut, Client, ClientOptions, ClientStatus, Control, Frames, MidiIn,
    NotificationHandler, Port, PortFlags, ProcessHandler, ProcessScope,
};

use super::alsa_cpal::MAX_INPUT_CHANNELS;
use super::backend::{
    AudioStream, Backend, BackendKind, Health, LostFlag, LostReason, StreamContext, StreamInfo,
};
use super::engine_cell::EngineCell;
use super::error::IoError;
use super::midi_queue::{now_nanos, IoCounters, MidiTap, MAX_MIDI_PER_BLOCK};
use crate::engine::{MidiEvent, Shared};

/// Port names other JACK programs connect to (as `<client>:<port>`).
pub const PORT_OUT_LEFT: &str = "out_left";
pub const PORT_OUT_RIGHT: &str = "out_right";
/// The song's click on its own pair, for the headphones (when asked: `ClickApart`).
pub const PORT_CLICK_LEFT: &str = "click_left";
pub const PORT_CLICK_RIGHT: &str = "click_right";
pub const PORT_MIDI_IN: &str = "midi_in";

/// The name of input port `i` (0-based): `in_1`, `in_2`, ...
pub fn input_port_name(i: usize) -> String {
    format!("in_{}", i + 1)
}

/// Connects to a running JACK server as `name`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JackBackend {
    pub client_name: String,
    /// Connect to the system's capture and playback ports when they exist.
    pub autoconnect: bool,
    /// Where a copy of every `midi_in` message goes for the control side (MIDI learn).
    pub midi_tap: Option<MidiTap>,
}

/// libjack prints to the terminal by default; Samspill reports in its own words.
fn quiet_jack() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| jack::set_logger(jack::LoggerType::None));
}

/// Opens a client without starting a server.
pub(crate) fn open_client(name: &str) -> Result<Client, IoError> {
    quiet_jack();
    if name.is_empty() || name.len() > 60 || name.contains(':') {
        return Err(IoError::Jack(format!(
            "\"{name}\" cannot be a JACK client name (use letters and digits, at most 60)."
        )));
    }
    match Client::new(name, ClientOptions::NO_START_SERVER) {
        Ok((c, _)) => Ok(c),
        Err(jack::Error::LibraryError(_)) => Err(IoError::JackMissing),
        Err(jack::Error::ClientError(s))
            if s.intersects(ClientStatus::SERVER_FAILED | ClientStatus::SERVER_ERROR) =>
        {
            Err(IoError::JackNotRunning)
        }
        Err(e) => Err(IoError::Jack(e.to_string())),
    }
}

/// What the JACK side knows about the whole graph's latency, kept for the latency callback.
struct LatencyCtx {
    inputs: Vec<*mut j::jack_port_t>,
    outputs: Vec<*mut j::jack_port_t>,
    engine_frames: u32,
    in_capture: AtomicU32,
    out_playback: AtomicU32,
    shared: Arc<Shared>,
    client: *mut j::jack_client_t,
    out_names: Vec<String>,
}

// The port pointers stay valid while the client is open and are only read through JACK.
unsafe impl Send for LatencyCtx {}
unsafe impl Sync for LatencyCtx {}

fn latency_span(
    ports: &[*mut j::jack_port_t],
    mode: j::jack_latency_callback_mode_t,
) -> (u32, u32) {
    let mut lo = u32::MAX;
    let mut hi = 0;
    for &p in ports {
        let mut r = j::jack_latency_range_t { min: 0, max: 0 };
        // Safety: `p` is one of our registered ports and the client is open.
        unsafe { j::jack_port_get_latency_range(p, mode, &mut r) };
        lo = lo.min(r.min);
        hi = hi.max(r.max);
    }
    if lo == u32::MAX {
        (0, 0)
    } else {
        (lo, hi)
    }
}

impl LatencyCtx {
    /// Not rt (JACK's notification thread): passes latency through the engine.
    fn update(&self, mode: j::jack_latency_callback_mode_t) {
        let e = self.engine_frames;
        let (from, to, seen) = if mode == j::JackCaptureLatency {
            (&self.inputs, &self.outputs, &self.in_capture)
        } else {
            (&self.outputs, &self.inputs, &self.out_playback)
        };
        let (lo, hi) = latency_span(from, mode);
        let mut r = j::jack_latency_range_t {
            min: lo + e,
            max: hi + e,
        };
        for &p in to {
            // Safety: as above.
            unsafe { j::jack_port_set_latency_range(p, mode, &mut r) };
        }
        seen.store(hi, Relaxed);
        // A player inside the graph (a client playing back what it hears into our
        // inputs) closes a cycle: JACK breaks it with one period of delay, and its
        // latency figures around the cycle do not count that period.
        let round_trip = if self.feeds_back() {
            // Safety: the client is open while the callback is registered.
            e + unsafe { j::jack_get_buffer_size(self.client) }
        } else {
            self.in_capture.load(Relaxed) + e + self.out_playback.load(Relaxed)
        };
        self.shared.latency_frames.store(round_trip, Relaxed);
    }

    /// Not rt: whether our outputs reach our inputs through other clients. Another
    /// client's inputs are taken to feed all its outputs (JACK cannot tell us more).
    fn feeds_back(&self) -> bool {
        let mut frontier: Vec<String> = self
            .inputs
            .iter()
            // Safety: our own registered ports.
            .filter_map(|&p| c_string(unsafe { j::jack_port_name(p) }))
            .collect();
        let mut seen: std::collections::HashSet<String> = frontier.iter().cloned().collect();
        for _ in 0..16 {
            let mut next = Vec::new();
            for port in &frontier {
                for upstream in self.connections(port) {
                    if self.out_names.contains(&upstream) {
                        return true;
                    }
                    let Some((owner, _)) = upstream.split_once(':') else {
                        continue;
                    };
                    for input in self.input_ports_of(owner) {
                        if seen.insert(input.clone()) {
                            next.push(input);
                        }
                    }
                }
            }
            if next.is_empty() {
                break;
            }
            frontier = next;
        }
        false
    }

    /// Not rt: the names of the ports connected to `port`.
    fn connections(&self, port: &str) -> Vec<String> {
        let Ok(name) = std::ffi::CString::new(port) else {
            return Vec::new();
        };
        // Safety: the client is open; the list is freed with jack_free.
        unsafe {
            let p = j::jack_port_by_name(self.client, name.as_ptr());
            if p.is_null() {
                return Vec::new();
            }
            take_names(j::jack_port_get_all_connections(self.client, p))
        }
    }

    /// Not rt: the input ports of the client called `owner`.
    fn input_ports_of(&self, owner: &str) -> Vec<String> {
        let escaped: String = owner
            .chars()
            .flat_map(|c| {
                let esc = !c.is_ascii_alphanumeric() && c != '_';
                esc.then_some('\\').into_iter().chain(std::iter::once(c))
            })
            .collect();
        let Ok(pattern) = std::ffi::CString::new(format!("^{escaped}:")) else {
            return Vec::new();
        };
        // Safety: as above.
        unsafe {
            take_names(j::jack_get_ports(
                self.client,
                pattern.as_ptr(),
                std::ptr::null(),
                j::JackPortIsInput as std::os::raw::c_ulong,
            ))
        }
    }
}

/// Not rt: copies a NULL-terminated list of port names from JACK and frees it.
///
/// # Safety
/// `list` is null or a list JACK returned, not used again afterwards.
unsafe fn take_names(list: *mut *const std::os::raw::c_char) -> Vec<String> {
    let mut out = Vec::new();
    if list.is_null() {
        return out;
    }
    let mut i = 0;
    loop {
        // Safety: the list ends with a null pointer.
        let item = unsafe { *list.add(i) };
        if item.is_null() {
            break;
        }
        if let Some(s) = c_string(item) {
            out.push(s);
        }
        i += 1;
    }
    // Safety: JACK allocated the list.
    unsafe { j::jack_free(list as *mut c_void) };
    out
}

fn c_string(p: *const std::os::raw::c_char) -> Option<String> {
    if p.is_null() {
        return None;
    }
    // Safety: JACK's port names are NUL-terminated C strings.
    Some(
        unsafe { std::ffi::CStr::from_ptr(p) }
            .to_string_lossy()
            .into_owned(),
    )
}

unsafe extern "C" fn on_latency(mode: j::jack_latency_callback_mode_t, arg: *mut c_void) {
    // Safety: `arg` is the LatencyCtx box, which outlives the client (see JackStream::drop).
    if let Some(ctx) = unsafe { (arg as *const LatencyCtx).as_ref() } {
        ctx.update(mode);
    }
}

struct Notes {
    lost: Arc<LostFlag>,
    shared: Arc<Shared>,
    rate: u32,
}

impl NotificationHandler for Notes {
    unsafe fn shutdown(&mut self, _status: ClientStatus, _reason: &str) {
        self.lost.raise(LostReason::ServerGone);
    }

    fn sample_rate(&mut self, _: &Client, rate: Frames) -> Control {
        if rate != self.rate {
            self.lost.raise(LostReason::RateChanged);
        }
        Control::Continue
    }

    fn xrun(&mut self, _: &Client) -> Control {
        Shared::count(&self.shared.xruns);
        Control::Continue
    }
}

/// JACK's process handler: one cycle's work, under the allocation checker.
struct Process {
    shared: Arc<Shared>,
    cycle: Cycle,
}

struct Cycle {
    engine: Arc<EngineCell>,
    ins: Vec<Port<AudioIn>>,
    out_left: Port<AudioOut>,
    out_right: Port<AudioOut>,
    click_left: Port<AudioOut>,
    click_right: Port<AudioOut>,
    midi: Port<MidiIn>,
    events: Vec<MidiEvent>,
    counters: Arc<IoCounters>,
    buffer_frames: Arc<AtomicU32>,
    midi_tap: Option<MidiTap>,
}

impl ProcessHandler for Process {
    /// rt: JACK's process callback, checked for allocations in tests and debug builds.
    fn process(&mut self, _: &Client, ps: &ProcessScope) -> Control {
        let cycle = &mut self.cycle;
        super::backend::checked_callback(&self.shared, || cycle.run(ps));
        Control::Continue
    }

    fn buffer_size(&mut self, _: &Client, frames: Frames) -> Control {
        self.cycle.buffer_frames.store(frames, Relaxed);
        Control::Continue
    }
}

impl Cycle {
    /// rt: the whole JACK cycle: MIDI at its frames, inputs, engine, outputs.
    fn run(&mut self, ps: &ProcessScope) {
        let n = ps.n_frames() as usize;
        let last = n.saturating_sub(1) as u32;
        self.events.clear();
        // One clock read per cycle, and only when someone listens.
        let tapped_at = if self.midi_tap.is_some() {
            now_nanos()
        } else {
            0
        };
        for m in self.midi.iter(ps) {
            if let Some(tap) = &self.midi_tap {
                // rt: a fixed-size copy, try_send; a full tap is counted, never waited on.
                tap.push(tapped_at, m.bytes);
            }
            if self.events.len() == self.events.capacity() {
                self.counters.midi_dropped.fetch_add(1, Relaxed);
                continue;
            }
            // JACK hands events sorted by time; `min` guards against a broken client.
            self.events.push(MidiEvent::new(m.time.min(last), m.bytes));
        }
        self.counters
            .midi_delivered
            .fetch_add(self.events.len() as u64, Relaxed);
        let mut ins: [&[f32]; MAX_INPUT_CHANNELS] = [&[]; MAX_INPUT_CHANNELS];
        for (slot, port) in ins.iter_mut().zip(&self.ins) {
            *slot = port.as_slice(ps);
        }
        let l = self.out_left.as_mut_slice(ps);
        let r = self.out_right.as_mut_slice(ps);
        let cl = self.click_left.as_mut_slice(ps);
        let cr = self.click_right.as_mut_slice(ps);
        match self.engine.lend() {
            Some(mut e) => {
                e.process_with_click(&ins[..self.ins.len()], l, r, Some((cl, cr)), &self.events)
            }
            None => {
                for out in [l, r, cl, cr] {
                    out.fill(0.0);
                }
            }
        }
    }
}

struct JackStream {
    client: Option<AsyncClient<Notes, Process>>,
    /// Read by JACK's latency callback: dropped only after the client is closed.
    latency: Option<Box<LatencyCtx>>,
    lost: Arc<LostFlag>,
    name: String,
    rate: u32,
    buffer_frames: Arc<AtomicU32>,
    input_channels: usize,
}

impl AudioStream for JackStream {
    fn info(&self) -> StreamInfo {
        StreamInfo {
            backend: BackendKind::Jack,
            device: self.name.clone(),
            sample_rate: self.rate,
            buffer_frames: self.buffer_frames.load(Relaxed),
            input_channels: self.input_channels,
            input_problem: None,
        }
    }
    fn health(&self) -> Health {
        self.lost.health()
    }
}

impl Drop for JackStream {
    fn drop(&mut self) {
        // Deactivates and closes the client; after this no callback can run.
        drop(self.client.take());
        drop(self.latency.take());
    }
}

fn port_error(port: &str, e: jack::Error) -> IoError {
    IoError::Jack(format!("could not make the port {port} ({e})"))
}

impl Backend for JackBackend {
    fn open(&self, ctx: &StreamContext) -> Result<Box<dyn AudioStream>, IoError> {
        let client = open_client(&self.client_name)?;
        let rate = client.sample_rate();
        let buffer_frames = Arc::new(AtomicU32::new(client.buffer_size()));
        // Made before the engine is lent: it plays on meanwhile.
        let assets = crate::prep::for_rate(rate);
        let engine_frames = ctx
            .engine
            .with(Duration::from_secs(2), |e| {
                e.set_sample_rate(assets);
                e.latency_frames() as u32
            })
            .ok_or(IoError::EngineBusy)?;

        let n_in = ctx.input_channels.min(MAX_INPUT_CHANNELS);
        let mut ins = Vec::with_capacity(n_in);
        for i in 0..n_in {
            let name = input_port_name(i);
            ins.push(
                client
                    .register_port(&name, AudioIn::default())
                    .map_err(|e| port_error(&name, e))?,
            );
        }
        let out_left = client
            .register_port(PORT_OUT_LEFT, AudioOut::default())
            .map_err(|e| port_error(PORT_OUT_LEFT, e))?;
        let out_right = client
            .register_port(PORT_OUT_RIGHT, AudioOut::default())
            .map_err(|e| port_error(PORT_OUT_RIGHT, e))?;
        let click_left = client
            .register_port(PORT_CLICK_LEFT, AudioOut::default())
            .map_err(|e| port_error(PORT_CLICK_LEFT, e))?;
        let click_right = client
            .register_port(PORT_CLICK_RIGHT, AudioOut::default())
            .map_err(|e| port_error(PORT_CLICK_RIGHT, e))?;
        let midi = client
            .register_port(PORT_MIDI_IN, MidiIn::default())
            .map_err(|e| port_error(PORT_MIDI_IN, e))?;

        let mut in_names: Vec<String> = ins.iter().filter_map(|p| p.name().ok()).collect();
        let out_names: Vec<String> = [&out_left, &out_right]
            .iter()
            .filter_map(|p| p.name().ok())
            .collect();
        let midi_name = midi.name().unwrap_or_default();

        let latency = Box::new(LatencyCtx {
            inputs: ins.iter().map(|p| p.raw()).chain([midi.raw()]).collect(),
            outputs: vec![
                out_left.raw(),
                out_right.raw(),
                click_left.raw(),
                click_right.raw(),
            ],
            engine_frames,
            in_capture: AtomicU32::new(0),
            out_playback: AtomicU32::new(0),
            shared: ctx.shared.clone(),
            client: client.raw(),
            out_names: out_names.clone(),
        });
        ctx.shared.latency_frames.store(engine_frames, Relaxed);
        // Safety: the callback only reads the box, which JackStream keeps until the
        // client is closed; it is registered before activation as JACK requires.
        let rc = unsafe {
            j::jack_set_latency_callback(
                client.raw(),
                Some(on_latency),
                &*latency as *const LatencyCtx as *mut c_void,
            )
        };
        if rc != 0 {
            return Err(IoError::Jack("could not set the latency callback".into()));
        }

        let lost = Arc::new(LostFlag::default());
        let name = client.name().to_string();
        let notes = Notes {
            lost: lost.clone(),
            shared: ctx.shared.clone(),
            rate,
        };
        let process = Process {
            shared: ctx.shared.clone(),
            cycle: Cycle {
                engine: ctx.engine.clone(),
                ins,
                out_left,
                out_right,
                click_left,
                click_right,
                midi,
                events: Vec::with_capacity(MAX_MIDI_PER_BLOCK),
                counters: ctx.counters.clone(),
                buffer_frames: buffer_frames.clone(),
                midi_tap: self.midi_tap.clone(),
            },
        };
        let active = match client.activate_async(notes, process) {
            Ok(a) => a,
            Err(e) => {
                // A failed activation leaks the client inside the jack crate, callbacks
                // registered; keep what they point to alive too.
                Box::leak(latency);
                return Err(IoError::Jack(format!("could not start ({e})")));
            }
        };
        if self.autoconnect {
            in_names.push(midi_name);
            autoconnect(active.as_client(), &in_names, &out_names);
        }
        Ok(Box::new(JackStream {
            client: Some(active),
            latency: Some(latency),
            lost,
            name,
            rate,
            buffer_frames,
            input_channels: n_in,
        }))
    }
}

/// Connects system capture → our inputs (audio, then MIDI) and our outputs → system
/// playback, as far as both sides have ports. Nothing here is required to work.
fn autoconnect(client: &Client, ins: &[String], outs: &[String]) {
    let physical =
        |kind: &str, dir: PortFlags| client.ports(None, Some(kind), PortFlags::IS_PHYSICAL | dir);
    let audio_ins: Vec<&String> = ins.iter().filter(|n| !n.ends_with(PORT_MIDI_IN)).collect();
    for (src, dst) in physical("audio", PortFlags::IS_OUTPUT)
        .iter()
        .zip(audio_ins)
    {
        let _ = client.connect_ports_by_name(src, dst);
    }
    for (src, dst) in outs
        .iter()
        .zip(physical("audio", PortFlags::IS_INPUT).iter())
    {
        let _ = client.connect_ports_by_name(src, dst);
    }
    if let Some(midi_in) = ins.iter().find(|n| n.ends_with(PORT_MIDI_IN)) {
        for src in physical("midi", PortFlags::IS_OUTPUT) {
            let _ = client.connect_ports_by_name(&src, midi_in);
        }
    }
}

/// Whether a JACK server answers, and how it runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JackServer {
    Running {
        sample_rate: u32,
        buffer_frames: u32,
    },
    NotRunning,
    NotInstalled,
    Refused(String),
}

/// Asks the JACK server (the one `JACK_DEFAULT_SERVER` names, if set) without starting one.
pub fn probe_jack() -> JackServer {
    match open_client("samspill-probe") {
        Ok(c) => JackServer::Running {
            sample_rate: c.sample_rate(),
            buffer_frames: c.buffer_size(),
        },
        Err(IoError::JackNotRunning) => JackServer::NotRunning,
        Err(IoError::JackMissing) => JackServer::NotInstalled,
        Err(e) => JackServer::Refused(e.to_string()),
    }
}
