//! The master safety limiter: the output never passes -1 dBFS true peak.
//!
//! Peaks between samples are found by 4x polyphase interpolation. A look-ahead
//! minimum filter followed by a box filter of the same length gives a gain curve
//! that is already down to the needed value when the peak arrives, with no steps.

/// The ceiling the limiter promises: -1 dBFS true peak.
pub const CEILING_DB: f32 = -1.0;
/// What it aims at: a little under the promise, for the gain changing inside the interpolator's span.
const TARGET_DB: f32 = -1.5;
/// Interpolator taps each side of the interval.
const HALF_TAPS: usize = 6;
const TAPS: usize = HALF_TAPS * 2;
const PHASES: usize = 3; // 1/4, 2/4, 3/4 between two samples
const CHANNELS: usize = 2;
const RELEASE_SECS: f32 = 0.12;

/// 4x interpolation filters, shared by the limiter and by the true-peak meter in tests.
#[derive(Clone, Debug)]
pub struct Oversampler {
    taps: [[f32; TAPS]; PHASES],
    /// The largest |sum of taps| any phase can reach: a peak bound from sample peaks.
    pub gain_bound: f32,
}

impl Default for Oversampler {
    fn default() -> Self {
        let mut taps = [[0f32; TAPS]; PHASES];
        let mut bound = 1f32;
        for (p, row) in taps.iter_mut().enumerate() {
            let frac = (p + 1) as f64 / 4.0;
            let mut sum = 0f64;
            for (j, t) in row.iter_mut().enumerate() {
                // sample j sits at (j - HALF_TAPS + 1); interpolate at `frac`.
                let x = (j as f64 - (HALF_TAPS as f64 - 1.0)) - frac;
                let sinc = if x.abs() < 1e-9 {
                    1.0
                } else {
                    (std::f64::consts::PI * x).sin() / (std::f64::consts::PI * x)
                };
                let w = x / (HALF_TAPS as f64 + 0.5);
                let window = if w.abs() >= 1.0 {
                    0.0
                } else {
                    let c = (std::f64::consts::PI * w).cos();
                    0.5 + 0.5 * c // Hann
                };
                *t = (sinc * window) as f32;
                sum += *t as f64;
            }
            // Normalise DC gain to 1 so a constant reads as itself.
            let mut abs = 0f32;
            for t in row.iter_mut() {
                *t = (*t as f64 / sum) as f32;
                abs += t.abs();
            }
            bound = bound.max(abs);
        }
        Self {
            taps,
            gain_bound: bound,
        }
    }
}

impl Oversampler {
    /// rt: the largest |value| on the interval between `win[HALF_TAPS-1]` and `win[HALF_TAPS]`,
    /// both ends included. `win` holds TAPS samples.
    #[inline]
    pub fn interval_peak(&self, win: &[f32]) -> f32 {
        let mut peak = win[HALF_TAPS - 1].abs().max(win[HALF_TAPS].abs());
        for row in &self.taps {
            let mut acc = 0f32;
            for (t, s) in row.iter().zip(win) {
                acc += t * s;
            }
            peak = peak.max(acc.abs());
        }
        peak
    }

    /// The true peak (4x oversampled) of a whole signal, as a gain.
    pub fn true_peak(&self, signal: &[f32]) -> f32 {
        let mut padded = vec![0f32; signal.len() + TAPS];
        padded[HALF_TAPS..HALF_TAPS + signal.len()].copy_from_slice(signal);
        padded
            .windows(TAPS)
            .map(|w| self.interval_peak(w))
            .fold(0f32, f32::max)
    }
}

