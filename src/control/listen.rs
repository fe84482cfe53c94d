//! Guided listening from the control side: the queue (a song, a folder or a playlist),
//! the song playing, its gain for even loudness, and what the feeder says, in words.
//! One `ListenDesk` per program; `samspill headless` drives it with typed lines
//! (`play PATH`, `pause`, `resume`, `stop`, `next`, `seek SECS`, `talk on|off`, `queue`).
//!
//! "Stop after this song" is the default: a song that ends is the end, unless the queue
//! is set to run on (then the next song follows after the gap).

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};

use crate::controller::Controller;
use crate::disk::decode::{self, DecodeError, SongFile, SongStream};
use crate::disk::listen_feeder::{self, FeedNews, Start};
use crate::disk::loudness::{self, GainFrom, Scanner};
use crate::engine::listen_player::{Duck, ListenStatus};
use crate::engine::smooth::db_to_gain;
use crate::engine::Command;
use crate::session::lyrics::{self, Lyrics};
use crate::session::notes::{Cue, SongNotes};
use crate::session::playlist::{self, Entry, PlaylistError, Problem};

pub const LISTEN_HELP: &str = "play PATH (a song, a folder or a playlist) | pause | resume | stop | next | seek SECS|M:SS | skip SECS|-SECS | talk on|off | queue | cue [wait] SECS|now PROMPT | uncue N | cues | repeat FROM TO|off | note TEXT | session note TEXT | transpose N | queue save NAME|PATH | lists | play list NAME | listen run-on on|off | listen gap SECS | listen fade SECS | listen target LUFS | listen talk-depth DB | listen mic N|off [DB]";

/// Extensions a folder's songs are picked by (the content decides how they are read).
const SONG_EXTENSIONS: [&str; 12] = [
    "wav", "wave", "aif", "aiff", "flac", "mp3", "ogg", "oga", "m4a", "mp4", "aac", "alac",
];
/// Seconds of fade-in after a seek.
const SEEK_FADE_SECS: f32 = 0.05;

/// A listening line, understood.
#[derive(Clone, Debug, PartialEq)]
pub enum ListenLine {
    Play(PathBuf),
    Pause,
    Resume,
    Stop,
    Next,
    Seek(f64),
    Skip(f64),
    Talk(bool),
    Queue,
    RunOn(bool),
    Gap(f32),
    Fade(f32),
    Target(f32),
    TalkDepth(f32),
    /// The input (from 0) whose sound dips the music, and its threshold in dBFS.
    Mic(Option<u8>, f32),
    /// A cue point: at seconds (`None`: where the song is now), its prompt, and whether
    /// the song pauses there.
    Cue(Option<f64>, String, bool),
    /// Cue number (from 0) removed.
    Uncue(usize),
    Cues,
    /// The A–B stretch played round and round (`None`: off).
    Repeat(Option<(f64, f64)>),
    /// The song's note, or today's session note.
    Note(String),
    SessionNote(String),
    /// Chords moved by semitones.
    Transpose(i32),
    /// The queue saved as `.m3u8`: a name (kept in the data folder) or a path (exported,
    /// its paths relative to it).
    SaveQueue(String),
    /// The saved lists, and one of them played.
    Lists,
    PlayList(String),
}

