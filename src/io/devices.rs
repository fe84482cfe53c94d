//! What is plugged in: ALSA outputs and inputs, whether a JACK server answers, MIDI
//! keyboards. For `samspill devices` and the panel's Settings page.

use std::fmt;

use cpal::traits::{DeviceTrait, HostTrait};

use super::alsa_cpal::{alsa_host, friendly_name, has_sound_card, pcm_name, Direction};
pub use super::jack_client::JackServer;
use super::midi_in::midi_input_ports as midir_ports;

/// Sample rates worth offering.
const COMMON_RATES: [u32; 5] = [44_100, 48_000, 88_200, 96_000, 192_000];

/// What an ALSA name stands for, so the interfaces come first and plugins stay aside.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceKind {
    /// `default`: where the system sends sound (a sound server or the first card).
    SystemDefault,
    /// A sound card or interface itself (`hw:CARD=…,DEV=…`), as `aplay -l` lists them.
    Card,
    /// ALSA's plugins (`lavrate`, `upmix`, `null`, …) and other views of the cards
    /// (`plughw:`, `dmix:`, `front:`, …): usable by name, not offered first.
    Other,
}

/// The kind of an ALSA PCM name.
pub fn device_kind(name: &str) -> DeviceKind {
    if name == "default" {
        DeviceKind::SystemDefault
    } else if name.starts_with("hw:CARD=") {
        DeviceKind::Card
    } else {
        DeviceKind::Other
    }
}

/// One ALSA device as a person chooses it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlsaDevice {
    pub kind: DeviceKind,
    /// What goes into Settings: the ALSA name ("default", "hw:CARD=USB,DEV=0").
    pub name: String,
    /// A readable label ("USB Audio CODEC").
    pub description: String,
    /// Most channels it offers, when it could be asked.
    pub max_channels: Option<u16>,
    /// Common sample rates it accepts, when it could be asked.
    pub sample_rates: Vec<u32>,
    /// Why it could not be asked (busy, not connected, no sound card).
    pub problem: Option<String>,
}

/// Everything `samspill devices` prints.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceList {
    pub sound_card: bool,
    pub outputs: Vec<AlsaDevice>,
    pub inputs: Vec<AlsaDevice>,
    pub jack: JackServer,
    /// MIDI input port names, or why there are none.
    pub midi: Result<Vec<String>, String>,
}

/// ALSA devices that can play (`inputs == false`) or record. `probe` asks each one what
/// it supports, which opens it briefly: do that off the panel's thread.
pub fn alsa_devices(inputs: bool, probe: bool) -> Vec<AlsaDevice> {
    super::library_log::route_library_messages();
    let dir = if inputs {
        Direction::Input
    } else {
        Direction::Output
    };
    let Ok(host) = alsa_host() else {
        return vec![];
    };
    let Ok(devices) = host.devices() else {
        return vec![];
    };
    let card = has_sound_card();
    devices
        .filter(|d| match dir {
            Direction::Output => d.supports_output(),
            Direction::Input => d.supports_input(),
        })
        .map(|d| {
            let name = pcm_name(&d);
            let mut dev = AlsaDevice {
                kind: device_kind(&name),
                description: friendly_name(&d),
                name,
                max_channels: None,
                sample_rates: vec![],
                problem: None,
            };
            // Without a card, hardware and default devices cannot open, and trying makes
            // ALSA print its own complaints.
            let hardware = dev.name == "default" || dev.name.contains("CARD=");
            // Plugins are listed by name only: opening them to ask makes them complain.
            if !probe || dev.kind == DeviceKind::Other {
            } else if hardware && !card {
                dev.problem = Some("no sound card".into());
            } else {
                let ranges = match dir {
                    Direction::Output => {
                        d.supported_output_configs().map(|r| r.collect::<Vec<_>>())
                    }
                    Direction::Input => d.supported_input_configs().map(|r| r.collect::<Vec<_>>()),
                };
                match ranges {
                    Ok(r) if !r.is_empty() => {
                        dev.max_channels = r.iter().map(|c| c.channels()).max();
                        dev.sample_rates = COMMON_RATES
                            .into_iter()
                            .filter(|s| r.iter().any(|c| c.contains_rate(*s)))
                            .collect();
                    }
                    Ok(_) => dev.problem = Some("offers no formats".into()),
                    Err(e) => dev.problem = Some(e.to_string()),
                }
            }
            dev
        })
        .collect::<Vec<_>>()
        .into_iter()
        .fold(Vec::new(), |mut list: Vec<AlsaDevice>, d| {
            if !list.iter().any(|o| o.name == d.name) {
                list.push(d);
            }
            list
        })
}

/// The devices a person chooses from: the system's default, then each card.
pub fn choosable(list: &[AlsaDevice]) -> impl Iterator<Item = &AlsaDevice> {
    list.iter()
        .filter(|d| d.kind == DeviceKind::SystemDefault)
        .chain(list.iter().filter(|d| d.kind == DeviceKind::Card))
}

