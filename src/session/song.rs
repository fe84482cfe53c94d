//! Songs: a tempo and a meter, tracks, and the takes recorded on each track. One folder
//! per song in the user's data folder, everything in it readable by its owner only:
//!
//! ```text
//! songs/<name>/song.toml      the song: tracks, takes, which takes are kept
//! songs/<name>/takes/*.wav    the recordings
//! songs/<name>/journal/*.toml a take being recorded (written before it starts)
//! ```
//!
//! A journal entry is written and synced before a take starts and removed once the take
//! is in `song.toml`; one found at start-up is a take that a crash or a power cut cut off,
//! to be mended and put back (`control::songs`).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::engine::recorder::TakeSource;
use crate::engine::MAX_INPUTS;

pub const SONGS_DIR: &str = "songs";
pub const SONG_FILE: &str = "song.toml";
pub const TAKES_DIR: &str = "takes";
pub const JOURNAL_DIR: &str = "journal";

/// Tempo range a song takes (the same as the looper's).
pub use crate::engine::looper::sync::{MAX_BEATS_PER_BAR, MAX_BPM, MIN_BPM};

#[derive(Debug, thiserror::Error)]
pub enum SongError {
    #[error("Samspill could not find or make its data folder, so songs cannot be kept.")]
    NoDataFolder,
    #[error("Could not write {path}: {source}. Check that the disk has room.")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("Could not read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("The song file {path} is damaged ({why}); its recordings are still in {takes}.")]
    Damaged {
        path: PathBuf,
        why: String,
        takes: PathBuf,
    },
    #[error("There is no song called \"{0}\"; `songs` shows them.")]
    NoSuchSong(String),
    #[error("There is already a song called \"{0}\"; `song open {0}` opens it.")]
    NameTaken(String),
    #[error("A song needs a name of letters or digits.")]
    NoName,
}

/// A song in memory, as `song.toml` keeps it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Song {
    pub name: String,
    /// Seconds since 1970 when it was made.
    #[serde(default)]
    pub created: u64,
    pub tempo_bpm: f32,
    pub beats_per_bar: u32,
    /// The click plays while recording (the count-in always clicks).
    #[serde(default = "yes")]
    pub click: bool,
    /// Bars of click before a take starts: 0, 1 or 2.
    #[serde(default = "one")]
    pub count_in_bars: u32,
    /// Seconds of the song played before a punch-in, to play along into it.
    #[serde(default = "two")]
    pub pre_roll_secs: f64,
    /// Seconds of the song (from, to) a take replaces on its track, when set.
    #[serde(default)]
    pub punch: Option<[f64; 2]>,
    /// Bars (first, last; 1-based) played round and round while recording, a take each
    /// time round, when set.
    #[serde(default)]
    pub cycle_bars: Option<[u32; 2]>,
    #[serde(default)]
    pub tracks: Vec<SongTrack>,
}

fn yes() -> bool {
    true
}

fn one() -> u32 {
    1
}

fn two() -> f64 {
    2.0
}

/// The longest pre-roll, in seconds.
pub const MAX_PRE_ROLL_SECS: f64 = 30.0;
/// The last bar a cycle can reach.
pub const MAX_BAR: u32 = 9999;

