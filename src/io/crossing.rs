//! The input crossing on ALSA: input frames reach the output callback through a ring, and
//! the ring's fill is held where it settled, so the round trip stays what loops compensate.
//!
//! The fill is measured as a time average (between output callbacks the ring holds what
//! the last pop left until the input callback adds its frames), smoothed over a tenth of
//! a second; its value once settled is the reference. On one clock (input and output on
//! one card) a fill that strays from the reference by more than half a buffer for 0.2 s
//! (a dropout left the input that came late in the ring) is put back
//! at once: frames are skipped or silence is inserted. On two clocks (another input
//! device) a PI loop steers a resampler's ratio so the fill stays at the reference, as
//! JACK's `alsa_in` and zita-ajbridge do; a dropout is put back the same way.

use std::sync::atomic::{fence, AtomicU64, Ordering::Acquire, Ordering::Relaxed};

use ringbuf::traits::{Consumer, Observer};
use ringbuf::HeapCons;

/// Smoothing of the measured fill.
const FILL_SECS: f64 = 0.08;
/// The fill settles this long after the input starts before it is taken as the reference.
const SETTLE_SECS: f64 = 0.5;
/// A fill off by more than half a buffer this long is put back. On one clock only whole
/// buffers are put back, so the smoothed fill need only be past 0.9 of the jump (it is
/// at 0.96: e^-3.2); on two clocks the PI loop takes up what rounding leaves. Short, so
/// that a dropout spoils a fifth of a second of the round trip, not more.
const HOLD_SECS: f64 = 0.2;
/// The drift loop's natural frequency (Hz) and damping: fast enough to hold a clock
/// 0.1 % off within a millisecond, slow enough that the ratio barely moves on jitter.
const LOOP_HZ: f64 = 0.2;
const LOOP_DAMPING: f64 = 0.7;
/// Clocks further apart than this are not the same audio at all.
const MAX_RATIO_OFF: f64 = 0.01;

/// What the output callback does to the ring before it reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Correction {
    None,
    /// Throw away this many frames: the ring holds more than it settled at.
    Skip(usize),
    /// Read this many frames of silence first: it holds less.
    Pad(usize),
}

/// The control logic alone: times in nanoseconds, fills in frames, no ring.
#[derive(Clone, Debug)]
pub struct FillKeeper {
    rate: f64,
    period: f64,
    follow_drift: bool,
    avg: Option<f64>,
    last_now: u64,
    push_times: u64,
    fill_after: f64,
    first: Option<u64>,
    reference: Option<f64>,
    off_since: Option<u64>,
    integral: f64,
    ratio: f64,
    corrections: u64,
}

impl FillKeeper {
    /// `period`: frames per output callback; `follow_drift`: input on a clock of its own.
    pub fn new(rate: u32, period: u32, follow_drift: bool) -> Self {
        Self {
            rate: rate.max(1) as f64,
            period: period.max(1) as f64,
            follow_drift,
            avg: None,
            last_now: 0,
            push_times: 0,
            fill_after: 0.0,
            first: None,
            reference: None,
            off_since: None,
            integral: 0.0,
            ratio: 1.0,
            corrections: 0,
        }
    }

