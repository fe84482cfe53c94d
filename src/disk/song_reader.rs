//! The song reader: a thread per playing song keeps each track's ring filled seconds
//! ahead with its kept takes, read from disk in order (a later take over an earlier one
//! where they overlap), silence between them.

use std::fs::File;
use std::io::BufReader;
use std::path::PathBuf;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use ringbuf::traits::{Observer, Producer, Split};
use ringbuf::{HeapProd, HeapRb};

use crate::engine::song_player::{PlaybackStatus, TrackStream};

/// Frames read at once.
const BLOCK: usize = 4096;
/// Seconds each track's ring holds.
pub const AHEAD_SECS: usize = 4;

/// A take as it sits in a track: its file, and where in the song it starts.
#[derive(Clone, Debug)]
pub struct PlacedTake {
    pub path: PathBuf,
    pub start: u64,
    pub frames: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("the take {path} cannot be played: {why}")]
    Take { path: PathBuf, why: String },
}

struct OpenTake {
    placed: PlacedTake,
    reader: hound::WavReader<BufReader<File>>,
    scale: f32,
    float: bool,
    /// The frame the reader is at.
    at: u64,
}

struct TrackReader {
    takes: Vec<OpenTake>,
    ring: HeapProd<f32>,
    /// The song frame the next block starts at.
    position: u64,
    block: Vec<f32>,
}

impl TrackReader {
    /// One block of the track at its position into the ring; false when it has no room.
    fn fill_block(&mut self) -> bool {
        let room = self.ring.vacant_len() / 2;
        if room < BLOCK {
            return false;
        }
        read_block(&mut self.takes, self.position, &mut self.block);
        self.ring.push_slice(&self.block);
        self.position += BLOCK as u64;
        true
    }

    fn fill(&mut self) {
        while self.fill_block() {}
    }
}

fn open_takes(takes: Vec<PlacedTake>, sample_rate: u32) -> Result<Vec<OpenTake>, ReadError> {
    let mut open = Vec::new();
    for placed in takes {
        let err = |why: String| ReadError::Take {
            path: placed.path.clone(),
            why,
        };
        let reader = hound::WavReader::open(&placed.path).map_err(|e| err(e.to_string()))?;
        let spec = reader.spec();
        if spec.channels != 2 || spec.sample_rate != sample_rate {
            return Err(err(format!(
                "it is {} channels at {} Hz, the song plays 2 at {sample_rate} Hz",
                spec.channels, spec.sample_rate
            )));
        }
        open.push(OpenTake {
            placed,
            scale: 1.0 / ((1u64 << (spec.bits_per_sample.clamp(1, 32) - 1)) - 1) as f32,
            float: spec.sample_format == hound::SampleFormat::Float,
            reader,
            at: 0,
        });
    }
    Ok(open)
}

/// A track's kept takes laid out from song frame 0 for `frames`, at its level
/// (left, right): what the song plays for it, whole (stems, bounces).
pub fn render_track(
    takes: Vec<PlacedTake>,
    gain_l: f32,
    gain_r: f32,
    sample_rate: u32,
    frames: usize,
) -> Result<(Vec<f32>, Vec<f32>), ReadError> {
    let mut takes = open_takes(takes, sample_rate)?;
    let (mut l, mut r) = (vec![0f32; frames], vec![0f32; frames]);
    let mut block = vec![0f32; BLOCK * 2];
    let mut p = 0usize;
    while p < frames {
        read_block(&mut takes, p as u64, &mut block);
        let n = BLOCK.min(frames - p);
        for (i, f) in block[..2 * n].chunks_exact(2).enumerate() {
            l[p + i] = f[0] * gain_l;
            r[p + i] = f[1] * gain_r;
        }
        p += n;
    }
    Ok((l, r))
}

/// Song frames `p ..` of `takes` into `block` (interleaved stereo, silence between takes).
fn read_block(takes: &mut [OpenTake], p: u64, block: &mut [f32]) {
    let n = (block.len() / 2) as u64;
    block.fill(0.0);
    for t in takes {
        let (s, e) = (t.placed.start, t.placed.start + t.placed.frames);
        if e <= p || s >= p + n {
            continue;
        }
        let from = p.max(s);
        let to = (p + n).min(e);
        let offset = from - s;
        if t.at != offset && t.reader.seek(offset as u32).is_err() {
            continue;
        }
        let want = ((to - from) * 2) as usize;
        let dst = &mut block[((from - p) * 2) as usize..][..want];
        let mut got = 0;
        if t.float {
            for (d, v) in dst.iter_mut().zip(t.reader.samples::<f32>()) {
                *d = v.unwrap_or(0.0);
                got += 1;
            }
        } else {
            for (d, v) in dst.iter_mut().zip(t.reader.samples::<i32>()) {
                *d = v.map_or(0.0, |v| v as f32 * t.scale);
                got += 1;
            }
        }
        t.at = offset + got as u64 / 2;
    }
}

/// The streams for the engine and the reader that feeds them, every ring already full:
/// the song can start at once. `tracks`: each track's takes and its (left, right) level.
pub fn prepare(
    tracks: Vec<(Vec<PlacedTake>, f32, f32)>,
    sample_rate: u32,
    from: u64,
) -> Result<(Vec<TrackStream>, SongReader), ReadError> {
    let mut streams = Vec::new();
    let mut readers = Vec::new();
    for (takes, gain_l, gain_r) in tracks {
        let open = open_takes(takes, sample_rate)?;
        let (prod, cons) = HeapRb::<f32>::new(sample_rate as usize * AHEAD_SECS * 2).split();
        let mut r = TrackReader {
            takes: open,
            ring: prod,
            position: from,
            block: vec![0.0; BLOCK * 2],
        };
        r.fill();
        readers.push(r);
        streams.push(TrackStream {
            ring: cons,
            gain_l,
            gain_r,
        });
    }
    Ok((streams, SongReader { tracks: readers }))
}

/// Keeps the rings full while the song plays.
pub struct SongReader {
    tracks: Vec<TrackReader>,
}

impl SongReader {
    /// Fills every ring as far as it goes (offline: between the engine's blocks).
    pub fn fill(&mut self) {
        for t in &mut self.tracks {
            t.fill();
        }
    }

    /// On a thread of its own until the engine lets go of the song.
    pub fn run(mut self, status: Arc<PlaybackStatus>) -> std::io::Result<()> {
        std::thread::Builder::new()
            .name("song reader".into())
            .spawn(move || {
                while !status.done.load(Relaxed) {
                    for t in &mut self.tracks {
                        t.fill();
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            })
            .map(|_| ())
    }
}
