//! The built-in drum kit's sounds, made by the project itself (`examples/make_drums.rs`),
//! embedded in the binary and decoded here, once, at the engine's rate. Not rt.

use crate::engine::drums::DrumSounds;

/// The WAVs, in the order of the kit's sounds (`engine::drums::Sound`).
pub const SOURCES: &[&[u8]] = &[
    include_bytes!("../../samples/drums/kick.wav"),
    include_bytes!("../../samples/drums/snare.wav"),
    include_bytes!("../../samples/drums/hat_closed.wav"),
    include_bytes!("../../samples/drums/hat_open.wav"),
    include_bytes!("../../samples/drums/clap.wav"),
    include_bytes!("../../samples/drums/tom_low.wav"),
    include_bytes!("../../samples/drums/tom_mid.wav"),
    include_bytes!("../../samples/drums/tom_high.wav"),
    include_bytes!("../../samples/drums/crash.wav"),
    include_bytes!("../../samples/drums/ride.wav"),
    include_bytes!("../../samples/drums/rim.wav"),
];

/// Every sound of the kit, mono, at `sample_rate`.
pub fn builtin(sample_rate: u32) -> DrumSounds {
    let sample_rate = sample_rate.max(1);
    DrumSounds {
        sample_rate,
        sounds: SOURCES.iter().map(|b| decode(b, sample_rate)).collect(),
    }
}

/// Decodes one embedded WAV to mono f32 at `sample_rate`; an unreadable one is silent.
fn decode(bytes: &[u8], sample_rate: u32) -> Vec<f32> {
    let Ok(reader) = hound::WavReader::new(std::io::Cursor::new(bytes)) else {
        return Vec::new();
    };
    let spec = reader.spec();
    let channels = spec.channels.max(1) as usize;
    let interleaved: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Int => {
            let scale = 1.0 / (1u64 << (spec.bits_per_sample.clamp(1, 32) - 1)) as f32;
            reader
                .into_samples::<i32>()
                .map(|s| s.map(|v| v as f32 * scale).unwrap_or(0.0))
                .collect()
        }
        hound::SampleFormat::Float => reader
            .into_samples::<f32>()
            .map(|s| s.unwrap_or(0.0))
            .collect(),
    };
    let mono: Vec<f32> = interleaved
        .chunks(channels)
        .map(|f| f.iter().sum::<f32>() / channels as f32)
        .collect();
    super::resample::resample(&mono, spec.sample_rate.max(1), sample_rate.max(1))
}