    /// rt: an output callback at `now` finds `fill` frames waiting; `push_times` is the
    /// input's running sum of (time of a push × frames pushed), wrapping. Says what to do
    /// before reading.
    pub fn observe(&mut self, now: u64, fill: f64, push_times: u64) -> Correction {
        let Some(avg) = self.avg else {
            self.avg = Some(fill);
            self.last_now = now;
            self.push_times = push_times;
            self.first = Some(now);
            return Correction::None;
        };
        let dt_ns = now.saturating_sub(self.last_now).max(1);
        // The ring held what the last read left, and each push's frames from its time
        // on: the integral of the fill is exact however many pushes came between.
        let pushed = (fill - self.fill_after).max(0.0);
        let since_pushes = push_times.wrapping_sub(self.push_times) as f64;
        self.push_times = push_times;
        let waited = (pushed * now as f64 - since_pushes).clamp(0.0, pushed * dt_ns as f64);
        let mean = (self.fill_after * dt_ns as f64 + waited) / dt_ns as f64;
        let dt = dt_ns as f64 * 1e-9;
        let avg = avg + (mean - avg) * (dt / (FILL_SECS + dt));
        self.avg = Some(avg);
        self.last_now = now;
        let since_start = now.saturating_sub(self.first.unwrap_or(now)) as f64 * 1e-9;
        let Some(reference) = self.reference else {
            if since_start >= SETTLE_SECS {
                // On one clock the ring is meant to hold the one buffer it started with
                // (the latency model counts it); on two, wherever it settled.
                self.reference = Some(if self.follow_drift { avg } else { self.period });
            }
            return Correction::None;
        };
        let off = avg - reference;
        if self.follow_drift {
            // PI on the fill error in frames; the ratio is input frames per output frame.
            let w = std::f64::consts::TAU * LOOP_HZ;
            let kp = 2.0 * LOOP_DAMPING * w / self.rate;
            let ki = w * w / self.rate;
            self.integral += off * dt;
            self.ratio = (1.0 + kp * off + ki * self.integral)
                .clamp(1.0 - MAX_RATIO_OFF, 1.0 + MAX_RATIO_OFF);
        }
        // A whole buffer too many or too few (a dropout): put back at once, on either clock.
        let limit = if self.follow_drift { 1.5 } else { 0.5 } * self.period;
        if off.abs() <= limit {
            self.off_since = None;
            return Correction::None;
        }
        let since = *self.off_since.get_or_insert(now);
        if (now - since) as f64 * 1e-9 < HOLD_SECS {
            return Correction::None;
        }
        self.off_since = None;
        self.corrections += 1;
        // On one clock a dropout moves the fill by whole buffers: put back whole buffers,
        // so the estimate's own error (a few frames) never moves the round trip.
        let n = if self.follow_drift {
            off.round()
        } else {
            (off / self.period).round() * self.period
        };
        self.avg = Some(avg - n);
        if n > 0.0 {
            Correction::Skip((n as usize).min(fill.max(0.0) as usize))
        } else {
            Correction::Pad((-n) as usize)
        }
    }

    /// rt: what the read left in the ring.
    pub fn read(&mut self, fill_after: f64) {
        self.fill_after = fill_after;
    }

    /// Input frames to read per output frame (1 on one clock).
    pub fn ratio(&self) -> f64 {
        self.ratio
    }

    /// The smoothed fill and where it settled, in frames (`None` until measured).
    pub fn fill(&self) -> (Option<f64>, Option<f64>) {
        (self.avg, self.reference)
    }

    /// Times the fill was put back.
    pub fn corrections(&self) -> u64 {
        self.corrections
    }
}

/// A resampler whose ratio may change from block to block: 4-point cubic (Catmull-Rom)
/// interpolation, per channel, with the frames it has read but not yet passed kept.
#[derive(Clone, Debug)]
pub struct VarResampler {
    channels: usize,
    frac: f64,
    /// Per channel, the four frames around the read position.
    window: Vec<[f32; 4]>,
}

impl VarResampler {
    pub fn new(channels: usize) -> Self {
        Self {
            channels: channels.max(1),
            frac: 0.0,
            window: vec![[0.0; 4]; channels.max(1)],
        }
    }

    /// Input frames the next `frames` output frames will take at `ratio` (at most).
    pub fn needs(&self, frames: usize, ratio: f64) -> usize {
        (self.frac + frames as f64 * ratio).floor() as usize + 1
    }

    /// rt: `frames` output frames (interleaved) from `input` (interleaved, read from its
    /// start); returns the input frames taken. Missing input reads as silence.
    pub fn process(&mut self, input: &[f32], out: &mut [f32], frames: usize, ratio: f64) -> usize {
        let ch = self.channels;
        let available = input.len() / ch;
        let mut taken = 0;
        for f in 0..frames {
            let t = self.frac as f32;
            for (c, w) in self.window.iter().enumerate() {
                if let Some(o) = out.get_mut(f * ch + c) {
                    *o = catmull_rom(w, t);
                }
            }
            self.frac += ratio;
            while self.frac >= 1.0 {
                self.frac -= 1.0;
                for (c, w) in self.window.iter_mut().enumerate() {
                    let next = if taken < available {
                        input.get(taken * ch + c).copied().unwrap_or(0.0)
                    } else {
                        0.0
                    };
                    *w = [w[1], w[2], w[3], next];
                }
                taken += 1;
            }
        }
        taken.min(available)
    }
}

/// The point `t` (0..1) of the way from `w[1]` to `w[2]`.
fn catmull_rom(w: &[f32; 4], t: f32) -> f32 {
    let [p0, p1, p2, p3] = *w;
    let a = -0.5 * p0 + 1.5 * p1 - 1.5 * p2 + 0.5 * p3;
    let b = p0 - 2.5 * p1 + 2.0 * p2 - 0.5 * p3;
    let c = -0.5 * p0 + 0.5 * p2;
    ((a * t + b) * t + c) * t + p1
}

/// The output side of the crossing: the ring's consumer, the keeper and, on two clocks,
/// the resampler. Everything allocated when the stream opens.
pub struct Crossing {
    cons: HeapCons<f32>,
    channels: usize,
    keeper: FillKeeper,
    resampler: Option<VarResampler>,
    /// Frames popped for the resampler and not yet passed, interleaved, from the start.
    staged: Vec<f32>,
    staged_frames: usize,
    pad: usize,
}