#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    #[error("play what? `play PATH` plays a song, a folder of songs or a playlist")]
    PlayWhat,
    #[error("nothing is playing")]
    NothingPlaying,
    #[error("seek to a time in seconds or minutes:seconds, e.g. `seek 75` or `seek 1:15`")]
    SeekWhat,
    #[error("skip by seconds, e.g. `skip 15` or `skip -5`")]
    SkipWhat,
    #[error("say on or off")]
    OnOrOff,
    #[error("a cue is `cue SECS|now PROMPT` (or `cue wait SECS|now PROMPT` to pause there); `uncue N` removes one")]
    CueWhat,
    #[error("repeat FROM TO (seconds or minutes:seconds, at least 0.1 s apart) or repeat off")]
    RepeatWhat,
    #[error("there is no saved list called \"{0}\"; `lists` names them")]
    NoSuchList(String),
    #[error("the list could not be saved: {0}")]
    SaveList(String),
    #[error("the notes cannot be kept: {0}")]
    Notes(#[from] crate::session::notes::NotesError),
    #[error("{0}")]
    Setting(&'static str),
    #[error("that is the last song in the list")]
    EndOfList,
    #[error("{0} holds no songs Samspill plays")]
    EmptyFolder(PathBuf),
    #[error("none of the {0} songs in the list can be played: {1}")]
    NonePlays(usize, String),
    #[error("{0}: {1}")]
    CannotPlay(PathBuf, Problem),
    #[error("the engine is not taking commands just now; try again")]
    Busy,
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error(transparent)]
    Playlist(#[from] PlaylistError),
}

fn secs_word(w: &str) -> Option<f64> {
    let v = match w.split_once(':') {
        Some((m, s)) => m.parse::<f64>().ok()? * 60.0 + s.parse::<f64>().ok()?,
        None => w.parse::<f64>().ok()?,
    };
    v.is_finite().then_some(v)
}

impl ListenLine {
    /// `None` when the line is not about listening (`play` alone plays the song).
    pub fn parse(line: &str) -> Option<Result<ListenLine, ListenError>> {
        let trimmed = line.trim();
        let mut words = trimmed.split_whitespace();
        let first = words.next()?.to_ascii_lowercase();
        let rest: Vec<&str> = words.collect();
        let on_off = |w: Option<&&str>| match w.map(|w| w.to_ascii_lowercase()).as_deref() {
            Some("on") => Ok(true),
            Some("off") => Ok(false),
            _ => Err(ListenError::OnOrOff),
        };
        Some(match (first.as_str(), rest.as_slice()) {
            ("play", []) => return None,
            ("play", ["list", ..]) if rest.len() >= 2 => {
                Ok(ListenLine::PlayList(rest[1..].join(" ")))
            }
            // The path is the rest of the line as typed, spaces and all.
            ("play", _) => Ok(ListenLine::Play(PathBuf::from(trimmed[4..].trim()))),
            ("pause", []) => Ok(ListenLine::Pause),
            ("resume", []) => Ok(ListenLine::Resume),
            ("next", []) => Ok(ListenLine::Next),
            ("queue", []) => Ok(ListenLine::Queue),
            ("seek", [w]) => secs_word(w)
                .filter(|s| *s >= 0.0)
                .map(ListenLine::Seek)
                .ok_or(ListenError::SeekWhat),
            ("seek", _) => Err(ListenError::SeekWhat),
            ("skip", [w]) => secs_word(w)
                .map(ListenLine::Skip)
                .ok_or(ListenError::SkipWhat),
            ("skip", _) => Err(ListenError::SkipWhat),
            ("talk", [_]) => on_off(rest.first()).map(ListenLine::Talk),
            ("talk", _) => Err(ListenError::OnOrOff),
            ("cue", [when, ..]) if rest.len() >= 2 => {
                let (wait, when, prompt_from) = if when.eq_ignore_ascii_case("wait") {
                    (true, rest.get(1).copied().unwrap_or(""), 2)
                } else {
                    (false, *when, 1)
                };
                let at = if when.eq_ignore_ascii_case("now") {
                    Ok(None)
                } else {
                    secs_word(when)
                        .filter(|s| *s >= 0.0)
                        .map(Some)
                        .ok_or(ListenError::CueWhat)
                };
                let prompt = rest.get(prompt_from..).unwrap_or(&[]).join(" ");
                match at {
                    Ok(_) if prompt.is_empty() => Err(ListenError::CueWhat),
                    Ok(at) => Ok(ListenLine::Cue(at, prompt, wait)),
                    Err(e) => Err(e),
                }
            }
            ("cue", _) => Err(ListenError::CueWhat),
            ("uncue", [n]) => n
                .parse::<usize>()
                .ok()
                .filter(|n| *n >= 1)
                .map(|n| ListenLine::Uncue(n - 1))
                .ok_or(ListenError::CueWhat),
            ("cues", []) => Ok(ListenLine::Cues),
            ("queue", ["save", ..]) if rest.len() >= 2 => Ok(ListenLine::SaveQueue(
                trimmed[5..].trim()[4..].trim().to_string(),
            )),
            ("lists", []) => Ok(ListenLine::Lists),
            ("repeat", ["off"]) => Ok(ListenLine::Repeat(None)),
            ("repeat", [a, b]) => match (secs_word(a), secs_word(b)) {
                (Some(a), Some(b)) if 0.0 <= a && a + 0.1 <= b => {
                    Ok(ListenLine::Repeat(Some((a, b))))
                }
                _ => Err(ListenError::RepeatWhat),
            },
            ("repeat", _) => Err(ListenError::RepeatWhat),
            ("note", _) => Ok(ListenLine::Note(trimmed[4..].trim().to_string())),
            ("session", [w, ..]) if w.eq_ignore_ascii_case("note") => {
                Ok(ListenLine::SessionNote(rest[1..].join(" ")))
            }
            ("transpose", [n]) => n
                .parse::<i32>()
                .ok()
                .filter(|n| (-11..=11).contains(n))
                .map(ListenLine::Transpose)
                .ok_or(ListenError::Setting("transpose by -11 to 11 semitones")),
            ("listen", [what, args @ ..]) => {
                let num = |w: Option<&&str>| {
                    w.and_then(|w| w.parse::<f32>().ok())
                        .filter(|v| v.is_finite())
                };
                match (what.to_ascii_lowercase().as_str(), args) {
                    ("run-on", [_]) => on_off(args.first()).map(ListenLine::RunOn),
                    ("gap", [_]) => num(args.first())
                        .filter(|v| (0.0..=60.0).contains(v))
                        .map(ListenLine::Gap)
                        .ok_or(ListenError::Setting("the gap is 0 to 60 seconds")),
                    ("fade", [_]) => num(args.first())
                        .filter(|v| (0.3..=1.0).contains(v))
                        .map(ListenLine::Fade)
                        .ok_or(ListenError::Setting("the fade is 0.3 to 1 second")),
                    ("target", [_]) => num(args.first())
                        .filter(|v| (-30.0..=-6.0).contains(v))
                        .map(ListenLine::Target)
                        .ok_or(ListenError::Setting("the target is -30 to -6 LUFS")),
                    ("talk-depth", [_]) => num(args.first())
                        .map(|v| -v.abs())
                        .filter(|v| (-40.0..=-3.0).contains(v))
                        .map(ListenLine::TalkDepth)
                        .ok_or(ListenError::Setting("talk dips the music 3 to 40 dB")),
                    ("mic", ["off"]) => Ok(ListenLine::Mic(None, -30.0)),
                    ("mic", [n, db @ ..]) if db.len() <= 1 => {
                        let input = n.parse::<usize>().ok().filter(|n| (1..=crate::engine::MAX_INPUTS).contains(n));
                        let db = match db.first() {
                            Some(d) => num(Some(d)).filter(|v| (-70.0..=0.0).contains(v)),
                            None => Some(-30.0),
                        };
                        match (input, db) {
                            (Some(i), Some(d)) => Ok(ListenLine::Mic(Some((i - 1) as u8), d)),
                            _ => Err(ListenError::Setting(
                                "listen mic N [DB]: the input that dips the music, and its threshold (-70 to 0 dBFS)",
                            )),
                        }
                    }
                    _ => Err(ListenError::Setting(
                        "listen run-on on|off, gap SECS, fade SECS, target LUFS, talk-depth DB or mic N|off [DB]",
                    )),
                }
            }
            _ => return None,
        })
    }
}

/// How the desk plays: settings a panel or typed lines change.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ListenSettings {
    /// Plays on into the next song (else: stop after this song).
    pub run_on: bool,
    pub gap_secs: f32,
    pub fade_secs: f32,
    pub target_lufs: f32,
    pub duck: Duck,
}

