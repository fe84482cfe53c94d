//! Saved jams: each loop as a 32-bit float stereo WAV plus `session.toml`, one folder
//! per jam under `<data folder>/jams/`, readable by the owner only. Opening forgives:
//! a damaged session file or loop costs only what is damaged, never the rest.

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::controller::{build_looper, CaptureError, ControlError, Controller, LooperConfig};
use crate::engine::looper::{
    Grid, LoopCapture, LoopOp, Looper, Quantize, Speed, SyncMode, TrackNote, TrackSettings,
    MAX_TRACKS,
};
use crate::engine::Command;
use crate::prep::resample::resample_loop;

pub const SESSION_FILE: &str = "session.toml";
/// The session file format this build writes (and the newest it reads).
pub const JAM_VERSION: u32 = 1;
pub const JAMS_DIR: &str = "jams";
/// How long a save waits for the audio thread to copy the loops out.
pub const CAPTURE_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum JamError {
    #[error("Samspill could not find or make its data folder, so the jam cannot be saved.")]
    NoDataFolder,
    #[error("Could not write {path}: {source}. The loops are still playing; check that the disk has room and try again.")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("There is no saved jam at {0}.")]
    NotFound(PathBuf),
    #[error("Nothing could be read from the saved jam at {0}: the session file and every loop are damaged or missing.")]
    NothingReadable(PathBuf),
    #[error("The session file is damaged ({0}).")]
    Damaged(String),
    #[error(transparent)]
    Capture(#[from] CaptureError),
    #[error(transparent)]
    Control(#[from] ControlError),
}

/// A jam in memory: what the looper held, ready to write or to restore.
#[derive(Clone, Debug, PartialEq)]
pub struct Jam {
    pub name: String,
    /// When it was saved, UTC, e.g. `2025-03-01T14:05:09Z`.
    pub created: String,
    pub sample_rate: u32,
    pub sync: SyncMode,
    pub quantize: Quantize,
    /// The grid's cycle (0: none yet).
    pub cycle_frames: u64,
    /// One per looper track, in order; an empty track has no audio.
    pub tracks: Vec<JamTrack>,
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct JamTrack {
    pub left: Vec<f32>,
    pub right: Vec<f32>,
    pub settings: TrackSettings,
}

impl JamTrack {
    pub fn frames(&self) -> usize {
        self.left.len().min(self.right.len())
    }
}

/// Something the user should know about a saved or restored jam. Loops are numbered
/// from 1, as the panel numbers them; `Display` is the English sentence (the panel
/// says the same in its own language).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JamNote {
    /// An overdub or similar was running: the loop is saved as it was before it.
    SavedBeforeChange(usize),
    /// A new take was being recorded and is not in the save.
    RecordingNotSaved(usize),
    /// The loop grew while it was being saved and is not in the save.
    GrewWhileSaving(usize),
    /// The loop kept changing while it was being saved and is not in the save.
    ChangedWhileSaving(usize),
    /// The jam was saved at another sample rate; its loops were converted.
    Converted { from_hz: u32, to_hz: u32 },
    /// The loop did not fit in the looper.
    DidNotFit(usize),
}

impl std::fmt::Display for JamNote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            JamNote::SavedBeforeChange(n) => write!(
                f,
                "Loop {n} was being changed (overdub or similar); it is saved as it was before."
            ),
            JamNote::RecordingNotSaved(n) => {
                write!(f, "Loop {n} was being recorded; the new take is not saved.")
            }
            JamNote::GrewWhileSaving(n) => write!(
                f,
                "Loop {n} grew while it was being saved and is not in the save."
            ),
            JamNote::ChangedWhileSaving(n) => write!(
                f,
                "Loop {n} kept changing while it was being saved and is not in the save."
            ),
            JamNote::Converted { from_hz, to_hz } => write!(
                f,
                "The jam was saved at {from_hz} Hz and the audio now runs at {to_hz} Hz; its loops were converted and keep their pitch and tempo."
            ),
            JamNote::DidNotFit(n) => write!(f, "Loop {n} did not fit in the looper."),
        }
    }
}

/// What went wrong opening a jam, in short (the file by file detail is in
/// [`OpenedJam::problems`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenTrouble {
    /// This many loops could not be read; their tracks are empty.
    LoopsUnreadable(usize),
    /// The session file is damaged; this many loops were read from their WAV files.
    SessionDamaged { loops: usize },
    /// The session file is missing; this many loops were read from their WAV files.
    SessionMissing { loops: usize },
}

