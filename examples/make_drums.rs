//! Synthesises the built-in drum kit into `samples/drums/` as 16-bit mono 48 kHz WAVs.
//!
//! Run with `cargo run --release --example make_drums`. The WAVs are committed and
//! embedded by `engine::drums`, so this only needs running again to change a sound.
//! Everything is deterministic (fixed-seed noise): the same code writes the same files.

use std::f64::consts::{PI, TAU};
use std::path::Path;

const SR: f64 = 48_000.0;
/// Each sound is normalised to this peak; the kit sets the levels between them.
const PEAK: f64 = 0.9;
/// Frequencies of the six square oscillators of a classic analogue hi-hat.
const METAL_HZ: [f64; 6] = [205.3, 304.4, 369.6, 522.7, 540.0, 800.0];

/// xorshift64*: white noise that is the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D);
        (x >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    }
}

/// RBJ biquad, enough for the band-pass and high-pass shaping drums need.
struct Biquad {
    b: [f64; 3],
    a: [f64; 2],
    z: [f64; 2],
}

impl Biquad {
    fn new(kind: &str, hz: f64, q: f64) -> Self {
        let w = TAU * hz / SR;
        let (sin, cos) = w.sin_cos();
        let alpha = sin / (2.0 * q);
        let (b, a0, a1, a2) = match kind {
            "lp" => (
                [(1.0 - cos) / 2.0, 1.0 - cos, (1.0 - cos) / 2.0],
                1.0 + alpha,
                -2.0 * cos,
                1.0 - alpha,
            ),
            "hp" => (
                [(1.0 + cos) / 2.0, -(1.0 + cos), (1.0 + cos) / 2.0],
                1.0 + alpha,
                -2.0 * cos,
                1.0 - alpha,
            ),
            _ => ([alpha, 0.0, -alpha], 1.0 + alpha, -2.0 * cos, 1.0 - alpha), // band-pass
        };
        Biquad {
            b: [b[0] / a0, b[1] / a0, b[2] / a0],
            a: [a1 / a0, a2 / a0],
            z: [0.0; 2],
        }
    }

    fn run(&mut self, x: f64) -> f64 {
        // Transposed direct form II.
        let y = self.b[0] * x + self.z[0];
        self.z[0] = self.b[1] * x - self.a[0] * y + self.z[1];
        self.z[1] = self.b[2] * x - self.a[1] * y;
        y
    }

    fn process(mut self, x: &mut [f64]) {
        for v in x.iter_mut() {
            *v = self.run(*v);
        }
    }
}

fn frames(secs: f64) -> usize {
    (secs * SR) as usize
}

fn time(i: usize) -> f64 {
    i as f64 / SR
}

/// exp(-t / tau): the decay every drum is made of.
fn decay(t: f64, tau: f64) -> f64 {
    (-t / tau).exp()
}

fn noise(len: usize, seed: u64) -> Vec<f64> {
    let mut rng = Rng(seed);
    (0..len).map(|_| rng.next()).collect()
}

/// A band-limited square (odd harmonics below 20 kHz), so hats do not alias.
fn square(hz: f64, len: usize) -> Vec<f64> {
    let mut out = vec![0.0; len];
    let mut n = 1;
    while hz * n as f64 <= 20_000.0 {
        let w = TAU * hz * n as f64 / SR;
        for (i, v) in out.iter_mut().enumerate() {
            *v += (w * i as f64).sin() / n as f64;
        }
        n += 2;
    }
    out
}

/// The six-square cluster, pitched by `scale`: the metallic core of hats and cymbals.
fn metal(len: usize, scale: f64) -> Vec<f64> {
    let mut out = vec![0.0; len];
    for hz in METAL_HZ {
        for (o, s) in out.iter_mut().zip(square(hz * scale, len)) {
            *o += s / 6.0;
        }
    }
    out
}

/// Sine with a pitch that falls from `start_hz` towards `end_hz` with time constant `tau`.
fn swept_sine(len: usize, start_hz: f64, end_hz: f64, tau: f64) -> Vec<f64> {
    let mut phase = 0.0;
    (0..len)
        .map(|i| {
            let f = end_hz + (start_hz - end_hz) * decay(time(i), tau);
            let s = (TAU * phase).sin();
            phase = (phase + f / SR).fract();
            s
        })
        .collect()
}