impl Default for ListenSettings {
    fn default() -> Self {
        ListenSettings {
            run_on: false,
            gap_secs: 2.0,
            fade_secs: 0.5,
            target_lufs: loudness::REFERENCE_LUFS as f32,
            duck: Duck::default(),
        }
    }
}

/// The song playing.
struct Now {
    index: usize,
    status: Arc<ListenStatus>,
    gain_db: f64,
    gain_from: GainFrom,
    secs: Option<f64>,
    /// Engine frames a second when it started.
    rate: u32,
    /// The song's content key (for its notes), its notes and lyrics.
    key: Option<String>,
    notes: SongNotes,
    lyrics: Option<Arc<Lyrics>>,
    /// Seconds where the song was at the last poll (cues between it and now are reached).
    last_secs: f64,
    /// Where the album's next song goes to be played on in the same ring, gapless.
    then: Option<Sender<listen_feeder::FollowOn>>,
    /// Frames taken from the ring before this song began (a song the album went on to).
    offset: Option<u64>,
    album: Option<String>,
    /// The song handed on to the feeder: its place, gain and length.
    follows: Option<(usize, f64, GainFrom, Option<f64>)>,
}

/// A song of the queue as a panel shows it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct QueueItem {
    pub title: String,
    pub path: PathBuf,
    pub problem: Option<Problem>,
    pub secs: Option<f64>,
}

/// What a panel shows of the desk.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ListenView {
    pub queue: Vec<QueueItem>,
    pub playing: Option<usize>,
    pub paused: bool,
    pub position_secs: f64,
    pub secs: Option<f64>,
    pub gain_db: f64,
    pub gain_from: Option<GainFrom>,
    pub talk: bool,
    /// Songs measured of those asked, for the loudness scan's progress.
    pub scanned: (u64, u64),
    /// The last cue's prompt the song reached, shown large.
    pub prompt: Option<String>,
    pub cues: Vec<Cue>,
    pub repeat: Option<(f64, f64)>,
    pub notes: String,
    pub session_note: String,
    /// The lyrics beside the song (transposed as asked), and the line being sung.
    pub lyrics: Option<Arc<Lyrics>>,
    pub lyric_line: Option<usize>,
    pub transpose: i32,
    /// The song's overview once the scan has read it, for its waveform.
    pub overview: Option<loudness::Overview>,
}

pub struct ListenDesk {
    controller: Controller,
    scanner: Scanner,
    queue: Vec<Entry>,
    /// Seconds each song lasts, when its file says (learnt when it plays).
    lengths: Vec<Option<f64>>,
    now: Option<Now>,
    paused: bool,
    talk: bool,
    settings: ListenSettings,
    news_tx: Sender<FeedNews>,
    news: Receiver<FeedNews>,
    /// The engine frame the next song starts at (the gap between songs), and which.
    next_at: Option<u64>,
    pending_next: Option<usize>,
    offline: bool,
    /// Where song notes and session notes are kept (none: not kept).
    notes_dir: Option<PathBuf>,
    prompt: Option<String>,
    transpose: i32,
    session_note: String,
    /// When a song the engine let go was last started again.
    restarted: Option<Instant>,
}

fn title_of(e: &Entry, file: Option<&SongFile>) -> String {
    e.title
        .clone()
        .or_else(|| file.and_then(|f| f.tags.title.clone()))
        .unwrap_or_else(|| {
            e.path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| e.path.display().to_string())
        })
}

/// Today as a session note is named: `YYYY-MM-DD`.
fn today() -> String {
    let name = crate::session::jam::default_jam_name();
    name.split(' ').next().unwrap_or(&name).to_string()
}

impl Now {
    /// The song's place in seconds (in a song the album went on to, counted from its start).
    fn secs(&self) -> f64 {
        let frames = match self.offset {
            Some(off) => self.status.played.load(Relaxed).saturating_sub(off),
            None => self.status.position.load(Relaxed),
        };
        frames as f64 / self.rate.max(1) as f64
    }
}

pub fn time_text(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    format!("{}:{:02}", s / 60, s % 60)
}

/// A folder as the panel's song chooser shows it: its folders, then its songs and lists.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Folder {
    pub dir: PathBuf,
    pub folders: Vec<PathBuf>,
    pub songs: Vec<PathBuf>,
    /// The folder could not be read: why.
    pub problem: Option<String>,
}