impl std::fmt::Display for OpenTrouble {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (what, n) = match *self {
            OpenTrouble::LoopsUnreadable(1) => {
                return write!(f, "One loop could not be read and its track is empty")
            }
            OpenTrouble::LoopsUnreadable(n) => {
                return write!(f, "{n} loops could not be read and their tracks are empty")
            }
            OpenTrouble::SessionDamaged { loops } => ("damaged", loops),
            OpenTrouble::SessionMissing { loops } => ("missing", loops),
        };
        let loops = if n == 1 { "loop" } else { "loops" };
        write!(
            f,
            "The session file is {what}; {n} {loops} could still be read from their WAV files."
        )
    }
}

/// A jam written to disk, and what the user should know about it.
#[derive(Clone, Debug)]
pub struct SavedJam {
    pub dir: PathBuf,
    /// E.g. a loop that was being recorded and is not in the save.
    pub notes: Vec<JamNote>,
}

/// A jam read back. `message` is set when something could not be read.
#[derive(Clone, Debug)]
pub struct OpenedJam {
    pub jam: Jam,
    pub dir: PathBuf,
    pub message: Option<String>,
    /// What `message` says, for a panel to say in its own language.
    pub trouble: Option<OpenTrouble>,
    /// One line per file that could not be read.
    pub problems: Vec<String>,
}

/// A saved jam as a list shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct JamListing {
    pub dir: PathBuf,
    /// The folder's name: what `jam open NAME` takes.
    pub folder: String,
    /// The name it was saved under (may be empty).
    pub name: String,
    /// When it was saved, seconds since 1970 (the session file's time if it says none).
    pub saved_secs: u64,
}

