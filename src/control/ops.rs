//! The loop commands every control surface shares: hit an op on a track, the single
//! foot-switch cycle, sync and tempo (also tapped), and a track's state read back.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use super::tap::TapTempo;
use crate::controller::{ControlError, Controller};
use crate::engine::looper::sync::{MAX_BEATS_PER_BAR, MAX_BPM, MIN_BPM};
use crate::engine::looper::{
    LoopOp, Quantize, SyncMode, MAX_TRACKS, SOURCE_INPUTS, SOURCE_INPUT_BASE, SOURCE_INSTRUMENTS,
    SOURCE_MIX,
};
use crate::engine::{Command, MAX_INPUTS};
use crate::number::finite;

/// SooperLooper's state numbers, as `Shared::loops[i].state` holds them.
pub use crate::engine::looper::state;

/// A loop op with a name, for keyboard maps, MIDI maps, OSC and stdin. Names follow
/// SooperLooper's where it has the same op.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoopCommand {
    Record,
    Overdub,
    Multiply,
    Insert,
    Replace,
    Substitute,
    Undo,
    Redo,
    Clear,
    Mute,
    Solo,
    Reverse,
    #[serde(rename = "oneshot")]
    OneShot,
    Trigger,
    Pause,
    HalfSpeed,
    NormalSpeed,
    DoubleSpeed,
}

impl LoopCommand {
    pub const ALL: [LoopCommand; 18] = [
        LoopCommand::Record,
        LoopCommand::Overdub,
        LoopCommand::Multiply,
        LoopCommand::Insert,
        LoopCommand::Replace,
        LoopCommand::Substitute,
        LoopCommand::Undo,
        LoopCommand::Redo,
        LoopCommand::Clear,
        LoopCommand::Mute,
        LoopCommand::Solo,
        LoopCommand::Reverse,
        LoopCommand::OneShot,
        LoopCommand::Trigger,
        LoopCommand::Pause,
        LoopCommand::HalfSpeed,
        LoopCommand::NormalSpeed,
        LoopCommand::DoubleSpeed,
    ];

    pub fn op(self) -> LoopOp {
        match self {
            LoopCommand::Record => LoopOp::Record,
            LoopCommand::Overdub => LoopOp::Overdub,
            LoopCommand::Multiply => LoopOp::Multiply,
            LoopCommand::Insert => LoopOp::Insert,
            LoopCommand::Replace => LoopOp::Replace,
            LoopCommand::Substitute => LoopOp::Substitute,
            LoopCommand::Undo => LoopOp::Undo,
            LoopCommand::Redo => LoopOp::Redo,
            LoopCommand::Clear => LoopOp::Clear,
            LoopCommand::Mute => LoopOp::Mute,
            LoopCommand::Solo => LoopOp::Solo,
            LoopCommand::Reverse => LoopOp::Reverse,
            LoopCommand::OneShot => LoopOp::OneShot,
            LoopCommand::Trigger => LoopOp::Trigger,
            LoopCommand::Pause => LoopOp::Pause,
            LoopCommand::HalfSpeed => LoopOp::HalfSpeed,
            LoopCommand::NormalSpeed => LoopOp::NormalSpeed,
            LoopCommand::DoubleSpeed => LoopOp::DoubleSpeed,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            LoopCommand::Record => "record",
            LoopCommand::Overdub => "overdub",
            LoopCommand::Multiply => "multiply",
            LoopCommand::Insert => "insert",
            LoopCommand::Replace => "replace",
            LoopCommand::Substitute => "substitute",
            LoopCommand::Undo => "undo",
            LoopCommand::Redo => "redo",
            LoopCommand::Clear => "clear",
            LoopCommand::Mute => "mute",
            LoopCommand::Solo => "solo",
            LoopCommand::Reverse => "reverse",
            LoopCommand::OneShot => "oneshot",
            LoopCommand::Trigger => "trigger",
            LoopCommand::Pause => "pause",
            LoopCommand::HalfSpeed => "half_speed",
            LoopCommand::NormalSpeed => "normal_speed",
            LoopCommand::DoubleSpeed => "double_speed",
        }
    }

    pub fn from_name(name: &str) -> Option<LoopCommand> {
        LoopCommand::ALL.into_iter().find(|c| c.name() == name)
    }
}

/// One track or all of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrackSel {
    One(u8),
    All,
}