/// Not rt: what `dir` holds that the chooser offers (hidden files left out).
pub fn folder(dir: &Path) -> Folder {
    let mut f = Folder {
        dir: dir.to_owned(),
        ..Folder::default()
    };
    match std::fs::read_dir(dir) {
        Ok(rd) => {
            for e in rd.flatten() {
                let p = e.path();
                let hidden = p
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_none_or(|n| n.starts_with('.'));
                if hidden {
                    continue;
                }
                if p.is_dir() {
                    f.folders.push(p);
                } else if playlist::is_playlist(&p)
                    || p.extension()
                        .and_then(|e| e.to_str())
                        .is_some_and(|e| SONG_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
                {
                    f.songs.push(p);
                }
            }
            f.folders.sort();
            f.songs.sort();
        }
        Err(e) => f.problem = Some(e.to_string()),
    }
    f
}

/// A decoder's refusal as a list shows it.
pub fn problem_of(e: &DecodeError) -> Problem {
    match e {
        DecodeError::Missing(_) => Problem::Missing,
        DecodeError::Folder(_) => Problem::Folder,
        DecodeError::Unreadable(_, why) => Problem::Unreadable(why.clone()),
        DecodeError::NotSound(_) => Problem::NotSound,
        DecodeError::Codec(_, c) => Problem::Codec(c.clone()),
        DecodeError::Broken(_, why) => Problem::Broken(why.clone()),
    }
}

/// What one path brings to the queue: a folder's songs, a playlist's, or the song.
fn entries_of(path: &Path) -> Result<Vec<Entry>, ListenError> {
    if path.is_dir() {
        return folder_songs(path);
    }
    decode::check_path(path)?;
    if playlist::is_playlist(path) {
        return Ok(playlist::read(path)?);
    }
    Ok(vec![Entry {
        path: path.to_owned(),
        title: None,
        problem: None,
    }])
}

/// The songs in a folder, by name, as a queue.
fn folder_songs(dir: &Path) -> Result<Vec<Entry>, ListenError> {
    let mut songs: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| DecodeError::Unreadable(dir.to_owned(), e.to_string()))?
        .flatten()
        .map(|d| d.path())
        .filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| SONG_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
        })
        .collect();
    songs.sort();
    if songs.is_empty() {
        return Err(ListenError::EmptyFolder(dir.to_owned()));
    }
    Ok(songs
        .into_iter()
        .map(|path| {
            let problem = decode::check_path(&path).err().map(|e| problem_of(&e));
            Entry {
                path,
                title: None,
                problem,
            }
        })
        .collect())
}

impl ListenDesk {
    /// Not rt: a desk keeping its loudness measurements in `cache` (none: this run only).
    pub fn new(controller: Controller, cache: Option<PathBuf>) -> ListenDesk {
        let (news_tx, news) = crossbeam_channel::unbounded();
        ListenDesk {
            controller,
            scanner: Scanner::start(cache),
            queue: Vec::new(),
            lengths: Vec::new(),
            now: None,
            paused: false,
            talk: false,
            settings: ListenSettings::default(),
            news_tx,
            news,
            next_at: None,
            pending_next: None,
            offline: false,
            notes_dir: None,
            prompt: None,
            transpose: 0,
            session_note: String::new(),
            restarted: None,
        }
    }

    /// Keeps song notes (cues, repeat, notes) in `dir/songs` and session notes in
    /// `dir/sessions`.
    pub fn keep_notes_in(mut self, dir: PathBuf) -> ListenDesk {
        self.session_note = std::fs::read_to_string(crate::session::notes::session_note_path(
            &dir.join("sessions"),
            &today(),
        ))
        .unwrap_or_default();
        self.notes_dir = Some(dir);
        self
    }

    /// For a render: a song is measured before it plays (its gain is then the same on
    /// every run), and the engine waits for the feeder as a device's pace would.
    pub fn offline(controller: Controller, cache: Option<PathBuf>) -> ListenDesk {
        let mut d = ListenDesk::new(controller, cache);
        d.offline = true;
        d
    }

    pub fn settings(&self) -> ListenSettings {
        self.settings
    }

    /// The listening settings the panel keeps, applied (each as its typed line would).
    pub fn apply(&mut self, l: &crate::session::settings::ListenSettings) {
        for line in [
            ListenLine::Fade(l.fade_secs),
            ListenLine::RunOn(l.run_on),
            ListenLine::Gap(l.gap_secs),
            ListenLine::TalkDepth(-l.talk_depth_db),
            ListenLine::Mic(l.mic_input.map(|i| i as u8), l.mic_threshold_db),
        ] {
            let _ = self.run(line);
        }
    }

    fn rate(&self) -> u32 {
        self.controller.shared().sample_rate.load(Relaxed)
    }

    fn engine_frame(&self) -> u64 {
        self.controller.shared().frames.load(Relaxed)
    }

    fn send(&self, c: Command) -> Result<(), ListenError> {
        self.controller.send(c).map_err(|_| ListenError::Busy)
    }

    pub fn is_playing(&self) -> bool {
        self.now.is_some()
    }

    /// The song's place now, in seconds.
    fn position_secs(&self) -> f64 {
        self.now.as_ref().map_or(0.0, Now::secs)
    }

    /// With the list running on, the next song of the same album goes to the feeder, to
    /// follow this one's last frame without a gap (ReplayGain's album rule: an album is
    /// heard as it was made). Not for a song that repeats a stretch.
    fn follow_on(&mut self) {
        if !self.settings.run_on {
            return;
        }
        let Some(n) = self.now.as_ref() else {
            return;
        };
        if n.follows.is_some() || n.notes.repeat.is_some() || n.then.is_none() {
            return;
        }
        let Some(album) = n.album.clone() else {
            return;
        };
        let i = n.index + 1;
        let Some(entry) = self.queue.get(i).filter(|e| e.problem.is_none()).cloned() else {
            return;
        };
        let Ok(file) = SongFile::open(&entry.path) else {
            return;
        };
        if file.tags.album.as_deref() != Some(album.as_str()) {
            return;
        }
        if self.offline {
            self.scanner.ask([entry.path.clone()]);
            self.scanner.wait(600.0);
        }
        let (gain_db, from) = loudness::gain_db(
            self.settings.target_lufs as f64,
            self.scanner.measured(&entry.path),
            &file.tags,
        );
        let secs = file.secs();
        let rate = self.rate();
        let Ok(stream) = SongStream::new(file, rate) else {
            return;
        };
        let Some(n) = self.now.as_mut() else {
            return;
        };
        let sent = n.then.as_ref().is_some_and(|t| {
            t.send(listen_feeder::FollowOn {
                stream,
                gain: db_to_gain(gain_db as f32),
            })
            .is_ok()
        });
        if sent {
            n.follows = Some((i, gain_db, from, secs));
        }
    }