/// `session.toml` as written.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionFile {
    pub version: u32,
    pub name: String,
    pub created: String,
    pub sample_rate: u32,
    pub sync: SyncFile,
    #[serde(default)]
    pub tracks: Vec<TrackFile>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncKind {
    Off,
    FirstLoop,
    Tempo,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuantizeKind {
    Off,
    Beat,
    Bar,
    Cycle,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpeedKind {
    Half,
    Normal,
    Double,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SyncFile {
    pub mode: SyncKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bpm: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beats_per_bar: Option<u32>,
    #[serde(default)]
    pub cycle_frames: u64,
    #[serde(default = "quantize_off")]
    pub quantize: QuantizeKind,
}

fn quantize_off() -> QuantizeKind {
    QuantizeKind::Off
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrackFile {
    /// 1-based, as the panel numbers loops.
    pub track: usize,
    /// `track-N.wav`; none for an empty track.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(default)]
    pub frames: usize,
    #[serde(default)]
    pub cycle_frames: usize,
    #[serde(default = "one")]
    pub volume: f32,
    #[serde(default)]
    pub pan: f32,
    #[serde(default)]
    pub muted: bool,
    #[serde(default)]
    pub reversed: bool,
    #[serde(default = "speed_normal")]
    pub speed: SpeedKind,
    #[serde(default = "one")]
    pub feedback: f32,
    #[serde(default)]
    pub source: u8,
}

fn one() -> f32 {
    1.0
}

fn speed_normal() -> SpeedKind {
    SpeedKind::Normal
}

/// The WAV file name of track `t` (0-based); the only names a jam reads.
pub fn track_file_name(t: usize) -> String {
    format!("track-{}.wav", t + 1)
}

impl Jam {
    /// The loops a capture got, and a line for each track that is not saved whole.
    pub fn from_capture(c: &LoopCapture, name: &str) -> (Jam, Vec<JamNote>) {
        let mut notes = Vec::new();
        let tracks = c
            .tracks
            .iter()
            .enumerate()
            .map(|(t, tc)| {
                let n = t + 1;
                match tc.note {
                    TrackNote::Whole => {}
                    TrackNote::WithoutOpInProgress => notes.push(JamNote::SavedBeforeChange(n)),
                    TrackNote::RecordingNotSaved => notes.push(JamNote::RecordingNotSaved(n)),
                    TrackNote::TooLong { .. } => notes.push(JamNote::GrewWhileSaving(n)),
                    TrackNote::Changed => notes.push(JamNote::ChangedWhileSaving(n)),
                }
                let (l, r) = tc.audio();
                JamTrack {
                    left: l.to_vec(),
                    right: r.to_vec(),
                    settings: tc.settings,
                }
            })
            .collect();
        let jam = Jam {
            name: name.to_owned(),
            created: utc_timestamp(now_unix_secs()),
            sample_rate: c.sample_rate,
            sync: c.sync,
            quantize: c.quantize,
            cycle_frames: c.cycle_frames,
            tracks,
        };
        (jam, notes)
    }

    /// Not rt: the jam as if it had been recorded at `sample_rate`: every loop
    /// resampled (as a loop, so its seam stays seamless) and every length in frames
    /// converted, so loops last as many seconds, keep their pitch, and a tempo keeps
    /// its BPM (loops of whole bars stay whole bars of the grid at the new rate).
    pub fn at_rate(&self, sample_rate: u32) -> Jam {
        let (from, to) = (self.sample_rate, sample_rate.max(1));
        if from == to || from == 0 {
            return self.clone();
        }
        let plain = to as f64 / from as f64;
        let scale = |frames: u64, ratio: f64| (frames as f64 * ratio).round() as u64;
        // A tempo's cycle is whole frames at each rate; lengths follow the cycle.
        let (old_cycle, new_cycle) = match self.sync {
            SyncMode::Tempo { .. } => {
                let old = match self.cycle_frames {
                    0 => Grid::new(self.sync, from).cycle_frames,
                    c => c,
                };
                (old, Grid::new(self.sync, to).cycle_frames)
            }
            _ => (self.cycle_frames, scale(self.cycle_frames, plain)),
        };
        let ratio = if old_cycle > 0 && new_cycle > 0 {
            new_cycle as f64 / old_cycle as f64
        } else {
            plain
        };
        let tracks = self
            .tracks
            .iter()
            .map(|tr| {
                let n = tr.frames();
                let new_len = if n > 0 {
                    (scale(n as u64, ratio) as usize).max(1)
                } else {
                    0
                };
                let mut audio =
                    resample_loop(&[&tr.left[..n], &tr.right[..n]], new_len).into_iter();
                let mut settings = tr.settings;
                if settings.cycle_frames > 0 {
                    settings.cycle_frames =
                        (scale(settings.cycle_frames as u64, ratio) as usize).max(1);
                }
                JamTrack {
                    left: audio.next().unwrap_or_default(),
                    right: audio.next().unwrap_or_default(),
                    settings,
                }
            })
            .collect();
        Jam {
            name: self.name.clone(),
            created: self.created.clone(),
            sample_rate: to,
            sync: self.sync,
            quantize: self.quantize,
            cycle_frames: if self.cycle_frames > 0 { new_cycle } else { 0 },
            tracks,
        }
    }

    fn to_file(&self) -> SessionFile {
        let (mode, bpm, beats_per_bar) = match self.sync {
            SyncMode::Off => (SyncKind::Off, None, None),
            SyncMode::FirstLoop => (SyncKind::FirstLoop, None, None),
            SyncMode::Tempo { bpm, beats_per_bar } => {
                (SyncKind::Tempo, Some(bpm), Some(beats_per_bar))
            }
        };
        SessionFile {
            version: JAM_VERSION,
            name: self.name.clone(),
            created: self.created.clone(),
            sample_rate: self.sample_rate,
            sync: SyncFile {
                mode,
                bpm,
                beats_per_bar,
                cycle_frames: self.cycle_frames,
                quantize: match self.quantize {
                    Quantize::Off => QuantizeKind::Off,
                    Quantize::Beat => QuantizeKind::Beat,
                    Quantize::Bar => QuantizeKind::Bar,
                    Quantize::Cycle => QuantizeKind::Cycle,
                },
            },
            tracks: self
                .tracks
                .iter()
                .enumerate()
                .map(|(t, tr)| {
                    let s = &tr.settings;
                    TrackFile {
                        track: t + 1,
                        file: (tr.frames() > 0).then(|| track_file_name(t)),
                        frames: tr.frames(),
                        cycle_frames: s.cycle_frames,
                        volume: s.volume,
                        pan: s.pan,
                        muted: s.muted,
                        reversed: s.reversed,
                        speed: match s.speed {
                            Speed::Half => SpeedKind::Half,
                            Speed::Normal => SpeedKind::Normal,
                            Speed::Double => SpeedKind::Double,
                        },
                        feedback: s.feedback,
                        source: s.source,
                    }
                })
                .collect(),
        }
    }
}

/// Reads and checks a session file. Never panics, whatever the bytes.
pub fn parse_session(bytes: &[u8]) -> Result<SessionFile, JamError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| JamError::Damaged("it is not a text file".into()))?;
    let file: SessionFile = toml::from_str(text).map_err(|e| {
        // toml's message names the line; its first line is enough for a person.
        let msg = e.to_string();
        JamError::Damaged(msg.lines().next().unwrap_or("unreadable").trim().to_owned())
    })?;
    if file.version == 0 || file.version > JAM_VERSION {
        return Err(JamError::Damaged(format!(
            "it has format version {}, this Samspill reads up to {JAM_VERSION}",
            file.version
        )));
    }
    if !(8_000..=384_000).contains(&file.sample_rate) {
        return Err(JamError::Damaged(format!(
            "its sample rate {} Hz is not possible",
            file.sample_rate
        )));
    }
    if file.tracks.len() > MAX_TRACKS {
        return Err(JamError::Damaged(format!(
            "it lists {} loops, Samspill has at most {MAX_TRACKS}",
            file.tracks.len()
        )));
    }
    let mut seen = [false; MAX_TRACKS];
    for t in &file.tracks {
        let slot = t.track.checked_sub(1).and_then(|i| seen.get_mut(i));
        match slot {
            Some(s) if !*s => *s = true,
            _ => {
                return Err(JamError::Damaged(format!(
                    "it has a wrong or repeated loop number {}",
                    t.track
                )))
            }
        }
    }
    Ok(file)
}

/// `<data folder>/jams`, made private if new.
pub fn jams_dir() -> Result<PathBuf, JamError> {
    let dir = super::data_dir()
        .ok_or(JamError::NoDataFolder)?
        .join(JAMS_DIR);
    make_private_dir(&dir, true)?;
    Ok(dir)
}

/// The saved jams, newest name last (folder names start with the date when unnamed).
pub fn list_jams() -> Vec<PathBuf> {
    let Ok(dir) = jams_dir() else {
        return Vec::new();
    };
    let mut jams: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    jams.sort();
    jams
}

/// The jams saved under `parent`, newest first, each with its name and when it was
/// saved (read from its session file; a jam without one still shows, by its folder).
pub fn jams_in(parent: &Path) -> Vec<JamListing> {
    let mut jams: Vec<JamListing> = std::fs::read_dir(parent)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .filter_map(|dir| {
            let folder = dir.file_name()?.to_string_lossy().into_owned();
            let session = dir.join(SESSION_FILE);
            let file = std::fs::read(&session)
                .ok()
                .and_then(|b| parse_session(&b).ok());
            let modified = std::fs::metadata(&session)
                .or_else(|_| std::fs::metadata(&dir))
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_secs());
            let (name, saved_secs) = match file {
                Some(f) => (f.name, parse_utc_timestamp(&f.created).unwrap_or(modified)),
                None => (String::new(), modified),
            };
            Some(JamListing {
                dir,
                folder,
                name,
                saved_secs,
            })
        })
        .collect();
    jams.sort_by(|a, b| {
        b.saved_secs
            .cmp(&a.saved_secs)
            .then_with(|| b.folder.cmp(&a.folder))
    });
    jams
}

/// The jam in `parent` whose folder is called `folder`, exactly as [`jams_in`] lists it;
/// nothing else (no paths, so nothing outside the jams folder is ever opened).
pub fn find_jam(parent: &Path, folder: &str) -> Option<PathBuf> {
    let folder = folder.trim();
    jams_in(parent)
        .into_iter()
        .find(|j| j.folder == folder)
        .map(|j| j.dir)
}

/// A name for a jam saved now, in the computer's local time: `2025-03-01 14.05`.
pub fn default_jam_name() -> String {
    let (y, mo, d, h, mi, _) = local_civil(now_unix_secs());
    format!("{y:04}-{mo:02}-{d:02} {h:02}.{mi:02}")
}

/// When a jam was saved, in the computer's local time: `2025-03-01 14:05`.
pub fn local_time_text(secs: u64) -> String {
    let (y, mo, d, h, mi, _) = local_civil(secs);
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}")
}

