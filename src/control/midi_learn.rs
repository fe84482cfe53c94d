//! MIDI learn: any note or CC on any channel can do a loop action. Arm an action, press
//! a pedal or pad, and that is its mapping from now on; mappings are saved as TOML in
//! the user's data folder.
//!
//! Not the audio thread: the io layer's MIDI thread hands raw messages to
//! [`MidiLearn::handle`] and performs the action it returns through `LoopControl`.

use std::path::{Path, PathBuf};

use super::ops::Action;

/// The file in the data folder that holds the mappings.
pub const MAP_FILE: &str = "midi_map.toml";

/// A key that triggers an action. Channels count from 0 (MIDI channel 1 is 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Trigger {
    Note { channel: u8, key: u8 },
    Cc { channel: u8, controller: u8 },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Mapping {
    pub trigger: Trigger,
    pub action: Action,
}

#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct MapFile {
    #[serde(default)]
    mapping: Vec<Mapping>,
}

#[derive(Debug, thiserror::Error)]
pub enum MidiLearnError {
    #[error("There is no data folder to keep MIDI mappings in.")]
    NoDataDir,
    #[error("Could not save the MIDI mappings to {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("Could not read the MIDI mappings in {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("The MIDI mappings in {path} are damaged ({message}); none were loaded.")]
    Invalid { path: PathBuf, message: String },
}

/// The mapping table and the learn mode.
#[derive(Debug, Default)]
pub struct MidiLearn {
    mappings: Vec<Mapping>,
    /// The action waiting for its note or CC.
    armed: Option<Action>,
    /// Last value of each CC, by channel and number: a switch fires when it leaves 0.
    cc_last: Vec<((u8, u8), u8)>,
}

impl MidiLearn {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn mappings(&self) -> &[Mapping] {
        &self.mappings
    }

    /// The next note-on or CC above 0 becomes the trigger of `action`.
    pub fn arm(&mut self, action: Action) {
        self.armed = Some(action);
    }

    pub fn disarm(&mut self) {
        self.armed = None;
    }

    pub fn armed(&self) -> Option<Action> {
        self.armed
    }

    /// Maps `trigger` to `action`; a trigger does one thing, so an old use of it goes.
    pub fn map(&mut self, trigger: Trigger, action: Action) {
        self.mappings.retain(|m| m.trigger != trigger);
        self.mappings.push(Mapping { trigger, action });
    }

    /// Removes every mapping to `action`.
    pub fn forget(&mut self, action: Action) {
        self.mappings.retain(|m| m.action != action);
    }

    /// Takes one MIDI message. Returns the action to perform, or `None` (not mapped, a
    /// release, or it was just learned).
    pub fn handle(&mut self, bytes: &[u8]) -> Option<Action> {
        let trigger = match *bytes {
            [status, key, velocity, ..] if status & 0xF0 == 0x90 && velocity > 0 => Trigger::Note {
                channel: status & 0x0F,
                key: key & 0x7F,
            },
            [status, controller, value, ..] if status & 0xF0 == 0xB0 => {
                let (channel, controller, value) = (status & 0x0F, controller & 0x7F, value & 0x7F);
                let slot = match self
                    .cc_last
                    .iter_mut()
                    .find(|(k, _)| *k == (channel, controller))
                {
                    Some((_, v)) => v,
                    None => {
                        self.cc_last.push(((channel, controller), 0));
                        &mut self.cc_last.last_mut()?.1
                    }
                };
                let was = std::mem::replace(slot, value);
                // A pedal sends 127 down and 0 up, a knob many values: fire when it leaves 0.
                if value == 0 || (was > 0 && self.armed.is_none()) {
                    return None;
                }
                Trigger::Cc {
                    channel,
                    controller,
                }
            }
            _ => return None,
        };
        if let Some(action) = self.armed.take() {
            self.map(trigger, action);
            return None;
        }
        self.mappings
            .iter()
            .find(|m| m.trigger == trigger)
            .map(|m| m.action)
    }

