//! The looper's time grid (a cycle set by the first loop or by a tempo), quantizing of
//! record start and stop to it, and the click that marks it.

/// The tempos the program takes, from every surface: slow enough for a ballad played
/// half-time, fast enough for a reel; a tap faster than the top is a double tap.
pub const MIN_BPM: f32 = 40.0;
pub const MAX_BPM: f32 = 240.0;
pub const MAX_BEATS_PER_BAR: u32 = 16;

/// What sets the cycle that later loops snap to.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SyncMode {
    /// Loops are free; record start and stop are immediate.
    Off,
    /// The first loop recorded sets the cycle; its start is the grid's origin.
    FirstLoop,
    /// A tempo sets it: one bar is one cycle.
    Tempo { bpm: f32, beats_per_bar: u32 },
}

impl SyncMode {
    /// rt: a tempo within the range the program takes (a NaN tempo is 120 BPM).
    pub fn within_range(self) -> SyncMode {
        match self {
            SyncMode::Tempo { bpm, beats_per_bar } => SyncMode::Tempo {
                bpm: if bpm.is_finite() {
                    bpm.clamp(MIN_BPM, MAX_BPM)
                } else {
                    120.0
                },
                beats_per_bar: beats_per_bar.clamp(1, MAX_BEATS_PER_BAR),
            },
            other => other,
        }
    }
}

/// Which grid point a quantized record start (or stop) waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quantize {
    Off,
    Beat,
    Bar,
    Cycle,
}

/// rt-safe grid arithmetic in whole frames, so runs are repeatable bit for bit.
#[derive(Clone, Copy, Debug)]
pub struct Grid {
    pub mode: SyncMode,
    /// Frame (of the looper's clock) where a cycle starts.
    pub origin: u64,
    /// Frames per cycle (= one bar); 0 while no cycle is set.
    pub cycle_frames: u64,
    pub beats_per_bar: u32,
}

impl Grid {
    pub fn new(mode: SyncMode, sample_rate: u32) -> Self {
        let mut g = Self {
            mode: SyncMode::Off,
            origin: 0,
            cycle_frames: 0,
            beats_per_bar: 4,
        };
        g.set_mode(mode, sample_rate, 0);
        g
    }

    /// rt: a tempo grid starts at `now`; a first-loop grid waits for the first loop.
    pub fn set_mode(&mut self, mode: SyncMode, sample_rate: u32, now: u64) {
        let mode = mode.within_range();
        self.mode = mode;
        match mode {
            SyncMode::Off | SyncMode::FirstLoop => {
                self.cycle_frames = 0;
                self.beats_per_bar = 4;
            }
            SyncMode::Tempo { bpm, beats_per_bar } => {
                let bpb = beats_per_bar;
                let beat = (sample_rate as f64 * 60.0 / bpm as f64).round() as u64;
                self.beats_per_bar = bpb;
                self.cycle_frames = beat.max(1) * bpb as u64;
                self.origin = now;
            }
        }
    }

    /// Whether later loops snap to a cycle.
    pub fn active(&self) -> bool {
        self.mode != SyncMode::Off && self.cycle_frames > 0
    }

    pub fn bar_frames(&self) -> u64 {
        self.cycle_frames
    }

    /// Start frame of beat `j` (counting from the origin, any j).
    fn beat_start(&self, j: u64) -> u64 {
        let b = self.beats_per_bar.max(1) as u64;
        self.origin + (j / b) * self.cycle_frames + (j % b) * self.cycle_frames / b
    }

    /// rt: the first grid point of kind `q` at or after `now` (`now` itself if off).
    pub fn next(&self, now: u64, q: Quantize) -> u64 {
        if !self.active() || q == Quantize::Off || now <= self.origin {
            return if self.active() && q != Quantize::Off {
                self.origin
            } else {
                now
            };
        }
        let t = now - self.origin;
        match q {
            Quantize::Off => now,
            Quantize::Bar | Quantize::Cycle => {
                self.origin + t.div_ceil(self.cycle_frames) * self.cycle_frames
            }
            Quantize::Beat => {
                let b = self.beats_per_bar.max(1) as u64;
                // The beat we are in, then step forward until at or past `now`.
                let mut j =
                    (t / self.cycle_frames) * b + (t % self.cycle_frames) * b / self.cycle_frames;
                while self.beat_start(j) < now {
                    j += 1;
                }
                self.beat_start(j)
            }
        }
    }

