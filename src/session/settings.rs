//! Settings the user chose: audio host and devices, language, easy mode, instruments.
//! Saved as TOML in the data folder; a damaged file is set aside, never fatal.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::engine::looper::sync::{MAX_BPM, MIN_BPM};
use crate::engine::Patch;

/// The longest loop a track may be set to hold: memory grows with it.
pub const MAX_MINUTES_PER_TRACK: f32 = 10.0;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AudioHost {
    /// ALSA (and the laptop's own card) through cpal.
    #[default]
    Alsa,
    /// A native JACK client.
    Jack,
    /// No device: an internal clock with silent output.
    None,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Language {
    #[default]
    #[serde(rename = "nb")]
    Bokmal,
    #[serde(rename = "en")]
    English,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AudioSettings {
    pub host: AudioHost,
    /// Device names as `samspill devices` lists them; `None` = the system default.
    pub output_device: Option<String>,
    pub input_device: Option<String>,
    pub sample_rate: u32,
    /// Frames per period; powers of two only (others glitch on PipeWire).
    pub buffer_frames: u32,
    /// JACK client name.
    pub jack_client_name: String,
}

impl Default for AudioSettings {
    fn default() -> Self {
        Self {
            host: AudioHost::Alsa,
            output_device: None,
            input_device: None,
            sample_rate: 48_000,
            buffer_frames: 256,
            jack_client_name: "samspill".into(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub audio: AudioSettings,
    pub language: Language,
    pub easy_mode: bool,
    pub patch: Patch,
    pub master_db: f32,
    /// `None`: the best General MIDI SoundFont installed.
    pub soundfont: Option<PathBuf>,
    #[serde(default)]
    pub looper: LoopSettings,
    /// Listen for OSC (SooperLooper's protocol) on 127.0.0.1 while the panel runs.
    #[serde(default = "osc_on")]
    pub osc_enabled: bool,
    /// Inputs (from 0) not heard through Samspill, e.g. with an interface's own direct
    /// monitoring; loops record them all the same.
    #[serde(default)]
    pub unmonitored_inputs: Vec<usize>,
    /// The song's click on its own outputs (JACK's click ports, or outputs 3 and 4), for
    /// the headphones.
    #[serde(default)]
    pub click_apart: bool,
    #[serde(default)]
    pub listen: ListenSettings,
}

/// Listening: how pause and stop fade, whether the list runs on, how deep talk dips.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ListenSettings {
    /// Seconds, 0.3 to 1.
    pub fade_secs: f32,
    /// After a song: the next one (else stop after this song, the default).
    pub run_on: bool,
    pub gap_secs: f32,
    /// dB the talk button dips the music, 3 to 40.
    pub talk_depth_db: f32,
    /// The input (from 0) whose sound dips the music by itself (the therapist's
    /// microphone), and the level it must pass (dBFS).
    pub mic_input: Option<usize>,
    pub mic_threshold_db: f32,
}

impl Default for ListenSettings {
    fn default() -> Self {
        ListenSettings {
            fade_secs: 0.5,
            run_on: false,
            gap_secs: 2.0,
            talk_depth_db: 15.0,
            mic_input: None,
            mic_threshold_db: -30.0,
        }
    }
}

fn osc_on() -> bool {
    true
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            audio: AudioSettings::default(),
            language: Language::Bokmal,
            easy_mode: false,
            patch: Patch::Piano,
            master_db: -6.0,
            soundfont: None,
            looper: LoopSettings::default(),
            osc_enabled: true,
            unmonitored_inputs: Vec::new(),
            click_apart: false,
            listen: ListenSettings::default(),
        }
    }
}

/// Which grid point a loop's start and stop wait for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum LoopQuantize {
    /// At once.
    #[default]
    Off,
    Beat,
    Bar,
    Cycle,
}

/// The looper: its memory (used when it is built, at start) and its grid, click and count-in.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LoopSettings {
    pub tracks: u32,
    /// The longest loop each track holds.
    pub minutes_per_track: f32,
    /// Each level costs one track's worth of memory.
    pub undo_levels: u32,
    pub crossfade_frames: u32,
    /// `false`: the first loop sets the cycle; `true`: the tempo does.
    pub follow_tempo: bool,
    pub tempo_bpm: f32,
    pub beats_per_bar: u32,
    pub quantize: LoopQuantize,
    pub click: bool,
    pub count_in: bool,
    /// Added by hand to the device's round trip when new layers are lined up with old ones.
    pub latency_offset_ms: f32,
}