impl TrackSel {
    /// Does this selection take in `track` (from 0)?
    pub fn includes(self, track: usize) -> bool {
        match self {
            TrackSel::One(t) => usize::from(t) == track,
            TrackSel::All => true,
        }
    }
}

/// What a key, a MIDI note or CC, or a button does. Tracks count from 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "do", rename_all = "snake_case")]
pub enum Action {
    Hit {
        track: u8,
        op: LoopCommand,
    },
    HitAll {
        op: LoopCommand,
    },
    /// Record → play → overdub → play on one switch.
    FootSwitch {
        track: u8,
    },
    TapTempo,
}

#[derive(Debug, thiserror::Error)]
pub enum LoopControlError {
    #[error("The looper is still being set up; try again in a moment.")]
    NoLooper,
    #[error("There is no loop track {shown}; the looper has {tracks}.", shown = .track + 1)]
    NoSuchTrack { track: usize, tracks: usize },
    #[error(transparent)]
    NotFinite(#[from] crate::number::NotFinite),
    #[error(transparent)]
    Engine(#[from] ControlError),
}

/// A track as the engine last published it, in SooperLooper's terms.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LoopReading {
    /// SooperLooper's state number (see [`state`]).
    pub state: u32,
    pub loop_len_secs: f32,
    pub loop_pos_secs: f32,
    pub cycle_len_secs: f32,
    /// Peak of what the track played in the engine's last block, linear.
    pub out_peak: f32,
}

/// Which op the single foot switch sends for a track in `state`: record → play →
/// overdub → play, and a second press ends whatever the track is doing.
pub fn foot_switch_op(state: u32) -> LoopOp {
    match state {
        // Off starts a loop; a second press stops it (or cancels a wait).
        state::OFF | state::WAIT_START | state::RECORDING | state::WAIT_STOP => LoopOp::Record,
        state::MULTIPLYING => LoopOp::Multiply,
        state::INSERTING => LoopOp::Insert,
        state::REPLACING => LoopOp::Replace,
        state::SUBSTITUTE => LoopOp::Substitute,
        state::MUTED => LoopOp::Mute,
        state::PAUSED => LoopOp::Pause,
        // Playing (or playing once) starts an overdub; overdubbing ends it.
        _ => LoopOp::Overdub,
    }
}

/// The ways a track's source is written in scripts and typed lines.
pub const SOURCE_FORMS: &str = "inputs, instruments, mix or input N";

/// A track's source from its written name: `inputs` (every live input), `instruments`,
/// `mix` (everything heard before the loops) or `input N` (input strip N alone, from 1).
/// `None` for anything else, and for an input past the most an engine can have.
pub fn source_from_name(name: &str) -> Option<u8> {
    let mut words = name.split_whitespace().map(str::to_ascii_lowercase);
    let source = match (words.next()?.as_str(), words.next()) {
        ("inputs", None) => SOURCE_INPUTS,
        ("instruments", None) => SOURCE_INSTRUMENTS,
        ("mix", None) => SOURCE_MIX,
        ("input", Some(n)) => match n.parse::<usize>() {
            Ok(n @ 1..=MAX_INPUTS) => SOURCE_INPUT_BASE + (n - 1) as u8,
            _ => return None,
        },
        _ => return None,
    };
    words.next().is_none().then_some(source)
}

/// What the engine cannot tell us back: values set here, remembered for OSC `get`.
struct Remembered {
    feedback: [f32; MAX_TRACKS],
    volume: [f32; MAX_TRACKS],
    pan: [f32; MAX_TRACKS],
    /// What each track records from (the engine does not publish it).
    source: [u8; MAX_TRACKS],
    /// BPM and beats per bar, once a tempo was set.
    tempo: Option<(f32, u32)>,
    /// What sets the loops' cycle, as last set here (the looper starts on the first loop).
    sync: SyncMode,
    tap: TapTempo,
    /// The loop SooperLooper's "selected loop" (index -3) means; `All` as its -1 does.
    selected: TrackSel,
}

/// The one handle every control surface uses on the looper. Cheap to clone.
#[derive(Clone)]
pub struct LoopControl {
    controller: Controller,
    remembered: Arc<Mutex<Remembered>>,
    started: Instant,
}

impl LoopControl {
    pub fn new(controller: Controller) -> Self {
        Self {
            controller,
            remembered: Arc::new(Mutex::new(Remembered {
                // The looper's own starting values.
                feedback: [1.0; MAX_TRACKS],
                volume: [1.0; MAX_TRACKS],
                pan: [0.0; MAX_TRACKS],
                source: [SOURCE_INPUTS; MAX_TRACKS],
                tempo: None,
                sync: SyncMode::FirstLoop,
                tap: TapTempo::new(),
                selected: TrackSel::One(0),
            })),
            started: Instant::now(),
        }
    }

