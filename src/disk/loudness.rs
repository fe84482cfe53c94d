//! Even loudness between the client's songs: each song is measured once (EBU R128
//! integrated loudness and true peak, with `ebur128`) on a thread of its own, the
//! result kept by the file's content so a renamed or copied song is not measured again.
//! The client's files are only read.

use std::collections::{BTreeMap, VecDeque};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use super::decode::{DecodeError, SongFile, Tags};

/// What a song measured.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Measured {
    /// Integrated loudness, LUFS.
    pub lufs: f64,
    /// True peak, dBTP.
    pub peak_dbtp: f64,
}

/// ReplayGain 2's reference loudness.
pub const REFERENCE_LUFS: f64 = -18.0;
/// No true peak above this after the gain.
pub const CEILING_DBTP: f64 = -1.0;
/// A song nothing is known of yet is taken to be this loud (a loud modern master), so
/// it is never louder than the songs around it; it is measured meanwhile.
pub const UNKNOWN_LUFS: f64 = -9.0;

/// Where a song's gain came from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum GainFrom {
    Measured,
    Tags,
    /// Not measured yet and no tags: the cautious guess.
    Guess,
}

impl GainFrom {
    pub fn word(self) -> &'static str {
        match self {
            GainFrom::Measured => "measured",
            GainFrom::Tags => "from its ReplayGain tags",
            GainFrom::Guess => "guessed until it is measured",
        }
    }
}

/// The gain in dB that brings a song to `target` LUFS, held down so its true peak stays
/// at or below the ceiling.
pub fn gain_db(target: f64, m: Option<Measured>, tags: &Tags) -> (f64, GainFrom) {
    match m {
        Some(m) if m.lufs.is_finite() => {
            let g = target - m.lufs;
            let cap = CEILING_DBTP - m.peak_dbtp;
            (
                if m.peak_dbtp.is_finite() {
                    g.min(cap)
                } else {
                    g
                },
                GainFrom::Measured,
            )
        }
        // Silence measures -inf LUFS: played as it is.
        Some(_) => (0.0, GainFrom::Measured),
        None => match tags.replay_gain_db {
            Some(rg) => {
                let g = rg as f64 + (target - REFERENCE_LUFS);
                let cap = tags
                    .replay_peak
                    .filter(|p| *p > 0.0)
                    .map_or(f64::INFINITY, |p| CEILING_DBTP - 20.0 * (p as f64).log10());
                (g.min(cap), GainFrom::Tags)
            }
            None => ((target - UNKNOWN_LUFS).min(0.0), GainFrom::Guess),
        },
    }
}

/// A song's overview for the panel: the loudest sample of every 1024 frames at the
/// file's own rate (`disk::overview`'s bytes).
#[derive(Clone, Debug, PartialEq)]
pub struct Overview {
    pub peaks: Arc<Vec<u8>>,
    pub file_rate: u32,
}

impl Overview {
    pub fn secs_per_peak(&self) -> f64 {
        super::overview::FRAMES_PER_PEAK as f64 / self.file_rate.max(1) as f64
    }
}

/// Not rt: measures the song at `path` (at its own rate) and makes its overview on the
/// way, `frames` counting the frames read so far; `stop` ends it early (`None`).
pub fn measure(
    path: &Path,
    frames: &AtomicU64,
    stop: &AtomicBool,
) -> Result<Option<(Measured, Overview)>, DecodeError> {
    let mut file = SongFile::open(path)?;
    let mut meter = ebur128::EbuR128::new(
        2,
        file.file_rate,
        ebur128::Mode::I | ebur128::Mode::TRUE_PEAK,
    )
    .map_err(|e| DecodeError::Broken(path.to_owned(), e.to_string()))?;
    let mut buf = Vec::with_capacity(16_384);
    let mut peaks = super::overview::PeakMaker::default();
    loop {
        if stop.load(Relaxed) {
            return Ok(None);
        }
        buf.clear();
        let more = file.decode_more(&mut buf)?;
        if !buf.is_empty() {
            peaks.push(&buf);
            meter
                .add_frames_f32(&buf)
                .map_err(|e| DecodeError::Broken(path.to_owned(), e.to_string()))?;
            frames.fetch_add(buf.len() as u64 / 2, Relaxed);
        }
        if !more {
            break;
        }
    }
    let lufs = meter.loudness_global().unwrap_or(f64::NEG_INFINITY);
    let peak = (0..2)
        .filter_map(|c| meter.true_peak(c).ok())
        .fold(0.0f64, f64::max);
    let measured = Measured {
        lufs,
        peak_dbtp: if peak > 0.0 {
            20.0 * peak.log10()
        } else {
            f64::NEG_INFINITY
        },
    };
    let overview = Overview {
        peaks: Arc::new(peaks.finish()),
        file_rate: file.file_rate,
    };
    Ok(Some((measured, overview)))
}

/// Bytes read from each of a big file's start, middle and end for its key.
const KEY_SAMPLE: u64 = 256 * 1024;

