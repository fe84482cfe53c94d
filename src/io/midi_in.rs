//! MIDI keyboards on ALSA, through midir and the ALSA sequencer: every input port is
//! opened, and since midir has no hot-plug, a watcher looks for new and vanished ports
//! every two seconds. Messages are stamped on arrival and queued for the audio callback.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{RecvTimeoutError, Sender};
use midir::{Ignore, MidiInput, MidiInputConnection};

use super::midi_queue::MidiSender;

/// The ALSA sequencer device; without it there are no MIDI keyboards.
pub const SEQ_DEVICE: &str = "/dev/snd/seq";
const POLL: Duration = Duration::from_secs(2);
const CLIENT_NAME: &str = "Samspill";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MidiStatusKind {
    /// Still looking.
    Starting,
    /// No ALSA sequencer on this system (containers, some minimal installs).
    NoSequencer,
    /// The sequencer is there but no keyboard is plugged in.
    NoKeyboards,
    Connected,
    /// JACK is the audio host: keyboards come in through the `midi_in` port.
    ThroughJack,
    Off,
}

/// What the panel shows about MIDI keyboards.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MidiStatus {
    pub kind: MidiStatusKind,
    pub message: String,
    /// Names of the ports Samspill listens to.
    pub ports: Vec<String>,
}

impl MidiStatus {
    pub fn new(kind: MidiStatusKind, ports: Vec<String>) -> Self {
        let message = match kind {
            MidiStatusKind::Starting => "Looking for MIDI keyboards…".to_string(),
            MidiStatusKind::NoSequencer => no_sequencer_message(),
            MidiStatusKind::NoKeyboards => {
                "No MIDI keyboard is connected. Plug one in; Samspill finds it within a few seconds."
                    .to_string()
            }
            MidiStatusKind::Connected => format!("MIDI keyboards: {}.", ports.join(", ")),
            MidiStatusKind::ThroughJack => {
                "MIDI keyboards come in through the JACK port midi_in; connect them there."
                    .to_string()
            }
            MidiStatusKind::Off => "MIDI keyboards are off.".to_string(),
        };
        Self {
            kind,
            message,
            ports,
        }
    }
}

pub(crate) fn no_sequencer_message() -> String {
    format!("MIDI keyboards are not available: this system has no ALSA sequencer ({SEQ_DEVICE}).")
}

/// Lists MIDI input ports by name, or says in plain words why there are none.
pub fn midi_input_ports() -> Result<Vec<String>, String> {
    if !Path::new(SEQ_DEVICE).exists() {
        return Err(no_sequencer_message());
    }
    let input = MidiInput::new(CLIENT_NAME)
        .map_err(|e| format!("The ALSA sequencer could not be opened: {e}."))?;
    Ok(input
        .ports()
        .iter()
        .filter_map(|p| input.port_name(p).ok())
        .collect())
}

/// Listens to every MIDI keyboard while it exists; stops when dropped.
pub struct MidiInputs {
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
    status: Arc<Mutex<MidiStatus>>,
}

impl MidiInputs {
    /// Starts the watcher; it reports what it finds through [`MidiInputs::status`].
    pub fn start(sender: MidiSender) -> MidiInputs {
        let status = Arc::new(Mutex::new(MidiStatus::new(
            MidiStatusKind::Starting,
            vec![],
        )));
        let (stop_tx, stop_rx) = crossbeam_channel::bounded::<()>(1);
        let st = status.clone();
        let thread = std::thread::Builder::new()
            .name("samspill midi".into())
            .spawn(move || {
                let mut w = Watcher {
                    sender,
                    status: st,
                    lister: None,
                    open: HashMap::new(),
                };
                w.scan();
                while let Err(RecvTimeoutError::Timeout) = stop_rx.recv_timeout(POLL) {
                    w.scan();
                }
            })
            .ok();
        if thread.is_none() {
            set(&status, MidiStatus::new(MidiStatusKind::Off, vec![]));
        }
        MidiInputs {
            stop: Some(stop_tx),
            thread,
            status,
        }
    }

    pub fn status(&self) -> MidiStatus {
        match self.status.lock() {
            Ok(s) => s.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }
}

impl Drop for MidiInputs {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn set(status: &Mutex<MidiStatus>, s: MidiStatus) {
    match status.lock() {
        Ok(mut g) => *g = s,
        Err(p) => *p.into_inner() = s,
    }
}

struct Watcher {
    sender: MidiSender,
    status: Arc<Mutex<MidiStatus>>,
    lister: Option<MidiInput>,
    /// Open connections by port id, with the port's name.
    open: HashMap<String, (String, MidiInputConnection<()>)>,
}

impl Watcher {
    fn scan(&mut self) {
        if !Path::new(SEQ_DEVICE).exists() {
            self.open.clear();
            self.lister = None;
            set(
                &self.status,
                MidiStatus::new(MidiStatusKind::NoSequencer, vec![]),
            );
            return;
        }
        if self.lister.is_none() {
            self.lister = MidiInput::new(CLIENT_NAME).ok();
        }
        let Some(lister) = &self.lister else {
            set(
                &self.status,
                MidiStatus::new(MidiStatusKind::NoSequencer, vec![]),
            );
            return;
        };
        let present: Vec<(String, String)> = lister
            .ports()
            .iter()
            .filter_map(|p| Some((p.id(), lister.port_name(p).ok()?)))
            .collect();
        // A keyboard that was unplugged: close it; it is opened again when it is back.
        self.open
            .retain(|id, _| present.iter().any(|(pid, _)| pid == id));
        for (id, name) in present {
            if self.open.contains_key(&id) {
                continue;
            }
            if let Some(conn) = self.connect(&id) {
                self.open.insert(id, (name, conn));
            }
        }
        let mut names: Vec<String> = self.open.values().map(|(n, _)| n.clone()).collect();
        names.sort();
        let kind = if names.is_empty() {
            MidiStatusKind::NoKeyboards
        } else {
            MidiStatusKind::Connected
        };
        set(&self.status, MidiStatus::new(kind, names));
    }

    fn connect(&self, id: &str) -> Option<MidiInputConnection<()>> {
        // midir consumes one MidiInput per connection.
        let mut input = MidiInput::new(CLIENT_NAME).ok()?;
        // Clock, active sensing and SysEx play nothing; skip them at the source.
        input.ignore(Ignore::All);
        let port = input.find_port_by_id(id)?;
        let tx = self.sender.clone();
        input
            .connect(&port, "keyboard in", move |_, bytes, _| tx.send(bytes), ())
            .ok()
    }
}
