//! Exported files: 24-bit WAV (with a BWF `bext` chunk for stems, so a DAW places each
//! at the song's start) and FLAC. Written to a temporary name beside the target and
//! renamed when whole, so a cancelled or failed export never leaves half a file.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("could not write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the FLAC encoder refused the sound: {0}")]
    Flac(String),
    #[error("the Ogg Vorbis encoder refused the sound: {0}")]
    Ogg(String),
    #[error("the MP3 encoder refused the sound: {0}")]
    Mp3(String),
    #[error("the loudness could not be measured: {0}")]
    Loudness(String),
    #[error("the export was cancelled; no file was written")]
    Cancelled,
}

/// How far a long export has come, and a way to stop it, shared with whoever shows it.
#[derive(Debug, Default)]
pub struct Progress {
    done: AtomicU64,
    total: AtomicU64,
    cancel: AtomicBool,
}

impl Progress {
    /// More work ahead (in frames, or frames weighed by how slow they are).
    pub fn add_total(&self, n: u64) {
        self.total.fetch_add(n, Relaxed);
    }

    /// Work done; `Err` once the export is cancelled.
    pub fn advance(&self, n: u64) -> Result<(), ExportError> {
        self.done.fetch_add(n, Relaxed);
        if self.cancel.load(Relaxed) {
            Err(ExportError::Cancelled)
        } else {
            Ok(())
        }
    }

    /// 0 to 1.
    pub fn fraction(&self) -> f32 {
        let total = self.total.load(Relaxed).max(1);
        (self.done.load(Relaxed) as f64 / total as f64).clamp(0.0, 1.0) as f32
    }

    pub fn cancel(&self) {
        self.cancel.store(true, Relaxed);
    }
}

/// How much slower than bouncing a frame is to encode (measured: `benches/disk.rs`).
pub const OGG_WEIGHT: u64 = 5;

/// Integrated loudness (LUFS) and the highest true peak (dBTP) of a stereo signal, as
/// EBU R128 / ITU-R BS.1770 measure them.
pub fn loudness(l: &[f32], r: &[f32], sample_rate: u32) -> Result<(f64, f64), ExportError> {
    let err = |e: ebur128::Error| ExportError::Loudness(e.to_string());
    let mut m = ebur128::EbuR128::new(2, sample_rate, ebur128::Mode::I | ebur128::Mode::TRUE_PEAK)
        .map_err(err)?;
    let n = l.len().min(r.len());
    m.add_frames_planar_f32(&[&l[..n], &r[..n]]).map_err(err)?;
    let lufs = m.loudness_global().map_err(err)?;
    let peak = m
        .true_peak(0)
        .map_err(err)?
        .max(m.true_peak(1).map_err(err)?);
    Ok((lufs, 20.0 * peak.max(1e-10).log10()))
}

/// An Ogg Vorbis file of `l` and `r` (quality 0.5, about 160 kbit/s): plays on a phone.
/// Each frame is `OGG_WEIGHT` of `progress`.
pub fn write_ogg(
    path: &Path,
    l: &[f32],
    r: &[f32],
    sample_rate: u32,
    progress: &Progress,
) -> Result<(), ExportError> {
    use std::num::{NonZeroU32, NonZeroU8};
    let err = |e: vorbis_rs::VorbisError| ExportError::Ogg(e.to_string());
    let rate = NonZeroU32::new(sample_rate).ok_or(ExportError::Ogg("no sample rate".into()))?;
    let two = NonZeroU8::new(2).ok_or(ExportError::Ogg("no channels".into()))?;
    let mut bytes = Vec::new();
    {
        let mut builder =
            vorbis_rs::VorbisEncoderBuilder::new_with_serial(rate, two, &mut bytes, 1);
        builder.bitrate_management_strategy(
            vorbis_rs::VorbisBitrateManagementStrategy::QualityVbr {
                target_quality: 0.5,
            },
        );
        builder.comment_tag("ENCODER", "Samspill").map_err(err)?;
        let mut enc = builder.build().map_err(err)?;
        let n = l.len().min(r.len());
        let mut at = 0;
        while at < n {
            let k = 4096.min(n - at);
            enc.encode_audio_block([&l[at..at + k], &r[at..at + k]])
                .map_err(err)?;
            at += k;
            progress.advance(k as u64 * OGG_WEIGHT)?;
        }
        enc.finish().map_err(err)?;
    }
    write_whole(path, &bytes)
}

/// An MP3 file of `l` and `r` (192 kbit/s constant, with the LAME tag that makes it
/// gapless): plays on every phone. Each frame is `OGG_WEIGHT` of `progress`.
pub fn write_mp3(
    path: &Path,
    l: &[f32],
    r: &[f32],
    sample_rate: u32,
    progress: &Progress,
) -> Result<(), ExportError> {
    if !matches!(sample_rate, 32_000 | 44_100 | 48_000) {
        return Err(ExportError::Mp3(format!(
            "an MP3 holds 32, 44.1 or 48 kHz, and the song is at {} kHz; `export ogg` makes the phone file at any rate",
            sample_rate as f64 / 1000.0
        )));
    }
    let mut enc = rusty_mp3::Mp3Encoder::new(rusty_mp3::Mp3EncoderConfig {
        bitrate_kbps: 192,
        vbr_quality: None,
    });
    let n = l.len().min(r.len());
    let mut block = Vec::with_capacity(2 * 4096);
    let mut at = 0;
    while at < n {
        let k = 4096.min(n - at);
        block.clear();
        block.extend(
            l[at..at + k]
                .iter()
                .zip(&r[at..at + k])
                .flat_map(|(a, b)| [*a, *b]),
        );
        enc.push_pcm_f32(&block, 2, sample_rate)
            .map_err(|e| ExportError::Mp3(e.to_string()))?;
        at += k;
        progress.advance(k as u64 * OGG_WEIGHT)?;
    }
    enc.finish();
    let mut bytes = Vec::new();
    while let Ok(p) = enc.next_packet() {
        bytes.extend(p);
    }
    write_whole(path, &bytes)
}

