//! Live audio and MIDI: the backends behind one trait.
//!
//! [`AudioSystem`] owns the engine across stream rebuilds (in an [`EngineCell`]) and keeps
//! one [`AudioStream`] running: ALSA through cpal, a native JACK client, or an internal
//! clock when there is no sound card. A supervisor thread notices a lost device, lets the
//! clock take over and reopens the chosen device when it is back. MIDI keyboards come in
//! through JACK's `midi_in` port or, on ALSA, through the sequencer ([`MidiInputs`]).

mod alsa_cpal;
mod backend;
mod clock;
mod crossing;
mod devices;
mod engine_cell;
mod error;
mod jack_client;
mod library_log;
mod midi_in;
mod midi_queue;
mod status;
mod system;

pub use alsa_cpal::{check_alsa_names, AlsaBackend};
pub use backend::{
    AudioStream, Backend, BackendKind, Health, LostReason, StreamContext, StreamInfo,
};
pub use clock::ClockBackend;
pub use devices::{
    alsa_devices, choosable, device_kind, jack_server, list_devices, midi_input_ports, AlsaDevice,
    DeviceKind, DeviceList, JackServer,
};
pub use engine_cell::{EngineCell, Lent};
pub use error::IoError;
pub use jack_client::JackBackend;
pub use jack_client::{input_port_name, PORT_MIDI_IN, PORT_OUT_LEFT, PORT_OUT_RIGHT};
pub use library_log::{library_messages, route_library_messages};
pub use midi_in::{MidiInputs, MidiStatus, MidiStatusKind};
pub use midi_queue::{
    now_nanos, IoCounters, MidiScheduler, MidiSender, TimedMidi, MAX_MIDI_PER_BLOCK,
    MIDI_QUEUE_CAPACITY,
};
pub use status::RETRY_SECS;
pub use status::{IoStatus, IoStatusKind};
pub use system::{AudioSystem, IoOptions};

/// Buffer sizes a person can choose: powers of two only (others glitch on PipeWire).
pub const BUFFER_SIZES: [u32; 6] = [64, 128, 256, 512, 1024, 2048];

/// Checks a buffer size from settings or the command line.
pub fn check_buffer_frames(frames: u32) -> Result<u32, IoError> {
    if BUFFER_SIZES.contains(&frames) {
        Ok(frames)
    } else {
        Err(IoError::BadBufferSize(frames))
    }
}

/// Checks a sample rate from settings or the command line.
pub fn check_sample_rate(rate: u32) -> Result<u32, IoError> {
    if (8_000..=192_000).contains(&rate) {
        Ok(rate)
    } else {
        Err(IoError::BadSampleRate(rate))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_powers_of_two_from_64_to_2048_are_buffer_sizes() {
        for f in BUFFER_SIZES {
            assert_eq!(check_buffer_frames(f).unwrap(), f);
        }
        for f in [0, 32, 100, 192, 255, 257, 3000, 4096] {
            let e = check_buffer_frames(f).unwrap_err();
            assert!(e.to_string().contains("power of two"), "{e}");
        }
        assert!(check_sample_rate(48_000).is_ok());
        assert!(check_sample_rate(1_000).is_err());
    }
}