/// Seconds since 1970 from `2025-03-01T14:05:09Z`, as [`Jam::created`] writes it.
fn parse_utc_timestamp(text: &str) -> Option<u64> {
    let b = text.as_bytes();
    if b.len() != 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[19] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| text.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    // Howard Hinnant's days-from-civil.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + h * 3600 + mi * 60 + s).ok()
}

/// Like `civil`, in the computer's time zone (UTC where it cannot be had).
fn local_civil(secs: u64) -> (i64, u32, u32, u32, u32, u32) {
    #[cfg(unix)]
    {
        if let Ok(t) = libc::time_t::try_from(secs) {
            // Safety: localtime_r writes only into `tm`, which we own.
            let mut tm: libc::tm = unsafe { std::mem::zeroed() };
            if !unsafe { libc::localtime_r(&t, &mut tm) }.is_null() {
                return (
                    i64::from(tm.tm_year) + 1900,
                    (tm.tm_mon + 1) as u32,
                    tm.tm_mday as u32,
                    tm.tm_hour as u32,
                    tm.tm_min as u32,
                    tm.tm_sec as u32,
                );
            }
        }
    }
    civil(secs)
}

/// A folder name from what the user typed (see [`super::safe_name`]).
pub fn safe_jam_name(name: &str) -> String {
    super::safe_name(name)
}

