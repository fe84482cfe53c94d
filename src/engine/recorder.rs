//! The recorder tap: each armed source is copied, block by block, into a ring of its own
//! that a writer thread (`disk::take_writer`) drains into a file. The audio thread never
//! waits on the writer: a ring found full is counted, and the frames it could not take
//! are written as silence in their place, so the take stays in time.
//!
//! A take is aligned as the looper aligns its layers: what a player plays along to
//! reaches the engine a round trip late, so a take of live sound (inputs, instruments)
//! starts and ends that many frames after the moment it was started and stopped. The mix
//! is what the engine plays, and is taken as it is.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed, Ordering::Release};
use std::sync::Arc;

use ringbuf::traits::{Consumer, Observer, Producer, Split};
use ringbuf::{HeapCons, HeapProd, HeapRb};

/// Takes the engine records at once.
pub const MAX_TAKES: usize = 16;
/// Dropout marks and gaps a take keeps until the writer reads them.
const MARKS: usize = 256;

/// What a take records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TakeSource {
    /// Every input, as the loops hear them (also inputs not played through the speakers).
    Inputs,
    /// One input alone (0-based).
    Input(u8),
    /// The built-in instruments and the SoundFont.
    Instruments,
    /// What the speakers play (after the master level and the limiter).
    Mix,
}

impl TakeSource {
    /// Whether the take is of live sound, aligned by the round trip.
    pub fn is_live(self) -> bool {
        !matches!(self, TakeSource::Mix)
    }
}

/// What the tap and the writer both see of a take.
#[derive(Debug, Default)]
pub struct TakeStatus {
    /// Frames of the take so far (those the ring took and those it had no room for).
    pub frames: AtomicU64,
    /// Frames the ring had no room for (the writer fell behind): written as silence.
    pub lost: AtomicU64,
    /// The tap is done: every frame of the take has been offered.
    pub finished: AtomicBool,
    /// Set by the writer when it can write no more (a full disk): the tap stops.
    pub abandoned: AtomicBool,
    /// The engine frame the take's first frame was heard at.
    pub first_frame: AtomicU64,
    /// Frames the writer has put in the file (an offline render waits on it).
    pub written: AtomicU64,
}

/// The engine's end of a take.
pub struct TakeTap {
    pub id: u32,
    pub source: TakeSource,
    ring: HeapProd<f32>,
    gaps: HeapProd<(u64, u32)>,
    marks: HeapProd<u64>,
    pub status: Arc<TakeStatus>,
    /// The engine frames the take covers: from `from`, until `until` once stopped.
    from: u64,
    until: Option<u64>,
    latency: u64,
    frames: u64,
    xruns_seen: Option<u64>,
}

/// The writer's end of a take.
pub struct TakeFeed {
    pub id: u32,
    /// Interleaved stereo frames.
    pub ring: HeapCons<f32>,
    /// (take frame, frames) the ring had no room for, in order.
    pub gaps: HeapCons<(u64, u32)>,
    /// Take frames where the device had a dropout.
    pub marks: HeapCons<u64>,
    pub status: Arc<TakeStatus>,
}

impl TakeTap {
    /// Not rt: a take with room for `ring_frames` stereo frames, its memory touched here
    /// so the audio thread never meets a fresh page.
    pub fn new(id: u32, source: TakeSource, ring_frames: usize) -> (Box<TakeTap>, TakeFeed) {
        let (mut prod, mut cons) = HeapRb::<f32>::new(ring_frames.max(64) * 2).split();
        prod.push_iter(std::iter::repeat(0.0));
        cons.clear();
        let (gp, gc) = HeapRb::new(MARKS).split();
        let (mp, mc) = HeapRb::new(MARKS).split();
        let status = Arc::new(TakeStatus::default());
        let tap = Box::new(TakeTap {
            id,
            source,
            ring: prod,
            gaps: gp,
            marks: mp,
            status: status.clone(),
            from: u64::MAX,
            until: None,
            latency: 0,
            frames: 0,
            xruns_seen: None,
        });
        let feed = TakeFeed {
            id,
            ring: cons,
            gaps: gc,
            marks: mc,
            status,
        };
        (tap, feed)
    }

