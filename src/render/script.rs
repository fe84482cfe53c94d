//! The render script: TOML, checked up front, every mistake named with its line.
//!
//! ```toml
//! sample_rate = 48000
//! soundfont = "auto"        # "auto", "none" (the built-in synth) or a path
//! patch = "epiano"
//! [[input]]                 # a WAV played into a live input
//! file = "guitar.wav"
//! gain_db = -3
//! [[midi]]                  # a Standard MIDI File played on the keyboard
//! file = "song.mid"
//! [[note]]                  # or single notes
//! at_secs = 0.5
//! key = 69
//! length_secs = 1.0
//! [[command]]               # timed changes, one per table
//! at_secs = 2.0
//! master_db = -12
//! [[command]]               # the headless program's song words
//! at_secs = 2.5
//! song = "record 1"
//! ```
//! `songs = "folder"` puts the songs a script records somewhere other than the user's
//! data folder (tests).

use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use super::smf::read_smf;
use super::wav::{read_wav, resample};
use super::RenderError;
use crate::control::listen::{ListenLine, LISTEN_HELP};
use crate::control::ops::source_from_name;
use crate::control::songs::{SongLine, SONG_HELP};
use crate::controller::{find_soundfont, LooperConfig};
use crate::engine::looper::sync::{MAX_BEATS_PER_BAR, MAX_BPM, MIN_BPM};
use crate::engine::looper::{LoopOp, Quantize, SyncMode, SOURCE_INPUT_BASE};
use crate::engine::{Command, EngineConfig, InputConfig, Patch, MAX_INPUTS};
use crate::number::finite;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScript {
    sample_rate: Option<Spanned<u32>>,
    block_frames: Option<Spanned<usize>>,
    length_secs: Option<Spanned<f64>>,
    tail_secs: Option<Spanned<f64>>,
    soundfont: Option<Spanned<String>>,
    patch: Option<Spanned<String>>,
    master_db: Option<Spanned<f32>>,
    instrument_db: Option<Spanned<f32>>,
    #[serde(default)]
    input: Vec<Spanned<RawInput>>,
    #[serde(default)]
    midi: Vec<Spanned<RawMidi>>,
    #[serde(default)]
    note: Vec<Spanned<RawNote>>,
    #[serde(default)]
    command: Vec<Spanned<RawCommand>>,
    looper: Option<Spanned<RawLooper>>,
    songs: Option<Spanned<String>>,
    /// Seconds a take's file holds before the take goes on in the next (tests; the
    /// default is a WAV file's 4 GiB).
    take_file_secs: Option<Spanned<f64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLooper {
    tracks: Option<usize>,
    max_secs: Option<f32>,
    undo_levels: Option<usize>,
    crossfade_frames: Option<u32>,
    /// "first_loop" (default), "off" or "tempo" (with bpm and beats_per_bar).
    sync: Option<String>,
    bpm: Option<f32>,
    beats_per_bar: Option<u32>,
    /// "off" (default), "beat", "bar" or "cycle".
    quantize: Option<String>,
    #[serde(default)]
    click: bool,
    #[serde(default)]
    count_in: bool,
    /// Frames added to the round trip when aligning recordings.
    #[serde(default)]
    latency_offset: i32,
}

/// The looper a script asks for.
#[derive(Clone, Debug, PartialEq)]
pub struct ScriptLooper {
    pub config: LooperConfig,
    pub click: bool,
    pub count_in: bool,
    pub latency_offset: i32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInput {
    file: String,
    #[serde(default)]
    start_secs: f64,
    #[serde(default)]
    gain_db: f32,
    #[serde(default)]
    pan: f32,
    #[serde(default = "yes")]
    monitor: bool,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMidi {
    file: String,
    #[serde(default)]
    start_secs: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNote {
    at_secs: f64,
    key: u8,
    #[serde(default = "default_velocity")]
    velocity: u8,
    length_secs: f64,
    /// 1..=16, as musicians count.
    #[serde(default = "one")]
    channel: u8,
}

fn default_velocity() -> u8 {
    100
}
fn one() -> u8 {
    1
}

#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
struct RawCommand {
    at_secs: Option<f64>,
    at_frame: Option<u64>,
    master_db: Option<f32>,
    instrument_db: Option<f32>,
    patch: Option<String>,
    /// 1-based input number for gain_db, pan, mute and monitor.
    input: Option<usize>,
    gain_db: Option<f32>,
    pan: Option<f32>,
    mute: Option<bool>,
    monitor: Option<bool>,
    all_notes_off: Option<bool>,
    midi: Option<Vec<u8>>,
    /// A looper operation: record, overdub, multiply, insert, replace, substitute, undo,
    /// redo, clear, mute, solo, reverse, half_speed, double_speed, normal_speed,
    /// oneshot, trigger, pause, cancel, record_bars (with bars), feedback, volume, pan
    /// (with value), source (with source = "inputs", "instruments", "mix" or "input N").
    #[serde(rename = "loop")]
    loop_op: Option<String>,
    /// 1-based loop track.
    track: Option<usize>,
    bars: Option<u32>,
    value: Option<f32>,
    source: Option<String>,
    /// A song line as `samspill headless` takes it: "song new NAME", "record 2",
    /// "stop", "take discard", "export wav PATH", ...
    song: Option<String>,
    /// A listening line as `samspill headless` takes it: "play songs/a.flac" (relative
    /// to the script), "pause", "resume", "seek 30", "talk on", "next", "stop", ...
    listen: Option<String>,
}

/// One timed change, ready to become an engine command.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    MasterGain(f32),
    InstrumentGain(f32),
    Patch(Patch),
    InputGain(u8, f32),
    InputPan(u8, f32),
    InputMute(u8, bool),
    InputMonitor(u8, bool),
    AllNotesOff,
    Midi([u8; 3], u8),
    Loop(u8, LoopOp),
    /// Done by the song desk at its frame, not sent to the engine.
    Song(SongLine, String),
    /// Done by the listen desk at its frame.
    Listen(ListenLine, String),
}

#[derive(Clone, Debug, PartialEq)]
pub struct ScriptCommand {
    pub frame: u64,
    pub action: Action,
}

impl ScriptCommand {
    pub fn to_command(&self) -> Option<Command> {
        Some(match self.action {
            Action::MasterGain(db) => Command::MasterGain { db },
            Action::InstrumentGain(db) => Command::InstrumentGain { db },
            Action::Patch(p) => Command::Patch(p),
            Action::InputGain(input, db) => Command::InputGain { input, db },
            Action::InputPan(input, pan) => Command::InputPan { input, pan },
            Action::InputMute(input, muted) => Command::InputMute { input, muted },
            Action::InputMonitor(input, on) => Command::InputMonitor { input, on },
            Action::AllNotesOff => Command::AllNotesOff,
            Action::Midi(data, len) => Command::Midi { data, len },
            Action::Loop(track, op) => Command::Loop { track, op },
            Action::Song(..) | Action::Listen(..) => return None,
        })
    }
}

pub struct InputSpec {
    pub path: PathBuf,
    pub start_secs: f64,
    line: usize,
}

pub struct MidiSpec {
    pub path: PathBuf,
    pub start_secs: f64,
}

/// A checked script, with paths resolved against the script's folder.
pub struct Script {
    pub file: String,
    pub sample_rate: u32,
    pub block_frames: usize,
    pub length_secs: Option<f64>,
    pub tail_secs: f64,
    pub soundfont: Option<PathBuf>,
    pub inputs: Vec<InputSpec>,
    pub midi_files: Vec<MidiSpec>,
    /// (frame, bytes, len) from `[[note]]` tables.
    notes: Vec<(u64, [u8; 3], u8)>,
    /// Sorted by frame; the script's opening settings come first at frame 0.
    pub commands: Vec<ScriptCommand>,
    pub looper: Option<ScriptLooper>,
    /// Where recorded songs go (`None`: the user's data folder).
    pub songs: Option<PathBuf>,
    /// Frames a take's file holds (0: a WAV file's most).
    pub take_file_frames: u64,
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

impl Script {
    pub fn load(path: &Path) -> Result<Script, RenderError> {
        let text = std::fs::read_to_string(path).map_err(|source| RenderError::Open {
            path: path.to_owned(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new(".")).to_owned();
        Self::parse(&text, &path.display().to_string(), &base)
    }

    /// Parses script text; `base` is the folder relative file names start from.
    pub fn parse(text: &str, file: &str, base: &Path) -> Result<Script, RenderError> {
        let err = |line: usize, message: String| RenderError::Script {
            file: file.to_owned(),
            line,
            message,
        };
        let raw: RawScript = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| line_of(text, s.start)).unwrap_or(1);
            err(line, e.message().trim().to_owned())
        })?;
        let at = |s: std::ops::Range<usize>| line_of(text, s.start);

        let sample_rate = match &raw.sample_rate {
            Some(s) if !(8000..=192_000).contains(s.get_ref()) => {
                return Err(err(
                    at(s.span()),
                    format!("sample_rate {} is not between 8000 and 192000", s.get_ref()),
                ))
            }
            Some(s) => *s.get_ref(),
            None => 48_000,
        };
        let block_frames = match &raw.block_frames {
            Some(b) if !(1..=8192).contains(b.get_ref()) => {
                return Err(err(
                    at(b.span()),
                    "block_frames must be between 1 and 8192".into(),
                ))
            }
            Some(b) => *b.get_ref(),
            None => 64,
        };
        if let Some(l) = &raw.length_secs {
            if !(l.get_ref().is_finite() && *l.get_ref() > 0.0 && *l.get_ref() < 24.0 * 3600.0) {
                return Err(err(
                    at(l.span()),
                    "length_secs must be a positive number of seconds".into(),
                ));
            }
        }
        let soundfont = match &raw.soundfont {
            None => find_soundfont(),
            Some(s) => match s.get_ref().as_str() {
                "none" => None,
                "auto" => find_soundfont(),
                p => {
                    let path = base.join(p);
                    if !path.is_file() {
                        return Err(err(
                            at(s.span()),
                            format!("the SoundFont {} does not exist", path.display()),
                        ));
                    }
                    Some(path)
                }
            },
        };
        let frame_of = |secs: f64| (secs.max(0.0) * sample_rate as f64).round() as u64;
        let check_secs = |secs: f64, line: usize, what: &str| {
            if secs.is_finite() && secs >= 0.0 {
                Ok(secs)
            } else {
                Err(err(
                    line,
                    format!("{what} must be zero or more seconds, not {secs}"),
                ))
            }
        };

        let mut commands = Vec::new();
        if let Some(p) = &raw.patch {
            let patch = Patch::from_key(p.get_ref())
                .ok_or_else(|| err(at(p.span()), unknown_patch(p.get_ref())))?;
            commands.push(ScriptCommand {
                frame: 0,
                action: Action::Patch(patch),
            });
        }
        // TOML takes nan and inf: refused by name, before they reach a gain.
        let number = |v: &Spanned<f32>, what: &'static str| {
            finite(what, *v.get_ref()).map_err(|e| err(at(v.span()), e.to_string()))
        };
        if let Some(db) = &raw.master_db {
            commands.push(ScriptCommand {
                frame: 0,
                action: Action::MasterGain(number(db, "master_db")?),
            });
        }
        if let Some(db) = &raw.instrument_db {
            commands.push(ScriptCommand {
                frame: 0,
                action: Action::InstrumentGain(number(db, "instrument_db")?),
            });
        }
        let tail_secs = match &raw.tail_secs {
            Some(t) => check_secs(*t.get_ref(), at(t.span()), "tail_secs")?.min(60.0),
            None => 2.0,
        };

        if raw.input.len() > MAX_INPUTS {
            return Err(err(
                at(raw.input[MAX_INPUTS].span()),
                format!("at most {MAX_INPUTS} inputs"),
            ));
        }
        let mut inputs = Vec::new();
        for (i, inp) in raw.input.iter().enumerate() {
            let line = at(inp.span());
            let r = inp.get_ref();
            let path = base.join(&r.file);
            if !path.is_file() {
                return Err(err(
                    line,
                    format!("the input file {} does not exist", path.display()),
                ));
            }
            let start_secs = check_secs(r.start_secs, line, "start_secs")?;
            let idx = i as u8;
            let gain_db = finite("gain_db", r.gain_db).map_err(|e| err(line, e.to_string()))?;
            let pan = finite("pan", r.pan).map_err(|e| err(line, e.to_string()))?;
            commands.push(ScriptCommand {
                frame: 0,
                action: Action::InputGain(idx, gain_db),
            });
            commands.push(ScriptCommand {
                frame: 0,
                action: Action::InputPan(idx, pan),
            });
            if !r.monitor {
                commands.push(ScriptCommand {
                    frame: 0,
                    action: Action::InputMonitor(idx, false),
                });
            }
            inputs.push(InputSpec {
                path,
                start_secs,
                line,
            });
        }
        let mut midi_files = Vec::new();
        for m in &raw.midi {
            let line = at(m.span());
            let r = m.get_ref();
            let path = base.join(&r.file);
            if !path.is_file() {
                return Err(err(
                    line,
                    format!("the MIDI file {} does not exist", path.display()),
                ));
            }
            let start_secs = check_secs(r.start_secs, line, "start_secs")?;
            midi_files.push(MidiSpec { path, start_secs });
        }
        let mut notes = Vec::new();
        for n in &raw.note {
            let line = at(n.span());
            let r = n.get_ref();
            check_secs(r.at_secs, line, "at_secs")?;
            check_secs(r.length_secs, line, "length_secs")?;
            if r.key > 127 || r.velocity > 127 || r.velocity == 0 {
                return Err(err(line, "key must be 0..127 and velocity 1..127".into()));
            }
            if !(1..=16).contains(&r.channel) {
                return Err(err(line, "channel must be 1..16".into()));
            }
            let ch = r.channel - 1;
            notes.push((frame_of(r.at_secs), [0x90 | ch, r.key, r.velocity], 3));
            notes.push((
                frame_of(r.at_secs + r.length_secs),
                [0x80 | ch, r.key, 64],
                3,
            ));
        }
        let looper = match &raw.looper {
            Some(l) => Some(parse_looper(l.get_ref()).map_err(|m| err(at(l.span()), m))?),
            None => None,
        };
        let loop_tracks = looper.as_ref().map_or(0, |l| l.config.tracks);
        for c in &raw.command {
            let line = at(c.span());
            commands.push(
                parse_command(c.get_ref(), base, sample_rate, raw.input.len(), loop_tracks)
                    .map_err(|m| err(line, m))?,
            );
        }
        commands.sort_by_key(|c| c.frame);
        notes.sort_by_key(|n| n.0);
        let take_file_frames = match &raw.take_file_secs {
            Some(t) if !(t.get_ref().is_finite() && *t.get_ref() >= 0.1) => {
                return Err(err(
                    at(t.span()),
                    "take_file_secs must be at least 0.1 seconds".into(),
                ))
            }
            Some(t) => frame_of(*t.get_ref()),
            None => 0,
        };

        Ok(Script {
            file: file.to_owned(),
            sample_rate,
            block_frames,
            length_secs: raw.length_secs.map(|l| *l.get_ref()),
            tail_secs,
            soundfont,
            inputs,
            midi_files,
            notes,
            commands,
            looper,
            songs: raw.songs.map(|s| base.join(s.get_ref())),
            take_file_frames,
        })
    }

    /// The engine's inputs, given how many channels each input file has.
    pub fn engine_config(&self, channels_per_input: &[usize]) -> EngineConfig {
        let mut channel = 0;
        let inputs = self
            .inputs
            .iter()
            .enumerate()
            .map(|(i, spec)| {
                let nch = channels_per_input.get(i).copied().unwrap_or(1);
                let cfg = InputConfig {
                    name: spec
                        .path
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                    channel,
                    right_channel: (nch > 1).then_some(channel + 1),
                };
                channel += nch.min(2);
                cfg
            })
            .collect();
        EngineConfig {
            sample_rate: self.sample_rate,
            inputs,
        }
    }

    /// Reads every input file; returns the engine's input channels, each from frame 0,
    /// and how many channels each file has.
    pub(crate) fn load_inputs(&self) -> Result<(Vec<Vec<f32>>, Vec<usize>), RenderError> {
        let mut out = Vec::new();
        let mut counts = Vec::new();
        for spec in &self.inputs {
            let wav = read_wav(&spec.path)?;
            if wav.channels.len() > 2 {
                return Err(RenderError::Script {
                    file: self.file.clone(),
                    line: spec.line,
                    message: format!(
                        "{} has {} channels; inputs are mono or stereo",
                        spec.path.display(),
                        wav.channels.len()
                    ),
                });
            }
            counts.push(wav.channels.len());
            let lead = (spec.start_secs * self.sample_rate as f64).round() as usize;
            for ch in &wav.channels {
                let mut v = vec![0f32; lead];
                v.extend(resample(ch, wav.sample_rate, self.sample_rate));
                out.push(v);
            }
        }
        Ok((out, counts))
    }

    /// Every MIDI file and note, as (frame, bytes, len), sorted by frame.
    pub(crate) fn load_midi(&self) -> Result<Vec<(u64, [u8; 3], u8)>, RenderError> {
        let mut all = self.notes.clone();
        for m in &self.midi_files {
            for ev in read_smf(&m.path)? {
                let frame = ((ev.secs + m.start_secs) * self.sample_rate as f64).round() as u64;
                all.push((frame, ev.bytes, ev.len));
            }
        }
        all.sort_by_key(|e| e.0);
        Ok(all)
    }

    pub(crate) fn total_frames(&self, inputs: &[Vec<f32>], midi: &[(u64, [u8; 3], u8)]) -> usize {
        if let Some(l) = self.length_secs {
            return (l * self.sample_rate as f64).round() as usize;
        }
        let tail = (self.tail_secs * self.sample_rate as f64) as usize;
        let inputs_end = inputs.iter().map(|c| c.len()).max().unwrap_or(0);
        let midi_end = midi.last().map(|e| e.0 as usize).unwrap_or(0);
        let cmd_end = self.commands.last().map(|c| c.frame as usize).unwrap_or(0);
        inputs_end.max(midi_end).max(cmd_end) + tail
    }
}

fn unknown_patch(name: &str) -> String {
    let known: Vec<&str> = Patch::ALL.iter().map(|p| p.key()).collect();
    format!(
        "unknown patch \"{name}\"; choose one of {}",
        known.join(", ")
    )
}

fn parse_command(
    c: &RawCommand,
    base: &Path,
    sample_rate: u32,
    inputs: usize,
    loop_tracks: usize,
) -> Result<ScriptCommand, String> {
    let frame = match (c.at_secs, c.at_frame) {
        (Some(s), None) if s.is_finite() && s >= 0.0 => (s * sample_rate as f64).round() as u64,
        (None, Some(f)) => f,
        (Some(_), Some(_)) => return Err("give at_secs or at_frame, not both".into()),
        (Some(s), None) => return Err(format!("at_secs must be zero or more seconds, not {s}")),
        (None, None) => return Err("a command needs at_secs or at_frame".into()),
    };
    let input = || -> Result<u8, String> {
        match c.input {
            Some(i) if (1..=inputs).contains(&i) => Ok((i - 1) as u8),
            Some(i) => Err(format!(
                "input {i} does not exist (the script has {inputs})"
            )),
            None => Err("this command needs input = N (1-based)".into()),
        }
    };
    // Every number a command carries is checked before it becomes a change.
    let number = |what: &'static str, v: Option<f32>| -> Result<Option<f32>, String> {
        v.map(|v| finite(what, v))
            .transpose()
            .map_err(|e| e.to_string())
    };
    let c = &RawCommand {
        master_db: number("master_db", c.master_db)?,
        instrument_db: number("instrument_db", c.instrument_db)?,
        gain_db: number("gain_db", c.gain_db)?,
        pan: number("pan", c.pan)?,
        value: number("value", c.value)?,
        ..c.clone()
    };
    let mut actions = Vec::new();
    if let Some(db) = c.master_db {
        actions.push(Action::MasterGain(db));
    }
    if let Some(db) = c.instrument_db {
        actions.push(Action::InstrumentGain(db));
    }
    if let Some(p) = &c.patch {
        actions.push(Action::Patch(
            Patch::from_key(p).ok_or_else(|| unknown_patch(p))?,
        ));
    }
    if let Some(db) = c.gain_db {
        actions.push(Action::InputGain(input()?, db));
    }
    if let Some(pan) = c.pan {
        actions.push(Action::InputPan(input()?, pan));
    }
    if let Some(m) = c.mute {
        actions.push(Action::InputMute(input()?, m));
    }
    if let Some(m) = c.monitor {
        actions.push(Action::InputMonitor(input()?, m));
    }
    if c.all_notes_off == Some(true) {
        actions.push(Action::AllNotesOff);
    }
    if let Some(bytes) = &c.midi {
        if bytes.is_empty() || bytes.len() > 3 {
            return Err("midi takes one to three bytes, e.g. midi = [0x90, 60, 100]".into());
        }
        let mut data = [0u8; 3];
        data[..bytes.len()].copy_from_slice(bytes);
        actions.push(Action::Midi(data, bytes.len() as u8));
    }
    if let Some(text) = &c.song {
        actions.push(Action::Song(
            match SongLine::parse(text) {
                Some(Ok(l)) => l,
                Some(Err(e)) => return Err(format!("song = \"{text}\": {e}")),
                None => {
                    return Err(format!(
                        "song = \"{text}\" is not a song line; the words are: {SONG_HELP}"
                    ))
                }
            },
            text.clone(),
        ));
    }
    if let Some(text) = &c.listen {
        let line = match ListenLine::parse(text) {
            Some(Ok(ListenLine::Play(p))) => ListenLine::Play(base.join(p)),
            Some(Ok(l)) => l,
            Some(Err(e)) => return Err(format!("listen = \"{text}\": {e}")),
            None if text.trim() == "stop" => ListenLine::Stop,
            None => {
                return Err(format!(
                    "listen = \"{text}\" is not a listening line; the words are: {LISTEN_HELP}"
                ))
            }
        };
        actions.push(Action::Listen(line, text.clone()));
    }
    if let Some(name) = &c.loop_op {
        actions.push(Action::Loop(
            loop_track(c.track, loop_tracks)?,
            loop_op(name, c, inputs)?,
        ));
    }
    match actions.len() {
        1 => Ok(ScriptCommand { frame, action: actions.remove(0) }),
        0 => Err("the command does nothing: give one of master_db, instrument_db, patch, gain_db, pan, mute, monitor, all_notes_off, midi, loop, song".into()),
        _ => Err("one change per [[command]] table, please".into()),
    }
}

fn parse_looper(l: &RawLooper) -> Result<ScriptLooper, String> {
    let mut config = LooperConfig::default();
    if let Some(t) = l.tracks {
        if !(1..=crate::engine::looper::MAX_TRACKS).contains(&t) {
            return Err(format!(
                "the looper has 1 to {} tracks",
                crate::engine::looper::MAX_TRACKS
            ));
        }
        config.tracks = t;
    }
    if let Some(s) = l.max_secs {
        if !(1.0..=600.0).contains(&s) {
            return Err("max_secs must be between 1 and 600 seconds".into());
        }
        config.max_secs = s;
    }
    if let Some(u) = l.undo_levels {
        if !(1..=64).contains(&u) {
            return Err("undo_levels must be between 1 and 64".into());
        }
        config.undo_levels = u;
    }
    if let Some(x) = l.crossfade_frames {
        config.crossfade_frames = x.clamp(1, 4096);
    }
    config.sync = match l.sync.as_deref() {
        None | Some("first_loop") => SyncMode::FirstLoop,
        Some("off") => SyncMode::Off,
        Some("tempo") => {
            let bpm = l.bpm.ok_or("sync = \"tempo\" needs bpm")?;
            let bpm = finite("bpm", bpm).map_err(|e| e.to_string())?;
            if !(MIN_BPM..=MAX_BPM).contains(&bpm) {
                return Err(format!(
                    "bpm must be between {MIN_BPM} and {MAX_BPM}, not {bpm}"
                ));
            }
            SyncMode::Tempo {
                bpm,
                beats_per_bar: l.beats_per_bar.unwrap_or(4).clamp(1, MAX_BEATS_PER_BAR),
            }
        }
        Some(o) => {
            return Err(format!(
                "unknown sync \"{o}\"; choose first_loop, off or tempo"
            ))
        }
    };
    config.quantize = match l.quantize.as_deref() {
        None | Some("off") => Quantize::Off,
        Some("beat") => Quantize::Beat,
        Some("bar") => Quantize::Bar,
        Some("cycle") => Quantize::Cycle,
        Some(o) => {
            return Err(format!(
                "unknown quantize \"{o}\"; choose off, beat, bar or cycle"
            ))
        }
    };
    Ok(ScriptLooper {
        config,
        click: l.click,
        count_in: l.count_in,
        latency_offset: l.latency_offset,
    })
}

fn loop_track(track: Option<usize>, tracks: usize) -> Result<u8, String> {
    match track {
        _ if tracks == 0 => Err("loop commands need a [looper] table in the script".into()),
        Some(t) if (1..=tracks).contains(&t) => Ok((t - 1) as u8),
        Some(t) => Err(format!(
            "loop track {t} does not exist (the looper has {tracks})"
        )),
        None => Err("a loop command needs track = N (1-based)".into()),
    }
}

fn loop_op(name: &str, c: &RawCommand, inputs: usize) -> Result<LoopOp, String> {
    let value = |what: &str| {
        c.value
            .ok_or(format!("loop = \"{what}\" needs value = ..."))
    };
    Ok(match name {
        "record" => LoopOp::Record,
        "record_bars" => LoopOp::RecordBars(
            c.bars
                .ok_or("loop = \"record_bars\" needs bars = N")?
                .max(1),
        ),
        "overdub" => LoopOp::Overdub,
        "multiply" => LoopOp::Multiply,
        "insert" => LoopOp::Insert,
        "replace" => LoopOp::Replace,
        "substitute" => LoopOp::Substitute,
        "undo" => LoopOp::Undo,
        "redo" => LoopOp::Redo,
        "clear" => LoopOp::Clear,
        "mute" => LoopOp::Mute,
        "solo" => LoopOp::Solo,
        "reverse" => LoopOp::Reverse,
        "half_speed" => LoopOp::HalfSpeed,
        "double_speed" => LoopOp::DoubleSpeed,
        "normal_speed" => LoopOp::NormalSpeed,
        "oneshot" => LoopOp::OneShot,
        "trigger" => LoopOp::Trigger,
        "pause" => LoopOp::Pause,
        "cancel" => LoopOp::CancelPending,
        "feedback" => LoopOp::SetFeedback(value(name)?.clamp(0.0, 1.0)),
        "volume" => LoopOp::SetVolume(value(name)?.clamp(0.0, 4.0)),
        "pan" => LoopOp::SetPan(value(name)?.clamp(-1.0, 1.0)),
        "source" => {
            let forms = "loop = \"source\" needs source = \"inputs\", \"instruments\", \"mix\" or \"input N\" (N from 1)";
            let source = c
                .source
                .as_deref()
                .and_then(source_from_name)
                .ok_or(forms)?;
            // One input alone: it must be one the script plays.
            if let Some(k) = source.checked_sub(SOURCE_INPUT_BASE) {
                if usize::from(k) >= inputs {
                    return Err(format!(
                        "source = \"input {}\": the script has {inputs} input(s)",
                        k + 1
                    ));
                }
            }
            LoopOp::SetSource(source)
        }
        other => return Err(format!("unknown loop operation \"{other}\"")),
    })
}
