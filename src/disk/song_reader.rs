//! The song reader: a thread per playing song keeps each track's ring filled seconds
//! ahead with its kept takes, read from disk in order (a later take over an earlier one
//! where they overlap, faded over it at its ends when it was punched in), silence
//! between them. A cycle plays its bars round and round: the rings hold the song as it
//! is heard, not as it is laid out.

use std::fs::File;
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
    /// Frames into the file where the take begins.
    pub offset: u64,
    /// Frames at each end faded over what is under it.
    pub fade: u64,
}

/// A track to play: its kept takes, its level (left, right), and a stretch of song
/// frames played as silence (what a punch is recording over).
#[derive(Clone, Debug)]
pub struct TrackPlan {
    pub takes: Vec<PlacedTake>,
    pub gain_l: f32,
    pub gain_r: f32,
    pub hole: Option<(u64, u64)>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("the take {path} cannot be played: {why}")]
    Take { path: PathBuf, why: String },
}

struct OpenTake {
    placed: PlacedTake,
    file: File,
    layout: crate::disk::wav_repair::Layout,
    /// Frames the file's data holds.
    frames: u64,
    bytes: Vec<u8>,
}

impl OpenTake {
    /// Frames `offset ..` of the take into `dst` (interleaved stereo), as many as it has;
    /// read straight from the file and converted in one pass (a sample reader's
    /// per-sample calls were most of an export's time).
    fn read(&mut self, offset: u64, dst: &mut [f32]) {
        use std::os::unix::fs::FileExt;
        let want = (dst.len() / 2) as u64;
        let offset = offset + self.placed.offset;
        let n = want.min(self.frames.saturating_sub(offset)) as usize;
        let (align, bits) = (self.layout.block_align as usize, self.layout.bits);
        self.bytes.resize(n * align, 0);
        let at = self.layout.data_start + offset * align as u64;
        if n == 0 || self.file.read_exact_at(&mut self.bytes, at).is_err() {
            return;
        }
        let sample = align / 2;
        for (d, b) in dst.iter_mut().zip(self.bytes.chunks_exact(sample)) {
            *d = match (bits, self.layout.float) {
                (32, true) => f32::from_le_bytes([b[0], b[1], b[2], b[3]]),
                (24, false) => {
                    (i32::from_le_bytes([0, b[0], b[1], b[2]]) >> 8) as f32 / 8_388_607.0
                }
                (16, false) => i16::from_le_bytes([b[0], b[1]]) as f32 / 32_767.0,
                (32, false) => {
                    i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f32 / 2_147_483_647.0
                }
                _ => 0.0,
            };
        }
    }
}

struct TrackReader {
    takes: Vec<OpenTake>,
    hole: Option<(u64, u64)>,
    ring: HeapProd<f32>,
    /// The frame of the song as heard (round a cycle) the next block starts at.
    position: u64,
    cycle: Option<(u64, u64)>,
    block: Vec<f32>,
    scratch: Vec<f32>,
}

/// The song frame heard at `t` frames into the playing (a cycle goes round).
pub fn song_frame(t: u64, cycle: Option<(u64, u64)>) -> u64 {
    match cycle {
        Some((a, b)) if t >= b && b > a => a + (t - a) % (b - a),
        _ => t,
    }
}