/// Stereo look-ahead limiter. All memory is allocated in `new`.
pub struct Limiter {
    os: Oversampler,
    look: usize,
    target: f32,
    release_coef: f32,
    /// Input history per channel: TAPS-1 carried samples followed by the block.
    hist: [Vec<f32>; CHANNELS],
    /// Delay line of input samples not yet sent out, per channel.
    delay: [Vec<f32>; CHANNELS],
    delay_pos: usize,
    /// Needed gain per frame of the current block.
    need: Vec<f32>,
    /// Interval peaks of the current block, and a scratch row for the interpolator.
    peak: Vec<f32>,
    acc: Vec<f32>,
    /// Monotonic queue for the sliding minimum: (frame number, gain).
    minq: Vec<(u64, f32)>,
    minq_head: usize,
    minq_len: usize,
    box_ring: Vec<f32>,
    box_pos: usize,
    box_sum: f64,
    env: f32,
    frame: u64,
    /// Frames in a row whose needed gain was exactly 1; once the whole filter chain is
    /// full of them, blocks that cannot reach the ceiling skip the gain computer.
    quiet_run: usize,
    min_gain_in_block: f32,
    prev_need: f32,
}

impl Limiter {
    pub fn new(sample_rate: u32, max_block: usize) -> Self {
        let look = ((sample_rate as f32 * 0.00075).round() as usize).max(8);
        let qcap = look + 1;
        Self {
            os: Oversampler::default(),
            look,
            target: 10f32.powf(TARGET_DB / 20.0),
            release_coef: 1.0 - (-1.0 / (RELEASE_SECS * sample_rate as f32)).exp(),
            hist: std::array::from_fn(|_| vec![0.0; TAPS - 1 + max_block]),
            delay: std::array::from_fn(|_| vec![0.0; Self::latency_for(look)]),
            delay_pos: 0,
            need: vec![1.0; max_block],
            peak: vec![0.0; max_block],
            acc: vec![0.0; max_block],
            minq: vec![(0, 1.0); qcap],
            minq_head: 0,
            minq_len: 0,
            box_ring: vec![1.0; look],
            box_pos: 0,
            box_sum: look as f64,
            env: 1.0,
            frame: 0,
            quiet_run: usize::MAX / 2,
            min_gain_in_block: 1.0,
            prev_need: 1.0,
        }
    }

    fn latency_for(look: usize) -> usize {
        // HALF_TAPS for the interpolator's look-ahead, look-1 for the gain curve.
        HALF_TAPS + look - 1
    }

    /// Frames the limiter delays the signal by; reported to the host as latency.
    pub fn latency_frames(&self) -> usize {
        Self::latency_for(self.look)
    }

    /// rt: forgets everything it holds (after samples that were not numbers got in), so
    /// what comes next is limited as if from silence.
    pub fn clear(&mut self) {
        self.hist.iter_mut().for_each(|h| h.fill(0.0));
        self.delay.iter_mut().for_each(|d| d.fill(0.0));
        self.reset_gain_chain();
        self.quiet_run = usize::MAX / 2;
        self.prev_need = 1.0;
        self.min_gain_in_block = 1.0;
    }

    /// Lowest gain applied during the last block.
    pub fn min_gain_in_block(&self) -> f32 {
        self.min_gain_in_block
    }

