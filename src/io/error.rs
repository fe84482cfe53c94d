//! What can go wrong reaching the outside world, in words a music therapist can act on.

/// Why audio could not be opened. `Display` is meant to be shown as it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IoError {
    #[error("The buffer size {0} frames is not possible: choose a power of two from 64 to 2048 (64, 128, 256, 512, 1024 or 2048).")]
    BadBufferSize(u32),
    #[error("The sample rate {0} Hz is not possible: choose one from 8000 to 192000 Hz (44100 or 48000 are usual).")]
    BadSampleRate(u32),
    #[error("There is no audio device called \"{0}\". Run `samspill devices` to see the ones on this machine.")]
    UnknownDevice(String),
    #[error("No sound card was found. Samspill runs without sound; plug in an interface and choose it in Settings.")]
    NoSoundCard,
    #[error("The audio device \"{device}\" could not be opened: {reason}")]
    DeviceOpen { device: String, reason: String },
    #[error("The audio device \"{device}\" cannot play at {rate} Hz with {frames} frames per buffer. {hint}")]
    Unsupported {
        device: String,
        rate: u32,
        frames: u32,
        hint: String,
    },
    #[error("The JACK sound server is not running. Start it (for example with QjackCtl) or choose ALSA in Settings.")]
    JackNotRunning,
    #[error("JACK is not installed on this machine (libjack could not be loaded). Install jackd2 or choose ALSA in Settings.")]
    JackMissing,
    #[error("JACK did not accept Samspill: {0}")]
    Jack(String),
    #[error("The audio engine did not answer in time; try again in a moment.")]
    EngineBusy,
    #[error("Could not start the audio thread: {0}")]
    Thread(String),
}

impl IoError {
    /// Settings that can never work, as opposed to a device that is missing right now.
    pub fn is_bad_setting(&self) -> bool {
        matches!(self, IoError::BadBufferSize(_) | IoError::BadSampleRate(_))
    }
}
