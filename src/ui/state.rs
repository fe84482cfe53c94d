//! The panel's state, apart from drawing: what is shown ([`PanelState`]) and what a
//! press asks for ([`Action`]). Views read it and return actions; only `Panel::act`
//! changes anything. Views import this, never the panel or each other's state.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering::Relaxed;

use super::audio::AudioStatus;
use super::i18n::Text;
use super::meter::PeakHold;
use crate::control::midi_learn::Mapping;
use crate::control::ops::{LoopCommand, TrackSel};
use crate::control::tap::TapTempo;
use crate::control::Action as ControlAction;
use crate::controller::Snapshot;
use crate::engine::looper::LoopOp;
use crate::engine::{Level, Patch, Shared};
use crate::session::jam::{JamListing, JamNote, OpenTrouble};
use crate::session::settings::{AudioHost, AudioSettings, Language, LoopSettings, Settings};

pub const MASTER_MIN_DB: f32 = -60.0;
pub const MASTER_MAX_DB: f32 = 6.0;
/// What one press on "Quieter"/"Louder" changes.
pub const MASTER_STEP_DB: f32 = 3.0;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum View {
    #[default]
    Play,
    Jam,
    Record,
    Listen,
    Settings,
}

/// The Listen view as shown: what the listen desk last said of itself, and its news.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ListenState {
    pub desk: crate::control::listen::ListenView,
    /// The desk's latest news (a line each; true: a problem), newest last.
    pub said: Vec<(String, bool)>,
    /// The path typed in the "open" field.
    pub path: String,
    /// The prompt typed for a new cue, and the song's note being typed.
    pub prompt: String,
    pub note: Option<String>,
    pub session_note: Option<String>,
    /// A–B: A marked, waiting for B.
    pub repeat_a: Option<f64>,
    /// The song chooser, open at a folder.
    pub chooser: Option<crate::control::listen::Folder>,
    /// Where songs usually are: the Music folder and USB sticks, by name.
    pub places: Vec<(String, PathBuf)>,
}

/// What the Listen view's buttons ask for.
#[derive(Clone, Debug, PartialEq)]
pub enum ListenAction {
    /// Songs, folders or playlists (typed, chosen or dropped) become the queue.
    Open(Vec<PathBuf>),
    PlayAt(usize),
    Pause,
    Resume,
    Stop,
    Next,
    /// Seconds back (negative) or forward in the song.
    Skip(f64),
    Talk(bool),
    /// Cues, repeat, notes, transposing: as the typed lines say them.
    Line(crate::control::listen::ListenLine),
    /// The path field as typed.
    Path(String),
    /// The prompt field as typed (for a new cue).
    Prompt(String),
    /// The song's note as typed (kept when the field is left).
    NoteDraft(String),
    SessionDraft(String),
    /// The A of an A–B repeat, at these seconds (B comes with the repeat line).
    MarkA(f64),
    /// Looks again for the Music folder and USB sticks.
    LookForPlaces,
    /// The song chooser at this folder (`None`: closed).
    Choose(Option<PathBuf>),
}

/// The Record view as shown: what the song desk last said of itself, and its news.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RecordState {
    pub desk: crate::control::songs::DeskView,
    /// The desk's latest news (a line each; true: a problem), newest last.
    pub said: Vec<(String, bool)>,
    /// The desk could not be set up (no data folder): why.
    pub unavailable: Option<String>,
    /// How far a running export has come (0 to 1).
    pub exporting: Option<f32>,
    /// Takes a crash cut off, put back at start, waiting for keep or throw away.
    pub recovered: Vec<crate::control::songs::RecoveredTake>,
}

/// What the Record view's buttons ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordAction {
    /// A take on a new track (a song is made first if none is open).
    Start,
    /// A take on this track (from 0), over what it has.
    StartOn(usize),
    /// The next takes replace only this stretch, in milliseconds; `None`: all of it.
    Punch(Option<(u64, u64)>),
    /// The next take goes round these bars (from 1); `None`: straight through.
    Cycle(Option<(u32, u32)>),
    Stop,
    /// Stops the running take and throws it away.
    DiscardRunning,
    /// The last take: throw away.
    DiscardLast,
    NewSong,
    ExportWav,
    ExportPhone,
    CancelExport,
    /// The recovered take at this place in the list: keep or throw away.
    KeepRecovered(usize),
    DiscardRecovered(usize),
}

