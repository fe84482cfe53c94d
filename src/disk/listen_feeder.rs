//! The listen feeder: a thread per playing song keeps its ring filled seconds ahead with
//! the song decoded and resampled (`disk::decode`). The first half second is decoded
//! before the song is handed to the engine, so it starts at once and never dry.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};
use ringbuf::traits::{Observer, Producer, Split};
use ringbuf::{HeapProd, HeapRb};

use super::decode::{DecodeError, SongStream};
use crate::engine::listen_player::{ListenStatus, ListenStream};

/// Seconds the ring holds.
pub const AHEAD_SECS: f64 = 6.0;
/// Seconds decoded before the engine gets the song.
pub const PREFILL_SECS: f64 = 0.5;
/// How often the feeder looks at the ring.
const NAP: Duration = Duration::from_millis(15);

/// How a song is to start.
#[derive(Clone, Copy, Debug)]
pub struct Start {
    pub from_secs: f64,
    pub gain: f32,
    pub fade_in_secs: f32,
    /// Song seconds where it pauses by itself (a cue that waits).
    pub pause_at_secs: Option<f64>,
    /// Seconds (from, to) played round and round (an A–B repeat).
    pub repeat: Option<(f64, f64)>,
}

/// Frames of fade at each side of an A–B repeat's seam: a short dip, no click.
const SEAM_FRAMES: usize = 240;

/// The next song of an album, played on in the same ring without a gap, at its own gain
/// (linear).
pub struct FollowOn {
    pub stream: SongStream,
    pub gain: f32,
}

/// What the feeder says after the start: a song that broke part way.
#[derive(Debug)]
pub struct FeedNews {
    pub status: Arc<ListenStatus>,
    pub error: DecodeError,
}

struct Feeder {
    stream: SongStream,
    prod: HeapProd<f32>,
    /// Decoded frames not yet in the ring (from `at`).
    left: Vec<f32>,
    at: usize,
    status: Arc<ListenStatus>,
    ended: bool,
    /// The song frame just after the last one in `left`.
    end: u64,
    /// A–B in song frames at the engine's rate.
    repeat: Option<(u64, u64)>,
    /// Frames of the next decoded ones still to fade in (after a seam).
    fade_in: usize,
    /// Songs to play on into, the gain of the ring's first song, the level of the song
    /// being read against it, and the frames put in `left` so far.
    next: Receiver<FollowOn>,
    base_gain: f32,
    ratio: f32,
    produced: u64,
}

impl Feeder {
    /// Decodes more into `left`; at an A–B repeat's B the song goes on from A, the seam
    /// faded out and in.
    fn read_more(&mut self) -> Result<(), DecodeError> {
        self.left.drain(..self.at);
        self.at = 0;
        let before = self.left.len();
        let more = self.stream.read(&mut self.left)?;
        let new = (self.left.len() - before) / 2;
        if self.ratio != 1.0 {
            for v in &mut self.left[before..] {
                *v *= self.ratio;
            }
        }
        self.produced += new as u64;
        for k in 0..new.min(self.fade_in) {
            let g = (SEAM_FRAMES - self.fade_in + k) as f32 / SEAM_FRAMES as f32;
            self.left[before + 2 * k] *= g;
            self.left[before + 2 * k + 1] *= g;
        }
        self.fade_in -= new.min(self.fade_in);
        self.end += new as u64;
        match self.repeat {
            Some((a, b)) if self.end >= b || (!more && self.end > a) => {
                let excess = self.end.saturating_sub(b) as usize;
                let keep = self.left.len() / 2 - excess.min(self.left.len() / 2);
                self.left.truncate(2 * keep);
                // The last frames before B, held back from the ring for this.
                let fade = SEAM_FRAMES.min(keep);
                for k in 0..fade {
                    let g = (fade - k) as f32 / (fade + 1) as f32;
                    let i = keep - fade + k;
                    self.left[2 * i] *= g;
                    self.left[2 * i + 1] *= g;
                }
                self.stream
                    .seek(a as f64 / self.stream.rate().max(1) as f64)?;
                self.end = a;
                self.fade_in = SEAM_FRAMES;
            }
            _ if !more => match self.next.try_recv() {
                // The album goes on: the next song's first frame right after this one's last.
                Ok(f) => {
                    self.stream = f.stream;
                    self.ratio = f.gain / self.base_gain.max(1e-9);
                    self.status.next_from.store(self.produced, Relaxed);
                }
                Err(_) => self.ended = true,
            },
            _ => {}
        }
        Ok(())
    }