impl Default for LoopSettings {
    fn default() -> Self {
        Self {
            tracks: 4,
            minutes_per_track: 1.0,
            undo_levels: 4,
            crossfade_frames: 64,
            follow_tempo: false,
            tempo_bpm: 120.0,
            beats_per_bar: 4,
            quantize: LoopQuantize::Off,
            click: false,
            count_in: false,
            latency_offset_ms: 0.0,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("Could not save the settings to {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("There is no private data folder for Samspill on this machine.")]
    NoDataDir,
}

impl Settings {
    pub fn path() -> Option<PathBuf> {
        super::data_dir().map(|d| d.join("settings.toml"))
    }

    /// Loads the settings; missing gives defaults, damaged is renamed aside and gives
    /// defaults with a message saying so.
    pub fn load() -> (Settings, Option<String>) {
        match Self::path() {
            Some(p) => Self::load_from(&p),
            None => (Settings::default(), None),
        }
    }

    pub fn load_from(path: &Path) -> (Settings, Option<String>) {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return (Settings::default(), None)
            }
            Err(e) => {
                return (
                    Settings::default(),
                    Some(format!(
                        "Could not read the settings ({e}); using defaults."
                    )),
                )
            }
        };
        match toml::from_str::<Settings>(&text) {
            Ok(s) => {
                let (s, problems) = s.checked();
                let note = (!problems.is_empty())
                    .then(|| format!("Some settings were not usable: {}.", problems.join("; ")));
                (s, note)
            }
            Err(e) => {
                let aside = path.with_extension("toml.damaged");
                let _ = std::fs::rename(path, &aside);
                (
                    Settings::default(),
                    Some(format!(
                        "The settings file was damaged and has been set aside as {}; using defaults. ({})",
                        aside.display(),
                        e.message()
                    )),
                )
            }
        }
    }

    /// Numbers that are not numbers (`nan`, `inf` are valid TOML) or out of every sane
    /// range go back to their defaults, each named in a problem; the rest is kept.
    pub fn checked(mut self) -> (Settings, Vec<String>) {
        let d = Settings::default();
        let mut problems = Vec::new();
        let mut fix = |what: &'static str, v: &mut f32, ok: bool, default: f32, unit: &str| {
            if let Err(e) = crate::number::finite(what, *v) {
                problems.push(format!("{e}; using {default}{unit}"));
                *v = default;
            } else if !ok {
                problems.push(format!(
                    "{what} {v}{unit} is out of range; using {default}{unit}"
                ));
                *v = default;
            }
        };
        let m = self.master_db;
        fix(
            "master_db",
            &mut self.master_db,
            (-120.0..=12.0).contains(&m),
            d.master_db,
            " dB",
        );
        let (l, dl) = (&mut self.looper, &d.looper);
        let v = l.minutes_per_track;
        let ok = (0.0..=MAX_MINUTES_PER_TRACK).contains(&v);
        fix(
            "looper.minutes_per_track",
            &mut l.minutes_per_track,
            ok,
            dl.minutes_per_track,
            " min",
        );
        let v = l.tempo_bpm;
        let ok = (MIN_BPM..=MAX_BPM).contains(&v);
        fix(
            "looper.tempo_bpm",
            &mut l.tempo_bpm,
            ok,
            dl.tempo_bpm,
            " bpm",
        );
        let v = l.latency_offset_ms;
        let ok = (-1000.0..=1000.0).contains(&v);
        fix(
            "looper.latency_offset_ms",
            &mut l.latency_offset_ms,
            ok,
            dl.latency_offset_ms,
            " ms",
        );
        let (ls, dls) = (&mut self.listen, &d.listen);
        let v = ls.fade_secs;
        fix(
            "listen.fade_secs",
            &mut ls.fade_secs,
            (0.3..=1.0).contains(&v),
            dls.fade_secs,
            " s",
        );
        let v = ls.gap_secs;
        fix(
            "listen.gap_secs",
            &mut ls.gap_secs,
            (0.0..=60.0).contains(&v),
            dls.gap_secs,
            " s",
        );
        let v = ls.talk_depth_db;
        fix(
            "listen.talk_depth_db",
            &mut ls.talk_depth_db,
            (3.0..=40.0).contains(&v),
            dls.talk_depth_db,
            " dB",
        );
        let v = ls.mic_threshold_db;
        fix(
            "listen.mic_threshold_db",
            &mut ls.mic_threshold_db,
            (-70.0..=0.0).contains(&v),
            dls.mic_threshold_db,
            " dB",
        );
        if ls.mic_input.is_some_and(|i| i >= crate::engine::MAX_INPUTS) {
            problems.push("listen.mic_input is not an input; using none".into());
            ls.mic_input = None;
        }
        (self, problems)
    }

    pub fn save(&self) -> Result<(), SettingsError> {
        let path = Self::path().ok_or(SettingsError::NoDataDir)?;
        self.save_to(&path)
    }

    pub fn save_to(&self, path: &Path) -> Result<(), SettingsError> {
        let text = toml::to_string_pretty(self).unwrap_or_default();
        super::write_private(path, text.as_bytes()).map_err(|source| SettingsError::Write {
            path: path.to_owned(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_round_trip_privately_and_damage_is_set_aside() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("settings.toml");
        let s = Settings {
            language: Language::English,
            audio: AudioSettings {
                host: AudioHost::Jack,
                ..AudioSettings::default()
            },
            ..Settings::default()
        };
        s.save_to(&p).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        assert_eq!(Settings::load_from(&p), (s, None));
        std::fs::write(&p, "audio = [[[ not toml").unwrap();
        let (loaded, msg) = Settings::load_from(&p);
        assert_eq!(loaded, Settings::default());
        assert!(msg.unwrap().contains("damaged"));
        assert!(dir.path().join("settings.toml.damaged").exists());
    }
}