/// Copies the loops out of the running engine and saves them as a new jam in the
/// data folder. Blocks while the audio thread copies (a few seconds for long loops).
pub fn save_running_jam(controller: &Controller, name: Option<&str>) -> Result<SavedJam, JamError> {
    save_running_jam_in(controller, &jams_dir()?, name)
}

/// Like [`save_running_jam`], into a new folder under `parent`.
pub fn save_running_jam_in(
    controller: &Controller,
    parent: &Path,
    name: Option<&str>,
) -> Result<SavedJam, JamError> {
    let capture = controller.capture_loops(CAPTURE_TIMEOUT)?;
    let (jam, notes) = Jam::from_capture(&capture, name.unwrap_or(""));
    drop(capture);
    let dir = save_jam_in(parent, name, &jam)?;
    Ok(SavedJam { dir, notes })
}

/// Saves `jam` as a new folder under `parent`, named after `name` (or the time), never
/// overwriting another jam. Returns the folder.
pub fn save_jam_in(parent: &Path, name: Option<&str>, jam: &Jam) -> Result<PathBuf, JamError> {
    make_private_dir(parent, true)?;
    let mut base = name.map(safe_jam_name).unwrap_or_default();
    if base.is_empty() {
        base = format!("jam-{}", folder_timestamp(now_unix_secs()));
    }
    for k in 1..1000 {
        let dir = if k == 1 {
            parent.join(&base)
        } else {
            parent.join(format!("{base}-{k}"))
        };
        match make_private_dir(&dir, false) {
            Ok(()) => {
                write_jam(&dir, jam)?;
                return Ok(dir);
            }
            Err(JamError::Write { source, .. })
                if source.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    Err(JamError::Write {
        path: parent.join(base),
        source: std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            "too many jams with this name",
        ),
    })
}

/// Writes `jam` into `dir` (made if missing): the loops first, the session file last,
/// so a session file never names a loop that is not there yet. Every file is 0600.
pub fn write_jam(dir: &Path, jam: &Jam) -> Result<(), JamError> {
    make_private_dir(dir, true)?;
    let rate = jam.sample_rate.clamp(8_000, 384_000);
    for (t, tr) in jam.tracks.iter().enumerate() {
        let path = dir.join(track_file_name(t));
        if tr.frames() == 0 {
            // An old take of this track must not come back on opening.
            let _ = std::fs::remove_file(&path);
            continue;
        }
        let bytes = wav_bytes(tr, rate).map_err(|e| JamError::Write {
            path: path.clone(),
            source: std::io::Error::other(e),
        })?;
        super::write_private(&path, &bytes).map_err(|source| JamError::Write {
            path: path.clone(),
            source,
        })?;
    }
    let text = toml::to_string_pretty(&jam.to_file()).map_err(|e| JamError::Write {
        path: dir.join(SESSION_FILE),
        source: std::io::Error::other(e),
    })?;
    let path = dir.join(SESSION_FILE);
    super::write_private(&path, text.as_bytes()).map_err(|source| JamError::Write { path, source })
}

/// Reads a saved jam. A damaged or missing session file falls back to the loops'
/// WAV files; a damaged WAV leaves its track empty. Fails only when nothing is left.
pub fn open_jam(dir: &Path) -> Result<OpenedJam, JamError> {
    if !dir.is_dir() {
        return Err(JamError::NotFound(dir.to_owned()));
    }
    let session = match std::fs::read(dir.join(SESSION_FILE)) {
        Ok(bytes) => parse_session(&bytes).map_err(Some),
        Err(_) => Err(None),
    };
    let mut problems = Vec::new();
    match session {
        Ok(file) => {
            let jam = jam_from_file(dir, &file, &mut problems);
            let trouble = match problems.len() {
                0 => None,
                n => Some(OpenTrouble::LoopsUnreadable(n)),
            };
            let message = trouble.map(|t| format!("{t}: {}", problems.join(" ")));
            Ok(OpenedJam {
                jam,
                dir: dir.to_owned(),
                message,
                trouble,
                problems,
            })
        }
        Err(why) => {
            let jam = jam_from_wavs(dir, &mut problems);
            let n = jam.tracks.iter().filter(|t| t.frames() > 0).count();
            if n == 0 {
                return Err(JamError::NothingReadable(dir.to_owned()));
            }
            let trouble = if why.is_some() {
                OpenTrouble::SessionDamaged { loops: n }
            } else {
                OpenTrouble::SessionMissing { loops: n }
            };
            if let Some(e) = why {
                problems.insert(0, e.to_string());
            }
            Ok(OpenedJam {
                jam,
                dir: dir.to_owned(),
                message: Some(trouble.to_string()),
                trouble: Some(trouble),
                problems,
            })
        }
    }
}

fn jam_from_file(dir: &Path, file: &SessionFile, problems: &mut Vec<String>) -> Jam {
    let count = file.tracks.iter().map(|t| t.track).max().unwrap_or(0);
    let mut tracks = vec![JamTrack::default(); count];
    for tf in &file.tracks {
        let t = tf.track - 1; // checked by parse_session
        let Some(slot) = tracks.get_mut(t) else {
            continue;
        };
        // `nan` and `inf` are valid TOML: such a value goes back to its default, said.
        let mut number = |what: &'static str, v: f32, default: f32| {
            crate::number::finite(what, v).unwrap_or_else(|e| {
                problems.push(format!("Loop {}: {e}; using {default}.", tf.track));
                default
            })
        };
        let (volume, pan, feedback) = (
            number("the volume", tf.volume, 1.0),
            number("the pan", tf.pan, 0.0),
            number("the feedback", tf.feedback, 1.0),
        );
        slot.settings = TrackSettings {
            cycle_frames: tf.cycle_frames,
            volume,
            pan,
            muted: tf.muted,
            reversed: tf.reversed,
            speed: match tf.speed {
                SpeedKind::Half => Speed::Half,
                SpeedKind::Normal => Speed::Normal,
                SpeedKind::Double => Speed::Double,
            },
            feedback,
            source: tf.source,
        };
        let Some(name) = &tf.file else {
            continue;
        };
        let expected = track_file_name(t);
        if *name != expected {
            problems.push(format!(
                "Loop {} names the file \"{name}\", which is not a Samspill loop file.",
                tf.track
            ));
            continue;
        }
        match read_wav(&dir.join(&expected)) {
            Ok((l, r, _)) => {
                slot.left = l;
                slot.right = r;
                let bad = silence_non_finite(&mut slot.left) + silence_non_finite(&mut slot.right);
                if bad > 0 {
                    problems.push(format!(
                        "Loop {} ({expected}) held {bad} samples that were not numbers; they are silent now.",
                        tf.track
                    ));
                }
            }
            Err(e) => problems.push(format!("Loop {} ({expected}) {e}.", tf.track)),
        }
    }
    Jam {
        name: file.name.clone(),
        created: file.created.clone(),
        sample_rate: file.sample_rate,
        sync: match file.sync.mode {
            SyncKind::Off => SyncMode::Off,
            SyncKind::FirstLoop => SyncMode::FirstLoop,
            SyncKind::Tempo => SyncMode::Tempo {
                bpm: match file.sync.bpm.map(|b| crate::number::finite("the tempo", b)) {
                    Some(Ok(b)) => b,
                    Some(Err(e)) => {
                        problems.push(format!("{e}; using 120 bpm."));
                        120.0
                    }
                    None => 120.0,
                },
                beats_per_bar: file.sync.beats_per_bar.unwrap_or(4),
            },
        },
        quantize: match file.sync.quantize {
            QuantizeKind::Off => Quantize::Off,
            QuantizeKind::Beat => Quantize::Beat,
            QuantizeKind::Bar => Quantize::Bar,
            QuantizeKind::Cycle => Quantize::Cycle,
        },
        cycle_frames: file.sync.cycle_frames,
        tracks,
    }
}

