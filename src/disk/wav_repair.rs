//! Repair of a WAV file that a crash, a power cut or a full disk cut off: its header
//! still says how long it was at the last sync (or nothing at all), while the data goes
//! on. The sizes are set from what is really in the file, in whole frames.

use std::fs::OpenOptions;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// A header is looked for this far into the file.
const HEADER_SEARCH: u64 = 1 << 16;

/// What a repaired file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repaired {
    pub frames: u64,
    pub channels: u16,
    pub sample_rate: u32,
    /// Whether anything had to change.
    pub was_damaged: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum RepairError {
    #[error("could not read or mend {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} holds no recording that can be saved (its beginning is missing or damaged)")]
    NotWav { path: PathBuf },
}

/// Sets the RIFF and data sizes of the WAV file at `path` from its length (a partial last
/// frame is cut off), and syncs it. A file that is whole is left as it is.
pub fn repair_wav(path: &Path) -> Result<Repaired, RepairError> {
    let io = |source| RepairError::Io {
        path: path.to_owned(),
        source,
    };
    let not_wav = || RepairError::NotWav {
        path: path.to_owned(),
    };
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(io)?;
    let len = f.metadata().map_err(io)?.len();
    let mut head = Vec::new();
    (&mut f)
        .take(HEADER_SEARCH.min(len))
        .read_to_end(&mut head)
        .map_err(io)?;
    let layout = find_layout(&head).ok_or_else(not_wav)?;
    let room = len.saturating_sub(layout.data_start);
    let align = layout.block_align as u64;
    // A WAV file counts in 32 bits.
    let max_data = (u32::MAX as u64 - layout.data_start) / align * align;
    let data_len = (room / align * align).min(max_data);
    let end = layout.data_start + data_len;
    let riff = (end - 8) as u32;
    let data = data_len as u32;
    let old_riff = u32_at(&head, 4);
    let old_data = u32_at(&head, layout.data_start as usize - 4);
    let damaged = end != len || old_riff != Some(riff) || old_data != Some(data);
    if damaged {
        if end != len {
            f.set_len(end).map_err(io)?;
        }
        f.seek(SeekFrom::Start(4)).map_err(io)?;
        f.write_all(&riff.to_le_bytes()).map_err(io)?;
        f.seek(SeekFrom::Start(layout.data_start - 4)).map_err(io)?;
        f.write_all(&data.to_le_bytes()).map_err(io)?;
        f.sync_all().map_err(io)?;
    }
    Ok(Repaired {
        frames: data_len / align,
        channels: layout.channels,
        sample_rate: layout.sample_rate,
        was_damaged: damaged,
    })
}

/// Where a WAV file's sound is and how it is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    pub data_start: u64,
    pub channels: u16,
    pub sample_rate: u32,
    pub block_align: u16,
    pub bits: u16,
    /// IEEE float samples (else integers).
    pub float: bool,
}

