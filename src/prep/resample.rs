//! Offline sample-rate conversion for loops: a band-limited, Kaiser-windowed sinc
//! interpolator, 32 zero crossings each side, its cutoff lowered when the rate goes
//! down so nothing above the new Nyquist folds back.
//!
//! Not rt: everything here allocates and takes its time. It runs off the audio thread:
//! loops carried to a new rate, jams opened at another rate, script inputs, drum hits.

/// Zero crossings of the sinc on each side of the centre tap.
pub const ZERO_CROSSINGS: usize = 32;
/// Kaiser window shape: about 90 dB down in the stopband.
const KAISER_BETA: f64 = 9.0;
/// The cutoff as a share of the lower Nyquist: the transition band (a few kHz at
/// 48 kHz with 32 zero crossings) ends at the Nyquist, not past it.
const ROLLOFF: f64 = 0.9;
/// Table points per zero crossing (linear interpolation between them: far below the
/// stopband's level).
const TABLE_STEPS: usize = 512;

/// Frames a signal of `len` frames has at `to_hz` when it had them at `from_hz`.
pub fn resampled_len(len: usize, from_hz: u32, to_hz: u32) -> usize {
    if from_hz == 0 {
        return len;
    }
    (len as f64 * to_hz as f64 / from_hz as f64).round() as usize
}

/// Not rt: `input`, sampled at `from_hz`, as sampled at `to_hz`:
/// `resampled_len(input.len(), from_hz, to_hz)` frames, the first at the same instant.
/// Before and after the signal is taken as silence.
pub fn resample(input: &[f32], from_hz: u32, to_hz: u32) -> Vec<f32> {
    let mut out = resample_channels(&[input], from_hz, to_hz);
    out.pop().unwrap_or_default()
}

/// Not rt: like [`resample`] for channels of one signal (the filter is worked out
/// once for all of them). Channels shorter than the first are read as silence past
/// their end.
pub fn resample_channels(channels: &[&[f32]], from_hz: u32, to_hz: u32) -> Vec<Vec<f32>> {
    let len = channels.first().map_or(0, |c| c.len());
    if from_hz == to_hz || from_hz == 0 || to_hz == 0 {
        return channels.iter().map(|c| c.to_vec()).collect();
    }
    let out_len = resampled_len(len, from_hz, to_hz);
    convert(channels, len, out_len, from_hz as f64 / to_hz as f64, false)
}

/// Not rt: one period of a looped signal (its end runs on into its start) as exactly
/// `out_len` frames of the same period: the filter wraps around the seam, so the loop
/// stays seamless. Each channel must be at least as long as the first.
pub fn resample_loop(channels: &[&[f32]], out_len: usize) -> Vec<Vec<f32>> {
    let len = channels.iter().map(|c| c.len()).min().unwrap_or(0);
    if len == 0 || out_len == 0 {
        return channels.iter().map(|_| vec![0.0; out_len]).collect();
    }
    if len == out_len {
        return channels.iter().map(|c| c[..len].to_vec()).collect();
    }
    convert(channels, len, out_len, len as f64 / out_len as f64, true)
}

/// The windowed sinc, tabulated by distance in zero crossings from the centre.
struct Kernel {
    table: Vec<f64>,
}

impl Kernel {
    fn new() -> Self {
        let n = ZERO_CROSSINGS * TABLE_STEPS;
        let norm = bessel_i0(KAISER_BETA);
        let table = (0..=n + 1)
            .map(|i| {
                let u = i as f64 / TABLE_STEPS as f64;
                let r = (u / ZERO_CROSSINGS as f64).min(1.0);
                let w = bessel_i0(KAISER_BETA * (1.0 - r * r).sqrt()) / norm;
                sinc(u) * w
            })
            .collect();
        Self { table }
    }

    /// The kernel at `u` zero crossings from the centre (0 past the last one).
    #[inline]
    fn at(&self, u: f64) -> f64 {
        let x = u.abs() * TABLE_STEPS as f64;
        let i = x as usize;
        if i >= ZERO_CROSSINGS * TABLE_STEPS {
            return 0.0;
        }
        let f = x - i as f64;
        match (self.table.get(i), self.table.get(i + 1)) {
            (Some(a), Some(b)) => a + (b - a) * f,
            _ => 0.0,
        }
    }
}

fn sinc(u: f64) -> f64 {
    if u.abs() < 1e-12 {
        1.0
    } else {
        let x = std::f64::consts::PI * u;
        x.sin() / x
    }
}