/// Whether a JACK server answers (the one `JACK_DEFAULT_SERVER` names, if set).
pub fn jack_server() -> JackServer {
    super::library_log::route_library_messages();
    super::jack_client::probe_jack()
}

/// MIDI input ports by name, or why there are none, in plain words.
pub fn midi_input_ports() -> Result<Vec<String>, String> {
    midir_ports()
}

/// Everything at once, asking each device what it supports.
pub fn list_devices() -> DeviceList {
    super::library_log::route_library_messages();
    DeviceList {
        sound_card: has_sound_card(),
        outputs: alsa_devices(false, true),
        inputs: alsa_devices(true, true),
        jack: jack_server(),
        midi: midi_input_ports(),
    }
}

impl fmt::Display for AlsaDevice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A card by its name first, as a person knows it; the ALSA name to choose it by.
        match self.kind {
            DeviceKind::Card if !self.description.is_empty() => {
                write!(f, "  {} ({})", self.description, self.name)?
            }
            DeviceKind::SystemDefault => {
                write!(f, "  {} — where the system sends sound", self.name)?
            }
            _ => write!(f, "  {}", self.name)?,
        }
        if let Some(ch) = self.max_channels {
            let rates: Vec<String> = self.sample_rates.iter().map(|r| r.to_string()).collect();
            write!(f, " (up to {ch} channels")?;
            if !rates.is_empty() {
                write!(f, "; {} Hz", rates.join(", "))?;
            }
            write!(f, ")")?;
        }
        if let Some(p) = &self.problem {
            write!(f, " [cannot be opened now: {p}]")?;
        }
        Ok(())
    }
}

impl fmt::Display for DeviceList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.sound_card {
            writeln!(
                f,
                "No sound card was found. Samspill runs without sound; plug in an interface and choose it in Settings."
            )?;
            writeln!(f)?;
        }
        for (title, list) in [
            ("Audio outputs (ALSA)", &self.outputs),
            ("Audio inputs (ALSA)", &self.inputs),
        ] {
            writeln!(f, "{title}:")?;
            let mut any = false;
            for d in choosable(list) {
                writeln!(f, "{d}")?;
                any = true;
            }
            if !any {
                writeln!(f, "  none")?;
            }
            if !self.sound_card {
                writeln!(f, "  (no sound card or interface is connected)")?;
            }
            writeln!(f)?;
        }
        let others: Vec<&str> = self
            .outputs
            .iter()
            .chain(&self.inputs)
            .filter(|d| d.kind == DeviceKind::Other)
            .map(|d| d.name.as_str())
            .fold(Vec::new(), |mut v, n| {
                if !v.contains(&n) {
                    v.push(n);
                }
                v
            });
        if !others.is_empty() {
            writeln!(
                f,
                "Also offered by ALSA (plugins and other views of the cards, usable by name): {}",
                others.join(", ")
            )?;
            writeln!(f)?;
        }
        match &self.jack {
            JackServer::Running {
                sample_rate,
                buffer_frames,
            } => writeln!(
                f,
                "JACK: a server is running ({sample_rate} Hz, {buffer_frames} frames). Use --host jack."
            )?,
            JackServer::NotRunning => writeln!(f, "JACK: no server is running.")?,
            JackServer::NotInstalled => writeln!(f, "JACK: not installed (no libjack).")?,
            JackServer::Refused(e) => writeln!(f, "JACK: {e}")?,
        }
        writeln!(f)?;
        writeln!(f, "MIDI inputs:")?;
        match &self.midi {
            Ok(ports) if ports.is_empty() => writeln!(
                f,
                "  none (plug in a keyboard; Samspill finds it by itself)"
            )?,
            Ok(ports) => {
                for p in ports {
                    writeln!(f, "  {p}")?;
                }
            }
            Err(why) => writeln!(f, "  {why}")?,
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cards_come_first_and_plugins_stay_aside() {
        assert_eq!(device_kind("default"), DeviceKind::SystemDefault);
        assert_eq!(device_kind("hw:CARD=CODEC,DEV=0"), DeviceKind::Card);
        for other in [
            "plughw:CARD=CODEC,DEV=0",
            "sysdefault:CARD=CODEC",
            "front:CARD=PCH,DEV=0",
            "dmix:CARD=PCH,DEV=0",
            "lavrate",
            "upmix",
            "vdownmix",
            "null",
            "pulse",
        ] {
            assert_eq!(device_kind(other), DeviceKind::Other, "{other}");
        }
        let dev = |name: &str| AlsaDevice {
            kind: device_kind(name),
            name: name.into(),
            description: String::new(),
            max_channels: None,
            sample_rates: vec![],
            problem: None,
        };
        let list = [
            dev("lavrate"),
            dev("hw:CARD=CODEC,DEV=0"),
            dev("plughw:CARD=CODEC,DEV=0"),
            dev("default"),
        ];
        let names: Vec<&str> = choosable(&list).map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["default", "hw:CARD=CODEC,DEV=0"]);
    }
}
