//! Song recording from the control side: the song that is open, the takes being
//! recorded, and what the writer says of them, in words. One `SongDesk` per program;
//! `samspill headless` drives it with typed lines (`song new NAME`, `record`, `stop`,
//! `take keep|discard`, `songs`).
//!
//! The order that keeps a take safe: the journal entry is synced, the file is made with
//! its header on disk, and only then does the engine start copying; the take goes into
//! `song.toml` when the writer has finished it, and only then is its journal entry
//! removed. A crash anywhere in between leaves a journal entry, and [`recover_songs`]
//! mends the file and puts the take back at the next start.

use std::path::{Path, PathBuf};

use std::time::{Duration, Instant};

use crate::controller::Controller;
use crate::disk::song_reader::{self, PlacedTake, TrackPlan};
use crate::disk::{self, TakeFormat, TakeWriter, WriteFailure, WriterEvent, WriterJob};
use crate::engine::recorder::{TakeSource, TakeStatus, TakeTap};
use crate::engine::song_player::{PlaybackStatus, SongPlayback};
use crate::engine::Command;
use crate::session::song::{
    self, JournalEntry, Song, SongError, SongTrack, MAX_BEATS_PER_BAR, MAX_BPM, MIN_BPM,
};
use std::sync::Arc;

pub const SONG_HELP: &str = "song new NAME | song open NAME | songs | record [TRACK] | play | stop | take keep|discard | song tempo BPM [BEATS] | song click on|off | song count-in 0|1|2 | song punch FROM TO|off | song pre-roll SECS | song cycle FIRST LAST|off | song loops [TIMES] | song jam NAME [TIMES] | export wav|flac|mp3|ogg|stems [PATH]";

/// The most times round a loop is brought into a song.
pub const MAX_LOOP_TIMES: u32 = 64;
/// Times round when not said.
const LOOP_TIMES: u32 = 4;

/// Seconds of sound a take's ring holds while the disk is slow.
const RING_SECS: usize = 10;
/// Below this much recording time left on the disk, a warning; below the second, no
/// new take starts; below the third, takes stop, leaving room for the song's own file.
const WARN_SECS: u64 = 10 * 60;
const REFUSE_SECS: u64 = 10;
const LIMIT_SECS: u64 = 4;

/// A song line, understood.
#[derive(Clone, Debug, PartialEq)]
pub enum SongLine {
    New(String),
    Open(String),
    List,
    /// On this track (1-based), or a new one.
    Record(Option<usize>),
    /// Plays the song from its start (no count-in, no click).
    Play,
    Stop,
    Keep,
    Discard,
    Tempo(f32, Option<u32>),
    Click(bool),
    CountIn(u32),
    /// Seconds (from, to) the next takes replace; `None`: off.
    Punch(Option<(f64, f64)>),
    PreRoll(f64),
    /// Bars (first, last) recorded round and round; `None`: off.
    Cycle(Option<(u32, u32)>),
    /// Loops as new tracks, each this many times round from the song's start: the
    /// loops playing now (`None`), or a saved jam's.
    Loops(Option<String>, u32),
    Export(ExportKind, Option<PathBuf>),
}

/// What `export` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportKind {
    Wav,
    Flac,
    /// Ogg Vorbis for a phone, loudness-normalised (-14 LUFS, -1 dBTP).
    Ogg,
    /// MP3 for a phone (every phone plays it), normalised as `Ogg`.
    Mp3,
    /// One WAV per track, each from the song's start.
    Stems,
}