/// The modified Bessel function of the first kind, order 0 (its power series).
fn bessel_i0(x: f64) -> f64 {
    let q = x * x / 4.0;
    let (mut sum, mut term) = (1.0, 1.0);
    for k in 1..200 {
        term *= q / (k * k) as f64;
        sum += term;
        if term < sum * 1e-17 {
            break;
        }
    }
    sum
}

/// Phases of the polyphase table per input frame (weights between two are interpolated).
const PHASES: usize = 512;

/// Output frame `j` is the input at time `j * step` (in input frames). `wrap`: the
/// input is one period of a loop of `len` frames; otherwise silence outside it.
fn convert(
    channels: &[&[f32]],
    len: usize,
    out_len: usize,
    step: f64,
    wrap: bool,
) -> Vec<Vec<f32>> {
    let kernel = Kernel::new();
    // Cutoff as a share of the input's Nyquist: the lower of the two rates' Nyquists.
    let fc = ROLLOFF * (1.0 / step).min(1.0);
    let half = ZERO_CROSSINGS as f64 / fc;
    // Taps from `-reach` to `reach + 1` around the frame before the output instant;
    // each row holds their weights at one fraction of a frame past it.
    let reach = half.ceil() as i64;
    let taps = (2 * reach + 2) as usize;
    let table: Vec<f32> = (0..=PHASES)
        .flat_map(|r| {
            let frac = r as f64 / PHASES as f64;
            (0..taps).map(move |m| frac - (m as i64 - reach) as f64)
        })
        .map(|d| (fc * kernel.at(fc * d)) as f32)
        .collect();
    let mut w = vec![0f32; taps];
    let mut out: Vec<Vec<f32>> = channels.iter().map(|_| vec![0.0; out_len]).collect();
    for j in 0..out_len {
        // From j * len / out_len in whole numbers where possible, so no drift builds up.
        let p = if wrap {
            (j as f64 * len as f64) / out_len as f64
        } else {
            j as f64 * step
        };
        let base = p.floor();
        let x = (p - base) * PHASES as f64;
        let r = (x as usize).min(PHASES - 1);
        let t = (x - r as f64) as f32;
        let (a, b) = (
            table.get(r * taps..(r + 1) * taps).unwrap_or(&[]),
            table.get((r + 1) * taps..(r + 2) * taps).unwrap_or(&[]),
        );
        for ((w, a), b) in w.iter_mut().zip(a).zip(b) {
            *w = a + (b - a) * t;
        }
        let first = base as i64 - reach;
        for (o, ch) in out.iter_mut().zip(channels) {
            let ch = ch.get(..len).unwrap_or(ch);
            let v = if wrap {
                wrapped_dot(ch, first.rem_euclid(len as i64) as usize, &w)
            } else {
                clipped_dot(ch, first, &w)
            };
            if let Some(s) = o.get_mut(j) {
                *s = v as f32;
            }
        }
    }
    out
}

/// The weights `w` against `x` from `start` on, round the loop `x` as often as needed.
fn wrapped_dot(x: &[f32], start: usize, w: &[f32]) -> f64 {
    let mut acc = 0f64;
    let (mut at, mut done) = (start, 0);
    while done < w.len() && !x.is_empty() {
        let run = (w.len() - done).min(x.len() - at);
        acc += dot(&x[at..at + run], &w[done..done + run]);
        done += run;
        at = 0;
    }
    acc
}

/// The weights `w` against `x` from `first` (which may lie before it), silence outside.
fn clipped_dot(x: &[f32], first: i64, w: &[f32]) -> f64 {
    let skip = (-first).max(0) as usize;
    let from = first.max(0) as usize;
    if skip >= w.len() || from >= x.len() {
        return 0.0;
    }
    let run = (w.len() - skip).min(x.len() - from);
    dot(&x[from..from + run], &w[skip..skip + run])
}

