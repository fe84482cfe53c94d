//! Song playback on the audio thread: each track's kept takes, read ahead from disk by
//! `disk::song_reader` into a ring per track, mixed at the song's position; and the
//! song's click on its tempo, with the count-in before position 0.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use ringbuf::traits::{Consumer, Observer};
use ringbuf::HeapCons;

use super::looper::sync::{Click, Grid, SyncMode};
use super::MAX_BLOCK_FRAMES;

/// What the control side and the reader see of a playing song.
#[derive(Debug, Default)]
pub struct PlaybackStatus {
    /// The song frame playing now (negative during the count-in).
    pub position: AtomicI64,
    /// Frames a track's ring did not have in time (played as silence).
    pub underruns: AtomicU64,
    /// The engine has let go of the playback: the reader stops.
    pub done: AtomicBool,
}

/// One track as it plays: interleaved stereo frames from song position 0 (or from
/// where playing started) and its level on each side.
pub struct TrackStream {
    pub ring: HeapCons<f32>,
    pub gain_l: f32,
    pub gain_r: f32,
}

pub struct SongPlayback {
    tracks: Vec<TrackStream>,
    grid: Grid,
    click: Click,
    click_gain: f32,
    /// The click plays all through (else only during the count-in).
    click_on: bool,
    count_in: u64,
    /// The song frame the tracks' rings start at.
    from: u64,
    position: i64,
    scratch: Vec<f32>,
    pub status: Arc<PlaybackStatus>,
}

impl SongPlayback {
    /// Not rt. `count_in_bars` of click come before song frame `from`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        tracks: Vec<TrackStream>,
        sample_rate: u32,
        bpm: f32,
        beats_per_bar: u32,
        count_in_bars: u32,
        click_on: bool,
        from: u64,
        status: Arc<PlaybackStatus>,
    ) -> Box<SongPlayback> {
        let grid = Grid::new(SyncMode::Tempo { bpm, beats_per_bar }, sample_rate);
        let count_in = grid.bar_frames() * count_in_bars as u64;
        Box::new(SongPlayback {
            tracks,
            grid,
            click: Click::new(sample_rate),
            click_gain: 0.5,
            click_on,
            count_in,
            from,
            position: from as i64 - count_in as i64,
            scratch: vec![0.0; 2 * MAX_BLOCK_FRAMES],
            status,
        })
    }

    /// Frames of count-in before the song's first frame.
    pub fn count_in_frames(&self) -> u64 {
        self.count_in
    }

    /// rt: the count-in starts at engine frame `now` (the song itself `count_in` later).
    pub fn start(&mut self, now: u64) {
        // The grid's bars are the song's: playing from inside a bar (a pre-roll), its
        // downbeat was a little before now.
        let into_bar = self.from % self.grid.bar_frames().max(1);
        self.grid.origin = now
            .checked_sub(into_bar)
            .unwrap_or(now + self.grid.bar_frames() - into_bar);
        self.position = self.from as i64 - self.count_in as i64;
        self.status.position.store(self.position, Relaxed);
    }

    /// rt: adds the song (and its click) for the frames from engine frame `now` into `l`
    /// and `r`; the click into `click` instead, when given (its own outputs).
    pub fn render(
        &mut self,
        now: u64,
        l: &mut [f32],
        r: &mut [f32],
        click: Option<(&mut [f32], &mut [f32])>,
    ) {
        let n = l.len().min(r.len()).min(MAX_BLOCK_FRAMES);
        // The count-in part of this piece, then the song.
        let before = if self.position < self.from as i64 {
            ((self.from as i64 - self.position) as usize).min(n)
        } else {
            0
        };
        let click_to = if self.click_on { n } else { before };
        if click_to > 0 {
            let (cl, cr) = match click {
                Some((cl, cr)) => (cl, cr),
                None => (&mut *l, &mut *r),
            };
            let k = click_to.min(cl.len()).min(cr.len());
            self.click
                .render(&self.grid, now, self.click_gain, &mut cl[..k], &mut cr[..k]);
        }
        let k = n - before;
        if k > 0 {
            let scratch = &mut self.scratch[..2 * k];
            for t in &mut self.tracks {
                let got = t.ring.pop_slice(scratch) / 2;
                if got < k {
                    self.status.underruns.fetch_add((k - got) as u64, Relaxed);
                }
                let (gl, gr) = (t.gain_l, t.gain_r);
                for (i, f) in scratch[..2 * got].chunks_exact(2).enumerate() {
                    l[before + i] += f[0] * gl;
                    r[before + i] += f[1] * gr;
                }
            }
        }
        self.position += n as i64;
        self.status.position.store(self.position, Relaxed);
    }

    /// rt: frames every track has ready.
    pub fn ready_frames(&self) -> usize {
        self.tracks
            .iter()
            .map(|t| t.ring.occupied_len() / 2)
            .min()
            .unwrap_or(usize::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ringbuf::traits::{Producer, Split};
    use ringbuf::HeapRb;

    #[test]
    fn tracks_start_after_the_count_in_and_a_dry_ring_is_counted() {
        let (mut p, c) = HeapRb::<f32>::new(64).split();
        for i in 0..16 {
            p.try_push(i as f32).unwrap();
        }
        let status = Arc::new(PlaybackStatus::default());
        let mut s = SongPlayback::new(
            vec![TrackStream {
                ring: c,
                gain_l: 1.0,
                gain_r: 0.5,
            }],
            48_000,
            120.0,
            4,
            1,
            false,
            0,
            status.clone(),
        );
        let bar = s.count_in_frames() as usize;
        assert_eq!(bar, 96_000);
        s.start(1000);
        let (mut l, mut r) = (vec![0.0; 64], vec![0.0; 64]);
        s.render(1000, &mut l, &mut r, None);
        // The click's downbeat starts at the count-in's first frame.
        assert!(l.iter().any(|v| *v != 0.0));
        assert_eq!(status.position.load(Relaxed), 64 - bar as i64);
        // Up to the song's start: the click only; then the track.
        let mut at = 1064u64;
        let mut pos = 64usize;
        while pos + 64 <= bar {
            s.render(at, &mut vec![0.0; 64], &mut vec![0.0; 64], None);
            at += 64;
            pos += 64;
        }
        let left = bar - pos;
        let (mut l, mut r) = (vec![0.0; 64], vec![0.0; 64]);
        s.render(at, &mut l, &mut r, None);
        for i in 0..8 {
            assert_eq!(l[left + i], (2 * i) as f32, "frame {i} of the song");
            assert_eq!(r[left + i], 0.5 * (2 * i + 1) as f32);
        }
        assert_eq!(status.underruns.load(Relaxed), (64 - left - 8) as u64);
    }
}
