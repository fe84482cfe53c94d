//! The listen feeder: a thread per playing song keeps its ring filled seconds ahead with
//! the song decoded and resampled (`disk::decode`). The first half second is decoded
//! before the song is handed to the engine, so it starts at once and never dry.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::Sender;
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
    /// Decoded frames that did not fit in the ring yet.
    left: Vec<f32>,
    at: usize,
    status: Arc<ListenStatus>,
    ended: bool,
}

impl Feeder {
    /// Tops the ring up; `Ok(true)` while there is more to come.
    fn fill(&mut self, until_occupied: usize) -> Result<bool, DecodeError> {
        while self.prod.occupied_len() < until_occupied {
            if self.at >= self.left.len() {
                if self.ended {
                    self.status.fed_all.store(true, Relaxed);
                    return Ok(false);
                }
                self.left.clear();
                self.at = 0;
                if !self.stream.read(&mut self.left)? {
                    self.ended = true;
                }
                continue;
            }
            let whole = (self.prod.vacant_len() / 2) * 2;
            let n = whole.min(self.left.len() - self.at);
            if n == 0 {
                break;
            }
            let pushed = self.prod.push_slice(&self.left[self.at..self.at + n]);
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
) -> Result<Box<ListenStream>, DecodeError> {
    let rate = stream.rate() as f64;
    if start.from_secs > 0.0 {
        stream.seek(start.from_secs)?;
    }
    let capacity = 2 * (AHEAD_SECS * rate) as usize;
    let (prod, cons) = HeapRb::<f32>::new(capacity).split();
    let status = Arc::new(ListenStatus::default());
    let mut feeder = Feeder {
        stream,
        prod,
        left: Vec::with_capacity(16_384),
        at: 0,
        status: status.clone(),
        ended: false,
    };
    feeder.fill(2 * (PREFILL_SECS * rate) as usize)?;
    let from = (start.from_secs * rate).round() as u64;
    let song = Box::new(ListenStream {
        ring: cons,
        gain: if start.gain.is_finite() {
            start.gain.clamp(0.0, 16.0)
        } else {
            1.0
        },
        from,
        fade_in: (start.fade_in_secs.max(0.0) * rate as f32) as u32,
        pause_at: start
            .pause_at_secs
            .map(|s| (s * rate).round() as u64)
            .filter(|f| *f > from),
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
    Ok(song)
}