/// The most bars of count-in.
pub const MAX_COUNT_IN_BARS: u32 = 2;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SongTrack {
    pub name: String,
    /// What it records: `inputs`, `input N`, `instruments` or `mix`.
    pub source: String,
    #[serde(default)]
    pub volume_db: f32,
    #[serde(default)]
    pub pan: f32,
    #[serde(default)]
    pub muted: bool,
    #[serde(default)]
    pub solo: bool,
    #[serde(default)]
    pub takes: Vec<Take>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Take {
    /// The file, inside the song's `takes/` folder.
    pub file: String,
    /// Where in the song it starts, in frames.
    #[serde(default)]
    pub start: u64,
    pub frames: u64,
    pub sample_rate: u32,
    pub kept: bool,
    /// Frames of the take where the sound device had a dropout.
    #[serde(default)]
    pub dropouts: Vec<u64>,
    /// Frames the disk could not take in time, written as silence.
    #[serde(default)]
    pub lost_frames: u64,
    /// Cut off by a crash and mended at the next start.
    #[serde(default)]
    pub recovered: bool,
    /// Why it ended before it was stopped (a full disk), if it did.
    #[serde(default)]
    pub ended_early: Option<String>,
    /// Frames into the file where the take begins (passes of a cycle share a file).
    #[serde(default)]
    pub offset: u64,
    /// Frames at each end faded over what the track had there (a punch).
    #[serde(default)]
    pub fade: u64,
}

impl Take {
    pub fn seconds(&self) -> f64 {
        self.frames as f64 / self.sample_rate.max(1) as f64
    }
}

/// A take being recorded, as the journal keeps it until it is in the song.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JournalEntry {
    /// 0-based.
    pub track: usize,
    pub file: String,
    pub start: u64,
    pub sample_rate: u32,
    /// Punched in: frames faded at each end.
    #[serde(default)]
    pub fade: u64,
    /// Cycle recording: frames a time round (each a take of its own).
    #[serde(default)]
    pub cycle_frames: u64,
}

/// The takes one recording makes, from its files (`parts`: each file and its frames; more
/// than one when it outgrew a WAV file) and the recording's dropout frames: itself (a take
/// per file, one after the other), or, cycle recording, one take per time round (no time
/// round is split between files). A last time round a quarter of the cycle long or less is
/// dropped when there was a whole one; the last whole time round is the one kept (the
/// others stay in the song, to be chosen instead).
pub fn takes_of_recording(
    e: &JournalEntry,
    parts: &[(String, u64)],
    dropouts: &[u64],
) -> Vec<Take> {
    let mut takes = Vec::new();
    let c = e.cycle_frames;
    let mut before = 0;
    for (i, (file, frames)) in parts.iter().enumerate() {
        let last_part = i + 1 == parts.len();
        let piece = |offset: u64, len: u64, start: u64, fade: u64| Take {
            file: file.clone(),
            start,
            frames: len,
            sample_rate: e.sample_rate,
            kept: c == 0,
            dropouts: dropouts
                .iter()
                .filter(|d| (before + offset..before + offset + len).contains(*d))
                .map(|d| d - before - offset)
                .collect(),
            lost_frames: 0,
            recovered: false,
            ended_early: None,
            offset,
            fade,
        };
        if let Some(whole) = frames.checked_div(c) {
            for k in 0..whole {
                takes.push(piece(k * c, c, e.start, 0));
            }
            let rest = frames % c;
            let keep_rest = !last_part || rest * 4 > c || takes.is_empty();
            if rest > 0 && keep_rest {
                takes.push(piece(whole * c, rest, e.start, 0));
            }
        } else {
            // A punch outgrowing a file is not a thing; split, its fades would dip.
            let fade = if parts.len() == 1 { e.fade } else { 0 };
            takes.push(piece(0, *frames, e.start + before, fade));
        }
        before += frames;
    }
    if c > 0 {
        let chosen = takes
            .iter()
            .rposition(|t| t.frames == c)
            .unwrap_or(takes.len().saturating_sub(1));
        if let Some(t) = takes.get_mut(chosen) {
            t.kept = true;
        }
    }
    takes
}

pub fn source_text(s: TakeSource) -> String {
    match s {
        TakeSource::Inputs => "inputs".into(),
        TakeSource::Input(k) => format!("input {}", k as usize + 1),
        TakeSource::Instruments => "instruments".into(),
        TakeSource::Mix => "mix".into(),
    }
}

pub fn source_from_text(s: &str) -> Option<TakeSource> {
    let mut w = s.split_whitespace();
    let source = match (w.next()?, w.next()) {
        ("inputs", None) => TakeSource::Inputs,
        ("instruments", None) => TakeSource::Instruments,
        ("mix", None) => TakeSource::Mix,
        ("input", Some(n)) => {
            let n: usize = n.parse().ok()?;
            if !(1..=MAX_INPUTS).contains(&n) {
                return None;
            }
            TakeSource::Input((n - 1) as u8)
        }
        _ => return None,
    };
    w.next().is_none().then_some(source)
}