fn dot(x: &[f32], w: &[f32]) -> f64 {
    // Eight lanes at a time, so the compiler can keep them in vector registers.
    let mut lanes = [0f32; 8];
    let (xc, wc) = (x.chunks_exact(8), w.chunks_exact(8));
    let (xr, wr) = (xc.remainder(), wc.remainder());
    for (xs, ws) in xc.zip(wc) {
        for ((l, a), b) in lanes.iter_mut().zip(xs).zip(ws) {
            *l += a * b;
        }
    }
    let tail: f32 = xr.iter().zip(wr).map(|(a, b)| a * b).sum();
    lanes.iter().map(|l| *l as f64).sum::<f64>() + tail as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::TAU;

    fn tone(hz: f64, rate: u32, secs: f64, amp: f64) -> Vec<f32> {
        let n = (secs * rate as f64).round() as usize;
        (0..n)
            .map(|i| (amp * (TAU * hz * i as f64 / rate as f64).sin()) as f32)
            .collect()
    }

    fn rms(x: &[f32]) -> f64 {
        (x.iter().map(|s| (*s as f64).powi(2)).sum::<f64>() / x.len().max(1) as f64).sqrt()
    }

    /// Frequency from the upward zero crossings (interpolated between frames).
    fn zero_crossing_hz(x: &[f32], rate: u32) -> f64 {
        let mut ups = Vec::new();
        for i in 1..x.len() {
            let (a, b) = (x[i - 1] as f64, x[i] as f64);
            if a < 0.0 && b >= 0.0 {
                ups.push(i as f64 - 1.0 + a / (a - b));
            }
        }
        let (first, last) = (ups[0], ups[ups.len() - 1]);
        (ups.len() - 1) as f64 * rate as f64 / (last - first)
    }

    /// The middle of a signal, away from the filter's run-in at either edge.
    fn middle(x: &[f32]) -> &[f32] {
        let edge = 2_000;
        &x[edge..x.len() - edge]
    }

    #[test]
    fn a_1khz_tone_keeps_its_pitch_and_level_up_and_down() {
        for (from, to) in [(44_100, 48_000), (48_000, 44_100)] {
            let x = tone(1000.0, from, 1.0, 0.5);
            let y = resample(&x, from, to);
            assert_eq!(y.len(), to as usize, "{from} -> {to}: length");
            let hz = zero_crossing_hz(middle(&y), to);
            assert!((hz - 1000.0).abs() < 0.01, "{from} -> {to}: {hz} Hz");
            let db = 20.0 * (rms(middle(&y)) / rms(middle(&x))).log10();
            println!("{from} -> {to}: 1 kHz at {hz:.4} Hz, level {db:+.5} dB");
            assert!(db.abs() < 0.1, "{from} -> {to}: level changed {db} dB");
            // The peaks, too: no ripple riding on the tone.
            let peak = middle(&y).iter().fold(0f32, |m, s| m.max(s.abs()));
            assert!(
                (peak - 0.5).abs() < 0.5 * 0.0116,
                "{from} -> {to}: peak {peak}"
            );
        }
    }

    #[test]
    fn lengths_are_rounded_from_the_ratio() {
        for (len, from, to) in [
            (1000usize, 48_000u32, 44_100u32),
            (1001, 44_100, 48_000),
            (7, 48_000, 96_000),
            (12_345, 96_000, 44_100),
            (1, 44_100, 48_000),
            (0, 48_000, 44_100),
        ] {
            let want = (len as f64 * to as f64 / from as f64).round() as usize;
            assert_eq!(resample(&vec![0.1; len], from, to).len(), want);
            assert_eq!(resampled_len(len, from, to), want);
        }
    }

    #[test]
    fn tones_above_the_new_nyquist_do_not_fold_back_when_going_down() {
        for hz in [22_500.0, 23_000.0, 23_500.0] {
            let x = tone(hz, 48_000, 0.5, 1.0);
            let y = resample(&x, 48_000, 44_100);
            let db = 20.0 * (rms(middle(&y)) / rms(middle(&x))).log10();
            println!("48000 -> 44100: {hz} Hz comes out at {db:.1} dB");
            assert!(db < -60.0, "{hz} Hz only {db} dB down");
        }
        // The top of the passband is still there.
        let x = tone(18_000.0, 48_000, 0.5, 1.0);
        let y = resample(&x, 48_000, 44_100);
        let db = 20.0 * (rms(middle(&y)) / rms(middle(&x))).log10();
        println!("48000 -> 44100: 18 kHz at {db:.2} dB");
        assert!(db > -1.0, "18 kHz lost {db} dB");
    }

    #[test]
    fn a_loop_resampled_as_a_loop_has_no_seam() {
        // 440 Hz, exactly 22 cycles in 2400 frames at 48 kHz: a seamless loop.
        let x = tone(440.0, 48_000, 0.05, 0.5);
        assert_eq!(x.len(), 2400);
        let out = resample_loop(&[&x, &x], 2205);
        let y = &out[0];
        assert_eq!(y.len(), 2205);
        assert_eq!(out[0], out[1]);
        // At 44.1 kHz a 0.5 amplitude 440 Hz sine moves at most this much per frame.
        let max_step = 0.5 * TAU * 440.0 / 44_100.0 * 1.02;
        for i in 0..y.len() {
            let next = y[(i + 1) % y.len()];
            assert!((next - y[i]).abs() as f64 <= max_step, "jump at frame {i}");
        }
        assert!((rms(y) - 0.5 / 2f64.sqrt()).abs() < 0.002);
    }
}