    /// rt: the loop length a synced recording of `len` frames is stretched to: the
    /// shortest of cycle/4, cycle/2 or a whole number of cycles that is at least `len`.
    pub fn snap_len(&self, len: u64) -> u64 {
        if !self.active() {
            return len;
        }
        let c = self.cycle_frames;
        for d in [4, 2] {
            if c.is_multiple_of(d) && len <= c / d {
                return c / d;
            }
        }
        len.div_ceil(c).max(1) * c
    }

    /// rt: the first frame at or after `f` where `beat_at` is `Some`, with its accent;
    /// a few divisions per beat instead of three per frame.
    pub(crate) fn next_beat(&self, f: u64) -> Option<(u64, bool)> {
        if !self.active() {
            return None;
        }
        let f = f.max(self.origin);
        let c = self.cycle_frames;
        let b = self.beats_per_bar.max(1) as u64;
        let t = f - self.origin;
        let in_bar = t % c;
        let bar = t - in_bar;
        // Within a bar, frame x is a beat iff x = j*c/b with (x*b/c) == j, so only
        // those j need a look, and they come in order.
        let mut j = in_bar * b / c;
        while j < b {
            let x = j * c / b;
            if x >= in_bar && x < c && x * b / c == j {
                return Some((self.origin + bar + x, j == 0));
            }
            j += 1;
        }
        // The next bar starts with a beat (x = 0 always is one).
        Some((self.origin + bar + c, true))
    }

    /// Whether frame `f` starts a beat, and whether that beat starts a bar: the
    /// definition `next_beat` follows (the tests hold it to it).
    #[cfg(test)]
    fn beat_at(&self, f: u64) -> Option<bool> {
        if !self.active() || f < self.origin {
            return None;
        }
        let t = f - self.origin;
        let b = self.beats_per_bar.max(1) as u64;
        let in_bar = t % self.cycle_frames;
        let j = in_bar * b / self.cycle_frames;
        (j * self.cycle_frames / b == in_bar).then_some(j == 0)
    }
}

/// A metronome: a short, decaying, low-passed sine blip on every beat, higher and
/// louder on the downbeat. A rotating phasor, so no `sin` per sample.
#[derive(Clone, Debug)]
pub struct Click {
    /// Phasor (cos, sin) and its per-frame rotation.
    re: f32,
    im: f32,
    rot_re: f32,
    rot_im: f32,
    env: f32,
    decay: f32,
    lp: f32,
    lp_coef: f32,
    accent_hz: f32,
    beat_hz: f32,
    sample_rate: f32,
}

impl Click {
    pub fn new(sample_rate: u32) -> Self {
        let sr = sample_rate.max(8000) as f32;
        Self {
            re: 0.0,
            im: 0.0,
            rot_re: 1.0,
            rot_im: 0.0,
            env: 0.0,
            // About 25 ms to -60 dB.
            decay: (-6.9 / (0.025 * sr)).exp(),
            lp: 0.0,
            lp_coef: 1.0 - (-2.0 * std::f32::consts::PI * 4000.0 / sr).exp(),
            accent_hz: 1760.0,
            beat_hz: 1320.0,
            sample_rate: sr,
        }
    }

    /// rt: starts a blip.
    fn strike(&mut self, accent: bool) {
        let hz = if accent { self.accent_hz } else { self.beat_hz };
        let w = 2.0 * std::f32::consts::PI * hz / self.sample_rate;
        self.rot_re = w.cos();
        self.rot_im = w.sin();
        // Start at phase 0 of a sine: the blip begins at zero, no step.
        self.re = 1.0;
        self.im = 0.0;
        self.env = if accent { 0.5 } else { 0.3 };
    }

