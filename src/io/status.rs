//! What the panel shows about audio: a kind to translate by and an English sentence.

use super::backend::{buffer_ms, BackendKind, StreamInfo};
use super::error::IoError;

/// How often a missing device is looked for again.
pub const RETRY_SECS: u64 = 2;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IoStatusKind {
    Starting,
    /// Sound in and out through the chosen device.
    Running,
    /// The output plays, but the input device could not be opened.
    RunningWithoutInput,
    /// No sound card at all: the internal clock runs; Samspill looks again every 2 s.
    NoSoundCard,
    /// The user chose no audio device: the internal clock runs.
    SoundOff,
    /// The device vanished while playing: the clock runs until it is back.
    DeviceLost,
    /// The chosen device could not be opened: the clock runs; Samspill tries again.
    DeviceUnavailable,
    /// JACK was chosen but its server is not running: the clock runs; Samspill tries again.
    JackNotRunning,
    Stopped,
}

/// The audio situation, for people. `serial` changes whenever anything else does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IoStatus {
    pub kind: IoStatusKind,
    pub message: String,
    /// What drives the engine now (the clock while a device is missing).
    pub backend: BackendKind,
    /// Output device or JACK client name; empty on the clock.
    pub device: String,
    pub sample_rate: u32,
    pub buffer_frames: u32,
    pub serial: u64,
}

impl IoStatus {
    pub(crate) fn starting() -> Self {
        Self {
            kind: IoStatusKind::Starting,
            message: "Starting audio…".into(),
            backend: BackendKind::Clock,
            device: String::new(),
            sample_rate: 0,
            buffer_frames: 0,
            serial: 0,
        }
    }

    /// A device stream runs.
    pub(crate) fn running(info: &StreamInfo) -> Self {
        let ms = buffer_ms(info.buffer_frames, info.sample_rate);
        let what = match info.backend {
            BackendKind::Jack => format!("JACK as \"{}\"", info.device),
            _ => format!("\"{}\"", info.device),
        };
        let head = format!(
            "Playing through {what} at {} Hz, {} frames per buffer ({ms:.1} ms).",
            info.sample_rate, info.buffer_frames
        );
        let (kind, message) = match &info.input_problem {
            Some(p) => (
                IoStatusKind::RunningWithoutInput,
                format!("{head} {p} The inputs are silent."),
            ),
            None => (IoStatusKind::Running, head),
        };
        Self::on(kind, message, info)
    }

    /// The clock runs because of `why`.
    pub(crate) fn fallback(kind: IoStatusKind, why: &str, clock: &StreamInfo) -> Self {
        let retry = match kind {
            IoStatusKind::SoundOff | IoStatusKind::NoSoundCard => String::new(),
            _ => {
                format!(" Samspill runs without sound and tries again every {RETRY_SECS} seconds.")
            }
        };
        Self::on(kind, format!("{why}{retry}"), clock)
    }

    pub(crate) fn after_error(e: &IoError, clock: &StreamInfo) -> Self {
        let kind = match e {
            IoError::NoSoundCard => IoStatusKind::NoSoundCard,
            IoError::JackNotRunning => IoStatusKind::JackNotRunning,
            _ => IoStatusKind::DeviceUnavailable,
        };
        let why = match e {
            IoError::JackNotRunning => {
                "The JACK sound server is not running; start it, or choose ALSA in Settings."
                    .to_string()
            }
            e => e.to_string(),
        };
        Self::fallback(kind, &why, clock)
    }

    fn on(kind: IoStatusKind, message: String, info: &StreamInfo) -> Self {
        Self {
            kind,
            message,
            backend: info.backend,
            device: info.device.clone(),
            sample_rate: info.sample_rate,
            buffer_frames: info.buffer_frames,
            serial: 0,
        }
    }

    /// Whether sound reaches a device.
    pub fn is_playing(&self) -> bool {
        matches!(
            self.kind,
            IoStatusKind::Running | IoStatusKind::RunningWithoutInput
        )
    }

    /// The one line `samspill headless` prints when audio is ready.
    pub fn ready_line(&self) -> String {
        let what = match self.backend {
            BackendKind::Jack => format!("jack client {}", self.device),
            BackendKind::Alsa => format!("alsa device {}", self.device),
            BackendKind::Clock => "no sound (internal clock)".to_string(),
        };
        format!(
            "ready: {what}, {} Hz, {} frames",
            self.sample_rate, self.buffer_frames
        )
    }
}
