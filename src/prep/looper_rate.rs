//! A new sample rate for the looper (another device, or the same one reopened at
//! another rate): every loop is resampled and everything the looper counts in frames
//! is converted, so loops last as many seconds as before, keep their pitch, and the
//! tempo keeps its BPM.
//!
//! Not rt: this allocates a whole new loop memory and resamples every loop. The engine
//! hands its looper over when its rate changes (`Garbage::LooperToRetune`) and plays on
//! without loops; the controller runs this on a thread of its own and sends the result
//! back (`Command::InstallLooper`), so a long loop never holds the engine out of its
//! cell. The old looper is dropped before the new memory is made: never both at once.
//!
//! What does not survive the change, on purpose:
//! - undo and redo history (each track keeps only the loop it plays);
//! - a quantized op still waiting for its grid point (cancelled);
//! - a new recording, multiply or insert in progress (the loop from before it is
//!   kept, as a saved jam would keep it); an overdub, replace or substitute in
//!   progress keeps what it has written so far and ends;
//! - the counter of dropped undo levels starts again;
//! - a seam or punch-out still being written (the few ms after a recording or
//!   overdub ends) is taken as far as it got.

use crate::engine::looper::memory::LoopMemory;
use crate::engine::looper::track::Mode;
use crate::engine::looper::{Grid, Looper, LooperSettings, SyncMode, TrackSettings};
use crate::prep::resample::resample_loop;

/// One track on its way to the new rate.
struct Carried {
    left: Vec<f32>,
    right: Vec<f32>,
    settings: TrackSettings,
    head_half: usize,
    paused: bool,
    oneshot: bool,
    set_cycle: bool,
    full_count: u32,
}

/// `frames` at the old rate, counted at the new one.
fn scale(frames: u64, ratio: f64) -> u64 {
    (frames as f64 * ratio).round() as u64
}

/// Not rt: `looper` at `sample_rate` (see `Looper::set_sample_rate`).
pub fn retuned(mut looper: Box<Looper>, sample_rate: u32) -> Box<Looper> {
    looper.set_sample_rate(sample_rate);
    looper
}

impl Looper {
    /// Not rt: the looper at `sample_rate`, with every loop resampled to it, the grid
    /// at the same tempo and phase, each play head at the same point of its loop, and
    /// memory for as many seconds as before. See the module notes for what is dropped.
    pub fn set_sample_rate(&mut self, sample_rate: u32) {
        let from = self.settings.sample_rate;
        let to = sample_rate.max(1);
        if from == to || from == 0 {
            return;
        }
        let plain = to as f64 / from as f64;
        let grid = self.grid_at(to, plain);
        // On a grid, lengths scale with its cycle (a tempo's cycle is rounded to whole
        // frames at each rate), so loops of whole cycles stay whole cycles.
        let ratio = if self.grid.cycle_frames > 0 && grid.cycle_frames > 0 {
            grid.cycle_frames as f64 / self.grid.cycle_frames as f64
        } else {
            plain
        };
        let carried = self.carry_tracks(ratio);

        let tracks = self.memory.tracks();
        let undo_levels = self
            .memory
            .tracks
            .first()
            .map_or(1, |m| m.pool().saturating_sub(1))
            .max(1);
        // As many seconds as before (a frame or two over, so no loop is cut short).
        let max_secs = ((self.memory.cap_frames() as f64 + 2.0) / from as f64) as f32;
        // The old memory goes before the new one is made: never both at once.
        *self.memory = LoopMemory::new(1, 0.1, 1, to);
        let memory = Box::new(LoopMemory::new(tracks, max_secs, undo_levels, to));
        let cap = memory.cap_frames();
        let settings = LooperSettings {
            sample_rate: to,
            xfade_frames: (scale(self.settings.xfade_frames as u64, plain) as u32).max(1),
            latency_frames: scale(self.settings.latency_frames as u64, plain) as usize,
            sync: grid.mode,
            ..self.settings
        };
        let mut next = Looper::new(memory, settings);
        next.frame = self.frame;
        next.fast_path = self.fast_path;
        next.solo = self.solo;
        for (t, mut c) in carried.into_iter().enumerate() {
            c.left.truncate(cap);
            c.right.truncate(cap);
            if let Some(track) = next.tracks.get_mut(t) {
                // Before the preload, so a paused track starts silent, not fading out.
                track.paused = c.paused;
            }
            if next.preload(t, &c.left, &c.right, &c.settings).is_err() {
                continue; // cannot happen: it was cut to fit
            }
            let len = c.left.len().min(c.right.len());
            if let Some(track) = next.tracks.get_mut(t) {
                if len > 0 {
                    track.set_head_half(c.head_half % (2 * len));
                }
                track.oneshot = c.oneshot && len > 0;
                track.set_cycle = c.set_cycle && len > 0;
                track.full_count = c.full_count;
            }
        }
        next.grid = grid;
        next.update_solo();
        *self = next;
    }