/// A message for the status line, kept as a key so it follows a language switch.
#[derive(Clone, Debug, PartialEq)]
pub struct Notice {
    pub problem: bool,
    pub text: Text,
    /// The words of a lower layer (a device or file error), shown after the text.
    pub detail: String,
}

/// The device lists on the settings view; asked for on demand because enumerating is slow.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Devices {
    pub outputs: Vec<String>,
    pub inputs: Vec<String>,
    pub midi: Vec<String>,
}

/// MIDI learn as the Loop view shows it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LearnView {
    /// "MIDI learn" is on: clicking a control arms it instead of doing it.
    pub on: bool,
    /// The control waiting for its key or pedal.
    pub armed: Option<ControlAction>,
    /// The mapping learned last, shown until the next control is armed.
    pub last: Option<Mapping>,
    pub mappings: Vec<Mapping>,
}

/// The OSC server as the Settings view shows it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OscView {
    /// Where it listens, while it runs.
    pub addr: Option<SocketAddr>,
    /// It could not start: the port is taken.
    pub busy: bool,
}

/// What the panel is doing with a saved jam, off the window's thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JamWork {
    Saving,
    Opening,
}

/// How the last save or open went, kept as keys so it follows a language switch.
#[derive(Clone, Debug, PartialEq)]
pub enum JamSaid {
    Saved {
        folder: String,
        notes: Vec<JamNote>,
    },
    Opened {
        folder: String,
        trouble: Option<OpenTrouble>,
        /// File by file, as the jam module words them.
        problems: Vec<String>,
        notes: Vec<JamNote>,
    },
    /// `text` says what failed, `why` why, in plain words; `detail` is a lower layer's.
    Failed {
        text: Text,
        why: Text,
        detail: String,
    },
}

/// The answers to "The loops you have now will be replaced. Save them first?"
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenAnswer {
    SaveFirst,
    Replace,
    Cancel,
}

/// Saving and opening jams as the Loop view shows it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct JamFiles {
    /// The name a save uses: the date and time until the user types one.
    pub name: String,
    /// The user typed the name: it no longer follows the clock.
    pub name_edited: bool,
    pub working: Option<JamWork>,
    /// The saved jams, newest first, while the list is open.
    pub list: Option<Vec<JamListing>>,
    /// The jam whose opening waits for an answer (there are loops now).
    pub confirm_open: Option<PathBuf>,
    pub said: Option<JamSaid>,
}

/// Everything the views draw from.
pub struct PanelState {
    pub settings: Settings,
    /// The sound settings being edited; used once "Apply" is pressed.
    pub draft: AudioSettings,
    /// A device is being opened (after "Apply"): the panel says so and keeps drawing.
    pub opening: bool,
    pub view: View,
    pub snapshot: Snapshot,
    pub audio: AudioStatus,
    pub devices: Devices,
    pub input_holds: Vec<PeakHold>,
    /// Each input heard through Samspill, as last set here (the engine starts with all
    /// on and does not publish it).
    pub input_monitor: Vec<bool>,
    pub instruments_hold: PeakHold,
    pub master_hold: PeakHold,
    pub notice: Option<Notice>,
    /// The loop tracks as the engine last published them; empty until the looper is in.
    pub loops: Vec<LoopTrack>,
    /// Each track's level as last set here (the engine starts every track at 0 dB).
    pub loop_db: Vec<f32>,
    /// What each track records from, as [`LoopControl::source`] remembers it (the engine
    /// does not publish it): `SOURCE_INPUTS`, `SOURCE_INSTRUMENTS`, `SOURCE_MIX` or
    /// `SOURCE_INPUT_BASE + k`.
    pub loop_sources: Vec<u8>,
    /// The peak each track's meter holds.
    pub loop_holds: Vec<PeakHold>,
    /// When "Tap the beat" was pressed, in egui's seconds; the newest last.
    pub taps: TapTempo,
    /// The track whose "Clear" waits for a yes or a no.
    pub confirm_clear: Option<usize>,
    /// The track keyboard shortcuts work on: [`LoopControl::selected`], read each frame,
    /// so OSC's "selected loop" and the panel's are one and the same.
    pub selected: TrackSel,
    pub learn: LearnView,
    pub osc: OscView,
    pub jams: JamFiles,
    pub record: RecordState,
    pub listen: ListenState,
}

impl PanelState {
    pub fn lang(&self) -> Language {
        self.settings.language
    }

    /// The one track selected, if it is one the looper has (not "all tracks").
    pub fn selected_track(&self) -> Option<usize> {
        match self.selected {
            TrackSel::One(t) if usize::from(t) < self.loops.len() => Some(usize::from(t)),
            _ => None,
        }
    }
}