    /// Tops the ring up; `Ok(true)` while there is more to come.
    fn fill(&mut self, until_occupied: usize) -> Result<bool, DecodeError> {
        while self.prod.occupied_len() < until_occupied {
            let avail = (self.left.len() - self.at) / 2;
            // Held back while a repeat's seam may still fade them.
            let hold = if self.ended || self.repeat.is_none() {
                0
            } else {
                SEAM_FRAMES
            };
            if avail <= hold {
                if self.ended {
                    self.status.fed_all.store(true, Relaxed);
                    return Ok(false);
                }
                self.read_more()?;
                continue;
            }
            let n = (avail - hold).min(self.prod.vacant_len() / 2);
            if n == 0 {
                break;
            }
            let pushed = self.prod.push_slice(&self.left[self.at..self.at + 2 * n]);
            self.at += pushed;
            self.status.fed.fetch_add(pushed as u64 / 2, Relaxed);
        }
        Ok(true)
    }
}

/// Not rt: the song from `start.from_secs`, its first half second decoded, and its
/// feeder thread running. A song that breaks later is told on `news` and ends there.
pub fn start(
    mut stream: SongStream,
    start: Start,
    news: Sender<FeedNews>,
) -> Result<(Box<ListenStream>, Sender<FollowOn>), DecodeError> {
    let rate = stream.rate() as f64;
    if start.from_secs > 0.0 {
        stream.seek(start.from_secs)?;
    }
    let capacity = 2 * (AHEAD_SECS * rate) as usize;
    let (prod, cons) = HeapRb::<f32>::new(capacity).split();
    let status = Arc::new(ListenStatus::default());
    let from = (start.from_secs * rate).round() as u64;
    let repeat = start
        .repeat
        .map(|(a, b)| ((a * rate).round() as u64, (b * rate).round() as u64))
        .filter(|(a, b)| a < b && from < *b);
    let gain = if start.gain.is_finite() {
        start.gain.clamp(0.0, 16.0)
    } else {
        1.0
    };
    let (then, next) = crossbeam_channel::bounded(1);
    let mut feeder = Feeder {
        next,
        base_gain: gain,
        ratio: 1.0,
        produced: 0,
        stream,
        prod,
        left: Vec::with_capacity(16_384),
        at: 0,
        status: status.clone(),
        ended: false,
        end: from,
        repeat,
        fade_in: 0,
    };
    feeder.fill(2 * (PREFILL_SECS * rate) as usize)?;
    let song = Box::new(ListenStream {
        ring: cons,
        gain,
        from,
        fade_in: (start.fade_in_secs.max(0.0) * rate as f32) as u32,
        pause_at: start
            .pause_at_secs
            .map(|s| (s * rate).round() as u64)
            .filter(|f| *f > from),
        repeat,
        status: status.clone(),
    });
    std::thread::Builder::new()
        .name("listen-feeder".into())
        .spawn(move || {
            let full = capacity - 2 * 4096;
            while !feeder.status.done.load(Relaxed) {
                match feeder.fill(full) {
                    Ok(true) => std::thread::sleep(NAP),
                    Ok(false) => break,
                    Err(error) => {
                        // What was decoded plays; the song ends there.
                        feeder.status.fed_all.store(true, Relaxed);
                        let _ = news.send(FeedNews {
                            status: feeder.status.clone(),
                            error,
                        });
                        break;
                    }
                }
            }
        })
        .map_err(|e| DecodeError::Unreadable(Default::default(), e.to_string()))?;
    Ok((song, then))
}