    /// Not rt: the song at `index` starts `from_secs` in.
    fn start_at(
        &mut self,
        index: usize,
        from_secs: f64,
        fade_in: f32,
    ) -> Result<String, ListenError> {
        let entry = self.queue.get(index).ok_or(ListenError::EndOfList)?.clone();
        if let Some(p) = &entry.problem {
            return Err(ListenError::CannotPlay(entry.path.clone(), p.clone()));
        }
        if self.offline {
            self.scanner.ask([entry.path.clone()]);
            self.scanner.wait(600.0);
        }
        let file = SongFile::open(&entry.path)?;
        let title = title_of(&entry, Some(&file));
        let secs = file.secs();
        let file_album = file.tags.album.clone().filter(|a| !a.is_empty());
        let (gain_db, gain_from) = loudness::gain_db(
            self.settings.target_lufs as f64,
            self.scanner.measured(&entry.path),
            &file.tags,
        );
        let rate = self.rate();
        // The same song again (a seek, a new repeat) keeps what was read of it.
        let kept = self
            .now
            .as_ref()
            .filter(|n| n.index == index)
            .map(|n| (n.key.clone(), n.notes.clone(), n.lyrics.clone()));
        let same = kept.is_some();
        let (key, notes, song_lyrics) = match kept {
            Some(k) => k,
            None => {
                let key = loudness::content_key(&entry.path).ok();
                let notes = match (&self.notes_dir, &key) {
                    (Some(d), Some(k)) => SongNotes::load(&d.join("songs"), k).unwrap_or_default(),
                    _ => SongNotes::default(),
                };
                (key, notes, lyrics::find_for(&entry.path).map(Arc::new))
            }
        };
        let stream = SongStream::new(file, rate)?;
        let song = listen_feeder::start(
            stream,
            Start {
                from_secs,
                gain: db_to_gain(gain_db as f32),
                fade_in_secs: fade_in,
                pause_at_secs: notes.next_wait_after(from_secs - 1e-6),
                repeat: notes.repeat.map(|[a, b]| (a, b)),
            },
            self.news_tx.clone(),
        )?;
        let (song, then) = song;
        let status = song.status.clone();
        self.send(Command::ListenPlay(song))?;
        if let Some(l) = self.lengths.get_mut(index) {
            *l = secs;
        }
        self.now = Some(Now {
            index,
            status,
            gain_db,
            gain_from,
            secs,
            rate,
            key,
            notes,
            lyrics: song_lyrics,
            last_secs: from_secs - 1e-6,
            then: Some(then),
            offset: None,
            album: file_album,
            follows: None,
        });
        if !same {
            self.prompt = None;
        }
        self.paused = false;
        self.next_at = None;
        self.pending_next = None;
        self.follow_on();
        let length = secs
            .map(|s| format!(" ({})", time_text(s)))
            .unwrap_or_default();
        let from = if from_secs > 0.0 {
            format!(" from {}", time_text(from_secs))
        } else {
            String::new()
        };
        Ok(format!(
            "playing: {} of {} \"{title}\"{length}{from}, gain {gain_db:+.2} dB ({})",
            index + 1,
            self.queue.len(),
            gain_from.word()
        ))
    }

    /// The first song from `index` on that plays; the ones that do not are named.
    fn start_from(&mut self, index: usize) -> Result<String, ListenError> {
        let mut skipped = Vec::new();
        for i in index..self.queue.len() {
            match self.start_at(i, 0.0, 0.0) {
                Ok(said) if skipped.is_empty() => return Ok(said),
                Ok(said) => return Ok(format!("{said}; skipped {}", skipped.join(", "))),
                Err(ListenError::Busy) => return Err(ListenError::Busy),
                Err(e) => skipped.push(format!("{}: {e}", i + 1)),
            }
        }
        if index == 0 {
            Err(ListenError::NonePlays(self.queue.len(), skipped.join("; ")))
        } else if skipped.is_empty() {
            Err(ListenError::EndOfList)
        } else {
            Err(ListenError::NonePlays(skipped.len(), skipped.join("; ")))
        }
    }

    /// Not rt: what a line asks; the answer is one line.
    pub fn run(&mut self, line: ListenLine) -> Result<String, ListenError> {
        match line {
            ListenLine::Play(path) => {
                if path.as_os_str().is_empty() {
                    return Err(ListenError::PlayWhat);
                }
                self.play_all(&[path])
            }
            ListenLine::Pause => {
                self.now.as_ref().ok_or(ListenError::NothingPlaying)?;
                self.send(Command::ListenPause)?;
                self.paused = true;
                Ok(format!("paused at {}", time_text(self.position_secs())))
            }
            ListenLine::Resume => {
                self.now.as_ref().ok_or(ListenError::NothingPlaying)?;
                // Past the cue it waited at: the next one that waits.
                self.send_next_wait(1e-3)?;
                self.send(Command::ListenResume)?;
                self.paused = false;
                Ok(format!(
                    "playing on from {}",
                    time_text(self.position_secs())
                ))
            }
            ListenLine::Stop => {
                self.now.take().ok_or(ListenError::NothingPlaying)?;
                self.next_at = None;
                self.pending_next = None;
                self.paused = false;
                self.send(Command::ListenStop)?;
                Ok("stopped".into())
            }
            ListenLine::Next => {
                let at = self.now.as_ref().map_or(0, |n| n.index + 1);
                if at >= self.queue.len() {
                    return Err(ListenError::EndOfList);
                }
                self.start_from(at)
            }
            ListenLine::Seek(secs) => self.seek(secs),
            ListenLine::Skip(by) => {
                let at = self.position_secs();
                self.seek((at + by).max(0.0))
            }
            ListenLine::Talk(on) => {
                self.send(Command::ListenTalk(on))?;
                self.talk = on;
                Ok(if on {
                    format!(
                        "talk: the music is down {:.0} dB",
                        -self.settings.duck.depth_db
                    )
                } else {
                    "talk: off, the music is back".into()
                })
            }
            ListenLine::Queue => Ok(self.queue_text()),
            ListenLine::RunOn(on) => {
                self.settings.run_on = on;
                Ok(if on {
                    format!(
                        "listen: the list runs on, {} s between songs",
                        self.settings.gap_secs
                    )
                } else {
                    "listen: stops after this song".into()
                })
            }
            ListenLine::Gap(s) => {
                self.settings.gap_secs = s;
                Ok(format!("listen: {s} s between songs"))
            }
            ListenLine::Fade(s) => {
                self.send(Command::ListenFade(s))?;
                self.settings.fade_secs = s;
                Ok(format!("listen: pause and stop fade over {s} s"))
            }
            ListenLine::Target(t) => {
                self.settings.target_lufs = t;
                Ok(format!(
                    "listen: songs are brought to {t} LUFS from the next one on"
                ))
            }
            ListenLine::TalkDepth(db) => {
                self.settings.duck.depth_db = db;
                self.send(Command::ListenDuck(self.settings.duck))?;
                Ok(format!("listen: talk dips the music {:.0} dB", -db))
            }
            ListenLine::Mic(input, db) => {
                self.settings.duck.input = input;
                self.settings.duck.threshold_db = db;
                self.send(Command::ListenDuck(self.settings.duck))?;
                Ok(match input {
                    Some(i) => format!("listen: input {} above {db} dBFS dips the music", i + 1),
                    None => "listen: only the talk button dips the music".into(),
                })
            }
            other => self.notes_line(other),
        }
    }