/// A half-millisecond fade-in and a raised-cosine fade-out: no sample starts or ends
/// with a step.
fn finish(mut x: Vec<f64>, fade_out_secs: f64) -> Vec<f64> {
    let len = x.len();
    let fade_in = frames(0.0005).min(len);
    for (i, v) in x.iter_mut().take(fade_in).enumerate() {
        *v *= i as f64 / fade_in as f64;
    }
    let fade_out = frames(fade_out_secs).min(len);
    for i in 0..fade_out {
        let g = 0.5 + 0.5 * (PI * (i + 1) as f64 / fade_out as f64).cos();
        x[len - fade_out + i] *= g;
    }
    if let Some(last) = x.last_mut() {
        *last = 0.0;
    }
    let peak = x.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    if peak > 0.0 {
        x.iter_mut().for_each(|v| *v *= PEAK / peak);
    }
    x
}

fn kick() -> Vec<f64> {
    let len = frames(0.4);
    let body = swept_sine(len, 160.0, 45.0, 0.03);
    let mut click = noise(len, 1);
    Biquad::new("bp", 2500.0, 0.7).process(&mut click);
    let x = (0..len)
        .map(|i| {
            let t = time(i);
            let b = body[i] * decay(t, 0.13);
            let c = click[i] * decay(t, 0.002) * 0.6;
            // A little saturation gives the body punch.
            (1.6 * (b + c)).tanh()
        })
        .collect();
    finish(x, 0.04)
}

fn snare() -> Vec<f64> {
    let len = frames(0.3);
    let low = swept_sine(len, 215.0, 185.0, 0.02);
    let high = swept_sine(len, 345.0, 330.0, 0.02);
    let mut wires = noise(len, 2);
    Biquad::new("hp", 1400.0, 0.7).process(&mut wires);
    Biquad::new("lp", 9000.0, 0.7).process(&mut wires);
    let x = (0..len)
        .map(|i| {
            let t = time(i);
            let tone = low[i] * 0.7 * decay(t, 0.045) + high[i] * 0.35 * decay(t, 0.03);
            let snap = wires[i] * 1.1 * decay(t, 0.07);
            (1.2 * (tone + snap)).tanh()
        })
        .collect();
    finish(x, 0.05)
}

/// Metal and a little noise, band-passed high: the sound both hats share.
fn hat_source(len: usize, seed: u64) -> Vec<f64> {
    let m = metal(len, 1.0);
    let n = noise(len, seed);
    let mut x: Vec<f64> = m.iter().zip(&n).map(|(m, n)| 0.8 * m + 0.35 * n).collect();
    Biquad::new("bp", 10_000.0, 0.9).process(&mut x);
    Biquad::new("hp", 7000.0, 0.7).process(&mut x);
    x
}

fn hat_closed() -> Vec<f64> {
    let len = frames(0.12);
    let src = hat_source(len, 3);
    let x = src
        .iter()
        .enumerate()
        .map(|(i, s)| s * decay(time(i), 0.02))
        .collect();
    finish(x, 0.03)
}

fn hat_open() -> Vec<f64> {
    let len = frames(0.7);
    let src = hat_source(len, 4);
    let x = src
        .iter()
        .enumerate()
        .map(|(i, s)| s * decay(time(i), 0.2))
        .collect();
    finish(x, 0.2)
}

fn clap() -> Vec<f64> {
    let len = frames(0.3);
    let mut n = noise(len, 5);
    Biquad::new("bp", 1200.0, 1.1).process(&mut n);
    let bursts = [0.0, 0.011, 0.021, 0.032];
    let x = (0..len)
        .map(|i| {
            let t = time(i);
            // Several hands a few milliseconds apart, then the room.
            let mut env: f64 = 0.0;
            for (k, &at) in bursts.iter().enumerate() {
                if t >= at {
                    let tau = if k + 1 == bursts.len() { 0.06 } else { 0.004 };
                    env = env.max(decay(t - at, tau));
                }
            }
            n[i] * env
        })
        .collect();
    finish(x, 0.05)
}