    /// The grid at the new rate: the same tempo (or first loop's cycle, scaled), its
    /// cycle at the same phase at the looper's current frame.
    fn grid_at(&self, to: u32, plain: f64) -> Grid {
        let old = self.grid;
        let mut grid = Grid::new(old.mode, to);
        if old.mode == SyncMode::FirstLoop && old.cycle_frames > 0 {
            grid.cycle_frames = scale(old.cycle_frames, plain).max(1);
        }
        grid.beats_per_bar = old.beats_per_bar;
        let (c_old, c_new) = (old.cycle_frames, grid.cycle_frames);
        let now = self.frame;
        grid.origin = if c_old == 0 || c_new == 0 {
            now
        } else if now >= old.origin {
            let phase = scale((now - old.origin) % c_old, c_new as f64 / c_old as f64) % c_new;
            if phase <= now {
                now - phase
            } else {
                now + c_new - phase
            }
        } else {
            now + scale(old.origin - now, c_new as f64 / c_old as f64)
        };
        grid
    }

    /// Each track's stable loop, resampled by `ratio`, with its settings and head.
    fn carry_tracks(&mut self, ratio: f64) -> Vec<Carried> {
        let mut out = Vec::with_capacity(self.tracks.len());
        let mut new_lens = Vec::with_capacity(self.tracks.len());
        for (t, m) in self.tracks.iter().zip(self.memory.tracks.iter()) {
            let pool = m.pool().max(1);
            let cur = t.layer();
            let layer = match t.mode {
                Mode::Off => None,
                // Same length as before the op: what is written so far is kept.
                Mode::Playing | Mode::Overdub | Mode::Replace | Mode::Substitute => Some(cur),
                // The length is not known yet: the loop from before the op.
                Mode::Recording | Mode::Multiply | Mode::Insert if t.undo_avail > 0 => {
                    Some((cur + pool - 1) % pool)
                }
                Mode::Recording | Mode::Multiply | Mode::Insert => None,
            };
            let (len, cycle) = layer
                .and_then(|li| m.layers.get(li))
                .map_or((0, 0), |l| (l.len, l.cycle));
            let (mut left, mut right) = (Vec::with_capacity(len), Vec::with_capacity(len));
            if let Some(li) = layer {
                for i in 0..len {
                    let (l, r) = m.peek(li, i);
                    left.push(l);
                    right.push(r);
                }
            }
            new_lens.push(if len > 0 {
                (scale(len as u64, ratio) as usize).max(1)
            } else {
                0
            });
            let (volume, pan) = t.mix();
            let head = t.head_half();
            out.push(Carried {
                left,
                right,
                settings: TrackSettings {
                    cycle_frames: if cycle > 0 {
                        (scale(cycle as u64, ratio) as usize).max(1)
                    } else {
                        0
                    },
                    volume,
                    pan,
                    muted: t.muted,
                    reversed: t.reversed,
                    speed: t.speed,
                    feedback: t.feedback,
                    source: t.source.min(255) as u8,
                },
                // Whole frames scaled, the half frame (half speed) kept.
                head_half: 2 * scale((head >> 1) as u64, ratio) as usize + (head & 1),
                paused: t.paused,
                oneshot: t.oneshot,
                set_cycle: t.set_cycle,
                full_count: t.full_count,
            });
        }
        // The long part, shared out by track among the cores: this thread and helpers
        // each take the next track left (without helpers, this thread takes them all).
        let jobs: Vec<std::sync::Mutex<(&mut Carried, usize)>> = out
            .iter_mut()
            .zip(new_lens)
            .map(std::sync::Mutex::new)
            .collect();
        let next = std::sync::atomic::AtomicUsize::new(0);
        let work = || {
            while let Some(job) = jobs.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
            {
                let Ok(mut job) = job.lock() else {
                    continue;
                };
                let (c, n) = &mut *job;
                let mut audio = resample_loop(&[&c.left, &c.right], *n).into_iter();
                c.left = audio.next().unwrap_or_default();
                c.right = audio.next().unwrap_or_default();
            }
        };
        let helpers = std::thread::available_parallelism().map_or(1, |n| n.get()) - 1;
        std::thread::scope(|s| {
            for _ in 0..helpers.min(jobs.len()) {
                let _ = std::thread::Builder::new()
                    .name("loop resampling".into())
                    .spawn_scoped(s, work);
            }
            work();
        });
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::looper::{LoopOp, Quantize};
    use std::f64::consts::TAU;

    const BLOCK: usize = 256;

    fn looper(rate: u32, sync: SyncMode) -> Looper {
        let mem = Box::new(LoopMemory::new(2, 6.0, 2, rate));
        Looper::new(
            mem,
            LooperSettings {
                sample_rate: rate,
                sync,
                ..LooperSettings::default()
            },
        )
    }

    fn tempo(bpm: f32) -> SyncMode {
        SyncMode::Tempo {
            bpm,
            beats_per_bar: 4,
        }
    }

    /// Runs `frames` frames, `input(frame)` on source 0, under the allocation checker.
    fn run(lp: &mut Looper, frames: usize, input: impl Fn(u64) -> f32) -> Vec<f32> {
        let (mut out_l, mut out_r) = (vec![0f32; frames], vec![0f32; frames]);
        let mut src = vec![0f32; BLOCK];
        let before = assert_no_alloc::violation_count();
        let mut pos = 0;
        while pos < frames {
            let n = BLOCK.min(frames - pos);
            let start = lp.frame();
            for (i, s) in src.iter_mut().take(n).enumerate() {
                *s = input(start + i as u64);
            }
            let (ol, or) = (&mut out_l[pos..pos + n], &mut out_r[pos..pos + n]);
            let s = &src[..n];
            assert_no_alloc::assert_no_alloc(|| lp.process(&[(s, s)], ol, or));
            pos += n;
        }
        assert_eq!(assert_no_alloc::violation_count(), before, "allocated");
        out_l
    }

    fn sine_at(rate: u32, hz: f64) -> impl Fn(u64) -> f32 {
        move |f| (0.5 * (TAU * hz * f as f64 / rate as f64).sin()) as f32
    }

    /// Frequency from the upward zero crossings, interpolated between frames.
    fn zero_crossing_hz(x: &[f32], rate: u32) -> f64 {
        let ups: Vec<f64> = (1..x.len())
            .filter(|&i| x[i - 1] < 0.0 && x[i] >= 0.0)
            .map(|i| {
                let (a, b) = (x[i - 1] as f64, x[i] as f64);
                i as f64 - 1.0 + a / (a - b)
            })
            .collect();
        (ups.len() - 1) as f64 * rate as f64 / (ups[ups.len() - 1] - ups[0])
    }

    /// The largest step between neighbouring frames.
    fn largest_step(x: &[f32]) -> f32 {
        x.windows(2)
            .map(|w| (w[1] - w[0]).abs())
            .fold(0.0, f32::max)
    }

    #[test]
    fn a_bar_of_440_hz_at_48k_plays_on_at_44k1_as_long_as_high_and_in_tempo() {
        let mut lp = looper(48_000, tempo(120.0));
        // 120 bpm: a beat is 24 000 frames, a bar 96 000 (2 s).
        lp.command(0, LoopOp::RecordBars(1));
        run(&mut lp, 96_000 + 2_000, sine_at(48_000, 440.0));
        let before = lp.state(0);
        assert_eq!((before.state, before.loop_len), (4, 96_000));
        run(&mut lp, 30_000, |_| 0.0);
        let pos_secs = lp.state(0).loop_pos as f64 / 48_000.0;
        let phase_secs = (lp.frame() - lp.grid().origin) % lp.grid().cycle_frames;
        let phase_secs = phase_secs as f64 / 48_000.0;

        lp.set_sample_rate(44_100);
        assert_eq!(lp.sample_rate(), 44_100);
        let s = lp.state(0);
        assert_eq!(s.state, 4, "the loop still plays");
        let secs = s.loop_len as f64 / 44_100.0;
        assert!(
            (secs - 2.0).abs() <= 1.0 / 44_100.0,
            "the loop lasts {secs} s"
        );
        assert_eq!(s.cycle_len, 88_200);
        let g = *lp.grid();
        assert_eq!(g.mode, tempo(120.0));
        let beat_secs = g.cycle_frames as f64 / g.beats_per_bar as f64 / 44_100.0;
        assert!((beat_secs - 0.5).abs() < 1e-9, "a beat lasts {beat_secs} s");
        // The head and the grid are where they were, in seconds.
        let pos_after = s.loop_pos as f64 / 44_100.0;
        assert!((pos_after - pos_secs).abs() <= 1.0 / 44_100.0);
        let phase_after = ((lp.frame() - g.origin) % g.cycle_frames) as f64 / 44_100.0;
        assert!((phase_after - phase_secs).abs() <= 1.0 / 44_100.0);

        // The loop itself: still 440 Hz at the new rate, at the same level.
        let (l, _) = lp.loop_frames(0).unwrap();
        let hz = zero_crossing_hz(&l, 44_100);
        assert!((hz - 440.0).abs() < 0.01, "the loop is at {hz} Hz");

        // Heard: 440 Hz, and past the seam twice without a jump the tone could not make.
        let out = run(&mut lp, 2 * 88_200 + 10_000, |_| 0.0);
        let hz = zero_crossing_hz(&out, 44_100);
        assert!((hz - 440.0).abs() < 0.01, "it sounds at {hz} Hz");
        let peak = out.iter().fold(0f32, |m, s| m.max(s.abs()));
        let allowed = peak * (TAU * 440.0 / 44_100.0) as f32 * 1.02;
        let step = largest_step(&out);
        assert!(
            step <= allowed,
            "a jump of {step} (the tone moves at most {allowed})"
        );
        assert!(peak > 0.2, "the loop is too quiet: {peak}");
    }

    #[test]
    fn loops_of_whole_bars_at_an_odd_tempo_stay_whole_bars_of_the_new_grid() {
        // 97 bpm: a beat is 29 691 frames at 48 kHz, 27 278 at 44.1 kHz.
        let mut lp = looper(48_000, tempo(97.0));
        lp.set_quantize(Quantize::Bar);
        lp.command(0, LoopOp::RecordBars(1));
        lp.command(1, LoopOp::RecordBars(2));
        run(&mut lp, 2 * 118_764 + 3_000, sine_at(48_000, 330.0));
        assert_eq!(lp.state(1).loop_len, 2 * 118_764);
        let head = |lp: &Looper, t| lp.state(t).loop_pos as u64;
        let cycle = lp.grid().cycle_frames;
        // Both loops started on the same bar: their heads agree modulo a bar.
        assert_eq!(head(&lp, 0) % cycle, head(&lp, 1) % cycle);

        lp.set_sample_rate(44_100);
        let g = *lp.grid();
        assert_eq!(g.cycle_frames, 4 * 27_278);
        assert_eq!(lp.state(0).loop_len as u64, g.cycle_frames);
        assert_eq!(lp.state(1).loop_len as u64, 2 * g.cycle_frames);
        assert_eq!(lp.state(0).cycle_len as u64, g.cycle_frames);
        let (h0, h1) = (head(&lp, 0), head(&lp, 1));
        assert_eq!(
            h0 % g.cycle_frames,
            h1 % g.cycle_frames,
            "the loops drifted apart"
        );
        // The beat keeps its length to within half a frame at either rate.
        let beat = |c: u64, sr: f64| c as f64 / 4.0 / sr;
        assert!((beat(g.cycle_frames, 44_100.0) - beat(cycle, 48_000.0)).abs() < 1.0 / 44_100.0);
        run(&mut lp, 10 * 27_278, |_| 0.0);
        let (h0, h1) = (head(&lp, 0), head(&lp, 1));
        assert_eq!(
            h0 % g.cycle_frames,
            h1 % g.cycle_frames,
            "the loops drift apart"
        );
    }

    #[test]
    fn a_first_loop_cycle_crossfade_and_settings_come_along_and_history_goes() {
        let mut lp = looper(44_100, SyncMode::FirstLoop);
        lp.command(0, LoopOp::Record);
        run(&mut lp, 44_100, sine_at(44_100, 220.0));
        lp.command(0, LoopOp::Record);
        run(&mut lp, 5_000, |_| 0.0);
        lp.command(0, LoopOp::SetVolume(0.5));
        lp.command(0, LoopOp::Reverse);
        lp.command(1, LoopOp::SetPan(-0.5));
        lp.command(1, LoopOp::SetSource(2));
        lp.command(0, LoopOp::Overdub);
        run(&mut lp, 2_000, |_| 0.0);
        lp.command(0, LoopOp::Overdub);
        run(&mut lp, 2_000, |_| 0.0);
        assert_eq!(lp.state(0).undo_levels, 2);

        lp.set_sample_rate(96_000);
        assert_eq!(lp.grid().cycle_frames, 96_000);
        let s = lp.state(0);
        assert_eq!((s.loop_len, s.undo_levels, s.redo_levels), (96_000, 0, 0));
        assert!(s.reversed);
        assert_eq!(lp.settings.xfade_frames, 139); // 64 at 44.1 kHz
        assert_eq!(lp.tracks[0].mix().0, 0.5);
        assert_eq!(lp.tracks[1].mix().1, -0.5);
        assert_eq!(lp.state(1).source, 2);
        let cap = lp.memory.cap_frames();
        assert!(
            (6 * 96_000..6 * 96_000 + 10).contains(&cap),
            "{cap} frames of memory"
        );
        // And back: a reversed loop plays on.
        run(&mut lp, 10_000, |_| 0.0);
        lp.set_sample_rate(44_100);
        assert_eq!(lp.state(0).loop_len, 44_100);
        assert_eq!(lp.state(0).state, 4);
    }
}
