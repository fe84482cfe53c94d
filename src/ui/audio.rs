//! What the panel needs from the audio device layer, as a small trait, so the panel
//! builds and is tested without a sound card. `io` implements it for the real devices.

use crate::session::settings::{AudioHost, AudioSettings};

/// Where the device side is, in words a therapist can act on (the panel words them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum AudioState {
    /// Opening the device.
    #[default]
    Starting,
    /// Sound goes in and out.
    Running,
    /// Host "none": the engine runs on an internal clock and nothing is heard.
    Silent,
    /// The chosen (or default) device is not there.
    NoDevice,
    /// The device was there and went away (unplugged, or the server stopped).
    DeviceLost,
    /// Opening failed for another reason; `detail` says which.
    Failed,
}

/// A snapshot of the device side for the status line.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct AudioStatus {
    pub state: AudioState,
    pub host: AudioHost,
    /// The device's name as `output_devices` lists it; empty if none.
    pub device: String,
    pub sample_rate: u32,
    pub buffer_frames: u32,
    /// Input to output, as the device reports it.
    pub latency_frames: u32,
    /// The device layer's own words about a problem (shown small, as is).
    pub detail: String,
}

/// The device layer as the panel sees it. `status` is called on every frame and by the
/// panel's watcher thread, so it must not block; the device lists may be slow and are
/// only asked for on demand. `apply` may take seconds (a device that hangs while it
/// opens): the panel calls it on a worker thread, never on the one that draws.
pub trait AudioControl: Send + Sync {
    fn status(&self) -> AudioStatus;
    fn output_devices(&self, host: AudioHost) -> Vec<String>;
    fn input_devices(&self, host: AudioHost) -> Vec<String>;
    fn midi_ports(&self) -> Vec<String>;
    /// Reopens the devices with these settings; the error is shown to the user as is.
    fn apply(&self, settings: &AudioSettings) -> Result<(), ApplyError>;
}

/// Why the devices did not reopen: the audio side's own error (the panel knows nothing
/// of io, only how to show it).
pub type ApplyError = Box<dyn std::error::Error + Send + Sync>;
