//! Waveform overviews: the loudest sample of every `FRAMES_PER_PEAK` frames, one byte
//! each, made by the take writer as it writes (so a lane draws a take while it is being
//! recorded) and kept beside the take as `NAME.peaks`. A take without one (recovered
//! after a crash) has it made from its file.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Frames a byte of overview stands for (about 47 a second at 48 kHz).
pub const FRAMES_PER_PEAK: u64 = 1024;
const MAGIC: &[u8; 8] = b"SPPEAK1\n";

/// Makes an overview from frames as they come.
#[derive(Debug, Default)]
pub struct PeakMaker {
    loudest: f32,
    frames: u64,
    pub peaks: Vec<u8>,
}

/// A sample's size as a byte: 0 silence, 255 full scale.
fn byte(v: f32) -> u8 {
    (v.clamp(0.0, 1.0) * 255.0).round() as u8
}

impl PeakMaker {
    /// Interleaved stereo frames.
    pub fn push(&mut self, frames: &[f32]) {
        for f in frames.chunks_exact(2) {
            self.loudest = self.loudest.max(f[0].abs()).max(f[1].abs());
            self.frames += 1;
            if self.frames == FRAMES_PER_PEAK {
                self.peaks.push(byte(self.loudest));
                self.loudest = 0.0;
                self.frames = 0;
            }
        }
    }

    /// `n` frames of silence.
    pub fn push_silence(&mut self, mut n: u64) {
        while n > 0 {
            let k = n.min(FRAMES_PER_PEAK - self.frames);
            self.frames += k;
            n -= k;
            if self.frames == FRAMES_PER_PEAK {
                self.peaks.push(byte(self.loudest));
                self.loudest = 0.0;
                self.frames = 0;
            }
        }
    }

    /// The overview with the last part-filled byte too.
    pub fn finish(mut self) -> Vec<u8> {
        if self.frames > 0 {
            self.peaks.push(byte(self.loudest));
        }
        self.peaks
    }
}

/// Where a take's overview is kept.
pub fn peaks_path(take: &Path) -> PathBuf {
    take.with_extension("peaks")
}

/// Writes the overview beside the take, readable by its owner only.
pub fn save(take: &Path, peaks: &[u8]) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(peaks_path(take))?;
    f.write_all(MAGIC)?;
    f.write_all(peaks)?;
    Ok(())
}

/// The take's overview: the one kept beside it, or made from the file (and kept).
pub fn load_or_make(take: &Path) -> Option<Vec<u8>> {
    if let Ok(b) = std::fs::read(peaks_path(take)) {
        if let Some(p) = b.strip_prefix(MAGIC.as_slice()) {
            return Some(p.to_vec());
        }
    }
    let peaks = from_wav(take)?;
    let _ = save(take, &peaks);
    Some(peaks)
}

/// An overview read from a take's WAV file (any layout the song reader plays).
fn from_wav(take: &Path) -> Option<Vec<u8>> {
    let mut r = hound::WavReader::open(take).ok()?;
    let spec = r.spec();
    if spec.channels != 2 {
        return None;
    }
    let mut maker = PeakMaker::default();
    let mut frame = [0f32; 2];
    let mut i = 0;
    let scale = match spec.sample_format {
        hound::SampleFormat::Float => 1.0,
        hound::SampleFormat::Int => 1.0 / ((1u64 << (spec.bits_per_sample - 1)) - 1) as f32,
    };
    let mut put = |v: f32| {
        frame[i] = v;
        i += 1;
        if i == 2 {
            maker.push(&frame);
            i = 0;
        }
    };
    match spec.sample_format {
        hound::SampleFormat::Float => r.samples::<f32>().map_while(Result::ok).for_each(put),
        hound::SampleFormat::Int => r
            .samples::<i32>()
            .map_while(Result::ok)
            .for_each(|s| put(s as f32 * scale)),
    }
    Some(maker.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_overview_is_the_loudest_sample_of_each_stretch_and_survives_the_disk() {
        let mut m = PeakMaker::default();
        let n = FRAMES_PER_PEAK as usize;
        let mut frames = vec![0f32; 2 * (2 * n + 10)];
        frames[2 * 5 + 1] = -0.5; // right channel, first stretch
        frames[2 * (n + 7)] = 1.5; // clipped, second stretch
        frames[2 * (2 * n + 3)] = 0.25; // the part-filled last one
        m.push(&frames[..300]);
        m.push(&frames[300..]);
        m.push_silence(FRAMES_PER_PEAK);
        assert_eq!(m.finish(), vec![128, 255, 64, 0]);

        let dir = tempfile::tempdir().unwrap();
        let take = dir.path().join("track01-take001.wav");
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 48_000,
            bits_per_sample: 24,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&take, spec).unwrap();
        for i in 0..3 * n {
            let v = if i / n == 1 { 4_194_304 } else { 0 };
            w.write_sample(v).unwrap();
            w.write_sample(-v).unwrap();
        }
        w.finalize().unwrap();
        let made = load_or_make(&take).unwrap();
        assert_eq!(made, vec![0, 128, 0]);
        assert!(peaks_path(&take).is_file());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(peaks_path(&take))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // Kept, it is read back as it was, not made again.
        save(&take, &[1, 2, 3]).unwrap();
        assert_eq!(load_or_make(&take).unwrap(), vec![1, 2, 3]);
        std::fs::write(peaks_path(&take), b"garbage").unwrap();
        assert_eq!(load_or_make(&take).unwrap(), vec![0, 128, 0]);
    }
}