impl Crossing {
    /// Not rt: `period` frames per output callback; `follow_drift` when the input runs on
    /// a clock of its own.
    pub fn new(
        cons: HeapCons<f32>,
        channels: usize,
        rate: u32,
        period: u32,
        follow_drift: bool,
        max_block: usize,
    ) -> Self {
        let channels = channels.max(1);
        Self {
            cons,
            channels,
            keeper: FillKeeper::new(rate, period, follow_drift),
            resampler: follow_drift.then(|| VarResampler::new(channels)),
            staged: vec![0.0; (max_block * 2 + 8) * channels],
            staged_frames: 0,
            pad: 0,
        }
    }

    /// Frames waiting for the output, in the ring and staged.
    fn fill(&self) -> usize {
        self.cons.occupied_len() / self.channels + self.staged_frames
    }

    /// rt: once per output callback, before its first read.
    /// `push_times` and `push_seq` are the input's (see `alsa_cpal::InputSide`): the fill
    /// and the push times are read in step, or this callback's look is skipped.
    pub fn begin(&mut self, now: u64, push_times: &AtomicU64, push_seq: &AtomicU64) {
        let seq = push_seq.load(Acquire);
        let times = push_times.load(Acquire);
        let fill = self.fill() as f64;
        fence(Acquire);
        if seq % 2 == 1 || push_seq.load(Relaxed) != seq {
            // The input is pushing right now: look again next time.
            return;
        }
        self.observe(now, fill, times);
    }

    /// rt: `begin` with the input's figures read (for tests).
    pub fn observe(&mut self, now: u64, fill: f64, push_times: u64) {
        match self.keeper.observe(now, fill, push_times) {
            Correction::None => {}
            Correction::Skip(n) => {
                let from_staged = n.min(self.staged_frames);
                let ch = self.channels;
                self.staged
                    .copy_within(from_staged * ch..self.staged_frames * ch, 0);
                self.staged_frames -= from_staged;
                self.cons.skip((n - from_staged) * ch);
            }
            Correction::Pad(n) => self.pad += n,
        }
    }

    /// rt: `frames` frames of input, interleaved, into `out`; false when the ring ran dry.
    pub fn read(&mut self, out: &mut [f32], frames: usize) -> bool {
        let ch = self.channels;
        let out = &mut out[..frames * ch];
        // Silence put in front after the ring held too little.
        let pad = self.pad.min(frames);
        out[..pad * ch].fill(0.0);
        self.pad -= pad;
        let rest = &mut out[pad * ch..];
        let want = frames - pad;
        let full = match &mut self.resampler {
            None => {
                let got = self.cons.pop_slice(rest);
                rest[got..].fill(0.0);
                got == rest.len()
            }
            Some(r) => {
                let ratio = self.keeper.ratio();
                let need = r.needs(want, ratio).min(self.staged.len() / ch);
                if self.staged_frames < need {
                    let got = self
                        .cons
                        .pop_slice(&mut self.staged[self.staged_frames * ch..need * ch]);
                    self.staged_frames += got / ch;
                }
                let had = self.staged_frames;
                let taken = r.process(&self.staged[..had * ch], rest, want, ratio);
                self.staged.copy_within(taken * ch..had * ch, 0);
                self.staged_frames = had - taken;
                had >= need.saturating_sub(1)
            }
        };
        self.keeper.read(self.fill() as f64);
        full
    }