    pub fn controller(&self) -> &Controller {
        &self.controller
    }

    fn remembered(&self) -> MutexGuard<'_, Remembered> {
        // A panic elsewhere must not lock the looper out.
        self.remembered.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Loop tracks the engine has (0 until the looper's memory is ready).
    pub fn tracks(&self) -> usize {
        (self.controller.shared().loop_tracks.load(Relaxed) as usize).min(MAX_TRACKS)
    }

    fn check(&self, track: usize) -> Result<(), LoopControlError> {
        match self.tracks() {
            0 => Err(LoopControlError::NoLooper),
            n if track >= n => Err(LoopControlError::NoSuchTrack { track, tracks: n }),
            _ => Ok(()),
        }
    }

    /// Sends `op` to `track` (from 0).
    pub fn hit(&self, track: usize, op: LoopOp) -> Result<(), LoopControlError> {
        self.check(track)?;
        match op {
            LoopOp::SetFeedback(v) => finite("the feedback", v).map(drop)?,
            LoopOp::SetVolume(v) => finite("the loop's volume", v).map(drop)?,
            LoopOp::SetPan(v) => finite("the loop's pan", v).map(drop)?,
            _ => {}
        }
        if let Some(i) = (track < MAX_TRACKS).then_some(track) {
            let mut r = self.remembered();
            match op {
                LoopOp::SetFeedback(v) => r.feedback[i] = v.clamp(0.0, 1.0),
                LoopOp::SetVolume(v) => r.volume[i] = v.clamp(0.0, 4.0),
                LoopOp::SetPan(v) => r.pan[i] = v.clamp(-1.0, 1.0),
                LoopOp::SetSource(s) => r.source[i] = s,
                _ => {}
            }
        }
        self.controller.send(Command::Loop {
            track: track as u8,
            op,
        })?;
        Ok(())
    }

    /// Sends `op` to one track or to every track.
    pub fn hit_sel(&self, sel: TrackSel, op: LoopOp) -> Result<(), LoopControlError> {
        match sel {
            TrackSel::One(t) => self.hit(t as usize, op),
            TrackSel::All => {
                if self.tracks() == 0 {
                    return Err(LoopControlError::NoLooper);
                }
                (0..self.tracks()).try_for_each(|t| self.hit(t, op))
            }
        }
    }

    /// The foot switch: looks at the track's state and sends the op that moves it on.
    /// Returns the op sent.
    pub fn foot_switch(&self, track: usize) -> Result<LoopOp, LoopControlError> {
        self.check(track)?;
        let now = self.controller.shared().loops[track].state.load(Relaxed);
        let op = foot_switch_op(now);
        self.hit(track, op)?;
        Ok(op)
    }

    pub fn set_sync(&self, mode: SyncMode) -> Result<(), LoopControlError> {
        if let SyncMode::Tempo { bpm, beats_per_bar } = mode {
            finite("the tempo", bpm)?;
            self.remembered().tempo = Some((bpm, beats_per_bar));
        }
        self.controller.send(Command::LoopSync(mode))?;
        self.remembered().sync = mode.within_range();
        Ok(())
    }

    pub fn set_quantize(&self, q: Quantize) -> Result<(), LoopControlError> {
        self.controller.send(Command::LoopQuantize(q))?;
        Ok(())
    }

    /// Loops follow a tempo: one bar is one cycle. Clamped to what the grid accepts.
    pub fn set_tempo(&self, bpm: f32, beats_per_bar: u32) -> Result<(), LoopControlError> {
        let bpm = finite("the tempo", bpm)?.clamp(MIN_BPM, MAX_BPM);
        self.set_sync(SyncMode::Tempo {
            bpm,
            beats_per_bar: beats_per_bar.clamp(1, MAX_BEATS_PER_BAR),
        })
    }

    /// What sets the loops' cycle, as last set through this handle.
    pub fn sync(&self) -> SyncMode {
        self.remembered().sync
    }

    /// BPM and beats per bar, if a tempo was set here.
    pub fn tempo(&self) -> Option<(f32, u32)> {
        self.remembered().tempo
    }

    /// A tap now; from the second tap on the tempo follows (keeping the meter).
    pub fn tap(&self) -> Result<Option<f32>, LoopControlError> {
        let secs = self.started.elapsed().as_secs_f64();
        let (bpm, meter) = {
            let mut r = self.remembered();
            (r.tap.tap(secs), r.tempo.map_or(4, |(_, m)| m))
        };
        if let Some(b) = bpm {
            self.set_tempo(b, meter)?;
        }
        Ok(bpm)
    }

    /// Feedback, volume (linear) and pan of `track` as last set through here.
    pub fn feedback(&self, track: usize) -> Option<f32> {
        self.remembered().feedback.get(track).copied()
    }
    pub fn volume(&self, track: usize) -> Option<f32> {
        self.remembered().volume.get(track).copied()
    }
    pub fn pan(&self, track: usize) -> Option<f32> {
        self.remembered().pan.get(track).copied()
    }

    /// `track` records from `source` from now on (see [`source_from_name`]).
    pub fn set_source(&self, track: usize, source: u8) -> Result<(), LoopControlError> {
        self.hit(track, LoopOp::SetSource(source))
    }

    /// What `track` records from, as last set through here (every live input until then:
    /// the engine does not publish it).
    pub fn source(&self, track: usize) -> Option<u8> {
        self.remembered().source.get(track).copied()
    }

    /// The selected loop, shared by every surface holding this handle (track 0 at first).
    pub fn selected(&self) -> TrackSel {
        self.remembered().selected
    }

    /// Selects a loop; one the looper does not have (yet) is refused.
    pub fn select(&self, sel: TrackSel) -> Result<(), LoopControlError> {
        if let TrackSel::One(t) = sel {
            self.check(t as usize)?;
        }
        self.remembered().selected = sel;
        Ok(())
    }

    /// The track as the engine last published it; `None` for a track that does not exist.
    pub fn reading(&self, track: usize) -> Option<LoopReading> {
        if track >= self.tracks() {
            return None;
        }
        let shared = self.controller.shared();
        let m = &shared.loops[track];
        let rate = shared.sample_rate.load(Relaxed).max(1) as f32;
        Some(LoopReading {
            state: m.state.load(Relaxed),
            loop_len_secs: m.loop_frames.load(Relaxed) as f32 / rate,
            loop_pos_secs: m.pos_frames.load(Relaxed) as f32 / rate,
            cycle_len_secs: m.cycle_frames.load(Relaxed) as f32 / rate,
            out_peak: m.level.peak.load(),
        })
    }

    /// Does what a mapped key, note or button asks.
    pub fn perform(&self, action: Action) -> Result<(), LoopControlError> {
        match action {
            Action::Hit { track, op } => self.hit(track as usize, op.op()),
            Action::HitAll { op } => self.hit_sel(TrackSel::All, op.op()),
            Action::FootSwitch { track } => self.foot_switch(track as usize).map(|_| ()),
            Action::TapTempo => self.tap().map(|_| ()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{new_engine, EngineConfig};

    #[test]
    fn one_foot_switch_records_plays_overdubs_and_plays() {
        // Record a take, close it, overdub, close the overdub: the switch's whole life.
        let steps = [
            (state::OFF, LoopOp::Record),
            (state::RECORDING, LoopOp::Record),
            (state::PLAYING, LoopOp::Overdub),
            (state::OVERDUBBING, LoopOp::Overdub),
        ];
        for (now, op) in steps {
            assert_eq!(foot_switch_op(now), op, "state {now}");
        }
        // A second press cancels a wait, and ends whatever else the track is doing.
        assert_eq!(foot_switch_op(state::WAIT_START), LoopOp::Record);
        assert_eq!(foot_switch_op(state::WAIT_STOP), LoopOp::Record);
        assert_eq!(foot_switch_op(state::MULTIPLYING), LoopOp::Multiply);
        assert_eq!(foot_switch_op(state::MUTED), LoopOp::Mute);
        assert_eq!(foot_switch_op(state::PAUSED), LoopOp::Pause);
        assert_eq!(foot_switch_op(state::ONESHOT), LoopOp::Overdub);
    }

    #[test]
    fn command_names_round_trip_and_follow_sooperlooper() {
        for c in LoopCommand::ALL {
            assert_eq!(LoopCommand::from_name(c.name()), Some(c));
        }
        assert_eq!(
            LoopCommand::from_name("oneshot"),
            Some(LoopCommand::OneShot)
        );
        assert_eq!(LoopCommand::from_name("dance"), None);
    }

    #[test]
    fn the_foot_switch_reads_the_track_and_sends_the_next_op() {
        let (c, _engine) = new_engine(&EngineConfig::default());
        let lc = LoopControl::new(c.clone());
        assert!(matches!(lc.foot_switch(0), Err(LoopControlError::NoLooper)));
        c.shared().loop_tracks.store(2, Relaxed);
        assert!(matches!(
            lc.foot_switch(2),
            Err(LoopControlError::NoSuchTrack {
                track: 2,
                tracks: 2
            })
        ));
        assert_eq!(lc.foot_switch(1).unwrap(), LoopOp::Record);
        c.shared().loops[1].state.store(state::RECORDING, Relaxed);
        assert_eq!(lc.foot_switch(1).unwrap(), LoopOp::Record);
        c.shared().loops[1].state.store(state::PLAYING, Relaxed);
        assert_eq!(lc.foot_switch(1).unwrap(), LoopOp::Overdub);
    }

    #[test]
    fn readings_are_in_seconds_and_set_values_are_remembered() {
        let (c, _engine) = new_engine(&EngineConfig::default());
        let lc = LoopControl::new(c.clone());
        let s = c.shared();
        s.loop_tracks.store(1, Relaxed);
        s.sample_rate.store(48_000, Relaxed);
        s.loops[0].state.store(state::PLAYING, Relaxed);
        s.loops[0].loop_frames.store(96_000, Relaxed);
        s.loops[0].pos_frames.store(24_000, Relaxed);
        s.loops[0].cycle_frames.store(48_000, Relaxed);
        s.loops[0].level.peak.store(0.25);
        let r = lc.reading(0).unwrap();
        assert_eq!((r.state, r.loop_len_secs), (4, 2.0));
        assert_eq!(r.out_peak, 0.25);
        assert_eq!((r.loop_pos_secs, r.cycle_len_secs), (0.5, 1.0));
        assert_eq!(lc.reading(1), None);
        lc.hit(0, LoopOp::SetFeedback(0.5)).unwrap();
        assert_eq!(lc.feedback(0), Some(0.5));
        lc.set_tempo(90.0, 3).unwrap();
        assert_eq!(lc.tempo(), Some((90.0, 3)));
    }

    #[test]
    fn sources_are_named_as_scripts_and_lines_write_them_and_remembered() {
        assert_eq!(source_from_name("inputs"), Some(SOURCE_INPUTS));
        assert_eq!(source_from_name("Instruments"), Some(SOURCE_INSTRUMENTS));
        assert_eq!(source_from_name("mix"), Some(SOURCE_MIX));
        assert_eq!(source_from_name("input 2"), Some(SOURCE_INPUT_BASE + 1));
        assert_eq!(source_from_name(" input   1 "), Some(SOURCE_INPUT_BASE));
        for bad in [
            "",
            "input",
            "input 0",
            "input 9",
            "input two",
            "mix 2",
            "guitar",
        ] {
            assert_eq!(source_from_name(bad), None, "{bad:?}");
        }
        let (c, _engine) = new_engine(&EngineConfig::default());
        let lc = LoopControl::new(c.clone());
        c.shared().loop_tracks.store(2, Relaxed);
        assert_eq!(lc.source(1), Some(SOURCE_INPUTS), "every input at first");
        lc.set_source(1, SOURCE_MIX).unwrap();
        assert_eq!((lc.source(0), lc.source(1)), (Some(0), Some(SOURCE_MIX)));
        assert!(lc.set_source(2, SOURCE_MIX).is_err(), "no track 3");
    }

    #[test]
    fn a_selection_takes_in_its_own_track_or_every_track() {
        assert!(TrackSel::One(1).includes(1));
        assert!(!TrackSel::One(1).includes(0));
        assert!(!TrackSel::One(0).includes(256), "no wrap-around");
        assert!(TrackSel::All.includes(0) && TrackSel::All.includes(7));
    }
}