fn tom(hz: f64, tau: f64, seed: u64) -> Vec<f64> {
    let len = frames(0.45);
    let body = swept_sine(len, hz * 1.6, hz, 0.04);
    let overtone = swept_sine(len, hz * 1.6 * 1.5, hz * 1.5, 0.04);
    let mut stick = noise(len, seed);
    Biquad::new("lp", 3000.0, 0.7).process(&mut stick);
    let x = (0..len)
        .map(|i| {
            let t = time(i);
            let b = body[i] * decay(t, tau) + overtone[i] * 0.2 * decay(t, tau * 0.4);
            (1.3 * (b + stick[i] * 0.5 * decay(t, 0.005))).tanh()
        })
        .collect();
    finish(x, 0.08)
}

fn crash() -> Vec<f64> {
    let len = frames(1.3);
    let m = metal(len, 1.7);
    let n = noise(len, 6);
    let mut x: Vec<f64> = m.iter().zip(&n).map(|(m, n)| 0.5 * m + 0.7 * n).collect();
    Biquad::new("hp", 2500.0, 0.7).process(&mut x);
    // The wash darkens as it dies away: a low-pass that closes over time.
    let mut lp = 0.0;
    for (i, v) in x.iter_mut().enumerate() {
        let t = time(i);
        let cutoff = 5000.0 + 11_000.0 * decay(t, 0.25);
        lp += (1.0 - (-TAU * cutoff / SR).exp()) * (*v - lp);
        *v = lp * (0.3 * decay(t, 0.04) + 0.7 * decay(t, 0.45));
    }
    finish(x, 0.3)
}

fn ride() -> Vec<f64> {
    let len = frames(1.2);
    // Inharmonic bell partials for the "ping", over a quiet metallic wash.
    let partials = [
        (512.0, 1.0),
        (761.0, 0.7),
        (1233.0, 0.5),
        (1747.0, 0.4),
        (2463.0, 0.3),
        (3397.0, 0.25),
    ];
    let mut wash: Vec<f64> = metal(len, 2.3)
        .iter()
        .zip(noise(len, 7))
        .map(|(m, n)| 0.6 * m + 0.4 * n)
        .collect();
    Biquad::new("hp", 5000.0, 0.7).process(&mut wash);
    let mut tick = noise(len, 8);
    Biquad::new("hp", 3000.0, 0.7).process(&mut tick);
    let x = (0..len)
        .map(|i| {
            let t = time(i);
            let bell: f64 = partials
                .iter()
                .map(|(hz, a)| a * (TAU * hz * t).sin())
                .sum::<f64>()
                * 0.12
                * decay(t, 0.35);
            bell + wash[i] * 0.5 * decay(t, 0.5) + tick[i] * 0.6 * decay(t, 0.003)
        })
        .collect();
    finish(x, 0.25)
}

fn rim() -> Vec<f64> {
    let len = frames(0.08);
    let mut knock = noise(len, 9);
    Biquad::new("bp", 3200.0, 1.5).process(&mut knock);
    let x = (0..len)
        .map(|i| {
            let t = time(i);
            (TAU * 1700.0 * t).sin() * decay(t, 0.008)
                + (TAU * 480.0 * t).sin() * 0.6 * decay(t, 0.012)
                + knock[i] * 0.8 * decay(t, 0.004)
        })
        .collect();
    finish(x, 0.01)
}

fn write(dir: &Path, name: &str, x: &[f64]) -> Result<(), hound::Error> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: SR as u32,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let path = dir.join(name);
    let mut w = hound::WavWriter::create(&path, spec)?;
    for v in x {
        w.write_sample((v.clamp(-1.0, 1.0) * 32767.0).round() as i16)?;
    }
    w.finalize()?;
    println!("{:>16}  {:.2} s", name, x.len() as f64 / SR);
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/drums");
    std::fs::create_dir_all(&dir)?;
    let kit: [(&str, Vec<f64>); 11] = [
        ("kick.wav", kick()),
        ("snare.wav", snare()),
        ("hat_closed.wav", hat_closed()),
        ("hat_open.wav", hat_open()),
        ("clap.wav", clap()),
        ("tom_low.wav", tom(95.0, 0.24, 10)),
        ("tom_mid.wav", tom(130.0, 0.2, 11)),
        ("tom_high.wav", tom(175.0, 0.17, 12)),
        ("crash.wav", crash()),
        ("ride.wav", ride()),
        ("rim.wav", rim()),
    ];
    for (name, x) in &kit {
        write(&dir, name, x)?;
    }
    println!("wrote {} sounds to {}", kit.len(), dir.display());
    Ok(())
}