    /// rt: the take starts at engine frame `now`; live sound is taken `latency` frames
    /// later.
    pub fn start(&mut self, now: u64, latency: usize) {
        self.latency = if self.source.is_live() {
            latency as u64
        } else {
            0
        };
        self.from = now + self.latency;
    }

    /// rt: the take ends at engine frame `now` (live sound: a round trip later).
    pub fn stop(&mut self, now: u64) {
        if self.until.is_none() {
            self.until = Some((now + self.latency).max(self.from));
        }
    }

    pub fn is_finished(&self) -> bool {
        self.status.finished.load(Relaxed)
    }

    /// rt: offers a piece of the source heard at engine frame `at`; `xruns` is the
    /// device's dropout count now.
    pub fn offer(&mut self, l: &[f32], r: &[f32], at: u64, xruns: u64) {
        if self.is_finished() {
            return;
        }
        if self.status.abandoned.load(Relaxed) {
            self.finish();
            return;
        }
        let n = l.len().min(r.len());
        let end_at = at + n as u64;
        let lo = self.from.clamp(at, end_at);
        let hi = self.until.unwrap_or(u64::MAX).clamp(lo, end_at);
        let (skip, end) = ((lo - at) as usize, (hi - at) as usize);
        let (l, r) = (&l[skip..end], &r[skip..end]);
        if !l.is_empty() {
            if self.frames == 0 {
                self.status.first_frame.store(at + skip as u64, Relaxed);
            }
            let seen = *self.xruns_seen.get_or_insert(xruns);
            if seen != xruns {
                self.xruns_seen = Some(xruns);
                let _ = self.marks.try_push(self.frames);
            }
            if self.ring.vacant_len() >= 2 * l.len() {
                let mut it = l.iter().zip(r).flat_map(|(a, b)| [*a, *b]);
                self.ring.push_iter(&mut it);
            } else {
                let n = l.len() as u32;
                self.status.lost.fetch_add(n as u64, Relaxed);
                let _ = self.gaps.try_push((self.frames, n));
            }
            self.frames += l.len() as u64;
            self.status.frames.store(self.frames, Release);
        }
        if self.until.is_some_and(|u| end_at >= u) {
            self.finish();
        }
    }

    fn finish(&mut self) {
        self.status.finished.store(true, Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_take_starts_and_ends_a_round_trip_late_and_keeps_time_when_its_ring_is_full() {
        let (mut tap, mut feed) = TakeTap::new(1, TakeSource::Inputs, 64);
        tap.start(0, 10);
        let l: Vec<f32> = (0..32).map(|i| i as f32).collect();
        let r: Vec<f32> = (0..32).map(|i| -(i as f32)).collect();
        tap.offer(&l, &r, 0, 0);
        // The first 10 frames went by: the take starts at frame 10.
        assert_eq!(tap.status.frames.load(Relaxed), 22);
        assert_eq!(tap.status.first_frame.load(Relaxed), 10);
        let mut got = vec![0.0; 44];
        assert_eq!(feed.ring.pop_slice(&mut got), 44);
        assert_eq!(&got[..4], &[10.0, -10.0, 11.0, -11.0]);
        // A full ring: the frames are counted and their place kept.
        tap.offer(&l, &r, 32, 1);
        tap.offer(&l, &r, 64, 1);
        tap.offer(&l, &r, 96, 1);
        assert_eq!(tap.status.lost.load(Relaxed), 32);
        assert_eq!(feed.gaps.try_pop(), Some((86, 32)));
        assert_eq!(feed.marks.try_pop(), Some(22));
        tap.stop(128);
        tap.offer(&l, &r, 128, 1);
        assert!(tap.is_finished());
        assert_eq!(tap.status.frames.load(Relaxed), 22 + 96 + 10);
    }

    #[test]
    fn the_mix_is_taken_as_it_plays() {
        let (mut tap, _feed) = TakeTap::new(1, TakeSource::Mix, 64);
        tap.start(100, 10);
        tap.offer(&[0.5; 8], &[0.5; 8], 96, 0);
        assert_eq!(tap.status.first_frame.load(Relaxed), 100);
        tap.stop(106);
        tap.offer(&[0.5; 8], &[0.5; 8], 104, 0);
        assert!(tap.is_finished());
        assert_eq!(tap.status.frames.load(Relaxed), 6);
    }
}