/// Reads where the sound of the WAV file at `path` is and how it is stored.
pub fn read_layout(path: &Path) -> Result<Layout, RepairError> {
    let io = |source| RepairError::Io {
        path: path.to_owned(),
        source,
    };
    let f = std::fs::File::open(path).map_err(io)?;
    let mut head = Vec::new();
    f.take(HEADER_SEARCH).read_to_end(&mut head).map_err(io)?;
    find_layout(&head).ok_or_else(|| RepairError::NotWav {
        path: path.to_owned(),
    })
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

/// The format and where the data starts: chunks are walked from the top, whatever
/// sizes a cut-off header says of the data chunk itself.
fn find_layout(head: &[u8]) -> Option<Layout> {
    if head.get(0..4)? != b"RIFF" || head.get(8..12)? != b"WAVE" {
        return None;
    }
    let mut at = 12usize;
    let mut fmt: Option<(u16, u32, u16, u16, bool)> = None;
    while at + 8 <= head.len() {
        let id = &head[at..at + 4];
        let size = u32_at(head, at + 4)? as usize;
        if id == b"fmt " {
            let tag = u16_at(head, at + 8)?;
            let channels = u16_at(head, at + 10)?;
            let rate = u32_at(head, at + 12)?;
            let align = u16_at(head, at + 20)?;
            let bits = u16_at(head, at + 22)?;
            if channels == 0 || align == 0 || rate == 0 {
                return None;
            }
            // WAVE_FORMAT_EXTENSIBLE names the format in its sub-format's first bytes.
            let tag = if tag == 0xFFFE {
                u16_at(head, at + 32).unwrap_or(1)
            } else {
                tag
            };
            fmt = Some((channels, rate, align, bits, tag == 3));
        } else if id == b"data" {
            let (channels, sample_rate, block_align, bits, float) = fmt?;
            return Some(Layout {
                data_start: (at + 8) as u64,
                channels,
                sample_rate,
                block_align,
                bits,
                float,
            });
        }
        at = at.checked_add(8 + size + (size & 1))?;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(bits: u16, float: bool) -> hound::WavSpec {
        hound::WavSpec {
            channels: 2,
            sample_rate: 48_000,
            bits_per_sample: bits,
            sample_format: if float {
                hound::SampleFormat::Float
            } else {
                hound::SampleFormat::Int
            },
        }
    }

    /// A file as a crash leaves it: the header synced after `synced` frames, data up
    /// to `written` frames, and `extra` bytes of a frame begun.
    fn crashed(path: &Path, s: hound::WavSpec, synced: u32, written: u32, extra: usize) {
        // Unbuffered, so every sample written is in the file when the "crash" comes.
        let mut w = hound::WavWriter::new(std::fs::File::create(path).unwrap(), s).unwrap();
        for i in 0..written * 2 {
            if i == synced * 2 {
                w.flush().unwrap();
            }
            if s.sample_format == hound::SampleFormat::Float {
                w.write_sample(i as f32 / 1e4).unwrap();
            } else {
                w.write_sample(i as i32 - 5000).unwrap();
            }
        }
        if synced >= written {
            w.flush().unwrap();
        }
        // The process dies: nothing more reaches the header.
        std::mem::forget(w);
        let mut f = OpenOptions::new().append(true).open(path).unwrap();
        f.write_all(&vec![7u8; extra]).unwrap();
    }

    #[test]
    fn a_take_cut_off_anywhere_comes_back_to_its_last_whole_frame() {
        let dir = tempfile::tempdir().unwrap();
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        let mut next = |m: u32| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            (rng % m as u64) as u32
        };
        for case in 0..60 {
            let (bits, float) = [(24, false), (16, false), (32, true)][case % 3];
            let written = 1 + next(3000);
            let synced = next(written + 1);
            // Part of a frame: fewer bytes than a whole one.
            let extra = next(bits as u32 / 8 * 2) as usize;
            let p = dir.path().join(format!("t{case}.wav"));
            crashed(&p, spec(bits, float), synced, written, extra);
            let r = repair_wav(&p).unwrap();
            assert_eq!(r.frames, written as u64, "case {case}");
            assert_eq!((r.channels, r.sample_rate), (2, 48_000));
            let mut rd = hound::WavReader::open(&p).unwrap();
            assert_eq!(rd.duration(), written, "case {case}");
            if float {
                let v: Vec<f32> = rd.samples::<f32>().map(Result::unwrap).collect();
                assert_eq!(v.len(), written as usize * 2);
                assert!(v.iter().enumerate().all(|(i, s)| *s == i as f32 / 1e4));
            } else {
                let v: Vec<i32> = rd.samples::<i32>().map(Result::unwrap).collect();
                assert!(v.iter().enumerate().all(|(i, s)| *s == i as i32 - 5000));
            }
            // Mended once, it is whole.
            assert!(!repair_wav(&p).unwrap().was_damaged);
        }
    }

    #[test]
    fn garbage_and_cut_off_beginnings_are_refused_in_words_and_never_panic() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.wav");
        crashed(&good, spec(24, false), 100, 100, 0);
        let bytes = std::fs::read(&good).unwrap();
        let data_at = bytes.windows(4).position(|w| w == b"data").unwrap();
        let p = dir.path().join("bad.wav");
        let mut rng = 99u64;
        for cut in 0..data_at + 8 {
            std::fs::write(&p, &bytes[..cut]).unwrap();
            assert!(matches!(repair_wav(&p), Err(RepairError::NotWav { .. })));
        }
        for _ in 0..2000 {
            let mut b = bytes.clone();
            for _ in 0..4 {
                rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1);
                let i = (rng >> 33) as usize % (data_at + 8);
                b[i] = (rng >> 20) as u8;
            }
            std::fs::write(&p, &b).unwrap();
            if let Ok(r) = repair_wav(&p) {
                assert!(r.channels > 0 && r.sample_rate > 0);
            }
        }
        let e = repair_wav(&dir.path().join("missing.wav")).unwrap_err();
        assert!(e.to_string().contains("missing.wav"), "{e}");
    }
}