    /// Not rt: songs, folders and playlists (dropped on the panel, or one typed path)
    /// become the queue, and its first playable song starts.
    pub fn play_all(&mut self, paths: &[PathBuf]) -> Result<String, ListenError> {
        let mut entries = Vec::new();
        for path in paths {
            entries.extend(entries_of(path)?);
        }
        self.scanner.ask(
            entries
                .iter()
                .filter(|e| e.problem.is_none())
                .map(|e| e.path.clone()),
        );
        self.lengths = vec![None; entries.len()];
        self.queue = entries;
        self.start_from(0)
    }

    /// Not rt: the song at `index` of the queue, from its start.
    pub fn play_at(&mut self, index: usize) -> Result<String, ListenError> {
        self.start_at(index, 0.0, 0.0)
    }

    /// The notes of the song playing, changed by `f` and kept.
    fn change_notes(&mut self, f: impl FnOnce(&mut SongNotes)) -> Result<(), ListenError> {
        let n = self.now.as_mut().ok_or(ListenError::NothingPlaying)?;
        let mut notes = n.notes.clone();
        f(&mut notes);
        n.notes = notes.checked();
        if let (Some(d), Some(k)) = (&self.notes_dir, &n.key) {
            n.notes.save(&d.join("songs"), k)?;
        }
        Ok(())
    }

    fn notes_line(&mut self, line: ListenLine) -> Result<String, ListenError> {
        match line {
            ListenLine::Cue(at, prompt, wait) => {
                let secs = at.unwrap_or_else(|| self.position_secs());
                let prompt = prompt.trim().to_string();
                let said = format!(
                    "cue: {} \"{prompt}\"{}",
                    time_text(secs),
                    if wait { ", the song waits there" } else { "" }
                );
                self.change_notes(|n| {
                    n.cues.push(Cue {
                        at_secs: secs,
                        prompt,
                        wait,
                    })
                })?;
                self.send_next_wait(0.0)?;
                Ok(said)
            }
            ListenLine::Uncue(i) => {
                let n = self.now.as_ref().ok_or(ListenError::NothingPlaying)?;
                if i >= n.notes.cues.len() {
                    return Err(ListenError::CueWhat);
                }
                self.change_notes(|n| {
                    n.cues.remove(i);
                })?;
                self.send_next_wait(0.0)?;
                Ok(format!("cue {} removed", i + 1))
            }
            ListenLine::Cues => {
                let n = self.now.as_ref().ok_or(ListenError::NothingPlaying)?;
                if n.notes.cues.is_empty() {
                    return Ok("cues: none".into());
                }
                let list: Vec<String> = n
                    .notes
                    .cues
                    .iter()
                    .enumerate()
                    .map(|(i, c)| {
                        format!(
                            "{} {} \"{}\"{}",
                            i + 1,
                            time_text(c.at_secs),
                            c.prompt,
                            if c.wait { " (waits)" } else { "" }
                        )
                    })
                    .collect();
                Ok(format!("cues: {}", list.join(" | ")))
            }
            ListenLine::Repeat(r) => {
                let len = self.now.as_ref().ok_or(ListenError::NothingPlaying)?.secs;
                let r = match (r, len) {
                    (Some((a, _)), Some(l)) if a >= l => return Err(ListenError::RepeatWhat),
                    (Some((a, b)), Some(l)) => Some((a, b.min(l))),
                    (r, _) => r,
                };
                self.change_notes(|n| n.repeat = r.map(|(a, b)| [a, b]))?;
                // The song goes on from where it is, with the repeat (or without).
                let at = self.position_secs();
                let at = match r {
                    Some((a, b)) if at >= b => a,
                    _ => at,
                };
                let index = self.now.as_ref().map_or(0, |n| n.index);
                self.start_at(index, at, SEEK_FADE_SECS)?;
                Ok(match r {
                    Some((a, b)) => format!(
                        "repeat: {} to {} round and round",
                        time_text(a),
                        time_text(b)
                    ),
                    None => "repeat: off".into(),
                })
            }
            ListenLine::Note(text) => {
                self.change_notes(|n| n.notes = text)?;
                Ok("note: kept with the song".into())
            }
            ListenLine::SessionNote(text) => {
                self.session_note = text;
                if let Some(d) = &self.notes_dir {
                    let day = today();
                    let dir = d.join("sessions");
                    crate::session::make_private_dir(&dir, true).map_err(|e| {
                        crate::session::notes::NotesError::Write(dir.clone(), e.to_string())
                    })?;
                    let path = crate::session::notes::session_note_path(&dir, &day);
                    crate::session::write_private(&path, self.session_note.as_bytes()).map_err(
                        |e| crate::session::notes::NotesError::Write(path.clone(), e.to_string()),
                    )?;
                }
                Ok("session note: kept".into())
            }
            ListenLine::Transpose(n) => {
                self.transpose = n;
                Ok(format!("transpose: {n:+} semitones"))
            }
            ListenLine::SaveQueue(to) => {
                if self.queue.is_empty() {
                    return Err(ListenError::SaveList("the queue is empty".into()));
                }
                let path = if to.contains('/') || to.to_ascii_lowercase().ends_with(".m3u8") {
                    PathBuf::from(&to)
                } else {
                    let dir = self
                        .notes_dir
                        .as_ref()
                        .ok_or_else(|| ListenError::SaveList("no data folder".into()))?
                        .join("lists");
                    crate::session::make_private_dir(&dir, true)
                        .map_err(|e| ListenError::SaveList(e.to_string()))?;
                    dir.join(format!("{}.m3u8", crate::session::safe_name(&to)))
                };
                let text = playlist::to_m3u8(&self.queue, &path);
                crate::session::write_private(&path, text.as_bytes())
                    .map_err(|e| ListenError::SaveList(format!("{}: {e}", path.display())))?;
                Ok(format!(
                    "saved: {} songs in {}",
                    self.queue.len(),
                    path.display()
                ))
            }
            ListenLine::Lists => {
                let names = self.list_names();
                Ok(if names.is_empty() {
                    "lists: none saved".into()
                } else {
                    format!("lists: {}", names.join(" | "))
                })
            }
            ListenLine::PlayList(name) => {
                let path = self
                    .notes_dir
                    .as_ref()
                    .map(|d| {
                        d.join("lists")
                            .join(format!("{}.m3u8", crate::session::safe_name(&name)))
                    })
                    .filter(|p| p.is_file())
                    .ok_or(ListenError::NoSuchList(name))?;
                self.play_all(&[path])
            }
            _ => Ok(String::new()),
        }
    }