/// What a stem says of itself in its `bext` chunk.
#[derive(Clone, Debug)]
pub struct Bext {
    pub description: String,
    /// Frames from midnight (the song's start: 0).
    pub time_reference: u64,
}

fn to_i24(x: f32) -> i32 {
    (x.clamp(-1.0, 1.0) * 8_388_607.0).round() as i32
}

/// Writes `bytes` to `path` by way of a temporary file beside it.
fn write_whole(path: &Path, bytes: &[u8]) -> Result<(), ExportError> {
    let err = |source| ExportError::Write {
        path: path.to_owned(),
        source,
    };
    let tmp = path.with_extension("part");
    {
        let mut f = std::fs::File::create(&tmp).map_err(err)?;
        f.write_all(bytes).map_err(err)?;
        f.sync_all().map_err(err)?;
    }
    std::fs::rename(&tmp, path).map_err(err)
}

fn fixed(text: &str, len: usize) -> Vec<u8> {
    let mut b: Vec<u8> = text.bytes().filter(u8::is_ascii).take(len).collect();
    b.resize(len, 0);
    b
}

/// A 24-bit stereo WAV of `l` and `r`, with a `bext` chunk when given.
pub fn write_wav(
    path: &Path,
    l: &[f32],
    r: &[f32],
    sample_rate: u32,
    bext: Option<&Bext>,
) -> Result<(), ExportError> {
    let frames = l.len().min(r.len());
    let data_len = frames * 6;
    let mut out = Vec::with_capacity(data_len + 1024);
    out.extend_from_slice(b"RIFF\0\0\0\0WAVE");
    if let Some(b) = bext {
        let history = format!("A=PCM,F={sample_rate},W=24,M=stereo,T=Samspill\r\n");
        let mut chunk = Vec::new();
        chunk.extend(fixed(&b.description, 256));
        chunk.extend(fixed("Samspill", 32));
        chunk.extend(fixed("", 32));
        chunk.extend(fixed("", 10));
        chunk.extend(fixed("", 8));
        chunk.extend_from_slice(&(b.time_reference as u32).to_le_bytes());
        chunk.extend_from_slice(&((b.time_reference >> 32) as u32).to_le_bytes());
        chunk.extend_from_slice(&1u16.to_le_bytes()); // version 1
        chunk.extend([0u8; 64]); // UMID
        chunk.extend([0u8; 190]); // loudness (unused in v1) and reserved
        chunk.extend_from_slice(history.as_bytes());
        if chunk.len() % 2 == 1 {
            chunk.push(0);
        }
        out.extend_from_slice(b"bext");
        out.extend_from_slice(&(chunk.len() as u32).to_le_bytes());
        out.extend(chunk);
    }
    out.extend_from_slice(b"fmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&sample_rate.to_le_bytes());
    out.extend_from_slice(&(sample_rate * 6).to_le_bytes());
    out.extend_from_slice(&6u16.to_le_bytes());
    out.extend_from_slice(&24u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&(data_len as u32).to_le_bytes());
    for i in 0..frames {
        out.extend_from_slice(&to_i24(l[i]).to_le_bytes()[..3]);
        out.extend_from_slice(&to_i24(r[i]).to_le_bytes()[..3]);
    }
    let riff = (out.len() - 8) as u32;
    out[4..8].copy_from_slice(&riff.to_le_bytes());
    write_whole(path, &out)
}

/// A 24-bit stereo FLAC of `l` and `r`.
pub fn write_flac(path: &Path, l: &[f32], r: &[f32], sample_rate: u32) -> Result<(), ExportError> {
    use flacenc::component::BitRepr;
    use flacenc::error::Verify;
    let frames = l.len().min(r.len());
    let mut samples = Vec::with_capacity(frames * 2);
    for i in 0..frames {
        samples.push(to_i24(l[i]));
        samples.push(to_i24(r[i]));
    }
    let config = flacenc::config::Encoder::default()
        .into_verified()
        .map_err(|e| ExportError::Flac(format!("{e:?}")))?;
    let source = flacenc::source::MemSource::from_samples(&samples, 2, 24, sample_rate as usize);
    let stream = flacenc::encode_with_fixed_block_size(&config, source, config.block_size)
        .map_err(|e| ExportError::Flac(format!("{e:?}")))?;
    let mut sink = flacenc::bitsink::ByteSink::new();
    stream
        .write(&mut sink)
        .map_err(|e| ExportError::Flac(format!("{e:?}")))?;
    write_whole(path, sink.as_slice())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stem_reads_back_as_written_with_its_bext_chunk_before_the_audio() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("stem.wav");
        let l: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.01).sin() * 0.5).collect();
        let r: Vec<f32> = l.iter().map(|v| -v).collect();
        let bext = Bext {
            description: "Track 1".into(),
            time_reference: 0,
        };
        write_wav(&p, &l, &r, 48_000, Some(&bext)).unwrap();
        let mut rd = hound::WavReader::open(&p).unwrap();
        assert_eq!(rd.spec().bits_per_sample, 24);
        assert_eq!(rd.duration(), 1000);
        let v: Vec<i32> = rd.samples::<i32>().map(Result::unwrap).collect();
        assert_eq!(v[2], to_i24(l[1]));
        assert_eq!(v[3], to_i24(r[1]));
        let bytes = std::fs::read(&p).unwrap();
        assert_eq!(&bytes[12..16], b"bext");
        assert!(!dir.path().join("stem.part").exists());
    }
}
