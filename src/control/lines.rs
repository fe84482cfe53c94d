//! Loop control as typed lines (`samspill headless` reads them on stdin):
//! `loop 1 record`, `loop all undo`, `loop 2 foot`, `loop 1 source input 2`, `loops`,
//! `tempo 96 3`, `tap`, and saved jams: `jam save Tuesday`, `jam list`, `jam open Tuesday`.
//! Tracks are numbered from 1 here, as a person counts them.

use std::path::Path;

use crate::engine::{Command, Patch, MAX_INPUTS};

use super::listen::{ListenError, ListenLine, LISTEN_HELP};
use super::ops::{
    source_from_name, Action, LoopCommand, LoopControl, LoopControlError, TrackSel, SOURCE_FORMS,
};
use super::songs::{SongLine, SongLineError, SONG_HELP};
use crate::controller::LooperConfig;
use crate::engine::looper::sync::{MAX_BEATS_PER_BAR, MAX_BPM, MIN_BPM};
use crate::engine::looper::LoopOp;
use crate::number::NotFinite;
use crate::session::jam::{
    find_jam, jams_in, local_time_text, open_jam, restore_jam, save_running_jam_in, JamError,
};

pub const LOOP_HELP: &str =
    "loop N|all OP (record, overdub, multiply, undo, redo, clear, mute, ... or foot) | loop N|all source inputs|instruments|mix|input K | loops | tempo BPM [BEATS] | tap";

pub const JAM_HELP: &str = "jam save [NAME] | jam list | jam open NAME";

