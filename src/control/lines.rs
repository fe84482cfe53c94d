//! Loop control as typed lines (`samspill headless` reads them on stdin):
//! `loop 1 record`, `loop all undo`, `loop 2 foot`, `loops`, `tempo 96 3`, `tap`.
//! Tracks are numbered from 1 here, as a person counts them.

use super::ops::{Action, LoopCommand, LoopControl};

pub const LOOP_HELP: &str =
    "loop N|all OP (record, overdub, multiply, undo, redo, clear, mute, ... or foot) | loops | tempo BPM [BEATS] | tap";

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LoopLine {
    Do(Action),
    /// Print every track's state.
    Show,
    Tempo {
        bpm: f32,
        beats_per_bar: u32,
    },
}

impl LoopLine {
    /// `None` when the line is not about loops (another parser's turn).
    pub fn parse(line: &str) -> Option<Result<LoopLine, String>> {
        let mut words = line.split_whitespace();
        let verb = words.next()?.to_ascii_lowercase();
        let (a, b) = (words.next(), words.next());
        Some(match verb.as_str() {
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

fn loop_action(track: Option<&str>, op: Option<&str>) -> Result<Action, String> {
    let track = track.ok_or("which loop? (1, 2, ... or all)")?;
    let op = op.ok_or_else(|| format!("what should loop {track} do? Try: {LOOP_HELP}"))?;
    let op = op.to_ascii_lowercase();
    let all = track.eq_ignore_ascii_case("all");
    let n = if all {
        0
    } else {
        match track.parse::<u8>() {
            Ok(n @ 1..=8) => n - 1,
            _ => return Err("loops are numbered 1 to 8, or all".into()),
        }
    };
    if op == "foot" {
        if all {
            return Err("the foot switch works on one loop at a time".into());
        }
        return Ok(Action::FootSwitch { track: n });
    }
    let op = LoopCommand::from_name(&op).ok_or_else(|| {
        let names: Vec<&str> = LoopCommand::ALL.iter().map(|c| c.name()).collect();
        format!("a loop can {} or foot", names.join(", "))
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
    if !(20.0..=400.0).contains(&bpm) {
        return Err("the tempo is 20 to 400 bpm".into());
    }
    let beats_per_bar = match beats {
        Some(b) => b
            .parse()
            .ok()
            .filter(|n| (1..=32).contains(n))
            .ok_or("beats a bar are 1 to 32")?,
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
            ("tempo 120 0", "1 to 32"),
        ] {
            let e = LoopLine::parse(bad).unwrap().unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }
}