/// A file's content as a key: its length and a 64-bit FNV-1a hash of its bytes (of a
/// big file, of 256 KiB at its start, middle and end: a millisecond for any song, so it
/// can be worked out when "play" is pressed).
pub fn content_key(path: &Path) -> std::io::Result<String> {
    use std::io::{Seek, SeekFrom};
    let mut f = std::fs::File::open(path)?;
    let len = f.metadata()?.len();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            hash ^= *b as u64;
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    let mut buf = vec![0u8; KEY_SAMPLE as usize];
    if len <= 3 * KEY_SAMPLE {
        let mut all = Vec::with_capacity(len as usize);
        f.read_to_end(&mut all)?;
        eat(&all);
    } else {
        for at in [0, len / 2 - KEY_SAMPLE / 2, len - KEY_SAMPLE] {
            f.seek(SeekFrom::Start(at))?;
            f.read_exact(&mut buf)?;
            eat(&buf);
        }
    }
    Ok(format!("{len:x}-{hash:016x}"))
}

/// The measurements kept in the user's data folder, by content key.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Cache {
    #[serde(default)]
    pub songs: BTreeMap<String, Measured>,
}

impl Cache {
    /// A cache that cannot be read starts empty (it is only a cache).
    pub fn load(path: &Path) -> Cache {
        std::fs::read_to_string(path)
            .ok()
            .and_then(|t| toml::from_str(&t).ok())
            .unwrap_or_default()
    }

    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let text = toml::to_string(self).map_err(std::io::Error::other)?;
        crate::session::write_private(path, text.as_bytes())
    }
}

/// What the scanner is doing, for a progress bar.
#[derive(Debug, Default)]
pub struct ScanProgress {
    /// Songs asked for and songs done (measured, found in the cache or failed).
    pub asked: AtomicU64,
    pub done: AtomicU64,
    /// Frames of the song being measured, read so far.
    pub frames: AtomicU64,
}

struct Shared {
    queue: Mutex<VecDeque<PathBuf>>,
    /// By path: what was measured (or found by content) this run, and the overviews.
    found: Mutex<BTreeMap<PathBuf, Measured>>,
    overviews: Mutex<BTreeMap<PathBuf, Overview>>,
    /// Failures by path.
    failed: Mutex<BTreeMap<PathBuf, DecodeError>>,
    cache: Mutex<Cache>,
    cache_path: Option<PathBuf>,
    progress: ScanProgress,
    stop: AtomicBool,
    wake: crossbeam_channel::Sender<()>,
}

/// The background scanner: songs queued are measured one at a time on its thread.
#[derive(Clone)]
pub struct Scanner {
    shared: Arc<Shared>,
}

impl Scanner {
    /// Not rt: a scanner keeping its results in `cache_path` (none: this run only).
    pub fn start(cache_path: Option<PathBuf>) -> Scanner {
        let cache = cache_path.as_deref().map(Cache::load).unwrap_or_default();
        let (wake, woken) = crossbeam_channel::unbounded();
        let shared = Arc::new(Shared {
            queue: Mutex::new(VecDeque::new()),
            found: Mutex::new(BTreeMap::new()),
            overviews: Mutex::new(BTreeMap::new()),
            failed: Mutex::new(BTreeMap::new()),
            cache: Mutex::new(cache),
            cache_path,
            progress: ScanProgress::default(),
            stop: AtomicBool::new(false),
            wake,
        });
        let s = shared.clone();
        let _ = std::thread::Builder::new()
            .name("loudness-scan".into())
            .spawn(move || {
                while woken.recv().is_ok() {
                    loop {
                        if s.stop.load(Relaxed) {
                            return;
                        }
                        let Some(path) = s.queue.lock().ok().and_then(|mut q| q.pop_front()) else {
                            break;
                        };
                        scan_one(&s, &path);
                        s.progress.done.fetch_add(1, Relaxed);
                    }
                }
            });
        Scanner { shared }
    }

    /// Queues songs not yet known; known ones count as done at once.
    pub fn ask(&self, paths: impl IntoIterator<Item = PathBuf>) {
        let s = &self.shared;
        let mut q = match s.queue.lock() {
            Ok(q) => q,
            Err(_) => return,
        };
        for p in paths {
            let known = s.found.lock().map(|f| f.contains_key(&p)).unwrap_or(false)
                || s.failed.lock().map(|f| f.contains_key(&p)).unwrap_or(false);
            if known || q.contains(&p) {
                continue;
            }
            s.progress.asked.fetch_add(1, Relaxed);
            q.push_back(p);
        }
        drop(q);
        let _ = s.wake.send(());
    }

    /// The measurement of `path`, if it is done.
    pub fn measured(&self, path: &Path) -> Option<Measured> {
        self.shared.found.lock().ok()?.get(path).copied()
    }

    /// The overview of `path`, once it is measured.
    pub fn overview(&self, path: &Path) -> Option<Overview> {
        self.shared.overviews.lock().ok()?.get(path).cloned()
    }

    /// Why `path` could not be measured, if it could not.
    pub fn failed(&self, path: &Path) -> Option<DecodeError> {
        self.shared.failed.lock().ok()?.get(path).cloned()
    }

    pub fn progress(&self) -> &ScanProgress {
        &self.shared.progress
    }