    pub fn keeper(&self) -> &FillKeeper {
        &self.keeper
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ringbuf::traits::{Producer, Split};
    use ringbuf::HeapRb;

    const RATE: u32 = 48_000;
    const PERIOD: usize = 256;

    /// Input and output callbacks on simulated clocks; the input is a ramp of its own
    /// capture time, so what the output reads tells how long ago it was captured.
    struct Sim {
        prod: ringbuf::HeapProd<f32>,
        crossing: Crossing,
        in_rate: f64,
        /// Seconds: the next input callback, and the capture time of the next frame.
        next_in: f64,
        captured: f64,
        push_times: u64,
        rng: u64,
        out: Vec<f32>,
    }

    /// Capture times wrap every second; a latency is well under that.
    const WRAP: f64 = 1.0;

    impl Sim {
        fn new(in_rate: f64, follow_drift: bool) -> Sim {
            let rb = HeapRb::<f32>::new(PERIOD * 8);
            let (mut prod, cons) = rb.split();
            // One buffer of silence first, as the ALSA backend starts.
            prod.push_iter(std::iter::repeat_n(0.0, PERIOD));
            Sim {
                prod,
                crossing: Crossing::new(cons, 1, RATE, PERIOD as u32, follow_drift, 1024),
                in_rate,
                next_in: 0.0,
                captured: 0.0,
                push_times: 0,
                rng: 7,
                out: vec![0.0; PERIOD],
            }
        }

        /// A little jitter on the input callback's time, up to a fifth of a millisecond.
        fn jitter(&mut self) -> f64 {
            self.rng = self
                .rng
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((self.rng >> 40) as f64 / (1u64 << 24) as f64) * 0.0002
        }

        /// Runs input callbacks due by `now`, then the output callback at `now`, unless the
        /// output is `stalled` (a dropout: it never ran); the latency of its first frame.
        fn cycle(&mut self, k: u64, stalled: bool) -> Option<f64> {
            let now = k as f64 * PERIOD as f64 / RATE as f64;
            while self.next_in + self.jitter() <= now {
                let dt = 1.0 / self.in_rate;
                for _ in 0..PERIOD {
                    let v = (self.captured % WRAP) as f32;
                    self.captured += dt;
                    let _ = self.prod.try_push(v);
                }
                let at = (self.next_in * 1e9) as u64;
                self.push_times = self.push_times.wrapping_add(at.wrapping_mul(PERIOD as u64));
                self.next_in += PERIOD as f64 / self.in_rate;
            }
            if stalled {
                return None;
            }
            let fill = self.crossing.fill() as f64;
            self.crossing
                .observe((now * 1e9) as u64, fill, self.push_times);
            let full = self.crossing.read(&mut self.out, PERIOD);
            let v = self.out[0] as f64;
            // Near the ramp's wrap the interpolation blurs it: no reading there.
            (full && v > 0.01 && v < WRAP - 0.01).then(|| (now - v).rem_euclid(WRAP))
        }
    }

    fn run(sim: &mut Sim, from: u64, cycles: u64) -> Vec<f64> {
        (from..from + cycles)
            .filter_map(|k| sim.cycle(k, false))
            .collect()
    }

    #[test]
    fn after_a_dropout_the_round_trip_comes_back_within_a_third_of_a_second() {
        let mut sim = Sim::new(RATE as f64, false);
        let per_sec = RATE as u64 / PERIOD as u64;
        let settled = run(&mut sim, 0, per_sec * 2);
        let before = *settled.last().unwrap();
        // The output stalls for three periods while the input goes on: the ring ends up
        // holding input that came late.
        let k = per_sec * 2;
        for s in 0..3 {
            sim.cycle(k + s, true);
        }
        let after = run(&mut sim, k + 3, per_sec * 2);
        let late = after[per_sec as usize / 8];
        assert!(
            late - before > 0.5 * PERIOD as f64 / RATE as f64,
            "the dropout did not move it: {before} → {late}"
        );
        let back = &after[per_sec as usize / 3..];
        for l in back {
            assert!(
                (l - before).abs() < 1.5 / RATE as f64,
                "a third of a second on: {l} s against {before} s"
            );
        }
        assert_eq!(sim.crossing.keeper().corrections(), 1);
    }

    /// An hour of audio from an input whose clock runs 0.1 % fast, then one 0.1 % slow:
    /// the latency stays within a millisecond of where it settled.
    #[test]
    fn an_input_on_its_own_clock_stays_within_a_millisecond_for_an_hour() {
        for drift in [1.001, 0.999] {
            let mut sim = Sim::new(RATE as f64 * drift, true);
            let per_sec = RATE as u64 / PERIOD as u64;
            // Let the loop find the drift, then take the latency as the target.
            let warm = run(&mut sim, 0, per_sec * 20);
            let target = *warm.last().unwrap();
            let (mut lo, mut hi) = (f64::MAX, f64::MIN);
            let mut k = per_sec * 20;
            let hour = per_sec * 3600;
            while k < hour {
                if let Some(l) = sim.cycle(k, false) {
                    lo = lo.min(l);
                    hi = hi.max(l);
                }
                k += 1;
            }
            eprintln!(
                "clock {drift}: latency {:+.3}..{:+.3} ms around its target over the hour",
                (lo - target) * 1e3,
                (hi - target) * 1e3
            );
            assert!(
                (lo - target).abs() < 0.001 && (hi - target).abs() < 0.001,
                "clock {drift}: latency {lo}..{hi} s against {target} s"
            );
            let ratio = sim.crossing.keeper().ratio();
            // The ratio found the drift (it wobbles by a few 1e-4 on jitter: under a cent).
            assert!((ratio - drift).abs() < 5e-4, "clock {drift}: ratio {ratio}");
        }
    }
}