/// A take's file name: letters, digits, `-` and `_`, ending in `.wav` (nothing that
/// could point outside the takes folder).
fn is_take_file_name(f: &str) -> bool {
    f.strip_suffix(".wav").is_some_and(|stem| {
        !stem.is_empty()
            && stem
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    })
}

/// Reads a song file; the error says what is wrong in words.
pub fn parse_song(bytes: &[u8]) -> Result<Song, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "it is not a text file".to_string())?;
    let song: Song = toml::from_str(text).map_err(|e| {
        e.message()
            .lines()
            .next()
            .unwrap_or("unreadable")
            .to_string()
    })?;
    if !(song.tempo_bpm.is_finite() && (MIN_BPM..=MAX_BPM).contains(&song.tempo_bpm)) {
        return Err(format!(
            "its tempo {} is not {MIN_BPM} to {MAX_BPM} bpm",
            song.tempo_bpm
        ));
    }
    if !(1..=16).contains(&song.beats_per_bar) {
        return Err(format!("{} beats a bar is not 1 to 16", song.beats_per_bar));
    }
    if song.count_in_bars > MAX_COUNT_IN_BARS {
        return Err(format!(
            "{} bars of count-in is more than {MAX_COUNT_IN_BARS}",
            song.count_in_bars
        ));
    }
    if !(0.0..=MAX_PRE_ROLL_SECS).contains(&song.pre_roll_secs) {
        return Err(format!(
            "a pre-roll of {} s is not 0 to {MAX_PRE_ROLL_SECS} s",
            song.pre_roll_secs
        ));
    }
    if let Some([a, b]) = song.punch {
        if !(a.is_finite() && b.is_finite() && 0.0 <= a && a < b && b < 24.0 * 3600.0) {
            return Err(format!(
                "the punch from {a} s to {b} s is not a stretch of the song"
            ));
        }
    }
    if let Some([a, b]) = song.cycle_bars {
        if !(1 <= a && a <= b && b <= MAX_BAR) {
            return Err(format!(
                "the cycle from bar {a} to bar {b} is not a stretch of the song"
            ));
        }
    }
    for t in &song.tracks {
        if source_from_text(&t.source).is_none() {
            return Err(format!(
                "track \"{}\" records from \"{}\"",
                t.name, t.source
            ));
        }
        if !(t.volume_db.is_finite() && t.pan.is_finite() && (-1.0..=1.0).contains(&t.pan)) {
            return Err(format!(
                "track \"{}\" has a level or pan that is not a number",
                t.name
            ));
        }
        for k in &t.takes {
            if !is_take_file_name(&k.file) {
                return Err(format!("a take's file is called \"{}\"", k.file));
            }
            if k.sample_rate == 0 {
                return Err(format!("the take {} has no sample rate", k.file));
            }
        }
    }
    Ok(song)
}

/// `<data folder>/songs`, made private if new.
pub fn songs_dir() -> Result<PathBuf, SongError> {
    let dir = super::data_dir()
        .ok_or(SongError::NoDataFolder)?
        .join(SONGS_DIR);
    super::make_private_dir(&dir, true).map_err(|source| SongError::Write {
        path: dir.clone(),
        source,
    })?;
    Ok(dir)
}

/// The songs in `songs`, by folder name, in order.
pub fn song_names(songs: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(songs)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join(SONG_FILE).is_file())
        .filter_map(|p| Some(p.file_name()?.to_string_lossy().into_owned()))
        .collect();
    names.sort();
    names
}