/// Samples that are not numbers (a damaged file) become silence; how many there were.
fn silence_non_finite(samples: &mut [f32]) -> usize {
    let mut bad = 0;
    for s in samples.iter_mut().filter(|s| !s.is_finite()) {
        *s = 0.0;
        bad += 1;
    }
    bad
}

/// Without a session file: every `track-N.wav` that reads, at default settings.
fn jam_from_wavs(dir: &Path, problems: &mut Vec<String>) -> Jam {
    let mut tracks = Vec::new();
    let mut rate = None;
    for t in 0..MAX_TRACKS {
        let name = track_file_name(t);
        let path = dir.join(&name);
        if !path.exists() {
            continue;
        }
        match read_wav(&path) {
            Ok((mut l, mut r, sr)) => {
                let bad = silence_non_finite(&mut l) + silence_non_finite(&mut r);
                if bad > 0 {
                    problems.push(format!(
                        "Loop {} ({name}) held {bad} samples that were not numbers; they are silent now.",
                        t + 1
                    ));
                }
                rate.get_or_insert(sr);
                tracks.resize(t + 1, JamTrack::default());
                if let Some(slot) = tracks.get_mut(t) {
                    slot.left = l;
                    slot.right = r;
                }
            }
            Err(e) => problems.push(format!("Loop {} ({name}) {e}.", t + 1)),
        }
    }
    Jam {
        name: dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        created: String::new(),
        sample_rate: rate.unwrap_or(48_000),
        sync: SyncMode::FirstLoop,
        quantize: Quantize::Off,
        cycle_frames: 0,
        tracks,
    }
}