    /// rt: adds the click for the frames starting at looper frame `now` into `l` and `r`.
    pub fn render(&mut self, grid: &Grid, now: u64, gain: f32, l: &mut [f32], r: &mut [f32]) {
        let n = l.len().min(r.len()) as u64;
        let mut next = grid.next_beat(now);
        let mut i = 0u64;
        while i < n {
            let f = now + i;
            if let Some((at, accent)) = next {
                if at == f {
                    self.strike(accent);
                    next = grid.next_beat(f + 1);
                }
            }
            if self.env < 1e-5 && self.lp.abs() < 1e-6 {
                // Silent until the next beat: nothing changes on the frames between.
                i = match next {
                    Some((at, _)) if at > f && at - now < n => at - now,
                    _ => n,
                };
                continue;
            }
            let (Some(a), Some(b)) = (l.get_mut(i as usize), r.get_mut(i as usize)) else {
                break;
            };
            i += 1;
            let re = self.re * self.rot_re - self.im * self.rot_im;
            let im = self.re * self.rot_im + self.im * self.rot_re;
            // Keep the phasor on the unit circle (first-order renormalisation).
            let k = 1.5 - 0.5 * (re * re + im * im);
            self.re = re * k;
            self.im = im * k;
            let x = self.im * self.env;
            self.env *= self.decay;
            self.lp += self.lp_coef * (x - self.lp);
            *a += self.lp * gain;
            *b += self.lp * gain;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_beat_finds_exactly_the_frames_beat_at_marks() {
        for (c, b, origin) in [
            (16_000, 4, 0),
            (10, 3, 7),
            (7, 4, 3),
            (3, 5, 0),
            (12_345, 7, 100),
            (1, 1, 5),
            (96_000, 32, 12),
        ] {
            let g = Grid {
                mode: SyncMode::Tempo {
                    bpm: 120.0,
                    beats_per_bar: b,
                },
                origin,
                cycle_frames: c,
                beats_per_bar: b,
            };
            let mut want = None;
            for f in (0..3 * c + 2 * origin + 40).rev() {
                if let Some(accent) = g.beat_at(f) {
                    want = Some((f, accent));
                }
                if f + 1 < 3 * c + origin {
                    assert_eq!(g.next_beat(f), want, "c {c} b {b} origin {origin} f {f}");
                }
            }
        }
    }

    /// The click as it was rendered before `next_beat`: a beat test on every frame.
    fn render_per_frame(k: &mut Click, grid: &Grid, now: u64, gain: f32, l: &mut [f32]) {
        for (i, a) in l.iter_mut().enumerate() {
            if let Some(accent) = grid.beat_at(now + i as u64) {
                k.strike(accent);
            }
            if k.env < 1e-5 && k.lp.abs() < 1e-6 {
                continue;
            }
            let re = k.re * k.rot_re - k.im * k.rot_im;
            let im = k.re * k.rot_im + k.im * k.rot_re;
            let q = 1.5 - 0.5 * (re * re + im * im);
            k.re = re * q;
            k.im = im * q;
            let x = k.im * k.env;
            k.env *= k.decay;
            k.lp += k.lp_coef * (x - k.lp);
            *a += k.lp * gain;
        }
    }

    #[test]
    fn the_click_is_the_per_frame_click_bit_for_bit() {
        let mut g = Grid::new(
            SyncMode::Tempo {
                bpm: 173.0,
                beats_per_bar: 3,
            },
            8000,
        );
        g.origin = 300;
        let (mut a, mut b) = (Click::new(8000), Click::new(8000));
        let sizes = [64usize, 1, 200, 37, 64, 5];
        let mut now = 0u64;
        for k in 0..2000 {
            let n = sizes[k % sizes.len()];
            let mut l = vec![0.0f32; n];
            let mut r = vec![0.0f32; n];
            let mut want = vec![0.0f32; n];
            a.render(&g, now, 0.7, &mut l, &mut r);
            render_per_frame(&mut b, &g, now, 0.7, &mut want);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&l), bits(&want), "block {k}");
            assert_eq!(bits(&r), bits(&want), "block {k}");
            now += n as u64;
        }
    }
}