/// A song at 100 bpm in 4, with no tracks yet, saved in a new folder.
pub fn create_song(songs: &Path, name: &str) -> Result<(PathBuf, Song), SongError> {
    let folder = super::safe_name(name);
    if folder.is_empty() {
        return Err(SongError::NoName);
    }
    let dir = songs.join(&folder);
    if dir.exists() {
        return Err(SongError::NameTaken(folder));
    }
    let write = |path: &Path, source| SongError::Write {
        path: path.to_owned(),
        source,
    };
    super::make_private_dir(&dir, false).map_err(|e| write(&dir, e))?;
    for sub in [TAKES_DIR, JOURNAL_DIR] {
        let d = dir.join(sub);
        super::make_private_dir(&d, false).map_err(|e| write(&d, e))?;
    }
    let song = Song {
        name: name.trim().to_string(),
        created: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        tempo_bpm: 100.0,
        beats_per_bar: 4,
        click: true,
        count_in_bars: 1,
        pre_roll_secs: 2.0,
        punch: None,
        cycle_bars: None,
        tracks: Vec::new(),
    };
    save_song(&dir, &song)?;
    Ok((dir, song))
}

/// The song in the folder `folder` (as `songs` lists it; nothing outside `songs`).
pub fn open_song(songs: &Path, folder: &str) -> Result<(PathBuf, Song), SongError> {
    let folder = folder.trim();
    if !song_names(songs).iter().any(|n| n == folder) {
        return Err(SongError::NoSuchSong(folder.to_string()));
    }
    let dir = songs.join(folder);
    let path = dir.join(SONG_FILE);
    let bytes = std::fs::read(&path).map_err(|source| SongError::Read {
        path: path.clone(),
        source,
    })?;
    let song = parse_song(&bytes).map_err(|why| SongError::Damaged {
        path,
        why,
        takes: dir.join(TAKES_DIR),
    })?;
    for sub in [TAKES_DIR, JOURNAL_DIR] {
        let d = dir.join(sub);
        super::make_private_dir(&d, true).map_err(|source| SongError::Write { path: d, source })?;
    }
    Ok((dir, song))
}

/// Writes `song.toml` whole (a new file renamed over the old, synced).
pub fn save_song(dir: &Path, song: &Song) -> Result<(), SongError> {
    let path = dir.join(SONG_FILE);
    let text = toml::to_string_pretty(song).map_err(|e| SongError::Write {
        path: path.clone(),
        source: std::io::Error::other(e),
    })?;
    super::write_private(&path, text.as_bytes())
        .and_then(|()| super::sync_dir(dir))
        .map_err(|source| SongError::Write { path, source })
}

/// A file name for the next take on `track` (0-based) that no file has yet.
pub fn new_take_file(dir: &Path, track: usize) -> String {
    let takes = dir.join(TAKES_DIR);
    (1..)
        .map(|n| format!("track{:02}-take{n:03}.wav", track + 1))
        .find(|f| !takes.join(f).exists() && !journal_path(dir, f).exists())
        .unwrap_or_default()
}

fn journal_path(dir: &Path, file: &str) -> PathBuf {
    dir.join(JOURNAL_DIR)
        .join(Path::new(file).with_extension("toml"))
}

/// Written and synced before the take starts.
pub fn write_journal(dir: &Path, entry: &JournalEntry) -> Result<(), SongError> {
    let path = journal_path(dir, &entry.file);
    let text = toml::to_string(entry).map_err(|e| SongError::Write {
        path: path.clone(),
        source: std::io::Error::other(e),
    })?;
    super::write_private(&path, text.as_bytes())
        .and_then(|()| super::sync_dir(&dir.join(JOURNAL_DIR)))
        .map_err(|source| SongError::Write { path, source })
}

/// Once the take is in `song.toml`.
pub fn remove_journal(dir: &Path, file: &str) -> Result<(), SongError> {
    let path = journal_path(dir, file);
    std::fs::remove_file(&path)
        .and_then(|()| super::sync_dir(&dir.join(JOURNAL_DIR)))
        .map_err(|source| SongError::Write { path, source })
}