fn wav_bytes(track: &JamTrack, sample_rate: u32) -> Result<Vec<u8>, hound::Error> {
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut buf = Cursor::new(Vec::with_capacity(44 + track.frames() * 8));
    {
        let mut w = hound::WavWriter::new(&mut buf, spec)?;
        for (l, r) in track.left.iter().zip(&track.right) {
            w.write_sample(*l)?;
            w.write_sample(*r)?;
        }
        w.finalize()?;
    }
    Ok(buf.into_inner())
}

/// A loop Samspill wrote: 32-bit float, stereo (or mono, heard on both sides).
/// The error reads after "Loop N (file)".
fn read_wav(path: &Path) -> Result<(Vec<f32>, Vec<f32>, u32), String> {
    let reader = hound::WavReader::open(path).map_err(|e| match e {
        hound::Error::IoError(e) => format!("could not be opened ({e})"),
        _ => "is damaged and could not be read".to_owned(),
    })?;
    let spec = reader.spec();
    if spec.sample_format != hound::SampleFormat::Float
        || spec.bits_per_sample != 32
        || !(1..=2).contains(&spec.channels)
    {
        return Err("is not a loop file Samspill wrote".to_owned());
    }
    let samples: Result<Vec<f32>, _> = reader.into_samples::<f32>().collect();
    let samples = samples.map_err(|_| "is damaged and could not be read".to_owned())?;
    let (l, r) = if spec.channels == 2 {
        if samples.len() % 2 != 0 {
            return Err("is damaged (cut off) and could not be read".to_owned());
        }
        samples.chunks_exact(2).map(|f| (f[0], f[1])).unzip()
    } else {
        (samples.clone(), samples)
    };
    if l.is_empty() {
        return Err("is empty".to_owned());
    }
    Ok((l, r, spec.sample_rate))
}

/// Not rt: a looper holding the jam's loops, ready for `Command::InstallLooper`; at
/// least as many tracks and as long as `config` says, more if the jam needs it.
/// Also says what will not sound as saved.
pub fn prepare_looper(
    jam: &Jam,
    config: &LooperConfig,
    sample_rate: u32,
) -> (Box<Looper>, Vec<JamNote>) {
    let mut notes = Vec::new();
    let sr = sample_rate.max(1);
    // Saved at another rate: converted here, so the loops keep their pitch and tempo.
    let converted;
    let jam = if jam.sample_rate != sr {
        converted = jam.at_rate(sr);
        notes.push(JamNote::Converted {
            from_hz: jam.sample_rate,
            to_hz: sr,
        });
        &converted
    } else {
        jam
    };
    let longest = jam.tracks.iter().map(JamTrack::frames).max().unwrap_or(0);
    let mut cfg = *config;
    cfg.tracks = cfg.tracks.max(jam.tracks.len()).clamp(1, MAX_TRACKS);
    // A little over the longest loop, so float rounding never cuts a frame off.
    cfg.max_secs = cfg.max_secs.max(longest as f32 / sr as f32 + 0.5);
    cfg.sync = jam.sync;
    cfg.quantize = jam.quantize;
    let mut looper = build_looper(&cfg, sr);
    for (t, tr) in jam.tracks.iter().enumerate() {
        if tr.frames() == 0 {
            // An empty track keeps what it records from, ready for its first take.
            looper.command(t, LoopOp::SetSource(tr.settings.source));
            continue;
        }
        if looper
            .preload(t, &tr.left, &tr.right, &tr.settings)
            .is_err()
        {
            notes.push(JamNote::DidNotFit(t + 1));
        }
    }
    looper.preload_sync(jam.sync, jam.cycle_frames);
    (looper, notes)
}