    /// The names of the lists saved in the data folder.
    pub fn list_names(&self) -> Vec<String> {
        let Some(dir) = self.notes_dir.as_ref().map(|d| d.join("lists")) else {
            return Vec::new();
        };
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let p = e.path();
                if p.extension()? != "m3u8" {
                    return None;
                }
                Some(p.file_stem()?.to_string_lossy().into_owned())
            })
            .collect();
        names.sort();
        names
    }

    /// Tells the engine where the song playing next waits by itself, after `past`
    /// seconds beyond where it is. (Not in a song the album went on to: the ring counts
    /// from another song.)
    fn send_next_wait(&mut self, past: f64) -> Result<(), ListenError> {
        if let Some(n) = &self.now {
            let at = n.status.position.load(Relaxed) as f64 / n.rate.max(1) as f64;
            let next = n
                .notes
                .next_wait_after(at + past)
                .filter(|_| n.offset.is_none())
                .map(|s| (s * n.rate as f64).round() as u64);
            self.send(Command::ListenPauseAt(next))?;
        }
        Ok(())
    }

    fn seek(&mut self, secs: f64) -> Result<String, ListenError> {
        let index = self.now.as_ref().ok_or(ListenError::NothingPlaying)?.index;
        let secs = match self.now.as_ref().and_then(|n| n.secs) {
            Some(len) if secs >= len => return Err(ListenError::SeekWhat),
            _ => secs,
        };
        self.start_at(index, secs, SEEK_FADE_SECS)
    }

    fn queue_text(&self) -> String {
        if self.queue.is_empty() {
            return "queue: empty".into();
        }
        let playing = self.now.as_ref().map(|n| n.index);
        let items: Vec<String> = self
            .queue
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let mark = if playing == Some(i) { ">" } else { "" };
                let problem = e
                    .problem
                    .as_ref()
                    .map(|p| format!(" ({p})"))
                    .unwrap_or_default();
                format!("{mark}{} \"{}\"{problem}", i + 1, title_of(e, None))
            })
            .collect();
        format!("queue: {}", items.join(" | "))
    }

    /// Offline: the feeder and the scanner keep up with a render that runs far faster
    /// than a device.
    pub fn pump(&mut self) {
        let Some(n) = &self.now else {
            return;
        };
        let want = (listen_feeder::PREFILL_SECS * n.rate as f64) as u64;
        let deadline = Instant::now() + Duration::from_secs(10);
        while !n.status.fed_all.load(Relaxed)
            && !n.status.done.load(Relaxed)
            && n.status.fed.load(Relaxed) < n.status.played.load(Relaxed) + want
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_micros(200));
        }
    }

    /// What happened since last asked, a line each: songs that ended or broke, the next
    /// song after the gap.
    pub fn poll(&mut self) -> Vec<String> {
        let mut said = Vec::new();
        while let Ok(n) = self.news.try_recv() {
            said.push(format!("listen problem: {}; it stops there", n.error));
        }
        // Let go without ending (the device's rate changed under it): it goes on from
        // where it was, decoded for the new rate. Once a second at most.
        let dropped = self
            .now
            .as_ref()
            .filter(|n| n.status.done.load(Relaxed) && !n.status.ended.load(Relaxed));
        if let Some(n) = dropped {
            let (index, at) = (n.index, self.position_secs());
            let paused = self.paused;
            if self
                .restarted
                .is_none_or(|t| t.elapsed() >= Duration::from_secs(1))
            {
                self.restarted = Some(Instant::now());
                match self.start_at(index, at, SEEK_FADE_SECS) {
                    Ok(_) => {
                        said.push(format!(
                            "listen: the sound device changed; the song goes on from {}",
                            time_text(at)
                        ));
                        if paused {
                            let _ = self.run(ListenLine::Pause);
                        }
                    }
                    Err(e) => {
                        self.now = None;
                        said.push(format!("listen problem: {e}"));
                    }
                }
            }
        }
        let boundary = self.now.as_ref().and_then(|n| {
            let at = n.status.next_from.load(Relaxed);
            (at > 0 && n.status.played.load(Relaxed) >= at).then_some(at)
        });
        if let Some(at) = boundary {
            if let Some(n) = self.now.as_mut() {
                n.status.next_from.store(0, Relaxed);
                if let Some((i, gain_db, from, secs)) = n.follows.take() {
                    let was = n.index;
                    n.index = i;
                    n.offset = Some(at);
                    n.gain_db = gain_db;
                    n.gain_from = from;
                    n.secs = secs;
                    n.last_secs = -1e-6;
                    n.notes = SongNotes::default();
                    n.key = None;
                    n.lyrics = None;
                    let path = self.queue.get(i).map(|e| e.path.clone());
                    if let Some(p) = &path {
                        n.key = loudness::content_key(p).ok();
                        if let (Some(d), Some(k)) = (&self.notes_dir, &n.key) {
                            n.notes = SongNotes::load(&d.join("songs"), k).unwrap_or_default();
                        }
                        n.lyrics = lyrics::find_for(p).map(Arc::new);
                    }
                    if let Some(l) = self.lengths.get_mut(i) {
                        *l = secs;
                    }
                    self.prompt = None;
                    let title = |k: usize| {
                        self.queue
                            .get(k)
                            .map(|e| title_of(e, None))
                            .unwrap_or_default()
                    };
                    said.push(format!("ended: {} \"{}\"", was + 1, title(was)));
                    said.push(format!(
                        "playing: {} of {} \"{}\", gapless after the last (the same album), gain {gain_db:+.2} dB ({})",
                        i + 1,
                        self.queue.len(),
                        title(i),
                        from.word()
                    ));
                }
            }
            self.follow_on();
        }
        if let Some(n) = self.now.as_mut() {
            let secs = n.secs();
            // Forward a little at a time: a seek or a repeat's wrap reaches nothing.
            if secs >= n.last_secs && secs - n.last_secs < 2.0 {
                if let Some(c) = n.notes.cue_between(n.last_secs, secs) {
                    said.push(format!(
                        "cue: {} \"{}\"{}",
                        time_text(c.at_secs),
                        c.prompt,
                        if c.wait { ", waiting" } else { "" }
                    ));
                    self.prompt = Some(c.prompt.clone());
                }
            }
            n.last_secs = secs;
        }
        let ended = self
            .now
            .as_ref()
            .filter(|n| n.status.ended.load(Relaxed))
            .map(|n| n.index);
        if let Some(i) = ended {
            self.now = None;
            let title = self
                .queue
                .get(i)
                .map(|e| title_of(e, None))
                .unwrap_or_default();
            let more = i + 1 < self.queue.len();
            if self.settings.run_on && more {
                let gap = (self.settings.gap_secs as f64 * self.rate() as f64) as u64;
                self.next_at = Some(self.engine_frame() + gap);
                said.push(format!(
                    "ended: {} \"{title}\"; the next in {} s",
                    i + 1,
                    self.settings.gap_secs
                ));
                self.pending_next = Some(i + 1);
            } else {
                said.push(format!("ended: {} \"{title}\"", i + 1));
            }
        }
        if let (Some(at), Some(i)) = (self.next_at, self.pending_next) {
            if self.engine_frame() >= at {
                self.next_at = None;
                self.pending_next = None;
                match self.start_from(i) {
                    Ok(s) => said.push(s),
                    Err(e) => said.push(format!("listen problem: {e}")),
                }
            }
        }
        said
    }

    /// What a panel shows.
    pub fn view(&self) -> ListenView {
        let p = self.scanner.progress();
        ListenView {
            queue: self
                .queue
                .iter()
                .enumerate()
                .map(|(i, e)| QueueItem {
                    title: title_of(e, None),
                    path: e.path.clone(),
                    problem: e
                        .problem
                        .clone()
                        .or_else(|| self.scanner.failed(&e.path).map(|d| problem_of(&d))),
                    secs: self.lengths.get(i).copied().flatten(),
                })
                .collect(),
            playing: self.now.as_ref().map(|n| n.index),
            paused: self.paused,
            position_secs: self.position_secs(),
            secs: self.now.as_ref().and_then(|n| n.secs),
            gain_db: self.now.as_ref().map_or(0.0, |n| n.gain_db),
            gain_from: self.now.as_ref().map(|n| n.gain_from),
            talk: self.talk,
            scanned: (p.done.load(Relaxed), p.asked.load(Relaxed)),
            prompt: self.prompt.clone(),
            cues: self
                .now
                .as_ref()
                .map(|n| n.notes.cues.clone())
                .unwrap_or_default(),
            repeat: self
                .now
                .as_ref()
                .and_then(|n| n.notes.repeat.map(|[a, b]| (a, b))),
            notes: self
                .now
                .as_ref()
                .map(|n| n.notes.notes.clone())
                .unwrap_or_default(),
            session_note: self.session_note.clone(),
            lyrics: self.now.as_ref().and_then(|n| n.lyrics.as_ref()).map(|l| {
                if self.transpose == 0 {
                    l.clone()
                } else {
                    Arc::new(l.transposed(self.transpose))
                }
            }),
            lyric_line: self.now.as_ref().and_then(|n| {
                n.lyrics
                    .as_ref()
                    .and_then(|l| l.line_at(self.position_secs()))
            }),
            transpose: self.transpose,
            overview: self
                .now
                .as_ref()
                .and_then(|n| self.queue.get(n.index))
                .and_then(|e| self.scanner.overview(&e.path)),
        }
    }

    /// The scanner, for whoever waits on it (scripts, tests).
    pub fn scanner(&self) -> &Scanner {
        &self.scanner
    }
}