/// Takes a crash left in the journal: each entry's path and what it says (or why it
/// cannot be read).
pub fn journal_entries(dir: &Path) -> Vec<(PathBuf, Result<JournalEntry, String>)> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir.join(JOURNAL_DIR))
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    found.sort();
    found
        .into_iter()
        .map(|p| {
            let entry = std::fs::read(&p)
                .map_err(|e| e.to_string())
                .and_then(|b| {
                    let text = String::from_utf8(b).map_err(|_| "not text".to_string())?;
                    toml::from_str::<JournalEntry>(&text).map_err(|e| e.message().to_string())
                })
                .and_then(|e| {
                    if is_take_file_name(&e.file) && e.sample_rate > 0 {
                        Ok(e)
                    } else {
                        Err(format!("it names the file \"{}\"", e.file))
                    }
                });
            (p, entry)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn song() -> Song {
        Song {
            name: "Min sang".into(),
            created: 1,
            tempo_bpm: 92.0,
            beats_per_bar: 3,
            click: false,
            count_in_bars: 2,
            pre_roll_secs: 1.5,
            punch: Some([1.0, 2.5]),
            cycle_bars: Some([3, 4]),
            tracks: vec![SongTrack {
                name: "Vokal".into(),
                source: "input 1".into(),
                volume_db: -3.0,
                pan: 0.25,
                muted: false,
                solo: false,
                takes: vec![Take {
                    file: "track01-take001.wav".into(),
                    start: 0,
                    frames: 48_000,
                    sample_rate: 48_000,
                    kept: true,
                    dropouts: vec![100],
                    lost_frames: 0,
                    recovered: false,
                    ended_early: None,
                    offset: 0,
                    fade: 480,
                }],
            }],
        }
    }

    #[test]
    fn a_song_is_saved_and_read_back_whole_and_private() {
        let root = tempfile::tempdir().unwrap();
        let (dir, mut s) = create_song(root.path(), "  Min sang ").unwrap();
        assert_eq!(dir.file_name().unwrap(), "Min-sang");
        assert!(matches!(
            create_song(root.path(), "Min sang"),
            Err(SongError::NameTaken(_))
        ));
        s.tracks = song().tracks;
        save_song(&dir, &s).unwrap();
        assert_eq!(song_names(root.path()), vec!["Min-sang".to_string()]);
        let (_, back) = open_song(root.path(), "Min-sang").unwrap();
        assert_eq!(back, s);
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir.join(SONG_FILE)), 0o600);
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join(TAKES_DIR)), 0o700);
        assert!(matches!(
            open_song(root.path(), "../Min-sang"),
            Err(SongError::NoSuchSong(_))
        ));
    }

    #[test]
    fn journal_entries_come_back_until_removed() {
        let root = tempfile::tempdir().unwrap();
        let (dir, _) = create_song(root.path(), "a").unwrap();
        let f = new_take_file(&dir, 1);
        assert_eq!(f, "track02-take001.wav");
        let e = JournalEntry {
            track: 1,
            file: f.clone(),
            start: 5,
            sample_rate: 44_100,
            fade: 0,
            cycle_frames: 96_000,
        };
        write_journal(&dir, &e).unwrap();
        assert_eq!(new_take_file(&dir, 1), "track02-take002.wav");
        let found = journal_entries(&dir);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].1.as_ref().unwrap(), &e);
        std::fs::write(dir.join(JOURNAL_DIR).join("x.toml"), "file = '../../etc'").unwrap();
        assert!(journal_entries(&dir)[1].1.is_err());
        remove_journal(&dir, &f).unwrap();
        assert_eq!(journal_entries(&dir).len(), 1);
    }

    /// A cycle's recording is a take each time round, in one file; a sliver at the end
    /// is not a take, and the last whole time round is the one kept.
    #[test]
    fn a_cycle_recording_is_a_take_each_time_round() {
        let e = JournalEntry {
            track: 1,
            file: "track02-take002.wav".into(),
            start: 1000,
            sample_rate: 48_000,
            fade: 0,
            cycle_frames: 100,
        };
        let shape = |frames| {
            takes_of_recording(&e, &[(e.file.clone(), frames)], &[])
                .iter()
                .map(|t| (t.offset, t.frames, t.kept, t.start))
                .collect::<Vec<_>>()
        };
        assert_eq!(shape(60), vec![(0, 60, true, 1000)]);
        assert_eq!(shape(100), vec![(0, 100, true, 1000)]);
        assert_eq!(shape(120), vec![(0, 100, true, 1000)]);
        assert_eq!(
            shape(230),
            vec![
                (0, 100, false, 1000),
                (100, 100, true, 1000),
                (200, 30, false, 1000)
            ]
        );
        // In two files (it outgrew the first): each time round in one file, the dropouts
        // on the takes they fell in.
        let t = takes_of_recording(
            &e,
            &[("a.wav".into(), 200), ("a-part2.wav".into(), 130)],
            &[150, 210],
        );
        let got: Vec<_> = t
            .iter()
            .map(|t| {
                (
                    t.file.as_str(),
                    t.offset,
                    t.frames,
                    t.kept,
                    t.dropouts.clone(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("a.wav", 0, 100, false, vec![]),
                ("a.wav", 100, 100, false, vec![50]),
                ("a-part2.wav", 0, 100, true, vec![10]),
                ("a-part2.wav", 100, 30, false, vec![]),
            ]
        );
        let plain = JournalEntry {
            cycle_frames: 0,
            fade: 480,
            ..e
        };
        let t = takes_of_recording(&plain, &[("b.wav".into(), 5000)], &[7]);
        assert_eq!(
            (t.len(), t[0].frames, t[0].fade, t[0].kept),
            (1, 5000, 480, true)
        );
        assert_eq!(t[0].dropouts, vec![7]);
        // A plain take in two files: one after the other, both kept, gap-free.
        let t = takes_of_recording(
            &plain,
            &[("b.wav".into(), 5000), ("b-part2.wav".into(), 10)],
            &[],
        );
        let got: Vec<_> = t
            .iter()
            .map(|t| (t.start, t.frames, t.kept, t.fade))
            .collect();
        assert_eq!(got, vec![(1000, 5000, true, 0), (6000, 10, true, 0)]);
    }

    /// Song files as a damaged disk or a hand edit might leave them: every one is either
    /// read whole and valid or refused in words, never a panic.
    #[test]
    fn damaged_song_files_are_refused_in_words() {
        let good = toml::to_string_pretty(&song()).unwrap();
        assert_eq!(parse_song(good.as_bytes()).unwrap(), song());
        for bad in [
            good.replace("92.0", "nan"),
            good.replace("92.0", "9000.0"),
            good.replace("beats_per_bar = 3", "beats_per_bar = 0"),
            good.replace("track01-take001.wav", "../../x.wav"),
            good.replace("input 1", "input 99"),
            good.replace("pan = 0.25", "pan = inf"),
            good.replace("pre_roll_secs = 1.5", "pre_roll_secs = -1.0"),
            good.replace("    1.0,\n    2.5,", "    2.5,\n    1.0,"),
            good.replace("    1.0,\n    2.5,", "    nan,\n    2.5,"),
            good.replace("    3,\n    4,", "    0,\n    4,"),
            good.replace("    3,\n    4,", "    5,\n    4,"),
            "\u{0}\u{1}".into(),
        ] {
            assert!(parse_song(bad.as_bytes()).is_err(), "{bad}");
        }
        let mut rng = 1u64;
        let bytes = good.as_bytes();
        for _ in 0..3000 {
            let mut b = bytes.to_vec();
            rng = rng
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let i = (rng >> 33) as usize % b.len();
            b[i] = (rng >> 13) as u8;
            if rng.is_multiple_of(3) {
                b.truncate(i);
            }
            if let Ok(s) = parse_song(&b) {
                assert!(s.tempo_bpm.is_finite());
                assert!(s
                    .tracks
                    .iter()
                    .flat_map(|t| &t.takes)
                    .all(|k| is_take_file_name(&k.file)));
            }
        }
        assert_eq!(source_from_text("input 2"), Some(TakeSource::Input(1)));
        assert_eq!(source_from_text("mix now"), None);
        for s in [
            TakeSource::Inputs,
            TakeSource::Input(3),
            TakeSource::Instruments,
            TakeSource::Mix,
        ] {
            assert_eq!(source_from_text(&source_text(s)), Some(s));
        }
    }
}