#[derive(Debug, thiserror::Error)]
pub enum SongLineError {
    #[error("a song line is {SONG_HELP}")]
    NotASongLine,
    #[error("which song? `songs` shows their names")]
    WhichSong,
    #[error("tracks are numbered from 1")]
    NoSuchTrack,
    #[error("no song is open: `song new NAME` makes one, `song open NAME` opens one")]
    NoSong,
    #[error("already recording; `stop` ends the take")]
    AlreadyRecording,
    #[error("not recording")]
    NotRecording,
    #[error("the song has {0} tracks: record on one of them, or on {next} for a new one", next = .0 + 1)]
    TrackOutOfRange(usize),
    #[error("no take yet to keep or discard")]
    NoTake,
    #[error("the disk is full ({0}); free some room before recording")]
    DiskFull(String),
    #[error("the recording could not start: {0}")]
    CannotStart(WriteFailure),
    #[error("the engine is not running, so nothing can be recorded")]
    EngineGone,
    #[error("the tempo is {MIN_BPM} to {MAX_BPM} beats a minute, and 1 to {MAX_BEATS_PER_BAR} beats a bar")]
    Tempo,
    #[error("the count-in is 0, 1 or 2 bars")]
    CountIn,
    #[error("say on or off")]
    OnOrOff,
    #[error("a punch is two times in seconds, the first before the second (`song punch 12.5 20`), or `song punch off`")]
    Punch,
    #[error("the pre-roll is 0 to {} seconds", song::MAX_PRE_ROLL_SECS)]
    PreRoll,
    #[error("a cycle is two bar numbers from 1, the first no later than the second (`song cycle 5 8`), or `song cycle off`")]
    Cycle,
    #[error("`song loops [TIMES]` brings in the loops playing now, `song jam NAME [TIMES]` a saved jam's; TIMES is 1 to {MAX_LOOP_TIMES}")]
    LoopsHow,
    #[error("there is no saved jam called \"{0}\"; `jams` lists them")]
    NoSuchJam(String),
    #[error("no loop has anything in it, so there is nothing to bring in")]
    NoLoops,
    #[error("the loops could not be read: {0}")]
    Loops(String),
    #[error("the tempo cannot change while recording")]
    BusyRecording,
    #[error("export wav, flac, mp3, ogg or stems, and a path if not into the song's folder")]
    ExportWhat,
    #[error("nothing to export: the song has no kept takes")]
    NothingToExport,
    #[error(transparent)]
    Export(#[from] disk::export::ExportError),
    #[error(transparent)]
    Read(#[from] disk::song_reader::ReadError),
    #[error(transparent)]
    Song(#[from] SongError),
}

impl SongLine {
    /// `None` when the line is not about songs.
    pub fn parse(line: &str) -> Option<Result<SongLine, SongLineError>> {
        let mut words = line.split_whitespace();
        let first = words.next()?.to_ascii_lowercase();
        let second = words.next();
        let rest: Vec<&str> = words.collect();
        Some(match first.as_str() {
            "songs" if second.is_none() => Ok(SongLine::List),
            "song" => match second.map(str::to_ascii_lowercase).as_deref() {
                Some("new") | Some("open") if rest.is_empty() => Err(SongLineError::WhichSong),
                Some("new") => Ok(SongLine::New(rest.join(" "))),
                Some("open") => Ok(SongLine::Open(rest.join(" "))),
                Some("list") if rest.is_empty() => Ok(SongLine::List),
                Some("tempo") => {
                    let bpm = rest.first().and_then(|w| w.parse::<f32>().ok());
                    let beats = rest.get(1).map(|w| w.parse::<u32>().ok());
                    match (bpm, beats, rest.len()) {
                        (Some(b), None, 1) if (MIN_BPM..=MAX_BPM).contains(&b) => {
                            Ok(SongLine::Tempo(b, None))
                        }
                        (Some(b), Some(Some(k)), 2)
                            if (MIN_BPM..=MAX_BPM).contains(&b)
                                && (1..=MAX_BEATS_PER_BAR).contains(&k) =>
                        {
                            Ok(SongLine::Tempo(b, Some(k)))
                        }
                        _ => Err(SongLineError::Tempo),
                    }
                }
                Some("click") => match rest.as_slice() {
                    ["on"] => Ok(SongLine::Click(true)),
                    ["off"] => Ok(SongLine::Click(false)),
                    _ => Err(SongLineError::OnOrOff),
                },
                Some("punch") => match rest.as_slice() {
                    ["off"] => Ok(SongLine::Punch(None)),
                    [a, b] => match (a.parse::<f64>(), b.parse::<f64>()) {
                        (Ok(a), Ok(b)) if a.is_finite() && 0.0 <= a && a < b && b < 86_400.0 => {
                            Ok(SongLine::Punch(Some((a, b))))
                        }
                        _ => Err(SongLineError::Punch),
                    },
                    _ => Err(SongLineError::Punch),
                },
                Some("pre-roll") => match rest.as_slice() {
                    [n] => match n.parse::<f64>() {
                        Ok(n) if (0.0..=song::MAX_PRE_ROLL_SECS).contains(&n) => {
                            Ok(SongLine::PreRoll(n))
                        }
                        _ => Err(SongLineError::PreRoll),
                    },
                    _ => Err(SongLineError::PreRoll),
                },
                Some("cycle") => match rest.as_slice() {
                    ["off"] => Ok(SongLine::Cycle(None)),
                    [a, b] => match (a.parse::<u32>(), b.parse::<u32>()) {
                        (Ok(a), Ok(b)) if 1 <= a && a <= b && b <= song::MAX_BAR => {
                            Ok(SongLine::Cycle(Some((a, b))))
                        }
                        _ => Err(SongLineError::Cycle),
                    },
                    _ => Err(SongLineError::Cycle),
                },
                Some("loops") => match rest.as_slice() {
                    [] => Ok(SongLine::Loops(None, LOOP_TIMES)),
                    [n] => match n.parse::<u32>() {
                        Ok(n) if (1..=MAX_LOOP_TIMES).contains(&n) => Ok(SongLine::Loops(None, n)),
                        _ => Err(SongLineError::LoopsHow),
                    },
                    _ => Err(SongLineError::LoopsHow),
                },
                Some("jam") => {
                    // A last word that is a number is how many times round.
                    let (name, times) = match rest.split_last() {
                        Some((n, name)) if !name.is_empty() && n.parse::<u32>().is_ok() => {
                            (name.join(" "), n.parse::<u32>().unwrap_or(LOOP_TIMES))
                        }
                        _ => (rest.join(" "), LOOP_TIMES),
                    };
                    if name.is_empty() || !(1..=MAX_LOOP_TIMES).contains(&times) {
                        Err(SongLineError::LoopsHow)
                    } else {
                        Ok(SongLine::Loops(Some(name), times))
                    }
                }
                Some("count-in") => match rest.as_slice() {
                    [n] => match n.parse::<u32>() {
                        Ok(n) if n <= song::MAX_COUNT_IN_BARS => Ok(SongLine::CountIn(n)),
                        _ => Err(SongLineError::CountIn),
                    },
                    _ => Err(SongLineError::CountIn),
                },
                _ => Err(SongLineError::NotASongLine),
            },
            "play" if second.is_none() => Ok(SongLine::Play),
            "export" => {
                let kind = match second.map(str::to_ascii_lowercase).as_deref() {
                    Some("wav") => Ok(ExportKind::Wav),
                    Some("flac") => Ok(ExportKind::Flac),
                    Some("ogg") => Ok(ExportKind::Ogg),
                    Some("mp3") | Some("phone") => Ok(ExportKind::Mp3),
                    Some("stems") => Ok(ExportKind::Stems),
                    _ => Err(SongLineError::ExportWhat),
                };
                let path = (!rest.is_empty()).then(|| PathBuf::from(rest.join(" ")));
                kind.map(|k| SongLine::Export(k, path))
            }
            "record" if rest.is_empty() => match second {
                None => Ok(SongLine::Record(None)),
                Some(n) => match n.parse::<usize>() {
                    Ok(n) if n >= 1 => Ok(SongLine::Record(Some(n - 1))),
                    _ => Err(SongLineError::NoSuchTrack),
                },
            },
            "stop" if second.is_none() => Ok(SongLine::Stop),
            "take" => match (second.map(str::to_ascii_lowercase).as_deref(), rest.len()) {
                (Some("keep"), 0) => Ok(SongLine::Keep),
                (Some("discard"), 0) => Ok(SongLine::Discard),
                _ => Err(SongLineError::NotASongLine),
            },
            _ => return None,
        })
    }
}

/// What a panel shows of the desk: the song, its tracks and takes, and what is going on.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DeskView {
    pub song: Option<String>,
    pub lanes: Vec<Lane>,
    /// The track a take is being recorded on.
    pub recording: Option<usize>,
    /// The song frame playing (negative during the count-in), while it plays.
    pub position: Option<i64>,
    pub sample_rate: u32,
    /// Frames per beat at the song's tempo, and beats a bar.
    pub beat_frames: u64,
    pub beats_per_bar: u32,
    /// Seconds of recording the disk has room for.
    pub room_secs: Option<u64>,
    /// The take being recorded: its song frame, its overview so far and its dropouts.
    pub live: Option<LaneTake>,
    /// The song's punch (seconds) and cycle (bars, from 1), as the next take uses them.
    pub punch: Option<(f64, f64)>,
    pub cycle: Option<(u32, u32)>,
}

/// A track as lanes show it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Lane {
    pub name: String,
    pub takes: Vec<LaneTake>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct LaneTake {
    pub start: u64,
    pub frames: u64,
    pub kept: bool,
    pub dropouts: usize,
    pub recovered: bool,
    /// The take's file's overview (`disk::overview`); the take is `frames` of it from
    /// `offset`.
    pub peaks: Arc<Vec<u8>>,
    pub offset: u64,
    /// Frames of the take where the device had a dropout.
    pub dropout_marks: Vec<u64>,
}

/// A take being recorded.
struct Recording {
    id: u32,
    track: usize,
    file: String,
    /// "Discard this take" came while it ran.
    discard: bool,
    /// Why it was stopped, when it was not the person.
    ended_early: Option<WriteFailure>,
    /// The engine frame the take starts at (after the count-in).
    starts_at: u64,
    /// The track was made for this take.
    made_track: bool,
    status: Arc<TakeStatus>,
    plan: TakePlan,
    /// Its overview and dropouts so far, as the writer tells them.
    peaks: Arc<Vec<u8>>,
    marks: Vec<u64>,
}

/// Where a take goes in the song and how the song plays around it, in song frames.
#[derive(Clone, Copy, Debug, Default)]
struct TakePlan {
    /// The song plays from here (a punch's pre-roll, a cycle's first bar).
    from: u64,
    count_in: u32,
    click: bool,
    /// The take's first frame.
    start: u64,
    /// Where a punch ends the take (its fade-out included).
    end: Option<u64>,
    /// Frames at each end of a punched take faded over the track.
    fade: u64,
    /// What the track plays as silence while the take records (the punch).
    hole: Option<(u64, u64)>,
    cycle: Option<(u64, u64)>,
}

/// Song frames from, until.
type Span = (u64, u64);

/// Frames from the song's start to the end of its last heard take.
fn song_frames(dir: &Path, s: &Song, rate: u32) -> u64 {
    heard_tracks(dir, s, rate, None)
        .iter()
        .flat_map(|(_, t)| t.takes.iter().map(|k| k.start + k.frames))
        .max()
        .unwrap_or(0)
}

/// Every take's overview, kept or made (a take a crash cut off has none yet).
fn overviews_of(dir: &Path, s: &Song) -> std::collections::HashMap<String, Arc<Vec<u8>>> {
    let mut all = std::collections::HashMap::new();
    for k in s.tracks.iter().flat_map(|t| &t.takes) {
        if !all.contains_key(&k.file) {
            if let Some(p) = disk::overview::load_or_make(&dir.join(song::TAKES_DIR).join(&k.file))
            {
                all.insert(k.file.clone(), Arc::new(p));
            }
        }
    }
    all
}

/// Frames a punched take fades over the track at each end (10 ms).
const PUNCH_FADE_SECS: f64 = 0.01;

impl TakePlan {
    fn of(s: &Song, rate: u32) -> TakePlan {
        let frames = |secs: f64| (secs * rate as f64).round() as u64;
        let bar = frames(60.0 / s.tempo_bpm.max(1.0) as f64) * s.beats_per_bar as u64;
        if let Some([a, b]) = s.punch {
            let fade = frames(PUNCH_FADE_SECS);
            let (into, out) = (frames(a), frames(b).max(frames(a) + 1));
            let start = into.saturating_sub(fade);
            return TakePlan {
                from: start.saturating_sub(frames(s.pre_roll_secs)),
                count_in: 0,
                click: s.click,
                start,
                end: Some(out + fade),
                fade: into - start,
                hole: Some((into, out)),
                cycle: None,
            };
        }
        if let Some([first, last]) = s.cycle_bars {
            let (a, b) = ((first as u64 - 1) * bar, last as u64 * bar);
            return TakePlan {
                from: a,
                count_in: s.count_in_bars,
                click: s.click,
                start: a,
                cycle: Some((a, b)),
                ..TakePlan::default()
            };
        }
        TakePlan {
            count_in: s.count_in_bars,
            click: s.click,
            ..TakePlan::default()
        }
    }
}

/// How the song is to play: from where, with how much count-in and click, round which
/// cycle, and the track being recorded (heard outside its punch, if punched).
#[derive(Clone, Copy, Debug, Default)]
struct Cue {
    recording: Option<(usize, Option<(u64, u64)>)>,
    from: u64,
    count_in: u32,
    click: bool,
    cycle: Option<(u64, u64)>,
}

/// The open song and its takes.
pub struct SongDesk {
    controller: Controller,
    writer: TakeWriter,
    songs: PathBuf,
    open: Option<(PathBuf, Song)>,
    recording: Vec<Recording>,
    next_id: u32,
    format: TakeFormat,
    /// The last take finished: (track, index in its takes).
    last: Option<(usize, std::ops::Range<usize>)>,
    warned_low: bool,
    space_checked: Option<Instant>,
    /// The song playing, and the cycle it goes round.
    playing: Option<(Arc<PlaybackStatus>, Option<Span>)>,
    /// Offline (a render): the song's reader is filled by [`SongDesk::pump`] between
    /// the engine's blocks instead of on a thread of its own.
    offline: bool,
    reader: Option<song_reader::SongReader>,
    /// What happened while [`SongDesk::pump`] waited, for the next `poll`.
    said_later: Vec<String>,
    /// The open song's takes' overviews, by file.
    overviews: std::collections::HashMap<String, Arc<Vec<u8>>>,
    /// When the disk's room was last asked, and what it said.
    room_seen: std::cell::Cell<(Option<Instant>, Option<u64>)>,
    /// Frames a take's file holds before it goes on in the next (0: a WAV file's most).
    part_frames: u64,
}

fn clock(frames: u64, rate: u32) -> String {
    let s = frames as f64 / rate.max(1) as f64;
    format!("{}:{:04.1}", (s / 60.0) as u64, s % 60.0)
}

impl SongDesk {
    pub fn new(controller: Controller, songs: PathBuf) -> std::io::Result<SongDesk> {
        Ok(SongDesk {
            controller,
            writer: TakeWriter::start()?,
            songs,
            open: None,
            recording: Vec::new(),
            next_id: 1,
            format: TakeFormat::default(),
            last: None,
            warned_low: false,
            space_checked: None,
            playing: None,
            offline: false,
            reader: None,
            said_later: Vec::new(),
            overviews: Default::default(),
            room_seen: Default::default(),
            part_frames: 0,
        })
    }

    /// A desk for an offline render: the caller runs the engine and calls
    /// [`SongDesk::pump`] after every block.
    pub fn offline(controller: Controller, songs: PathBuf) -> std::io::Result<SongDesk> {
        let mut desk = SongDesk::new(controller, songs)?;
        desk.offline = true;
        Ok(desk)
    }

    /// Offline: fills the song's rings and lets the writer catch up before the engine
    /// goes on, as a device's pace would have (a render runs far faster than the disk);
    /// a take the engine has ended is filed before the next block, so what a script
    /// says next finds it in the song.
    pub fn pump(&mut self) {
        if let Some(r) = &mut self.reader {
            r.fill();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while self
            .recording
            .iter()
            .any(|r| r.status.finished.load(std::sync::atomic::Ordering::Acquire))
            && Instant::now() < deadline
        {
            if let Ok(e) = self.writer.events().recv_timeout(Duration::from_millis(20)) {
                let said = self.on_event(e);
                self.said_later.extend(said);
            }
        }
        let rate = self.rate() as u64;
        let deadline = Instant::now() + Duration::from_secs(10);
        for r in &self.recording {
            let s = &r.status;
            while s.frames.load(std::sync::atomic::Ordering::Acquire)
                > s.written.load(std::sync::atomic::Ordering::Relaxed) + rate * RING_SECS as u64 / 2
                && !s.abandoned.load(std::sync::atomic::Ordering::Relaxed)
                && Instant::now() < deadline
            {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }

    pub fn set_format(&mut self, format: TakeFormat) {
        self.format = format;
    }

    /// Takes go on in a new file after `frames` (rounded to whole times round of a
    /// cycle) instead of at a WAV file's 4 GiB: how tests reach the split in seconds.
    pub fn set_part_frames(&mut self, frames: u64) {
        self.part_frames = frames;
    }

    pub fn is_recording(&self) -> bool {
        !self.recording.is_empty()
    }

    /// Recording, or playing the song: a bare `stop` is for this desk.
    pub fn is_busy(&self) -> bool {
        self.is_recording() || self.playing.is_some()
    }

    fn rate(&self) -> u32 {
        self.controller
            .shared()
            .sample_rate
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    fn bytes_per_sec(&self, takes: usize) -> u64 {
        self.rate() as u64 * 2 * self.format.bytes_per_sample() * takes.max(1) as u64
    }

    /// Seconds of recording the disk under the songs folder still holds (one take).
    pub fn seconds_left(&self) -> Option<u64> {
        let free = disk::space::free_bytes(&self.songs)?;
        Some(disk::space::seconds_left(
            free,
            self.bytes_per_sec(self.recording.len()),
        ))
    }

    /// [`SongDesk::seconds_left`] for a panel that asks every frame: asked of the disk
    /// at most twice a second.
    fn room_now(&self) -> Option<u64> {
        let (at, secs) = self.room_seen.get();
        if at.is_none_or(|t| t.elapsed() >= Duration::from_millis(500)) {
            let secs = self.seconds_left();
            self.room_seen.set((Some(Instant::now()), secs));
            return secs;
        }
        secs
    }

    /// Does the line; the answer is one line.
    pub fn run(&mut self, line: SongLine) -> Result<String, SongLineError> {
        match line {
            SongLine::List => {
                let names = song::song_names(&self.songs);
                Ok(if names.is_empty() {
                    "songs: none yet".into()
                } else {
                    format!("songs: {}", names.join(", "))
                })
            }
            SongLine::New(_) | SongLine::Open(_) if self.is_recording() => {
                Err(SongLineError::AlreadyRecording)
            }
            SongLine::New(name) => {
                self.stop_song();
                let (dir, s) = song::create_song(&self.songs, &name)?;
                let said = format!("song: {} (new){}", folder(&dir), self.room_text());
                self.open = Some((dir, s));
                self.last = None;
                self.overviews.clear();
                Ok(said)
            }
            SongLine::Open(name) => {
                self.stop_song();
                let (dir, s) = song::open_song(&self.songs, &name)?;
                let takes: usize = s.tracks.iter().map(|t| t.takes.len()).sum();
                let said = format!(
                    "song: {} ({} tracks, {takes} takes){}",
                    folder(&dir),
                    s.tracks.len(),
                    self.room_text()
                );
                self.overviews = overviews_of(&dir, &s);
                self.open = Some((dir, s));
                self.last = None;
                Ok(said)
            }
            SongLine::Record(track) => self.record(track),
            SongLine::Loops(jam, times) => self.add_loops(jam, times),
            SongLine::Play => {
                if self.is_recording() {
                    return Err(SongLineError::AlreadyRecording);
                }
                let at = self.soon();
                let rate = self.rate();
                let (dir, s) = self.open.as_ref().ok_or(SongLineError::NoSong)?;
                let tracks = heard_tracks(dir, s, rate, None).len();
                self.start_song(Cue::default(), at)?;
                Ok(format!("playing: {tracks} tracks from the start"))
            }
            SongLine::Stop if !self.is_recording() => {
                self.stop_song();
                Ok("stopped: the song".into())
            }
            SongLine::Stop => self.stop(false),
            SongLine::Export(kind, path) => self.export(kind, path),
            SongLine::Tempo(..)
            | SongLine::Click(_)
            | SongLine::CountIn(_)
            | SongLine::Punch(_)
            | SongLine::PreRoll(_)
            | SongLine::Cycle(_)
                if self.is_recording() =>
            {
                Err(SongLineError::BusyRecording)
            }
            SongLine::Tempo(bpm, beats) => {
                let (dir, s) = self.open.as_mut().ok_or(SongLineError::NoSong)?;
                s.tempo_bpm = bpm;
                s.beats_per_bar = beats.unwrap_or(s.beats_per_bar);
                song::save_song(dir, s)?;
                Ok(format!(
                    "song tempo: {bpm} bpm, {} beats a bar",
                    s.beats_per_bar
                ))
            }
            SongLine::Click(on) => {
                let (dir, s) = self.open.as_mut().ok_or(SongLineError::NoSong)?;
                s.click = on;
                song::save_song(dir, s)?;
                Ok(format!("song click: {}", if on { "on" } else { "off" }))
            }
            SongLine::CountIn(n) => {
                let (dir, s) = self.open.as_mut().ok_or(SongLineError::NoSong)?;
                s.count_in_bars = n;
                song::save_song(dir, s)?;
                Ok(format!("song count-in: {n} bars"))
            }
            // A punch and a cycle are two ways to record a stretch: one at a time.
            SongLine::Punch(p) => {
                let (dir, s) = self.open.as_mut().ok_or(SongLineError::NoSong)?;
                s.punch = p.map(|(a, b)| [a, b]);
                if p.is_some() {
                    s.cycle_bars = None;
                }
                song::save_song(dir, s)?;
                Ok(match p {
                    Some((a, b)) => format!(
                        "song punch: takes replace {a} s to {b} s, after {} s of the song before",
                        s.pre_roll_secs
                    ),
                    None => "song punch: off".into(),
                })
            }
            SongLine::PreRoll(secs) => {
                let (dir, s) = self.open.as_mut().ok_or(SongLineError::NoSong)?;
                s.pre_roll_secs = secs;
                song::save_song(dir, s)?;
                Ok(format!("song pre-roll: {secs} s"))
            }
            SongLine::Cycle(c) => {
                let (dir, s) = self.open.as_mut().ok_or(SongLineError::NoSong)?;
                s.cycle_bars = c.map(|(a, b)| [a, b]);
                if c.is_some() {
                    s.punch = None;
                }
                song::save_song(dir, s)?;
                Ok(match c {
                    Some((a, b)) => {
                        format!("song cycle: bars {a} to {b} round and round, a take each time")
                    }
                    None => "song cycle: off".into(),
                })
            }
            SongLine::Discard if self.is_recording() => self.stop(true),
            SongLine::Keep | SongLine::Discard => {
                let keep = line == SongLine::Keep;
                let (t, ks) = self.last.clone().ok_or(SongLineError::NoTake)?;
                let (dir, s) = self.open.as_mut().ok_or(SongLineError::NoSong)?;
                let takes = s
                    .tracks
                    .get_mut(t)
                    .and_then(|tr| tr.takes.get_mut(ks.clone()))
                    .ok_or(SongLineError::NoTake)?;
                for take in takes {
                    take.kept = keep;
                }
                song::save_song(dir, s)?;
                let k = ks.start;
                Ok(format!(
                    "take: track {}, take {} {}",
                    t + 1,
                    k + 1,
                    if keep {
                        "kept"
                    } else {
                        "discarded (its file stays in the song's folder)"
                    }
                ))
            }
        }
    }

    fn room_text(&self) -> String {
        self.seconds_left().map_or(String::new(), |s| {
            format!("; room on disk for {}", disk::space::time_text(s))
        })
    }

    fn record(&mut self, track: Option<usize>) -> Result<String, SongLineError> {
        if self.is_recording() {
            return Err(SongLineError::AlreadyRecording);
        }
        let rate = self.rate();
        let left = self.seconds_left();
        if left.is_some_and(|s| s < REFUSE_SECS) {
            return Err(SongLineError::DiskFull(format!(
                "room for {}",
                disk::space::time_text(left.unwrap_or(0))
            )));
        }
        let (dir, s) = self.open.as_mut().ok_or(SongLineError::NoSong)?;
        let t = match track {
            Some(t) if t < s.tracks.len() => t,
            Some(t) if t > s.tracks.len() => {
                return Err(SongLineError::TrackOutOfRange(s.tracks.len()))
            }
            _ => {
                s.tracks.push(new_track(s.tracks.len()));
                song::save_song(dir, s)?;
                s.tracks.len() - 1
            }
        };
        let made_track =
            s.tracks[t].takes.is_empty() && t + 1 == s.tracks.len() && track != Some(t);
        let source = song::source_from_text(&s.tracks[t].source).unwrap_or(TakeSource::Inputs);
        let takes_before = s.tracks[t].takes.len();
        let plan = TakePlan::of(s, rate);
        let file = song::new_take_file(dir, t);
        let dir = dir.clone();
        // 1. The journal, synced: from here a crash leaves a take to recover.
        song::write_journal(
            &dir,
            &JournalEntry {
                track: t,
                file: file.clone(),
                start: plan.start,
                sample_rate: rate,
                fade: plan.fade,
                cycle_frames: plan.cycle.map_or(0, |(a, b)| b - a),
            },
        )?;
        // 2. The file, its header on disk.
        let id = self.next_id;
        self.next_id += 1;
        let (tap, feed) = TakeTap::new(id, source, rate as usize * RING_SECS);
        let status = tap.status.clone();
        if let Err(e) = self.writer.write(WriterJob {
            feed,
            path: dir.join(song::TAKES_DIR).join(&file),
            sample_rate: rate,
            format: self.format,
            part_frames: match (self.part_frames, plan.cycle.map_or(0, |(a, b)| b - a)) {
                (0, align) => disk::take_writer::max_part_frames(self.format, align),
                (n, 0) => n,
                (n, align) => (n / align).max(1) * align,
            },
        }) {
            let _ = song::remove_journal(&dir, &file);
            return Err(SongLineError::CannotStart(e));
        }
        self.recording.push(Recording {
            id,
            track: t,
            file,
            discard: false,
            ended_early: None,
            starts_at: u64::MAX,
            made_track,
            status: status.clone(),
            plan,
            peaks: Arc::default(),
            marks: Vec::new(),
        });
        // 3. The song plays (the count-in or pre-roll first), and the engine copies from
        //    the take's first frame (until a punch-out), all at frames fixed now.
        let at = self.soon();
        let cue = Cue {
            recording: Some((t, plan.hole)),
            from: plan.from,
            count_in: plan.count_in,
            click: plan.click,
            cycle: plan.cycle,
        };
        let started = self.start_song(cue, at).and_then(|count_in| {
            let starts_at = at + count_in + (plan.start - plan.from);
            self.controller
                .send_at(starts_at, Command::StartTake(tap))
                .map_err(|_| SongLineError::EngineGone)?;
            if let Some(end) = plan.end {
                self.controller
                    .send_at(at + count_in + (end - plan.from), Command::StopTake { id })
                    .map_err(|_| SongLineError::EngineGone)?;
            }
            Ok(starts_at)
        });
        if let (Ok(starts_at), Some(r)) = (&started, self.recording.iter_mut().find(|r| r.id == id))
        {
            r.starts_at = *starts_at;
        }
        if let Err(e) = started {
            // The engine never had it: the writer ends it empty, and it is not filed.
            status
                .abandoned
                .store(true, std::sync::atomic::Ordering::Relaxed);
            status
                .finished
                .store(true, std::sync::atomic::Ordering::Release);
            if let Some(r) = self.recording.iter_mut().find(|r| r.id == id) {
                r.discard = true;
            }
            self.stop_song();
            return Err(e);
        }
        self.warned_low = false;
        let how = match (plan.end, plan.cycle) {
            (Some(end), _) => format!(
                " from {} to {} (playing from {})",
                clock(plan.start + plan.fade, rate),
                clock(end - plan.fade, rate),
                clock(plan.from, rate)
            ),
            (_, Some((a, b))) => format!(
                " round and round from {} to {}, a take each time",
                clock(a, rate),
                clock(b, rate)
            ),
            _ => String::new(),
        };
        Ok(format!(
            "recording: track {}, take {}{how}{}",
            t + 1,
            takes_before + 1,
            self.room_text()
        ))
    }

    /// Loops as new tracks: each as the looper played it (reversed, at half or double
    /// speed, at its level and pan, muted or not), `times` round from the song's start.
    /// A song with no takes yet takes the jam's tempo.
    fn add_loops(&mut self, jam: Option<String>, times: u32) -> Result<String, SongLineError> {
        use crate::engine::looper::{Speed, SyncMode};
        use crate::session::jam;
        if self.is_recording() {
            return Err(SongLineError::AlreadyRecording);
        }
        let rate = self.rate();
        if self.open.is_none() {
            return Err(SongLineError::NoSong);
        }
        let (loops, whence) = match jam {
            // The engine copies the loops out as it runs; a render runs it only between lines.
            None if self.offline => {
                return Err(SongLineError::Loops(
                    "a render brings loops in from a saved jam (`song jam NAME`)".into(),
                ))
            }
            None => {
                let c = self
                    .controller
                    .capture_loops(jam::CAPTURE_TIMEOUT)
                    .map_err(|e| SongLineError::Loops(e.to_string()))?;
                (
                    jam::Jam::from_capture(&c, "").0,
                    "the loops playing now".to_string(),
                )
            }
            Some(name) => {
                let jams = self.songs.with_file_name(jam::JAMS_DIR);
                let dir =
                    jam::find_jam(&jams, &name).ok_or(SongLineError::NoSuchJam(name.clone()))?;
                let opened =
                    jam::open_jam(&dir).map_err(|e| SongLineError::Loops(e.to_string()))?;
                (opened.jam, format!("the jam {name}"))
            }
        };
        let loops = loops.at_rate(rate);
        if loops.tracks.iter().all(|t| t.frames() == 0) {
            return Err(SongLineError::NoLoops);
        }
        let format = self.format;
        let (dir, s) = self.open.as_mut().ok_or(SongLineError::NoSong)?;
        if let SyncMode::Tempo { bpm, beats_per_bar } = loops.sync {
            if s.tracks.iter().all(|t| t.takes.is_empty()) {
                s.tempo_bpm = bpm;
                s.beats_per_bar = beats_per_bar;
            }
        }
        let mut made = 0;
        let mut longest = 0;
        for (i, t) in loops
            .tracks
            .iter()
            .enumerate()
            .filter(|(_, t)| t.frames() > 0)
        {
            let n = t.frames();
            let (mut l, mut r) = (t.left[..n].to_vec(), t.right[..n].to_vec());
            if t.settings.reversed {
                l.reverse();
                r.reverse();
            }
            let played = match t.settings.speed {
                Speed::Half => 2 * n,
                Speed::Double => (n / 2).max(1),
                Speed::Normal => n,
            };
            if played != n {
                let mut v = crate::prep::resample::resample_loop(&[&l, &r], played).into_iter();
                l = v.next().unwrap_or_default();
                r = v.next().unwrap_or_default();
            }
            let total = played * times as usize;
            let (l, r): (Vec<f32>, Vec<f32>) =
                (0..total).map(|k| (l[k % played], r[k % played])).unzip();
            let index = s.tracks.len();
            let file = song::new_take_file(dir, index);
            disk::take_writer::write_take_file(
                &dir.join(song::TAKES_DIR).join(&file),
                &l,
                &r,
                rate,
                format,
            )
            .map_err(SongLineError::CannotStart)?;
            if let Some(p) = disk::overview::load_or_make(&dir.join(song::TAKES_DIR).join(&file)) {
                self.overviews.insert(file.clone(), Arc::new(p));
            }
            s.tracks.push(SongTrack {
                name: format!("Loop {}", i + 1),
                source: song::source_text(TakeSource::Inputs),
                volume_db: (20.0 * t.settings.volume.max(1e-4).log10()).clamp(-60.0, 12.0),
                pan: t.settings.pan.clamp(-1.0, 1.0),
                muted: t.settings.muted,
                solo: false,
                takes: vec![song::Take {
                    file,
                    start: 0,
                    frames: total as u64,
                    sample_rate: rate,
                    kept: true,
                    dropouts: Vec::new(),
                    lost_frames: 0,
                    recovered: false,
                    ended_early: None,
                    offset: 0,
                    fade: 0,
                }],
            });
            made += 1;
            longest = longest.max(total);
        }
        song::save_song(dir, s)?;
        Ok(format!(
            "loops: {made} tracks from {whence}, {times} times round ({})",
            clock(longest as u64, rate)
        ))
    }

    /// An engine frame a moment ahead, where commands that must land together are put.
    fn soon(&self) -> u64 {
        let now = self
            .controller
            .shared()
            .frames
            .load(std::sync::atomic::Ordering::Relaxed);
        now + self.rate() as u64 / 5
    }

    /// Starts the song playing at engine frame `at` as `cue` says; the count-in's length.
    fn start_song(&mut self, cue: Cue, at: u64) -> Result<u64, SongLineError> {
        self.stop_song();
        let rate = self.rate();
        let (dir, s) = self.open.as_ref().ok_or(SongLineError::NoSong)?;
        let tracks: Vec<_> = heard_tracks(dir, s, rate, cue.recording)
            .into_iter()
            .map(|(_, t)| t)
            .collect();
        let (streams, reader) = song_reader::prepare(tracks, rate, cue.from, cue.cycle)?;
        let status = Arc::new(PlaybackStatus::default());
        let p = SongPlayback::new(
            streams,
            rate,
            s.tempo_bpm,
            s.beats_per_bar,
            cue.count_in,
            cue.click,
            cue.from,
            status.clone(),
        );
        let count_in = p.count_in_frames();
        self.controller
            .send_at(at, Command::PlaySong(p))
            .map_err(|_| SongLineError::EngineGone)?;
        if self.offline {
            self.reader = Some(reader);
        } else {
            reader
                .run(status.clone())
                .map_err(|e| SongLineError::CannotStart(WriteFailure::Io(e.to_string())))?;
        }
        self.playing = Some((status, cue.cycle));
        Ok(count_in)
    }

    /// Bounces the song and writes it; the answer names the file (or folder).
    fn export(&mut self, kind: ExportKind, path: Option<PathBuf>) -> Result<String, SongLineError> {
        self.export_work(kind, path, Arc::default())?()
    }

    /// The export as work for another thread (a panel must not wait on it): the song as
    /// it is now, bounced and written when the work runs.
    #[allow(clippy::type_complexity)]
    pub fn export_work(
        &self,
        kind: ExportKind,
        path: Option<PathBuf>,
        progress: Arc<disk::export::Progress>,
    ) -> Result<Box<dyn FnOnce() -> Result<String, SongLineError> + Send>, SongLineError> {
        if self.is_recording() {
            return Err(SongLineError::AlreadyRecording);
        }
        let rate = self.rate();
        let (dir, s) = self.open.clone().ok_or(SongLineError::NoSong)?;
        Ok(Box::new(move || {
            export_song(&dir, &s, rate, kind, path, &progress)
        }))
    }

    fn stop_song(&mut self) {
        self.reader = None;
        if let Some((p, _)) = self.playing.take() {
            let _ = self.controller.send(Command::StopSong);
            // The reader stops when the engine lets go; if the engine is gone, now.
            p.done.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// What a panel shows, now.
    pub fn view(&self) -> DeskView {
        let rate = self.rate();
        let Some((dir, s)) = &self.open else {
            return DeskView {
                sample_rate: rate,
                room_secs: self.room_now(),
                ..DeskView::default()
            };
        };
        DeskView {
            song: Some(if s.name.is_empty() {
                folder(dir)
            } else {
                s.name.clone()
            }),
            lanes: s
                .tracks
                .iter()
                .map(|t| Lane {
                    name: t.name.clone(),
                    takes: t
                        .takes
                        .iter()
                        .map(|k| LaneTake {
                            start: k.start,
                            frames: k.frames,
                            kept: k.kept,
                            dropouts: k.dropouts.len(),
                            recovered: k.recovered,
                            peaks: self.overviews.get(&k.file).cloned().unwrap_or_default(),
                            offset: k.offset,
                            dropout_marks: k.dropouts.clone(),
                        })
                        .collect(),
                })
                .collect(),
            recording: self.recording.first().map(|r| r.track),
            live: self.recording.first().map(|r| LaneTake {
                start: r.plan.start,
                frames: r.status.frames.load(std::sync::atomic::Ordering::Relaxed),
                kept: true,
                dropouts: r.marks.len(),
                recovered: false,
                peaks: r.peaks.clone(),
                offset: 0,
                dropout_marks: r.marks.clone(),
            }),
            position: self.playing.as_ref().map(|(p, cycle)| {
                let at = p.position.load(std::sync::atomic::Ordering::Relaxed);
                // Round a cycle, the bar heard, not how long it has played.
                if at > 0 {
                    song_reader::song_frame(at as u64, *cycle) as i64
                } else {
                    at
                }
            }),
            sample_rate: rate,
            beat_frames: (rate as f64 * 60.0 / s.tempo_bpm.max(1.0) as f64).round() as u64,
            beats_per_bar: s.beats_per_bar,
            room_secs: self.room_now(),
            punch: s.punch.map(|[a, b]| (a, b)),
            cycle: s.cycle_bars.map(|[a, b]| (a, b)),
        }
    }

    /// Ends the take (and the song) without waiting: the take is filed when the writer
    /// has finished it, and [`SongDesk::poll`] says so.
    pub fn stop_nowait(&mut self, discard: bool) -> Result<(), SongLineError> {
        if !self.is_recording() {
            self.stop_song();
            return Err(SongLineError::NotRecording);
        }
        let now = self
            .controller
            .shared()
            .frames
            .load(std::sync::atomic::Ordering::Relaxed);
        for r in &mut self.recording {
            r.discard |= discard;
            // Stopped during the count-in: the take has not started yet, and is stopped
            // the moment it does (it ends empty and is not kept).
            let at = if r.starts_at != u64::MAX && r.starts_at > now {
                r.starts_at
            } else {
                0
            };
            self.controller
                .send_at(at, Command::StopTake { id: r.id })
                .map_err(|_| SongLineError::EngineGone)?;
        }
        self.stop_song();
        Ok(())
    }

    /// Stops the take and waits (a few seconds at most) until it is on disk.
    fn stop(&mut self, discard: bool) -> Result<String, SongLineError> {
        self.stop_nowait(discard)?;
        if self.offline {
            // The engine runs when the render goes on; `poll` says when the take is in.
            return Ok(String::new());
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut said = Vec::new();
        while self.is_recording() && Instant::now() < deadline {
            self.controller.collect_garbage();
            if let Ok(e) = self.writer.events().recv_timeout(Duration::from_millis(20)) {
                said.extend(self.on_event(e));
            }
        }
        if self.is_recording() {
            said.push("stopping: the take is still being written; it will be kept".into());
        }
        Ok(said.join("\n"))
    }

    /// What happened since the last call, a line each: takes finished, dropouts, a
    /// writer that fell behind, a disk filling up.
    pub fn poll(&mut self) -> Vec<String> {
        let mut said = std::mem::take(&mut self.said_later);
        while let Ok(e) = self.writer.events().try_recv() {
            said.extend(self.on_event(e));
        }
        if self.is_recording()
            && self
                .space_checked
                .is_none_or(|t| t.elapsed() >= Duration::from_secs(1))
        {
            self.space_checked = Some(Instant::now());
            if let Some(s) = self.seconds_left() {
                if s < LIMIT_SECS {
                    // Stopped while there is still room to close the files and the song.
                    for r in &mut self.recording {
                        r.ended_early = Some(WriteFailure::DiskFull);
                    }
                    match self.stop(false) {
                        Ok(l) => said.extend(l.lines().map(String::from)),
                        Err(e) => said.push(e.to_string()),
                    }
                    return said;
                }
                if s < WARN_SECS && !self.warned_low {
                    self.warned_low = true;
                    said.push(format!(
                        "warning: the disk is nearly full: room for {} more of recording",
                        disk::space::time_text(s)
                    ));
                }
            }
        }
        said
    }

    fn on_event(&mut self, e: WriterEvent) -> Option<String> {
        let rate = self.rate();
        match e {
            WriterEvent::Peaks { id, peaks } => {
                let r = self.recording.iter_mut().find(|r| r.id == id)?;
                Arc::make_mut(&mut r.peaks).extend(peaks);
                None
            }
            WriterEvent::Dropout { id, at_frame } => {
                let r = self.recording.iter_mut().find(|r| r.id == id)?;
                r.marks.push(at_frame);
                Some(format!(
                    "dropout: the sound device skipped during the take on track {} at {}; \
                     it is marked in the take",
                    r.track + 1,
                    clock(at_frame, rate)
                ))
            }
            WriterEvent::Behind { id, lost_frames } => {
                let r = self.recording.iter().find(|r| r.id == id)?;
                Some(format!(
                    "fault: the disk is too slow: {} of the take on track {} could not be \
                     written in time and is silence",
                    clock(lost_frames, rate),
                    r.track + 1
                ))
            }
            WriterEvent::Finished {
                id,
                frames,
                dropouts,
                lost_frames,
                parts,
                ..
            } => self.file_take(id, frames, parts, dropouts, lost_frames, None),
            WriterEvent::Failed {
                id,
                frames,
                dropouts,
                why,
                parts,
                ..
            } => self.file_take(id, frames, parts, dropouts, 0, Some(why)),
        }
    }

    /// Puts a finished take into the song, then lets go of its journal entry.
    #[allow(clippy::too_many_arguments)]
    fn file_take(
        &mut self,
        id: u32,
        frames: u64,
        parts: Vec<(PathBuf, u64)>,
        dropouts: Vec<u64>,
        lost_frames: u64,
        why: Option<WriteFailure>,
    ) -> Option<String> {
        let at = self.recording.iter().position(|r| r.id == id)?;
        let r = self.recording.remove(at);
        let why = why.or(r.ended_early.clone());
        let rate = self.rate();
        let (dir, s) = self.open.as_mut()?;
        if frames == 0 {
            // Nothing was recorded (stopped in the count-in): no take, no file.
            let _ = std::fs::remove_file(dir.join(song::TAKES_DIR).join(&r.file));
            let _ = song::remove_journal(dir, &r.file);
            // A track made for it goes again, empty as it is.
            if r.made_track && r.track + 1 == s.tracks.len() && s.tracks[r.track].takes.is_empty() {
                s.tracks.pop();
                let _ = song::save_song(dir, s);
            }
            return Some(format!(
                "stopped: {}, so nothing was recorded on track {}",
                if r.plan.end.is_some() {
                    "before the punch-in"
                } else {
                    "during the count-in"
                },
                r.track + 1
            ));
        }
        let entry = JournalEntry {
            track: r.track,
            file: r.file.clone(),
            start: r.plan.start,
            sample_rate: rate,
            fade: r.plan.fade,
            cycle_frames: r.plan.cycle.map_or(0, |(a, b)| b - a),
        };
        let files: Vec<(String, u64)> = parts
            .iter()
            .filter_map(|(p, n)| Some((p.file_name()?.to_string_lossy().into_owned(), *n)))
            .collect();
        let mut made = song::takes_of_recording(&entry, &files, &dropouts);
        for t in &mut made {
            t.kept &= !r.discard;
            t.ended_early = why.as_ref().map(|w| w.to_string());
        }
        // The take a person picks from the passes: the one kept, or the last.
        let chosen = made.iter().position(|t| t.kept).unwrap_or(made.len() - 1);
        made[chosen].lost_frames = lost_frames;
        for (f, _) in &files {
            if let Some(p) = disk::overview::load_or_make(&dir.join(song::TAKES_DIR).join(f)) {
                self.overviews.insert(f.clone(), Arc::new(p));
            }
        }
        let track = s.tracks.get_mut(r.track)?;
        let first = track.takes.len();
        let times_round = made.len();
        let each = made[0].frames;
        track.takes.extend(made);
        let k = first + chosen;
        let saved = song::save_song(dir, s);
        if saved.is_ok() {
            let _ = song::remove_journal(dir, &r.file);
        }
        // `take keep|discard` is about the time round kept, or the whole take.
        self.last = Some(if r.plan.cycle.is_some() {
            (r.track, k..k + 1)
        } else {
            (r.track, first..first + times_round)
        });
        let mut said = match &why {
            None if r.plan.cycle.is_some() && times_round > 1 => format!(
                "take: track {}, takes {} to {} ({times_round} times round, {} each): {}",
                r.track + 1,
                first + 1,
                first + times_round,
                clock(each, rate),
                if r.discard {
                    "all discarded".to_string()
                } else {
                    format!("take {} kept", k + 1)
                }
            ),
            None => format!(
                "take: track {}, take {}: {} {}",
                r.track + 1,
                k + 1,
                clock(frames, rate),
                if r.discard { "discarded" } else { "kept" }
            ),
            Some(w) => format!(
                "stopped: {w}. The take on track {} is kept ({}); the music plays on",
                r.track + 1,
                clock(frames, rate)
            ),
        };
        if !dropouts.is_empty() {
            said.push_str(&format!(", {} dropouts marked", dropouts.len()));
        }
        if let Err(e) = saved {
            said.push_str(&format!(
                ". The song file could not be written ({e}); the take is safe on disk and \
                 comes back at the next start"
            ));
        }
        Some(said)
    }

    /// A recovered take kept (as it was put back) or thrown away (its file stays).
    pub fn decide_recovered(
        &mut self,
        r: &RecoveredTake,
        keep: bool,
    ) -> Result<String, SongLineError> {
        let apply = |s: &mut Song| {
            for k in s
                .tracks
                .get_mut(r.track)
                .into_iter()
                .flat_map(|t| t.takes.iter_mut())
                .filter(|k| k.file == r.file)
            {
                k.kept = keep;
            }
        };
        match self.open.as_mut() {
            Some((dir, s)) if folder(dir) == r.song => {
                apply(s);
                song::save_song(dir, s)?;
            }
            _ => {
                let (dir, mut s) = song::open_song(&self.songs, &r.song)?;
                apply(&mut s);
                song::save_song(&dir, &s)?;
            }
        }
        Ok(format!(
            "take: the recovered take on track {} of {} {}",
            r.track + 1,
            r.song,
            if keep {
                "kept"
            } else {
                "discarded (its file stays in the song's folder)"
            }
        ))
    }

    /// Stops every take and waits until they are on disk (quitting).
    pub fn finish(&mut self) -> Vec<String> {
        if self.is_recording() {
            match self.stop(false) {
                Ok(s) => s.lines().map(String::from).collect(),
                Err(e) => vec![e.to_string()],
            }
        } else {
            Vec::new()
        }
    }
}

/// Bounces the song in `dir` and writes it as `kind`; the answer names the file (or folder).
fn export_song(
    dir: &Path,
    s: &Song,
    rate: u32,
    kind: ExportKind,
    path: Option<PathBuf>,
    progress: &disk::export::Progress,
) -> Result<String, SongLineError> {
    let name = folder(dir);
    let exports = dir.join("exports");
    // The work foreseen: a bounce (two and the encoding for the phone file).
    let frames = song_frames(dir, s, rate);
    progress.add_total(match kind {
        ExportKind::Ogg | ExportKind::Mp3 => frames * (2 + disk::export::OGG_WEIGHT),
        _ => frames,
    });
    let (b, loud) = if matches!(kind, ExportKind::Ogg | ExportKind::Mp3) {
        let (b, lufs, tp) = normalised_bounce_with(dir, s, rate, progress)?;
        (b, format!(", {lufs:.1} LUFS, {tp:.1} dBTP"))
    } else {
        let stems = kind == ExportKind::Stems;
        (
            bounce_with(dir, s, rate, 0.0, stems, progress)?,
            String::new(),
        )
    };
    let target = match (kind, path) {
        (_, Some(p)) => p,
        (ExportKind::Ogg, None) => exports.join(format!("{name}.ogg")),
        (ExportKind::Mp3, None) => exports.join(format!("{name}.mp3")),
        (ExportKind::Wav, None) => exports.join(format!("{name}.wav")),
        (ExportKind::Flac, None) => exports.join(format!("{name}.flac")),
        (ExportKind::Stems, None) => exports.join(format!("{name} stems")),
    };
    let made = |p: &Path| {
        crate::session::make_private_dir(p, true).map_err(|source| {
            SongLineError::Export(disk::export::ExportError::Write {
                path: p.to_owned(),
                source,
            })
        })
    };
    match kind {
        ExportKind::Wav | ExportKind::Flac | ExportKind::Ogg | ExportKind::Mp3 => {
            if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
                made(parent)?;
            }
            match kind {
                ExportKind::Wav => disk::export::write_wav(&target, &b.left, &b.right, rate, None)?,
                ExportKind::Flac => disk::export::write_flac(&target, &b.left, &b.right, rate)?,
                ExportKind::Mp3 => {
                    disk::export::write_mp3(&target, &b.left, &b.right, rate, progress)?
                }
                _ => disk::export::write_ogg(&target, &b.left, &b.right, rate, progress)?,
            }
        }
        ExportKind::Stems => {
            made(&target)?;
            for (i, (track, l, r)) in b.stems.iter().enumerate() {
                let file = target.join(format!(
                    "{:02} {}.wav",
                    i + 1,
                    crate::session::safe_name(track)
                ));
                let bext = disk::export::Bext {
                    description: format!("{name}: {track}"),
                    time_reference: 0,
                };
                disk::export::write_wav(&file, l, r, rate, Some(&bext))?;
            }
        }
    }
    Ok(format!(
        "exported: {} ({}{loud})",
        target.display(),
        clock(b.left.len() as u64, rate)
    ))
}

/// A song bounced: the mix as the speakers would play it (track levels, the master at
/// 0 dB and the limiter, through the engine offline), and each track apart at its level.
pub struct Bounce {
    pub left: Vec<f32>,
    pub right: Vec<f32>,
    /// Track name, left, right; every one from the song's first frame, as long as the mix.
    pub stems: Vec<(String, Vec<f32>, Vec<f32>)>,
}

/// The kept takes of every track that is heard (not muted; the soloed ones when any is),
/// placed, with the track's (left, right) level. The track `recording` is not heard,
/// unless it is punched: then it plays but for the punch.
fn heard_tracks(
    dir: &Path,
    s: &Song,
    rate: u32,
    recording: Option<(usize, Option<(u64, u64)>)>,
) -> Vec<(usize, TrackPlan)> {
    let any_solo = s.tracks.iter().any(|t| t.solo);
    let mut tracks = Vec::new();
    for (i, t) in s.tracks.iter().enumerate() {
        let (recorded, hole) = match recording {
            Some((r, hole)) if r == i => (hole.is_none(), hole),
            _ => (false, None),
        };
        let heard = !recorded && !t.muted && (!any_solo || t.solo || hole.is_some());
        let takes: Vec<PlacedTake> = t
            .takes
            .iter()
            .filter(|k| k.kept && k.sample_rate == rate)
            .map(|k| PlacedTake {
                path: dir.join(song::TAKES_DIR).join(&k.file),
                start: k.start,
                frames: k.frames,
                offset: k.offset,
                fade: k.fade,
            })
            .collect();
        if !heard || takes.is_empty() {
            continue;
        }
        let g = crate::engine::smooth::db_to_gain(t.volume_db);
        let pan = t.pan.clamp(-1.0, 1.0);
        tracks.push((
            i,
            TrackPlan {
                takes,
                gain_l: g * (1.0 - pan).min(1.0),
                gain_r: g * (1.0 + pan).min(1.0),
                hole,
            },
        ));
    }
    tracks
}

/// Loudness a phone file is brought to (integrated, LUFS), as streaming services play.
pub const PHONE_LUFS: f64 = -14.0;

/// The song bounced at -14 LUFS integrated, its true peaks held at -1 dBTP by the
/// engine's limiter (which can take a loud song a little under the target: a second pass
/// makes up what it took); with its loudness and true peak as measured.
pub fn normalised_bounce(
    dir: &Path,
    s: &Song,
    rate: u32,
) -> Result<(Bounce, f64, f64), SongLineError> {
    normalised_bounce_with(dir, s, rate, &Default::default())
}

/// [`normalised_bounce`], saying how far it has come (two bounces and the encoding are
/// the work foreseen; a third bounce adds to it).
fn normalised_bounce_with(
    dir: &Path,
    s: &Song,
    rate: u32,
    progress: &disk::export::Progress,
) -> Result<(Bounce, f64, f64), SongLineError> {
    let first = bounce_with(dir, s, rate, 0.0, false, progress)?;
    let frames = first.left.len() as u64;
    let (mut lufs, _) = disk::export::loudness(&first.left, &first.right, rate)?;
    if !lufs.is_finite() {
        return Err(SongLineError::NothingToExport);
    }
    let mut gain = PHONE_LUFS - lufs;
    let mut b = first;
    for i in 0..6 {
        if i > 0 {
            progress.add_total(frames);
        }
        b = bounce_with(dir, s, rate, gain as f32, false, progress)?;
        let (now, _) = disk::export::loudness(&b.left, &b.right, rate)?;
        lufs = now;
        if (lufs - PHONE_LUFS).abs() < 0.02 {
            break;
        }
        gain += PHONE_LUFS - lufs;
    }
    let (lufs, tp) = disk::export::loudness(&b.left, &b.right, rate)?;
    Ok((b, lufs, tp))
}

/// Bounces the song in `dir` at `rate`, offline, `gain_db` on every track (beyond the
/// master's range, for loudness).
pub fn bounce(dir: &Path, s: &Song, rate: u32, gain_db: f32) -> Result<Bounce, SongLineError> {
    bounce_with(dir, s, rate, gain_db, false, &Default::default())
}

/// [`bounce`], with each track apart too when `stems`.
pub fn bounce_with(
    dir: &Path,
    s: &Song,
    rate: u32,
    gain_db: f32,
    stems: bool,
    progress: &disk::export::Progress,
) -> Result<Bounce, SongLineError> {
    let g = crate::engine::smooth::db_to_gain(gain_db);
    let tracks: Vec<_> = heard_tracks(dir, s, rate, None)
        .into_iter()
        .map(|(i, t)| {
            (
                i,
                TrackPlan {
                    gain_l: t.gain_l * g,
                    gain_r: t.gain_r * g,
                    ..t
                },
            )
        })
        .collect();
    let end = song_frames(dir, s, rate) as usize;
    if end == 0 {
        return Err(SongLineError::NothingToExport);
    }
    let mut stem_tracks = Vec::new();
    for (i, t) in tracks.iter().filter(|_| stems) {
        let (l, r) = song_reader::render_track(t.takes.clone(), t.gain_l, t.gain_r, rate, end)?;
        stem_tracks.push((s.tracks[*i].name.clone(), l, r));
    }
    let (controller, mut engine) = crate::controller::new_engine(&crate::engine::EngineConfig {
        sample_rate: rate,
        inputs: Vec::new(),
    });
    let _ = controller.send(Command::MasterGain { db: 0.0 });
    let (streams, mut reader) =
        song_reader::prepare(tracks.into_iter().map(|(_, t)| t).collect(), rate, 0, None)?;
    let status = Arc::new(PlaybackStatus::default());
    let p = SongPlayback::new(
        streams,
        rate,
        s.tempo_bpm,
        s.beats_per_bar,
        0,
        false,
        0,
        status,
    );
    // The master's glide to 0 dB is over before the song starts.
    const LEAD: usize = 8192;
    let _ = controller.send_at(LEAD as u64, Command::PlaySong(p));
    let latency = engine.latency_frames();
    let total = LEAD + latency + end;
    let (mut left, mut right) = (vec![0f32; total], vec![0f32; total]);
    let block = 1024;
    let mut at = 0;
    while at < total {
        let n = block.min(total - at);
        engine.process(&[], &mut left[at..at + n], &mut right[at..at + n], &[]);
        reader.fill();
        controller.collect_garbage();
        at += n;
        progress.advance(n as u64)?;
    }
    left.drain(..LEAD + latency);
    right.drain(..LEAD + latency);
    Ok(Bounce {
        left,
        right,
        stems: stem_tracks,
    })
}

/// Track `i` (0-based) as it is made: every input, at full level, in the middle.
fn new_track(i: usize) -> SongTrack {
    SongTrack {
        name: format!("Track {}", i + 1),
        source: song::source_text(TakeSource::Inputs),
        volume_db: 0.0,
        pan: 0.0,
        muted: false,
        solo: false,
        takes: Vec::new(),
    }
}

fn folder(dir: &Path) -> String {
    dir.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Takes a crash cut off, in every song under `songs`: each file is mended from its
/// length and put back into its song, its journal entry removed. A line each for the
/// person: `recovered: PATH (…)`, or why nothing could be saved.
pub fn recover_songs(songs: &Path) -> Vec<String> {
    recover_songs_found(songs).0
}

/// A take a crash cut off, put back in its song, for a person to keep or throw away.
#[derive(Clone, Debug, PartialEq)]
pub struct RecoveredTake {
    /// The song's folder name.
    pub song: String,
    pub file: String,
    /// 0-based.
    pub track: usize,
    pub frames: u64,
    pub sample_rate: u32,
}

/// [`recover_songs`], with the takes it put back.
pub fn recover_songs_found(songs: &Path) -> (Vec<String>, Vec<RecoveredTake>) {
    let mut said = Vec::new();
    let mut found = Vec::new();
    for name in song::song_names(songs) {
        let dir = songs.join(&name);
        let entries = song::journal_entries(&dir);
        if entries.is_empty() {
            continue;
        }
        let mut s = match song::open_song(songs, &name) {
            Ok((_, s)) => s,
            Err(e) => {
                said.push(format!("recovery: {e}"));
                continue;
            }
        };
        for (journal, entry) in entries {
            let e = match entry {
                Ok(e) => e,
                Err(why) => {
                    said.push(format!(
                        "recovery: the note {} cannot be read ({why}); it is left as it is",
                        journal.display()
                    ));
                    continue;
                }
            };
            let path = dir.join(song::TAKES_DIR).join(&e.file);
            let listed = s
                .tracks
                .iter()
                .any(|t| t.takes.iter().any(|k| k.file == e.file));
            if listed {
                // Filed already; only the note was left.
                let _ = disk::repair_wav(&path);
                let _ = song::remove_journal(&dir, &e.file);
                continue;
            }
            let nothing = |said: &mut Vec<String>| {
                said.push(format!(
                    "recovery: nothing could be saved from {} (the stop came before any sound \
                     reached the disk)",
                    path.display()
                ));
                let _ = song::remove_journal(&dir, &e.file);
            };
            let repaired = match disk::repair_wav(&path) {
                Ok(r) if r.frames > 0 => r,
                Ok(_) | Err(disk::RepairError::NotWav { .. }) => {
                    nothing(&mut said);
                    continue;
                }
                Err(_) if !path.exists() => {
                    nothing(&mut said);
                    continue;
                }
                Err(err) => {
                    said.push(format!("recovery: {err}"));
                    continue;
                }
            };
            while s.tracks.len() <= e.track {
                s.tracks.push(new_track(s.tracks.len()));
            }
            // A take that outgrew its file went on in parts: each mended and put back.
            let mut files = vec![(e.file.clone(), repaired.frames)];
            let mut all = repaired.frames;
            for part in 2.. {
                let p = disk::take_writer::part_path(&path, part);
                let Ok(r) = disk::repair_wav(&p) else { break };
                files.push((
                    p.file_name()
                        .map_or_else(String::new, |f| f.to_string_lossy().into_owned()),
                    r.frames,
                ));
                all += r.frames;
            }
            let mut back = song::takes_of_recording(&e, &files, &[]);
            for t in &mut back {
                t.sample_rate = repaired.sample_rate;
                t.recovered = true;
            }
            s.tracks[e.track].takes.extend(back);
            match song::save_song(&dir, &s) {
                Ok(()) => {
                    let _ = song::remove_journal(&dir, &e.file);
                    said.push(format!(
                        "recovered: {} ({} on track {} of the song {name})",
                        path.display(),
                        clock(all, repaired.sample_rate),
                        e.track + 1
                    ));
                    found.push(RecoveredTake {
                        song: name.clone(),
                        file: e.file.clone(),
                        track: e.track,
                        frames: all,
                        sample_rate: repaired.sample_rate,
                    });
                }
                Err(err) => said.push(format!("recovery: {err}")),
            }
        }
    }
    (said, found)
}