/// Builds a looper with the jam's loops (off the audio thread, here) and hands it to
/// the engine. A running engine gives its old looper back first and it is freed before
/// the new one is made, so the loop memory is never held twice.
pub fn restore_jam(
    controller: &Controller,
    jam: &Jam,
    config: &LooperConfig,
) -> Result<Vec<JamNote>, JamError> {
    use std::sync::atomic::Ordering::Relaxed;
    let shared = controller.shared();
    let rate = shared.sample_rate.load(Relaxed);
    if shared.loop_tracks.load(Relaxed) > 0 {
        controller.send(Command::RemoveLooper)?;
        // Only an engine that runs can give it back (an engine driven by hand, as in
        // the tests, does so later: then both are held for a moment, as before).
        let frames = shared.frames.load(Relaxed);
        std::thread::sleep(std::time::Duration::from_millis(20));
        if shared.frames.load(Relaxed) != frames {
            let start = std::time::Instant::now();
            while shared.loop_tracks.load(Relaxed) > 0
                && start.elapsed() < std::time::Duration::from_secs(1)
            {
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            controller.collect_garbage();
        }
    }
    let (looper, notes) = prepare_looper(jam, config, rate);
    controller.send(Command::InstallLooper(looper))?;
    Ok(notes)
}

fn make_private_dir(dir: &Path, existing_ok: bool) -> Result<(), JamError> {
    super::make_private_dir(dir, existing_ok).map_err(|source| JamError::Write {
        path: dir.to_owned(),
        source,
    })
}

fn now_unix_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// (year, month, day, hour, minute, second) in UTC.
fn civil(secs: u64) -> (i64, u32, u32, u32, u32, u32) {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (
        y,
        m,
        d,
        (rem / 3600) as u32,
        (rem / 60 % 60) as u32,
        (rem % 60) as u32,
    )
}

fn utc_timestamp(secs: u64) -> String {
    let (y, mo, d, h, mi, s) = civil(secs);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

fn folder_timestamp(secs: u64) -> String {
    let (y, mo, d, h, mi, s) = civil(secs);
    format!("{y:04}-{mo:02}-{d:02}-{h:02}{mi:02}{s:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cannot_leave_the_jams_folder() {
        assert_eq!(safe_jam_name("../../etc/passwd"), "etcpasswd");
        assert_eq!(safe_jam_name(".."), "");
        assert_eq!(safe_jam_name("  Tirsdag med Åse. "), "Tirsdag-med-Åse");
        assert_eq!(safe_jam_name("a\0b/c\\d"), "abcd");
        assert!(safe_jam_name(&"x".repeat(500)).len() <= 60);
    }

    #[test]
    fn timestamps_are_utc_dates() {
        assert_eq!(utc_timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc_timestamp(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(folder_timestamp(1_700_000_000), "2023-11-14-221320");
        for secs in [0, 951_782_400, 1_700_000_000] {
            assert_eq!(parse_utc_timestamp(&utc_timestamp(secs)), Some(secs));
        }
        assert_eq!(parse_utc_timestamp("yesterday"), None);
    }

    #[test]
    fn the_list_shows_the_newest_jam_first_and_opens_only_what_it_lists() {
        let tmp = tempfile::tempdir().unwrap();
        let jam = |name: &str, created: &str| Jam {
            name: name.into(),
            created: created.into(),
            sample_rate: 48_000,
            sync: SyncMode::FirstLoop,
            quantize: Quantize::Off,
            cycle_frames: 0,
            tracks: vec![JamTrack {
                left: vec![0.1; 8],
                right: vec![0.1; 8],
                settings: TrackSettings::default(),
            }],
        };
        save_jam_in(
            tmp.path(),
            Some("old"),
            &jam("Old one", "2024-01-01T10:00:00Z"),
        )
        .unwrap();
        save_jam_in(
            tmp.path(),
            Some("new"),
            &jam("New one", "2025-01-01T10:00:00Z"),
        )
        .unwrap();
        let listed = jams_in(tmp.path());
        let folders: Vec<&str> = listed.iter().map(|j| j.folder.as_str()).collect();
        assert_eq!(folders, ["new", "old"]);
        assert_eq!(listed[0].name, "New one");
        assert_eq!(find_jam(tmp.path(), "old"), Some(tmp.path().join("old")));
        assert_eq!(find_jam(tmp.path(), "../old"), None);
        assert_eq!(find_jam(tmp.path(), "missing"), None);
    }
}