    /// Writes the mappings to `path`, readable by the owner only.
    pub fn save_to(&self, path: &Path) -> Result<(), MidiLearnError> {
        let file = MapFile {
            mapping: self.mappings.clone(),
        };
        let text = toml::to_string(&file).map_err(|e| MidiLearnError::Invalid {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        crate::session::write_private(path, text.as_bytes()).map_err(|source| {
            MidiLearnError::Write {
                path: path.to_owned(),
                source,
            }
        })
    }

    /// Reads mappings from `path` (a missing file is no mappings).
    pub fn load_from(path: &Path) -> Result<MidiLearn, MidiLearnError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(MidiLearn::new()),
            Err(source) => {
                return Err(MidiLearnError::Read {
                    path: path.to_owned(),
                    source,
                })
            }
        };
        let file: MapFile = toml::from_str(&text).map_err(|e| MidiLearnError::Invalid {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        let mut learn = MidiLearn::new();
        for m in file.mapping {
            learn.map(m.trigger, m.action);
        }
        Ok(learn)
    }

    /// Where the mappings live: `midi_map.toml` in the data folder.
    pub fn default_path() -> Result<PathBuf, MidiLearnError> {
        Ok(crate::session::data_dir()
            .ok_or(MidiLearnError::NoDataDir)?
            .join(MAP_FILE))
    }

    pub fn save(&self) -> Result<PathBuf, MidiLearnError> {
        let path = Self::default_path()?;
        self.save_to(&path)?;
        Ok(path)
    }

    pub fn load() -> Result<MidiLearn, MidiLearnError> {
        Self::load_from(&Self::default_path()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::ops::LoopCommand;

    const RECORD_1: Action = Action::Hit {
        track: 0,
        op: LoopCommand::Record,
    };
    const FOOT_2: Action = Action::FootSwitch { track: 1 };

    #[test]
    fn a_pad_learned_for_record_then_records() {
        let mut m = MidiLearn::new();
        assert_eq!(m.handle(&[0x99, 36, 100]), None, "nothing mapped yet");
        m.arm(RECORD_1);
        assert_eq!(m.handle(&[0x89, 36, 0]), None, "a note-off does not learn");
        assert_eq!(
            m.handle(&[0x99, 36, 0]),
            None,
            "nor a note-on at velocity 0"
        );
        assert_eq!(m.armed(), Some(RECORD_1));
        assert_eq!(m.handle(&[0x99, 36, 90]), None, "learned, not performed");
        assert_eq!(m.armed(), None);
        assert_eq!(m.handle(&[0x99, 36, 20]), Some(RECORD_1));
        assert_eq!(
            m.handle(&[0x90, 36, 20]),
            None,
            "another channel is another key"
        );
    }

    #[test]
    fn a_pedal_cc_learned_for_the_foot_switch_fires_once_per_press() {
        let mut m = MidiLearn::new();
        m.arm(FOOT_2);
        assert_eq!(
            m.handle(&[0xB0, 64, 0]),
            None,
            "CC at 0 is a release, not learned"
        );
        assert_eq!(m.handle(&[0xB0, 64, 127]), None);
        assert_eq!(m.handle(&[0xB0, 64, 0]), None, "release");
        assert_eq!(m.handle(&[0xB0, 64, 127]), Some(FOOT_2));
        assert_eq!(m.handle(&[0xB0, 64, 100]), None, "still down");
        assert_eq!(m.handle(&[0xB0, 64, 0]), None);
        assert_eq!(m.handle(&[0xB0, 64, 127]), Some(FOOT_2));
        // Learning the same pedal for something else moves it.
        m.arm(Action::TapTempo);
        m.handle(&[0xB0, 64, 0]);
        m.handle(&[0xB0, 64, 127]);
        assert_eq!(m.mappings().len(), 1);
        m.handle(&[0xB0, 64, 0]);
        assert_eq!(m.handle(&[0xB0, 64, 127]), Some(Action::TapTempo));
    }

    #[test]
    fn junk_bytes_do_nothing() {
        let mut m = MidiLearn::new();
        m.arm(RECORD_1);
        for junk in [
            &[][..],
            &[0x90],
            &[0x90, 60],
            &[0xF8],
            &[0xE0, 0, 64],
            &[0x3C, 0x40, 0x40],
        ] {
            assert_eq!(m.handle(junk), None);
        }
        assert_eq!(m.armed(), Some(RECORD_1), "still waiting for a real press");
    }

    #[test]
    fn mappings_survive_a_save_and_load_in_a_private_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(MAP_FILE);
        let mut m = MidiLearn::new();
        m.map(
            Trigger::Note {
                channel: 9,
                key: 36,
            },
            RECORD_1,
        );
        m.map(
            Trigger::Cc {
                channel: 0,
                controller: 64,
            },
            FOOT_2,
        );
        m.map(
            Trigger::Cc {
                channel: 0,
                controller: 65,
            },
            Action::HitAll {
                op: LoopCommand::OneShot,
            },
        );
        m.save_to(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let back = MidiLearn::load_from(&path).unwrap();
        assert_eq!(back.mappings(), m.mappings());
        assert!(MidiLearn::load_from(&dir.path().join("none.toml"))
            .unwrap()
            .mappings()
            .is_empty());
        std::fs::write(&path, "mapping = 3").unwrap();
        assert!(matches!(
            MidiLearn::load_from(&path),
            Err(MidiLearnError::Invalid { .. })
        ));
    }
}