/// What the user asked for, from any view.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    Show(View),
    Patch(Patch),
    MasterDb(f32),
    /// Persist the settings (after a slider is let go, for instance).
    Save,
    AllNotesOff,
    Language(Language),
    EasyMode(bool),
    Host(AudioHost),
    OutputDevice(Option<String>),
    InputDevice(Option<String>),
    SampleRate(u32),
    BufferFrames(u32),
    LookForDevices,
    ApplyAudio,
    /// Something for one loop track to do.
    Loop {
        track: usize,
        op: LoopOp,
    },
    /// Ask before clearing a track (`None`: the question is answered "no").
    AskClear(Option<usize>),
    TrackDb {
        track: usize,
        db: f32,
    },
    /// New looper settings: the beat, click and count-in are sent at once, memory at next start.
    Looper(LoopSettings),
    /// "Tap the beat" pressed at this time (seconds).
    TapTempo(f64),
    /// The one foot-switch cycle on a track: record → play → overdub → play.
    FootSwitch(usize),
    /// Keyboard shortcuts, pads and OSC's "selected loop" work on this track from now.
    SelectTrack(usize),
    /// MIDI learn on or off.
    Learn(bool),
    /// The next key or pedal does this.
    LearnArm(ControlAction),
    /// No key or pedal does this any more.
    Forget(ControlAction),
    /// Esc: stop waiting (for a key to learn, a yes or no, a loop's start).
    Cancel,
    /// OSC on 127.0.0.1 on or off.
    Osc(bool),
    /// The song's click on its own outputs.
    ClickApart(bool),
    Record(RecordAction),
    Listen(ListenAction),
    /// New listening settings: sent to the listen desk and saved.
    ListenSettings(crate::session::settings::ListenSettings),
    /// One loop command on every track.
    AllTracks(LoopCommand),
    /// What a track records from (see [`PanelState::loop_sources`]).
    LoopSource {
        track: usize,
        source: u8,
    },
    /// Hear an input through Samspill or not; loops record it either way.
    InputMonitor {
        input: usize,
        on: bool,
    },
    /// The name the next jam is saved under, as typed.
    JamName(String),
    /// Save the loops as a jam (in the background; the music plays on).
    SaveJam,
    /// Show the saved jams (read afresh) or hide them.
    ListJams(bool),
    /// Open this saved jam; asks first when there are loops now.
    OpenJam(PathBuf),
    /// The answer to "save the loops you have first?".
    AnswerOpen(OpenAnswer),
}

/// One loop track as the panel sees it (SooperLooper's state numbers).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LoopTrack {
    pub state: u32,
    pub loop_frames: u32,
    pub pos_frames: u32,
    pub cycle_frames: u32,
    pub full_count: u32,
    /// What the track plays, after its level and pan.
    pub level: Level,
    /// Undo and redo steps there are to take.
    pub undo_levels: u32,
    pub redo_levels: u32,
}

impl LoopTrack {
    /// The tracks the engine has now; none until the looper is installed.
    pub fn read_all(shared: &Shared, into: &mut Vec<LoopTrack>) {
        let n = (shared.loop_tracks.load(Relaxed) as usize).min(shared.loops.len());
        into.clear();
        into.extend(shared.loops[..n].iter().map(|m| LoopTrack {
            state: m.state.load(Relaxed),
            loop_frames: m.loop_frames.load(Relaxed),
            pos_frames: m.pos_frames.load(Relaxed),
            cycle_frames: m.cycle_frames.load(Relaxed),
            full_count: m.full_count.load(Relaxed),
            level: m.level.read(),
            undo_levels: m.undo_levels.load(Relaxed),
            redo_levels: m.redo_levels.load(Relaxed),
        }));
    }

    /// Nothing recorded and nothing about to be.
    pub fn is_free(&self) -> bool {
        self.state == 0 && self.loop_frames == 0
    }

    /// Waiting to record, recording, or rounding a recording off.
    pub fn is_recording(&self) -> bool {
        matches!(self.state, 1..=3)
    }

    /// How far through the loop the playhead is, 0..1 (while recording: none yet).
    pub fn progress(&self) -> f32 {
        if self.loop_frames == 0 || self.state == 2 {
            0.0
        } else {
            (self.pos_frames as f32 / self.loop_frames as f32).clamp(0.0, 1.0)
        }
    }
}