impl TrackReader {
    /// One block of the track at its position into the ring; false when it has no room.
    fn fill_block(&mut self) -> bool {
        let room = self.ring.vacant_len() / 2;
        if room < BLOCK {
            return false;
        }
        let mut done = 0;
        while done < BLOCK {
            let at = song_frame(self.position + done as u64, self.cycle);
            let run = match self.cycle {
                Some((_, b)) if at < b => (BLOCK - done).min((b - at) as usize),
                _ => BLOCK - done,
            };
            let piece = &mut self.block[2 * done..2 * (done + run)];
            read_block(&mut self.takes, self.hole, at, piece, &mut self.scratch);
            done += run;
        }
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
        let layout =
            crate::disk::wav_repair::read_layout(&placed.path).map_err(|e| err(e.to_string()))?;
        let supported = matches!(
            (layout.bits, layout.float),
            (32, true) | (16 | 24 | 32, false)
        );
        if layout.channels != 2 || layout.sample_rate != sample_rate || !supported {
            return Err(err(format!(
                "it is {} channels of {}-bit {} at {} Hz, the song plays 2 at {sample_rate} Hz",
                layout.channels,
                layout.bits,
                if layout.float { "float" } else { "integers" },
                layout.sample_rate
            )));
        }
        if layout.block_align != layout.bits / 8 * 2 {
            return Err(err("its frames are not what its format says".into()));
        }
        let file = File::open(&placed.path).map_err(|e| err(e.to_string()))?;
        let len = file.metadata().map_err(|e| err(e.to_string()))?.len();
        let frames = len.saturating_sub(layout.data_start) / layout.block_align as u64;
        open.push(OpenTake {
            placed,
            file,
            layout,
            frames,
            bytes: Vec::new(),
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
    let mut scratch = Vec::new();
    let mut p = 0usize;
    while p < frames {
        read_block(&mut takes, None, p as u64, &mut block, &mut scratch);
        let n = BLOCK.min(frames - p);
        for (i, f) in block[..2 * n].chunks_exact(2).enumerate() {
            l[p + i] = f[0] * gain_l;
            r[p + i] = f[1] * gain_r;
        }
        p += n;
    }
    Ok((l, r))
}

/// Song frames `p ..` of `takes` into `block` (interleaved stereo, silence between takes
/// and in the `hole`).
fn read_block(
    takes: &mut [OpenTake],
    hole: Option<(u64, u64)>,
    p: u64,
    block: &mut [f32],
    scratch: &mut Vec<f32>,
) {
    let n = (block.len() / 2) as u64;
    block.fill(0.0);
    for t in takes {
        let (s, frames) = (t.placed.start, t.placed.frames);
        let e = s + frames;
        if e <= p || s >= p + n {
            continue;
        }
        let from = p.max(s);
        let to = (p + n).min(e);
        let want = ((to - from) * 2) as usize;
        let dst = &mut block[((from - p) * 2) as usize..][..want];
        let fade = t.placed.fade.min(frames / 2);
        if fade == 0 {
            t.read(from - s, dst);
            continue;
        }
        // Punched in: the take's ends fade over what the track had there.
        scratch.clear();
        scratch.resize(want, 0.0);
        t.read(from - s, scratch);
        for (i, (d, new)) in dst
            .chunks_exact_mut(2)
            .zip(scratch.chunks_exact(2))
            .enumerate()
        {
            let k = from - s + i as u64;
            let g = if k < fade {
                (k as f32 + 0.5) / fade as f32
            } else if k >= frames - fade {
                ((frames - k) as f32 - 0.5) / fade as f32
            } else {
                1.0
            };
            d[0] = d[0] * (1.0 - g) + new[0] * g;
            d[1] = d[1] * (1.0 - g) + new[1] * g;
        }
    }
    if let Some((a, b)) = hole {
        let (lo, hi) = (a.clamp(p, p + n), b.clamp(p, p + n));
        block[((lo - p) * 2) as usize..((hi - p) * 2) as usize].fill(0.0);
    }
}

/// The streams for the engine and the reader that feeds them, every ring already full:
/// the song can start at once, from song frame `from`, going round `cycle` (song frames
/// from, until) when given.
pub fn prepare(
    tracks: Vec<TrackPlan>,
    sample_rate: u32,
    from: u64,
    cycle: Option<(u64, u64)>,
) -> Result<(Vec<TrackStream>, SongReader), ReadError> {
    let mut streams = Vec::new();
    let mut readers = Vec::new();
    for plan in tracks {
        let open = open_takes(plan.takes, sample_rate)?;
        let (prod, cons) = HeapRb::<f32>::new(sample_rate as usize * AHEAD_SECS * 2).split();
        let mut r = TrackReader {
            takes: open,
            hole: plan.hole,
            ring: prod,
            position: from,
            cycle,
            block: vec![0.0; BLOCK * 2],
            scratch: Vec::new(),
        };
        r.fill();
        readers.push(r);
        streams.push(TrackStream {
            ring: cons,
            gain_l: plan.gain_l,
            gain_r: plan.gain_r,
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