/// What was wrong with a typed line, or why doing it failed, in words for the person who
/// typed it.
#[derive(Debug, thiserror::Error)]
pub enum LineError {
    #[error("{0} is missing")]
    Missing(&'static str),
    #[error("\"{word}\" is not a number for {what}")]
    NotANumber { word: String, what: &'static str },
    #[error(transparent)]
    NotFinite(#[from] NotFinite),
    #[error("say on or off")]
    OnOrOff,
    #[error("inputs are numbered 1 to {}", MAX_INPUTS)]
    NoSuchInput,
    #[error("keys are 0 to 127 (60 is middle C)")]
    NoSuchKey,
    #[error("which instrument?")]
    WhichInstrument,
    #[error("the instruments are {}", patch_names())]
    NoSuchInstrument,
    #[error("I do not know \"{0}\". Try: {help}", help = help())]
    Unknown(String),
    #[error("which jam? `jam list` shows their names")]
    WhichJam,
    #[error("a jam line is {}", JAM_HELP)]
    NotAJamLine,
    #[error("which loop? (1, 2, ... or all)")]
    WhichLoop,
    #[error("loops are numbered 1 to 8, or all")]
    NoSuchLoop,
    #[error("loop {0} can record from {forms}", forms = SOURCE_FORMS)]
    NoSuchSource(String),
    #[error("what should loop {0} do? Try: {help}", help = LOOP_HELP)]
    WhatShouldLoopDo(String),
    #[error("the foot switch works on one loop at a time")]
    FootOnAll,
    #[error("a loop can {}, foot or source", loop_op_names())]
    NoSuchLoopOp,
    #[error("the tempo is a number of beats a minute")]
    TempoNotANumber,
    #[error("the tempo is {min} to {max} bpm, not {0}", min = MIN_BPM, max = MAX_BPM)]
    TempoOutOfRange(f32),
    #[error("beats a bar are 1 to {}", MAX_BEATS_PER_BAR)]
    NoSuchBeatsPerBar,
    #[error("jam: the looper is still being set up; try again in a moment")]
    LooperNotReady,
    #[error("jam: there is no saved jam called \"{0}\"; `jam list` shows them")]
    NoSuchJam(String),
    #[error("jam: {0}")]
    Jam(#[from] JamError),
    #[error(transparent)]
    Loop(#[from] LoopControlError),
    #[error(transparent)]
    Song(#[from] SongLineError),
    #[error(transparent)]
    Listen(#[from] ListenError),
}

fn patch_names() -> String {
    let all: Vec<&str> = Patch::ALL.iter().map(|p| p.key()).collect();
    all.join(", ")
}

fn loop_op_names() -> String {
    let names: Vec<&str> = LoopCommand::ALL.iter().map(|c| c.name()).collect();
    names.join(", ")
}

/// Every typed line, read once: about saved jams, about loops, or for the engine and the
/// program. The one parser `samspill headless` uses.
#[derive(Debug)]
pub enum Line {
    Jam(JamLine),
    Song(SongLine),
    Listen(ListenLine),
    Loop(LoopLine),
    Control(ControlLine),
}

impl Line {
    /// The error says what was wrong in plain words.
    pub fn parse(line: &str) -> Result<Line, LineError> {
        if let Some(j) = JamLine::parse(line) {
            return j.map(Line::Jam);
        }
        // Before songs: `play PATH` is for listening, `play` alone plays the song.
        if let Some(l) = ListenLine::parse(line) {
            return l.map(Line::Listen).map_err(LineError::from);
        }
        if let Some(s) = SongLine::parse(line) {
            return s.map(Line::Song).map_err(LineError::from);
        }
        if let Some(l) = LoopLine::parse(line) {
            return l.map(Line::Loop);
        }
        ControlLine::parse(line).map(Line::Control)
    }
}

/// A line for the engine and the program itself, understood.
#[derive(Debug)]
pub enum ControlLine {
    Send(Command),
    Status,
    Reopen {
        rate: Option<u32>,
        buffer: Option<u32>,
    },
    Quit,
    Nothing,
}

pub const CONTROL_HELP: &str = "master DB | instruments DB | patch NAME | gain N DB | pan N -1..1 | mute N on|off | monitor N on|off | note KEY [VELOCITY] | off KEY | panic | rate HZ | buffer FRAMES | status | quit";

/// Every line `samspill headless` takes, for a person who typed one it does not.
pub fn help() -> String {
    format!("{CONTROL_HELP} | {LOOP_HELP} | {JAM_HELP} | {SONG_HELP} | {LISTEN_HELP}")
}

fn number<T: std::str::FromStr>(word: Option<&str>, what: &'static str) -> Result<T, LineError> {
    let w = word.ok_or(LineError::Missing(what))?;
    w.parse().map_err(|_| LineError::NotANumber {
        word: w.to_string(),
        what,
    })
}

/// A number that must be finite: `nan` and `inf` parse as f32 but are refused here.
fn level(word: Option<&str>, what: &'static str) -> Result<f32, LineError> {
    let v: f32 = number(word, what)?;
    Ok(crate::number::finite(what, v)?)
}

fn on_off(word: Option<&str>) -> Result<bool, LineError> {
    match word {
        Some("on" | "yes" | "1") => Ok(true),
        Some("off" | "no" | "0") => Ok(false),
        _ => Err(LineError::OnOrOff),
    }
}

fn input_index(word: Option<&str>) -> Result<u8, LineError> {
    let n: usize = number(word, "the input number")?;
    if (1..=MAX_INPUTS).contains(&n) {
        Ok((n - 1) as u8)
    } else {
        Err(LineError::NoSuchInput)
    }
}

fn key(word: Option<&str>) -> Result<u8, LineError> {
    let k: u8 = number(word, "the key")?;
    if k <= 127 {
        Ok(k)
    } else {
        Err(LineError::NoSuchKey)
    }
}

impl ControlLine {
    /// Reads one control line; the error says what was wrong in plain words.
    pub fn parse(line: &str) -> Result<ControlLine, LineError> {
        let mut words = line.split_whitespace();
        let Some(verb) = words.next() else {
            return Ok(ControlLine::Nothing);
        };
        let a = words.next();
        let b = words.next();
        let cmd = match verb.to_ascii_lowercase().as_str() {
            v if v.starts_with('#') => return Ok(ControlLine::Nothing),
            "quit" | "exit" => return Ok(ControlLine::Quit),
            "status" => return Ok(ControlLine::Status),
            "rate" => {
                return Ok(ControlLine::Reopen {
                    rate: Some(number(a, "the sample rate")?),
                    buffer: None,
                })
            }
            "buffer" => {
                return Ok(ControlLine::Reopen {
                    rate: None,
                    buffer: Some(number(a, "the buffer size")?),
                })
            }
            "master" => Command::MasterGain {
                db: level(a, "the level in dB")?,
            },
            "instruments" => Command::InstrumentGain {
                db: level(a, "the level in dB")?,
            },
            "patch" => {
                let name = a.ok_or(LineError::WhichInstrument)?;
                Command::Patch(
                    Patch::from_key(&name.to_ascii_lowercase())
                        .ok_or(LineError::NoSuchInstrument)?,
                )
            }
            "gain" => Command::InputGain {
                input: input_index(a)?,
                db: level(b, "the level in dB")?,
            },
            "pan" => Command::InputPan {
                input: input_index(a)?,
                pan: level(b, "the pan (-1 left to 1 right)")?,
            },
            "mute" => Command::InputMute {
                input: input_index(a)?,
                muted: on_off(b)?,
            },
            "monitor" => Command::InputMonitor {
                input: input_index(a)?,
                on: on_off(b)?,
            },
            "note" => {
                let velocity = match b {
                    Some(_) => number::<u8>(b, "the velocity")?.clamp(1, 127),
                    None => 100,
                };
                Command::Midi {
                    data: [0x90, key(a)?, velocity],
                    len: 3,
                }
            }
            "off" => Command::Midi {
                data: [0x80, key(a)?, 0],
                len: 3,
            },
            "panic" => Command::AllNotesOff,
            other => return Err(LineError::Unknown(other.to_string())),
        };
        Ok(ControlLine::Send(cmd))
    }
}

/// A saved jam, as a typed line. Each prints one line of result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JamLine {
    /// Copy the loops out of the running engine into a new jam (`None`: named by the time).
    Save(Option<String>),
    /// The saved jams, newest first.
    List,
    /// Replace the loops with a saved jam's, by its folder name as `jam list` shows it.
    Open(String),
}

impl JamLine {
    /// `None` when the line is not about jams.
    pub fn parse(line: &str) -> Option<Result<JamLine, LineError>> {
        let mut words = line.split_whitespace();
        if !words.next()?.eq_ignore_ascii_case("jam") {
            return None;
        }
        let verb = words.next().map(str::to_ascii_lowercase);
        let rest = words.collect::<Vec<_>>().join(" ");
        Some(match verb.as_deref() {
            Some("save") => Ok(JamLine::Save((!rest.is_empty()).then_some(rest))),
            Some("list") if rest.is_empty() => Ok(JamLine::List),
            Some("open") if !rest.is_empty() => Ok(JamLine::Open(rest)),
            Some("open") => Err(LineError::WhichJam),
            _ => Err(LineError::NotAJamLine),
        })
    }

    /// Does it, with the jams in `jams` (the user's jams folder in `samspill headless`).
    /// Saving waits while the audio thread copies the loops out, a piece per block:
    /// it blocks the caller, never the audio. Opening builds the new looper here, off
    /// the audio thread, from `looper` (made larger if the jam needs it).
    pub fn run(
        self,
        control: &LoopControl,
        looper: &LooperConfig,
        jams: &Path,
    ) -> Result<String, LineError> {
        match self {
            JamLine::Save(name) => {
                let saved = save_running_jam_in(control.controller(), jams, name.as_deref())?;
                let folder = folder_name(&saved.dir);
                Ok(with_notes(format!("jam saved: {folder}"), &saved.notes))
            }
            JamLine::List => {
                let all = jams_in(jams);
                if all.is_empty() {
                    return Ok("jams: none saved yet".into());
                }
                let listed: Vec<String> = all
                    .iter()
                    .map(|j| format!("{} ({})", j.folder, local_time_text(j.saved_secs)))
                    .collect();
                Ok(format!("jams: {}", listed.join(", ")))
            }
            JamLine::Open(name) => {
                if control.tracks() == 0 {
                    return Err(LineError::LooperNotReady);
                }
                let dir = find_jam(jams, &name).ok_or(LineError::NoSuchJam(name))?;
                let opened = open_jam(&dir)?;
                let notes = restore_jam(control.controller(), &opened.jam, looper)?;
                let loops = opened.jam.tracks.iter().filter(|t| t.frames() > 0).count();
                let mut said = format!(
                    "jam opened: {} ({loops} {})",
                    folder_name(&opened.dir),
                    if loops == 1 { "loop" } else { "loops" }
                );
                if let Some(m) = &opened.message {
                    said = format!("{said}. {m}");
                }
                Ok(with_notes(said, &notes))
            }
        }
    }
}

fn folder_name(dir: &Path) -> String {
    dir.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// One line: what was done, then what the user should know about it.
fn with_notes(said: String, notes: &[crate::session::jam::JamNote]) -> String {
    if notes.is_empty() {
        return said;
    }
    let notes: Vec<String> = notes.iter().map(ToString::to_string).collect();
    format!("{said}. {}", notes.join(" "))
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LoopLine {
    Do(Action),
    /// Print every track's state.
    Show,
    Tempo {
        bpm: f32,
        beats_per_bar: u32,
    },
    /// What a track (or every track) records from, as `LoopOp::SetSource` takes it.
    Source {
        tracks: TrackSel,
        source: u8,
    },
}

impl LoopLine {
    /// `None` when the line is not about loops (another parser's turn).
    pub fn parse(line: &str) -> Option<Result<LoopLine, LineError>> {
        let mut words = line.split_whitespace();
        let verb = words.next()?.to_ascii_lowercase();
        let (a, b) = (words.next(), words.next());
        Some(match verb.as_str() {
            "loop" if b.is_some_and(|op| op.eq_ignore_ascii_case("source")) => {
                loop_source(a, words.collect::<Vec<_>>().join(" "))
            }
            "loop" => loop_action(a, b).map(LoopLine::Do),
            "loops" => Ok(LoopLine::Show),
            "tap" => Ok(LoopLine::Do(Action::TapTempo)),
            "tempo" => tempo(a, b),
            _ => return None,
        })
    }

    /// Does it; the text is what to tell the person at the terminal.
    pub fn run(self, control: &LoopControl) -> Result<String, LineError> {
        match self {
            LoopLine::Do(Action::TapTempo) => match control.tap()? {
                Some(bpm) => Ok(format!("tempo: {bpm:.1} bpm")),
                None => Ok("tap: keep tapping".into()),
            },
            LoopLine::Do(action) => control
                .perform(action)
                .map(|()| String::new())
                .map_err(LineError::from),
            LoopLine::Source { tracks, source } => control
                .hit_sel(tracks, LoopOp::SetSource(source))
                .map(|()| String::new())
                .map_err(LineError::from),
            LoopLine::Tempo { bpm, beats_per_bar } => control
                .set_tempo(bpm, beats_per_bar)
                .map(|()| format!("tempo: {bpm} bpm, {beats_per_bar} beats a bar"))
                .map_err(LineError::from),
            LoopLine::Show => {
                let lines: Vec<String> = (0..control.tracks())
                    .filter_map(|t| {
                        let r = control.reading(t)?;
                        Some(format!(
                            "loop {}: state={} len={:.2}s pos={:.2}s cycle={:.2}s",
                            t + 1,
                            r.state,
                            r.loop_len_secs,
                            r.loop_pos_secs,
                            r.cycle_len_secs
                        ))
                    })
                    .collect();
                if lines.is_empty() {
                    Ok("loops: the looper is still being set up".into())
                } else {
                    Ok(lines.join("\n"))
                }
            }
        }
    }
}

/// A loop's number as typed (1..8) to a track from 0, or `None` for all of them.
fn track_number(track: &str) -> Result<Option<u8>, LineError> {
    if track.eq_ignore_ascii_case("all") {
        return Ok(None);
    }
    match track.parse::<u8>() {
        Ok(n @ 1..=8) => Ok(Some(n - 1)),
        _ => Err(LineError::NoSuchLoop),
    }
}

/// `loop N|all source inputs|instruments|mix|input K`.
fn loop_source(track: Option<&str>, name: String) -> Result<LoopLine, LineError> {
    let track = track.ok_or(LineError::WhichLoop)?;
    let tracks = match track_number(track)? {
        Some(n) => TrackSel::One(n),
        None => TrackSel::All,
    };
    let source =
        source_from_name(&name).ok_or_else(|| LineError::NoSuchSource(track.to_string()))?;
    Ok(LoopLine::Source { tracks, source })
}

fn loop_action(track: Option<&str>, op: Option<&str>) -> Result<Action, LineError> {
    let track = track.ok_or(LineError::WhichLoop)?;
    let op = op.ok_or_else(|| LineError::WhatShouldLoopDo(track.to_string()))?;
    let op = op.to_ascii_lowercase();
    let number = track_number(track)?;
    let (all, n) = (number.is_none(), number.unwrap_or(0));
    if op == "foot" {
        if all {
            return Err(LineError::FootOnAll);
        }
        return Ok(Action::FootSwitch { track: n });
    }
    let op = LoopCommand::from_name(&op).ok_or(LineError::NoSuchLoopOp)?;
    Ok(if all {
        Action::HitAll { op }
    } else {
        Action::Hit { track: n, op }
    })
}

fn tempo(bpm: Option<&str>, beats: Option<&str>) -> Result<LoopLine, LineError> {
    let bpm: f32 = bpm
        .ok_or(LineError::Missing("the tempo in bpm"))?
        .parse()
        .map_err(|_| LineError::TempoNotANumber)?;
    let bpm = crate::number::finite("the tempo", bpm)?;
    if !(MIN_BPM..=MAX_BPM).contains(&bpm) {
        return Err(LineError::TempoOutOfRange(bpm));
    }
    let beats_per_bar = match beats {
        Some(b) => b
            .parse()
            .ok()
            .filter(|n| (1..=MAX_BEATS_PER_BAR).contains(n))
            .ok_or(LineError::NoSuchBeatsPerBar)?,
        None => 4,
    };
    Ok(LoopLine::Tempo { bpm, beats_per_bar })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(line: &str) -> Command {
        match ControlLine::parse(line) {
            Ok(ControlLine::Send(c)) => c,
            other => panic!("{line}: {other:?}"),
        }
    }

    #[test]
    fn control_lines_read_like_a_therapist_would_type_them() {
        assert!(matches!(cmd("master -6"), Command::MasterGain { db } if db == -6.0));
        assert!(matches!(cmd("patch EPiano"), Command::Patch(Patch::EPiano)));
        assert!(matches!(cmd("gain 1 -3"), Command::InputGain { input: 0, db } if db == -3.0));
        assert!(matches!(
            cmd("mute 2 on"),
            Command::InputMute {
                input: 1,
                muted: true
            }
        ));
        assert!(matches!(
            cmd("note 60 100"),
            Command::Midi {
                data: [0x90, 60, 100],
                len: 3
            }
        ));
        assert!(matches!(
            cmd("note 60"),
            Command::Midi {
                data: [0x90, 60, 100],
                len: 3
            }
        ));
        assert!(matches!(
            cmd("off 60"),
            Command::Midi {
                data: [0x80, 60, 0],
                len: 3
            }
        ));
        assert!(matches!(cmd("panic"), Command::AllNotesOff));
        assert!(matches!(ControlLine::parse("quit"), Ok(ControlLine::Quit)));
        assert!(matches!(ControlLine::parse("  "), Ok(ControlLine::Nothing)));
        assert!(matches!(
            ControlLine::parse("buffer 512"),
            Ok(ControlLine::Reopen {
                rate: None,
                buffer: Some(512)
            })
        ));
        for (bad, says) in [
            ("gain 0 -3", "numbered 1 to"),
            ("note 200", "0 to 127"),
            ("patch kazoo", "piano, epiano"),
            ("mute 1 maybe", "on or off"),
            ("master loud", "not a number"),
            ("dance", "I do not know"),
        ] {
            let e = ControlLine::parse(bad).unwrap_err().to_string();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    fn ok(line: &str) -> LoopLine {
        LoopLine::parse(line).unwrap().unwrap()
    }

    #[test]
    fn loop_lines_count_tracks_from_one() {
        assert_eq!(
            ok("loop 1 record"),
            LoopLine::Do(Action::Hit {
                track: 0,
                op: LoopCommand::Record
            })
        );
        assert_eq!(
            ok("LOOP all Undo"),
            LoopLine::Do(Action::HitAll {
                op: LoopCommand::Undo
            })
        );
        assert_eq!(
            ok("loop 2 foot"),
            LoopLine::Do(Action::FootSwitch { track: 1 })
        );
        assert_eq!(ok("tap"), LoopLine::Do(Action::TapTempo));
        assert_eq!(
            ok("tempo 96 3"),
            LoopLine::Tempo {
                bpm: 96.0,
                beats_per_bar: 3
            }
        );
        assert!(LoopLine::parse("master -6").is_none(), "not ours");
        for (bad, says) in [
            ("loop 0 record", "numbered 1 to 8"),
            ("loop 1 dance", "a loop can record"),
            ("loop 1", "what should loop 1 do"),
            ("loop all foot", "one loop at a time"),
            ("tempo fast", "beats a minute"),
            ("tempo 120 0", "1 to 16"),
            ("tempo 300", "40 to 240 bpm, not 300"),
        ] {
            let e = LoopLine::parse(bad).unwrap().unwrap_err().to_string();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn jam_lines_save_list_and_open_by_the_listed_name() {
        let jam = |line: &str| JamLine::parse(line).unwrap().map_err(|e| e.to_string());
        assert_eq!(jam("jam save"), Ok(JamLine::Save(None)));
        assert_eq!(
            jam("JAM Save Tirsdag med Åse"),
            Ok(JamLine::Save(Some("Tirsdag med Åse".into())))
        );
        assert_eq!(jam("jam list"), Ok(JamLine::List));
        assert_eq!(
            jam("jam open tirsdag-2"),
            Ok(JamLine::Open("tirsdag-2".into()))
        );
        assert!(jam("jam open").unwrap_err().contains("jam list"));
        assert!(jam("jam").unwrap_err().contains(JAM_HELP));
        assert!(jam("jam dance").unwrap_err().contains(JAM_HELP));
        assert!(JamLine::parse("jammy").is_none());
        assert!(JamLine::parse("loop 1 record").is_none());
    }

    #[test]
    fn a_jam_cannot_be_opened_before_the_looper_is_ready_or_from_outside_its_folder() {
        use crate::{new_engine, EngineConfig};
        let (c, _engine) = new_engine(&EngineConfig::default());
        let control = LoopControl::new(c.clone());
        let tmp = tempfile::tempdir().unwrap();
        let config = LooperConfig::default();
        let e = JamLine::Open("x".into())
            .run(&control, &config, tmp.path())
            .unwrap_err();
        assert!(matches!(e, LineError::LooperNotReady), "{e}");
        assert!(e.to_string().contains("still being set up"), "{e}");
        c.shared()
            .loop_tracks
            .store(2, std::sync::atomic::Ordering::Relaxed);
        let e = JamLine::Open("../../etc".into())
            .run(&control, &config, tmp.path())
            .unwrap_err();
        assert!(e.to_string().contains("no saved jam called"), "{e}");
        assert_eq!(
            JamLine::List.run(&control, &config, tmp.path()).unwrap(),
            "jams: none saved yet"
        );
    }

    #[test]
    fn a_loop_line_chooses_what_the_track_records_from() {
        use crate::engine::looper::{
            SOURCE_INPUTS, SOURCE_INPUT_BASE, SOURCE_INSTRUMENTS, SOURCE_MIX,
        };
        let one = |n, source| LoopLine::Source {
            tracks: TrackSel::One(n),
            source,
        };
        assert_eq!(ok("loop 1 source inputs"), one(0, SOURCE_INPUTS));
        assert_eq!(ok("loop 2 SOURCE instruments"), one(1, SOURCE_INSTRUMENTS));
        assert_eq!(ok("loop 1 source mix"), one(0, SOURCE_MIX));
        assert_eq!(ok("loop 3 source input 2"), one(2, SOURCE_INPUT_BASE + 1));
        assert_eq!(
            ok("loop all source mix"),
            LoopLine::Source {
                tracks: TrackSel::All,
                source: SOURCE_MIX
            }
        );
        for (bad, says) in [
            ("loop 1 source", "inputs, instruments, mix or input N"),
            (
                "loop 1 source guitar",
                "inputs, instruments, mix or input N",
            ),
            ("loop 1 source input 0", "input N"),
            ("loop 1 source input", "input N"),
            ("loop 9 source mix", "numbered 1 to 8"),
        ] {
            let e = LoopLine::parse(bad).unwrap().unwrap_err().to_string();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn a_source_line_reaches_the_track_through_the_one_command_layer() {
        use crate::engine::looper::{SOURCE_INPUT_BASE, SOURCE_INSTRUMENTS};
        use crate::{new_engine, EngineConfig};
        use std::sync::atomic::Ordering::Relaxed;
        let (c, _engine) = new_engine(&EngineConfig::default());
        let control = LoopControl::new(c.clone());
        c.shared().loop_tracks.store(2, Relaxed);
        assert_eq!(ok("loop 2 source input 2").run(&control).unwrap(), "");
        assert_eq!(control.source(1), Some(SOURCE_INPUT_BASE + 1));
        ok("loop all source instruments").run(&control).unwrap();
        assert_eq!(control.source(0), Some(SOURCE_INSTRUMENTS));
        assert_eq!(control.source(1), Some(SOURCE_INSTRUMENTS));
        let e = ok("loop 3 source mix").run(&control).unwrap_err();
        assert!(e.to_string().contains("no loop track 3"), "{e}");
    }
}