    /// Whether everything asked for is done.
    pub fn idle(&self) -> bool {
        let p = &self.shared.progress;
        p.done.load(Relaxed) >= p.asked.load(Relaxed)
    }

    /// Waits (up to `secs`) for everything asked to be done: scripts and tests.
    pub fn wait(&self, secs: f64) -> bool {
        let until = std::time::Instant::now() + std::time::Duration::from_secs_f64(secs);
        while !self.idle() {
            if std::time::Instant::now() > until {
                return false;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        true
    }
}

impl Drop for Scanner {
    fn drop(&mut self) {
        if Arc::strong_count(&self.shared) == 2 {
            self.shared.stop.store(true, Relaxed);
            let _ = self.shared.wake.send(());
        }
    }
}

/// Where a song's overview is kept beside the cache: `overviews/KEY.peaks` (the file
/// rate in its first four bytes).
fn overview_path(cache: &Path, key: &str) -> PathBuf {
    cache
        .with_file_name("overviews")
        .join(format!("{key}.peaks"))
}

fn load_overview(cache: &Path, key: &str) -> Option<Overview> {
    let bytes = std::fs::read(overview_path(cache, key)).ok()?;
    let rate = u32::from_le_bytes(bytes.get(..4)?.try_into().ok()?);
    Some(Overview {
        peaks: Arc::new(bytes[4..].to_vec()),
        file_rate: rate,
    })
}

fn save_overview(cache: &Path, key: &str, o: &Overview) {
    let path = overview_path(cache, key);
    if let Some(dir) = path.parent() {
        if crate::session::make_private_dir(dir, true).is_err() {
            return;
        }
    }
    let mut bytes = o.file_rate.to_le_bytes().to_vec();
    bytes.extend_from_slice(&o.peaks);
    let _ = crate::session::write_private(&path, &bytes);
}

fn scan_one(s: &Shared, path: &Path) {
    let key = content_key(path).ok();
    let cached = key.as_ref().and_then(|k| {
        let m = s.cache.lock().ok()?.songs.get(k).copied()?;
        // Without its overview the song is read again for it.
        let o = s.cache_path.as_deref().and_then(|c| load_overview(c, k))?;
        Some((m, o))
    });
    let result = match cached.clone() {
        Some(found) => Ok(Some(found)),
        None => {
            s.progress.frames.store(0, Relaxed);
            measure(path, &s.progress.frames, &s.stop)
        }
    };
    match result {
        Ok(Some((m, o))) => {
            if let Ok(mut f) = s.found.lock() {
                f.insert(path.to_owned(), m);
            }
            if cached.is_none() {
                if let (Some(k), Ok(mut c)) = (key, s.cache.lock()) {
                    c.songs.insert(k.clone(), m);
                    if let Some(p) = &s.cache_path {
                        let _ = c.save(p);
                        save_overview(p, &k, &o);
                    }
                }
            }
            if let Ok(mut f) = s.overviews.lock() {
                f.insert(path.to_owned(), o);
            }
        }
        Ok(None) => {}
        Err(e) => {
            if let Ok(mut f) = s.failed.lock() {
                f.insert(path.to_owned(), e);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gain_meets_the_target_under_the_ceiling() {
        let t = Tags::default();
        let quiet = Measured {
            lufs: -30.0,
            peak_dbtp: -20.0,
        };
        assert_eq!(gain_db(-18.0, Some(quiet), &t), (12.0, GainFrom::Measured));
        let peaky = Measured {
            lufs: -30.0,
            peak_dbtp: -6.0,
        };
        assert_eq!(gain_db(-18.0, Some(peaky), &t).0, 5.0, "held at -1 dBTP");
        let loud = Measured {
            lufs: -8.0,
            peak_dbtp: 0.5,
        };
        assert_eq!(gain_db(-18.0, Some(loud), &t).0, -10.0);
        let tagged = Tags {
            replay_gain_db: Some(-7.5),
            ..Tags::default()
        };
        assert_eq!(gain_db(-16.0, None, &tagged), (-5.5, GainFrom::Tags));
        assert_eq!(gain_db(-18.0, None, &t), (-9.0, GainFrom::Guess));
    }

    #[test]
    fn the_content_key_follows_the_bytes_not_the_name() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b, c) = (
            dir.path().join("a"),
            dir.path().join("b"),
            dir.path().join("c"),
        );
        std::fs::write(&a, b"song").unwrap();
        std::fs::write(&b, b"song").unwrap();
        std::fs::write(&c, b"sang").unwrap();
        assert_eq!(content_key(&a).unwrap(), content_key(&b).unwrap());
        assert_ne!(content_key(&a).unwrap(), content_key(&c).unwrap());
        // A big file: a byte changed in its middle changes the key.
        let big: Vec<u8> = (0..2_000_000u32).map(|i| (i % 251) as u8).collect();
        let mut other = big.clone();
        other[1_000_000] ^= 1;
        std::fs::write(&a, &big).unwrap();
        std::fs::write(&b, &other).unwrap();
        assert_ne!(content_key(&a).unwrap(), content_key(&b).unwrap());
    }
}