    /// rt: limits `left`/`right` in place; at most `max_block` frames.
    pub fn process(&mut self, left: &mut [f32], right: &mut [f32]) {
        let n = left.len().min(right.len()).min(self.need.len());
        let carry = TAPS - 1;
        let mut block_peak = 0f32;
        for (c, buf) in [&*left, &*right].into_iter().enumerate() {
            let h = &mut self.hist[c];
            h[carry..carry + n].copy_from_slice(&buf[..n]);
            block_peak = block_peak.max(super::level::peak(&h[..carry + n]));
        }
        // A block whose sample peak times the interpolator's bound stays under the target
        // cannot need any gain reduction.
        let block_quiet = block_peak * self.os.gain_bound < self.target;
        let chain = self.look;
        let quiet = block_quiet && self.quiet_run >= chain;

        if quiet {
            self.quiet_run = self.quiet_run.saturating_add(n);
            self.prev_need = 1.0;
            self.min_gain_in_block = 1.0;
            self.frame += n as u64;
            for c in 0..CHANNELS {
                let buf: &mut [f32] = if c == 0 { left } else { right };
                delay_through(&mut self.delay[c], self.delay_pos, &mut buf[..n]);
            }
        } else {
            if self.quiet_run >= chain {
                self.reset_gain_chain();
            }
            // The interval between samples m and m+1, m lagging the block by HALF_TAPS,
            // sets the need of both its ends.
            self.interval_peaks(n);
            for i in 0..n {
                let peak = self.peak[i];
                let here = if peak > self.target {
                    self.target / peak
                } else {
                    1.0
                };
                self.need[i] = here.min(self.prev_need);
                self.prev_need = here;
            }
            let mut min_g = 1f32;
            let len = self.delay[0].len();
            let mut pos = self.delay_pos;
            for i in 0..n {
                let g = self.gain_step(self.need[i]);
                min_g = min_g.min(g);
                let [dl, dr] = &mut self.delay;
                let out_l = dl[pos] * g;
                dl[pos] = left[i];
                left[i] = out_l;
                let out_r = dr[pos] * g;
                dr[pos] = right[i];
                right[i] = out_r;
                pos += 1;
                if pos == len {
                    pos = 0;
                }
            }
            self.min_gain_in_block = min_g;
        }
        self.delay_pos = (self.delay_pos + n) % self.delay[0].len();
        for h in &mut self.hist {
            h.copy_within(n..n + carry, 0);
        }
    }

    /// rt: the largest |value| on each interval of the block, over both channels, into
    /// `self.peak`. Written tap by tap over the whole block so it vectorises.
    fn interval_peaks(&mut self, n: usize) {
        let peak = &mut self.peak[..n];
        let acc = &mut self.acc[..n];
        peak.fill(0.0);
        for h in &self.hist {
            let (a, b) = (
                &h[HALF_TAPS - 1..HALF_TAPS - 1 + n],
                &h[HALF_TAPS..HALF_TAPS + n],
            );
            for ((p, x), y) in peak.iter_mut().zip(a).zip(b) {
                *p = p.max(x.abs()).max(y.abs());
            }
            for row in &self.os.taps {
                acc.fill(0.0);
                for (j, t) in row.iter().enumerate() {
                    for (a, x) in acc.iter_mut().zip(&h[j..j + n]) {
                        *a += t * x;
                    }
                }
                for (p, a) in peak.iter_mut().zip(acc.iter()) {
                    *p = p.max(a.abs());
                }
            }
        }
    }

    fn reset_gain_chain(&mut self) {
        self.minq_head = 0;
        self.minq_len = 0;
        self.box_ring.iter_mut().for_each(|g| *g = 1.0);
        self.box_sum = self.look as f64;
        self.env = 1.0;
    }

    /// rt: pushes one needed gain through min filter, release and box filter.
    #[inline]
    fn gain_step(&mut self, need: f32) -> f32 {
        let frame = self.frame;
        self.frame += 1;
        let cap = self.minq.len();
        // Drop entries that can never be the minimum again.
        while self.minq_len > 0 {
            let last = (self.minq_head + self.minq_len - 1) % cap;
            if self.minq[last].1 >= need {
                self.minq_len -= 1;
            } else {
                break;
            }
        }
        let tail = (self.minq_head + self.minq_len) % cap;
        self.minq[tail] = (frame, need);
        self.minq_len += 1;
        // Drop entries older than the window.
        while self.minq[self.minq_head].0 + (self.look as u64) <= frame {
            self.minq_head = (self.minq_head + 1) % cap;
            self.minq_len -= 1;
        }
        let held = self.minq[self.minq_head].1;
        self.env = if held < self.env {
            held
        } else {
            (self.env + (held - self.env) * self.release_coef).min(1.0)
        };
        if self.env > 0.99999 {
            self.env = 1.0;
        }
        let old = self.box_ring[self.box_pos];
        self.box_ring[self.box_pos] = self.env;
        self.box_pos = (self.box_pos + 1) % self.look;
        self.box_sum += self.env as f64 - old as f64;
        if need < 1.0 || self.env < 1.0 {
            self.quiet_run = 0;
        } else {
            self.quiet_run = self.quiet_run.saturating_add(1);
        }
        ((self.box_sum / self.look as f64) as f32).min(1.0)
    }
}

