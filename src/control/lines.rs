//! Loop control as typed lines (`samspill headless` reads them on stdin):
//! `loop 1 record`, `loop all undo`, `loop 2 foot`, `loop 1 source input 2`, `loops`,
//! `tempo 96 3`, `tap`, and saved jams: `jam save Tuesday`, `jam list`, `jam open Tuesday`.
//! Tracks are numbered from 1 here, as a person counts them.

use std::path::Path;

use super::ops::{source_from_name, Action, LoopCommand, LoopControl, TrackSel, SOURCE_FORMS};
use crate::controller::LooperConfig;
use crate::engine::looper::sync::{MAX_BEATS_PER_BAR, MAX_BPM, MIN_BPM};
use crate::engine::looper::LoopOp;
use crate::session::jam::{
    find_jam, jams_in, local_time_text, open_jam, restore_jam, save_running_jam_in,
};

pub const LOOP_HELP: &str =
    "loop N|all OP (record, overdub, multiply, undo, redo, clear, mute, ... or foot) | loop N|all source inputs|instruments|mix|input K | loops | tempo BPM [BEATS] | tap";

pub const JAM_HELP: &str = "jam save [NAME] | jam list | jam open NAME";

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
    pub fn parse(line: &str) -> Option<Result<JamLine, String>> {
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
            Some("open") => Err("which jam? `jam list` shows their names".into()),
            _ => Err(format!("a jam line is {JAM_HELP}")),
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
    ) -> Result<String, String> {
        match self {
            JamLine::Save(name) => {
                let saved = save_running_jam_in(control.controller(), jams, name.as_deref())
                    .map_err(|e| format!("jam: {e}"))?;
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
                    return Err(
                        "jam: the looper is still being set up; try again in a moment".into(),
                    );
                }
                let dir = find_jam(jams, &name).ok_or_else(|| {
                    format!("jam: there is no saved jam called \"{name}\"; `jam list` shows them")
                })?;
                let opened = open_jam(&dir).map_err(|e| format!("jam: {e}"))?;
                let notes = restore_jam(control.controller(), &opened.jam, looper)
                    .map_err(|e| format!("jam: {e}"))?;
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
    pub fn parse(line: &str) -> Option<Result<LoopLine, String>> {
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
    pub fn run(self, control: &LoopControl) -> Result<String, String> {
        match self {
            LoopLine::Do(Action::TapTempo) => match control.tap().map_err(|e| e.to_string())? {
                Some(bpm) => Ok(format!("tempo: {bpm:.1} bpm")),
                None => Ok("tap: keep tapping".into()),
            },
            LoopLine::Do(action) => control
                .perform(action)
                .map(|()| String::new())
                .map_err(|e| e.to_string()),
            LoopLine::Source { tracks, source } => control
                .hit_sel(tracks, LoopOp::SetSource(source))
                .map(|()| String::new())
                .map_err(|e| e.to_string()),
            LoopLine::Tempo { bpm, beats_per_bar } => control
                .set_tempo(bpm, beats_per_bar)
                .map(|()| format!("tempo: {bpm} bpm, {beats_per_bar} beats a bar"))
                .map_err(|e| e.to_string()),
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
fn track_number(track: &str) -> Result<Option<u8>, String> {
    if track.eq_ignore_ascii_case("all") {
        return Ok(None);
    }
    match track.parse::<u8>() {
        Ok(n @ 1..=8) => Ok(Some(n - 1)),
        _ => Err("loops are numbered 1 to 8, or all".into()),
    }
}

/// `loop N|all source inputs|instruments|mix|input K`.
fn loop_source(track: Option<&str>, name: String) -> Result<LoopLine, String> {
    let track = track.ok_or("which loop? (1, 2, ... or all)")?;
    let tracks = match track_number(track)? {
        Some(n) => TrackSel::One(n),
        None => TrackSel::All,
    };
    let source = source_from_name(&name)
        .ok_or_else(|| format!("loop {track} can record from {SOURCE_FORMS}"))?;
    Ok(LoopLine::Source { tracks, source })
}

fn loop_action(track: Option<&str>, op: Option<&str>) -> Result<Action, String> {
    let track = track.ok_or("which loop? (1, 2, ... or all)")?;
    let op = op.ok_or_else(|| format!("what should loop {track} do? Try: {LOOP_HELP}"))?;
    let op = op.to_ascii_lowercase();
    let number = track_number(track)?;
    let (all, n) = (number.is_none(), number.unwrap_or(0));
    if op == "foot" {
        if all {
            return Err("the foot switch works on one loop at a time".into());
        }
        return Ok(Action::FootSwitch { track: n });
    }
    let op = LoopCommand::from_name(&op).ok_or_else(|| {
        let names: Vec<&str> = LoopCommand::ALL.iter().map(|c| c.name()).collect();
        format!("a loop can {}, foot or source", names.join(", "))
    })?;
    Ok(if all {
        Action::HitAll { op }
    } else {
        Action::Hit { track: n, op }
    })
}

fn tempo(bpm: Option<&str>, beats: Option<&str>) -> Result<LoopLine, String> {
    let bpm: f32 = bpm
        .ok_or("tempo in bpm is missing")?
        .parse()
        .map_err(|_| "the tempo is a number of beats a minute".to_string())?;
    let bpm = crate::number::finite("the tempo", bpm).map_err(|e| e.to_string())?;
    if !(MIN_BPM..=MAX_BPM).contains(&bpm) {
        return Err(format!(
            "the tempo is {MIN_BPM} to {MAX_BPM} bpm, not {bpm}"
        ));
    }
    let beats_per_bar = match beats {
        Some(b) => b
            .parse()
            .ok()
            .filter(|n| (1..=MAX_BEATS_PER_BAR).contains(n))
            .ok_or(format!("beats a bar are 1 to {MAX_BEATS_PER_BAR}"))?,
        None => 4,
    };
    Ok(LoopLine::Tempo { bpm, beats_per_bar })
}

#[cfg(test)]
mod tests {
    use super::*;

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
            let e = LoopLine::parse(bad).unwrap().unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn jam_lines_save_list_and_open_by_the_listed_name() {
        let jam = |line: &str| JamLine::parse(line).unwrap();
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
        assert!(e.contains("still being set up"), "{e}");
        c.shared()
            .loop_tracks
            .store(2, std::sync::atomic::Ordering::Relaxed);
        let e = JamLine::Open("../../etc".into())
            .run(&control, &config, tmp.path())
            .unwrap_err();
        assert!(e.contains("no saved jam called"), "{e}");
        assert_eq!(
            JamLine::List.run(&control, &config, tmp.path()),
            Ok("jams: none saved yet".into())
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
            let e = LoopLine::parse(bad).unwrap().unwrap_err();
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
        assert_eq!(ok("loop 2 source input 2").run(&control), Ok(String::new()));
        assert_eq!(control.source(1), Some(SOURCE_INPUT_BASE + 1));
        ok("loop all source instruments").run(&control).unwrap();
        assert_eq!(control.source(0), Some(SOURCE_INSTRUMENTS));
        assert_eq!(control.source(1), Some(SOURCE_INSTRUMENTS));
        let e = ok("loop 3 source mix").run(&control).unwrap_err();
        assert!(e.contains("no loop track 3"), "{e}");
    }
}
