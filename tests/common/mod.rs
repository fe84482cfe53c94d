//! Helpers the render tests share: writing inputs, measuring what came out.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

pub const SR: u32 = 48_000;
pub const TEST_SOUNDFONT: &str = "/usr/share/sounds/sf2/TimGM6mb.sf2";

/// The small GM SoundFont from Debian's timgm6mb-soundfont; the test fails if it is missing.
pub fn test_soundfont() -> PathBuf {
    let p = PathBuf::from(TEST_SOUNDFONT);
    assert!(
        p.is_file(),
        "{TEST_SOUNDFONT} is missing: install timgm6mb-soundfont (the README's first command does)"
    );
    p
}

pub fn write_wav(path: &Path, channels: &[Vec<f32>]) {
    let spec = hound::WavSpec {
        channels: channels.len() as u16,
        sample_rate: SR,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..channels[0].len() {
        for c in channels {
            w.write_sample(c[i]).unwrap();
        }
    }
    w.finalize().unwrap();
}

pub fn sine(freq: f64, amp: f32, secs: f64) -> Vec<f32> {
    let n = (secs * SR as f64) as usize;
    (0..n)
        .map(|i| amp * (std::f64::consts::TAU * freq * i as f64 / SR as f64).sin() as f32)
        .collect()
}

pub fn rms(x: &[f32]) -> f32 {
    (x.iter().map(|s| (s * s) as f64).sum::<f64>() / x.len().max(1) as f64).sqrt() as f32
}

pub fn secs(s: f64) -> usize {
    (s * SR as f64) as usize
}

/// Magnitude of one frequency in a signal at 48 kHz (Goertzel).
pub fn magnitude_at(x: &[f32], freq: f64) -> f64 {
    magnitude_at_rate(x, freq, SR)
}

/// Magnitude of one frequency in a signal sampled at `rate` (Goertzel).
pub fn magnitude_at_rate(x: &[f32], freq: f64, rate: u32) -> f64 {
    let w = std::f64::consts::TAU * freq / rate as f64;
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0f64, 0f64);
    for (i, v) in x.iter().enumerate() {
        // Hann window against leakage.
        let win = 0.5 - 0.5 * (std::f64::consts::TAU * i as f64 / x.len() as f64).cos();
        let s0 = *v as f64 * win + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    (s1 * s1 + s2 * s2 - coeff * s1 * s2).max(0.0).sqrt()
}

/// The strongest frequency between `lo` and `hi`, to a tenth of a hertz.
pub fn spectral_peak_hz(x: &[f32], lo: f64, hi: f64) -> f64 {
    spectral_peak_hz_at_rate(x, SR, lo, hi)
}

/// [`spectral_peak_hz`] for a signal sampled at `rate`.
pub fn spectral_peak_hz_at_rate(x: &[f32], rate: u32, lo: f64, hi: f64) -> f64 {
    let scan = |from: f64, to: f64, step: f64| {
        let mut best = (from, 0f64);
        let mut f = from;
        while f <= to {
            let m = magnitude_at_rate(x, f, rate);
            if m > best.1 {
                best = (f, m);
            }
            f += step;
        }
        best.0
    };
    let coarse = scan(lo, hi, 1.0);
    scan(coarse - 1.0, coarse + 1.0, 0.1)
}

/// An independent true-peak reading: 16x oversampling with a long windowed sinc,
/// so the limiter is not judged by its own, shorter interpolator.
pub fn reference_true_peak(x: &[f32]) -> f32 {
    const OS: usize = 16;
    const HALF: isize = 32;
    let mut kernels = Vec::new();
    for p in 1..OS {
        let frac = p as f64 / OS as f64;
        let k: Vec<f64> = (-HALF + 1..=HALF)
            .map(|j| {
                let t = j as f64 - frac;
                let sinc = if t.abs() < 1e-12 {
                    1.0
                } else {
                    (std::f64::consts::PI * t).sin() / (std::f64::consts::PI * t)
                };
                let w = t / (HALF as f64 + 1.0);
                let kaiser_ish = (1.0 - w * w).max(0.0).powf(2.0);
                sinc * kaiser_ish
            })
            .collect();
        kernels.push(k);
    }
    let mut peak = x.iter().fold(0f32, |m, s| m.max(s.abs())) as f64;
    for n in 0..x.len() {
        for k in &kernels {
            let mut acc = 0f64;
            for (i, c) in k.iter().enumerate() {
                let idx = n as isize + (i as isize - HALF + 1);
                if idx >= 0 && (idx as usize) < x.len() {
                    acc += c * x[idx as usize] as f64;
                }
            }
            peak = peak.max(acc.abs());
        }
    }
    peak as f32
}

pub fn db(gain: f32) -> f32 {
    20.0 * gain.max(1e-9).log10()
}

/// What ffmpeg's EBU R128 meter says of a file: integrated loudness (LUFS) and true
/// peak (dBTP).
pub fn ffmpeg_r128(path: &Path) -> (f64, f64) {
    let out = std::process::Command::new("ffmpeg")
        .args(["-nostats", "-hide_banner", "-i"])
        .arg(path)
        .args(["-filter_complex", "ebur128=peak=true", "-f", "null", "-"])
        .output()
        .expect("ffmpeg runs (bash .ci/install puts it there)");
    let text = String::from_utf8_lossy(&out.stderr);
    let summary = &text[text.rfind("Summary:").expect("ffmpeg's ebur128 summary")..];
    let number_after = |key: &str| -> f64 {
        let at = summary
            .find(key)
            .unwrap_or_else(|| panic!("no {key} in {summary}"));
        summary[at + key.len()..]
            .split_whitespace()
            .next()
            .and_then(|w| w.parse().ok())
            .unwrap_or_else(|| panic!("no number after {key} in {summary}"))
    };
    (number_after("I:"), number_after("Peak:"))
}