/// rt: sends `buf` through a circular delay line starting at `pos`.
fn delay_through(line: &mut [f32], pos: usize, buf: &mut [f32]) {
    let len = line.len();
    let mut p = pos % len.max(1);
    let mut done = 0;
    while done < buf.len() {
        let run = (len - p).min(buf.len() - done);
        line[p..p + run].swap_with_slice(&mut buf[done..done + run]);
        done += run;
        p = (p + run) % len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(lim: &mut Limiter, l: &[f32], r: &[f32], block: usize) -> (Vec<f32>, Vec<f32>) {
        let (mut ol, mut or) = (l.to_vec(), r.to_vec());
        for (a, b) in ol.chunks_mut(block).zip(or.chunks_mut(block)) {
            lim.process(a, b);
        }
        (ol, or)
    }

    fn sine(freq: f32, amp: f32, phase: f32, n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| amp * (std::f32::consts::TAU * freq * i as f32 / 48_000.0 + phase).sin())
            .collect()
    }

    #[test]
    fn quiet_signal_passes_untouched_but_late() {
        let mut lim = Limiter::new(48_000, 1024);
        let x = sine(440.0, 0.5, 0.3, 4800);
        let (y, _) = run(&mut lim, &x, &x, 64);
        let d = lim.latency_frames();
        assert!(y[..d].iter().all(|s| *s == 0.0));
        assert_eq!(&y[d..], &x[..x.len() - d]);
    }

    #[test]
    fn hot_input_never_passes_the_true_peak_ceiling() {
        let os = Oversampler::default();
        let ceiling = 10f32.powf(CEILING_DB / 20.0);
        for (freq, phase) in [(440.0, 0.0), (12_000.0, 0.785), (3_001.0, 1.3), (60.0, 0.2)] {
            let mut lim = Limiter::new(48_000, 1024);
            // Silence, then +20 dB: the limiter must be down in time for the attack.
            let mut x = vec![0f32; 1000];
            x.extend(sine(freq, 10.0, phase, 24_000));
            x.extend(sine(freq, 0.3, phase, 24_000));
            let (l, r) = run(&mut lim, &x, &x, 64);
            for ch in [&l, &r] {
                let tp = os.true_peak(ch);
                assert!(tp <= ceiling, "{freq} Hz: true peak {tp} over {ceiling}");
            }
            // After the release the quiet part comes through at its own level.
            let tail = &l[l.len() - 4800..];
            let peak = os.true_peak(tail);
            // The short interpolator reads high notes up to ~6 % hot: safe, never low.
            assert!(
                (peak / 0.3 - 1.0).abs() < 0.08,
                "{freq} Hz: quiet tail peak {peak}"
            );
        }
    }

    #[test]
    fn intersample_peaks_are_seen() {
        // fs/4 at 45 degrees: every sample reads 0.707 of the true amplitude.
        let os = Oversampler::default();
        let x = sine(12_000.0, 1.0, std::f32::consts::FRAC_PI_4, 4800);
        let sample_peak = x.iter().fold(0f32, |m, s| m.max(s.abs()));
        assert!(sample_peak < 0.71);
        assert!(os.true_peak(&x) > 0.95);
    }

    #[test]
    fn odd_block_sizes_give_the_same_result() {
        let x = sine(997.0, 4.0, 0.1, 9000);
        let mut a = Limiter::new(48_000, 1024);
        let mut b = Limiter::new(48_000, 1024);
        assert_eq!(run(&mut a, &x, &x, 64), run(&mut b, &x, &x, 37));
    }
}
