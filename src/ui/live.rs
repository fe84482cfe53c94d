//! The panel's view of the real device layer: `io::AudioSystem` behind `AudioControl`.

use std::sync::atomic::Ordering::Relaxed;

use super::audio::{ApplyError, AudioControl, AudioState, AudioStatus};
use crate::io::{
    alsa_devices, choosable, midi_input_ports, AudioSystem, BackendKind, IoStatusKind,
};
use crate::session::settings::{AudioHost, AudioSettings};

/// The running audio system, as the panel drives it.
pub struct LiveAudio {
    system: AudioSystem,
}

impl LiveAudio {
    pub fn new(system: AudioSystem) -> Self {
        Self { system }
    }
}

impl AudioControl for LiveAudio {
    fn status(&self) -> AudioStatus {
        let s = self.system.status();
        let settings = self.system.settings();
        let state = match s.kind {
            IoStatusKind::Starting => AudioState::Starting,
            IoStatusKind::Running | IoStatusKind::RunningWithoutInput => AudioState::Running,
            IoStatusKind::SoundOff => AudioState::Silent,
            IoStatusKind::NoSoundCard | IoStatusKind::DeviceUnavailable => AudioState::NoDevice,
            IoStatusKind::JackNotRunning => AudioState::NoDevice,
            IoStatusKind::DeviceLost => AudioState::DeviceLost,
            IoStatusKind::Stopped => AudioState::Failed,
        };
        AudioStatus {
            state,
            host: match s.backend {
                BackendKind::Alsa => AudioHost::Alsa,
                BackendKind::Jack => AudioHost::Jack,
                BackendKind::Clock => settings.host,
            },
            device: s.device.clone(),
            sample_rate: s.sample_rate,
            buffer_frames: s.buffer_frames,
            latency_frames: self.system.shared().latency_frames.load(Relaxed),
            detail: if state == AudioState::Running && s.kind == IoStatusKind::Running {
                String::new()
            } else {
                s.message
            },
        }
    }

    fn output_devices(&self, host: AudioHost) -> Vec<String> {
        match host {
            AudioHost::Alsa => choosable(&alsa_devices(false, false))
                .map(|d| d.name.clone())
                .collect(),
            AudioHost::Jack | AudioHost::None => Vec::new(),
        }
    }

    fn input_devices(&self, host: AudioHost) -> Vec<String> {
        match host {
            AudioHost::Alsa => choosable(&alsa_devices(true, false))
                .map(|d| d.name.clone())
                .collect(),
            AudioHost::Jack | AudioHost::None => Vec::new(),
        }
    }

    fn midi_ports(&self) -> Vec<String> {
        match self.system.settings().host {
            AudioHost::Jack => vec![format!(
                "{}:{}",
                self.system.status().device,
                crate::io::PORT_MIDI_IN
            )],
            _ => midi_input_ports().unwrap_or_default(),
        }
    }

    fn apply(&self, settings: &AudioSettings) -> Result<(), ApplyError> {
        self.system.reopen(settings)?;
        Ok(())
    }
}
