//! Reading WAV files into planar f32 and writing the render's result.

use std::path::Path;

use super::RenderError;

/// Planar channels at the file's own rate.
pub struct WavData {
    pub sample_rate: u32,
    pub channels: Vec<Vec<f32>>,
}

pub fn read_wav(path: &Path) -> Result<WavData, RenderError> {
    let damaged = |e: hound::Error| RenderError::Wav {
        path: path.to_owned(),
        message: e.to_string(),
    };
    let file = std::fs::File::open(path).map_err(|source| RenderError::Open {
        path: path.to_owned(),
        source,
    })?;
    let reader = hound::WavReader::new(std::io::BufReader::new(file)).map_err(damaged)?;
    let spec = reader.spec();
    let nch = spec.channels.max(1) as usize;
    let interleaved: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => reader
            .into_samples::<f32>()
            .collect::<Result<_, _>>()
            .map_err(damaged)?,
        hound::SampleFormat::Int => {
            let scale = 1.0 / (1u64 << (spec.bits_per_sample.clamp(1, 32) - 1)) as f32;
            reader
                .into_samples::<i32>()
                .map(|s| s.map(|v| v as f32 * scale))
                .collect::<Result<_, _>>()
                .map_err(damaged)?
        }
    };
    let mut channels = vec![Vec::with_capacity(interleaved.len() / nch); nch];
    for frame in interleaved.chunks_exact(nch) {
        for (c, s) in frame.iter().enumerate() {
            channels[c].push(*s);
        }
    }
    Ok(WavData {
        sample_rate: spec.sample_rate,
        channels,
    })
}

pub use crate::prep::resample::resample;

/// Writes stereo 32-bit float WAV: exactly what the engine produced.
pub fn write_wav(
    path: &Path,
    sample_rate: u32,
    left: &[f32],
    right: &[f32],
) -> Result<(), RenderError> {
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let err = |e: hound::Error| RenderError::Write {
        path: path.to_owned(),
        message: e.to_string(),
    };
    let mut w = hound::WavWriter::create(path, spec).map_err(err)?;
    for (l, r) in left.iter().zip(right) {
        w.write_sample(*l).map_err(err)?;
        w.write_sample(*r).map_err(err)?;
    }
    w.finalize().map_err(err)
}
