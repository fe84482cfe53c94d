//! Saving and reopening loops. Capture: the control side allocates a buffer per track
//! and sends it in; the audio thread copies the loops into it a bounded number of
//! frames per block and hands it back. Preload: a new looper gets its loops before it
//! is installed, off the audio thread.

use crossbeam_channel::Sender;

use super::memory::Mapping;
use super::track::Mode;
use super::{Looper, Quantize, Speed, SyncMode};

/// Frames copied per processed block, all tracks together (about 128 KiB: tens of µs).
pub const CAPTURE_FRAMES_PER_BLOCK: usize = 16_384;
/// A loop that changes under the copy starts over; after this many times it is skipped.
const MAX_RESTARTS: u32 = 16;

/// What a saved track remembers besides its audio.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrackSettings {
    /// The loop's cycle (what multiply and sync count in); its length if unsure.
    pub cycle_frames: usize,
    /// Linear gain 0..4.
    pub volume: f32,
    /// -1 left .. +1 right.
    pub pan: f32,
    pub muted: bool,
    pub reversed: bool,
    pub speed: Speed,
    /// 0..1, how much survives an overdub pass.
    pub feedback: f32,
    /// Which source the track records from.
    pub source: u8,
}

impl Default for TrackSettings {
    fn default() -> Self {
        Self {
            cycle_frames: 0,
            volume: 1.0,
            pan: 0.0,
            muted: false,
            reversed: false,
            speed: Speed::Normal,
            feedback: 1.0,
            source: 0,
        }
    }
}

/// How much of a track a capture got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrackNote {
    /// The loop as it plays (or an empty track).
    Whole,
    /// An overdub, multiply, insert or replace was running: the loop from before it.
    WithoutOpInProgress,
    /// A new loop was being recorded: it is not in the capture.
    RecordingNotSaved,
    /// The loop is longer than the buffer that was sent for it.
    TooLong { frames: usize },
    /// The loop kept changing while it was copied (cleared, re-recorded).
    Changed,
}

/// How a capture as a whole ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaptureOutcome {
    /// Still being copied.
    Pending,
    Done,
    /// The engine has no looper.
    NoLooper,
    /// Another capture was running.
    Busy,
    /// A new looper was installed while copying.
    Interrupted,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Progress {
    Waiting,
    Copying,
    Finished,
}

/// One track's copy: its buffers are allocated by the control side.
pub struct TrackCapture {
    left: Box<[f32]>,
    right: Box<[f32]>,
    frames: usize,
    pub settings: TrackSettings,
    pub note: TrackNote,
    layer: usize,
    copied: usize,
    restarts: u32,
    progress: Progress,
}

impl TrackCapture {
    /// The captured loop, left and right.
    pub fn audio(&self) -> (&[f32], &[f32]) {
        let n = self.frames.min(self.left.len()).min(self.right.len());
        (&self.left[..n], &self.right[..n])
    }

    pub fn frames(&self) -> usize {
        self.frames
    }

    /// rt: ends this track's copy with nothing in it.
    fn skip(&mut self, note: TrackNote) {
        self.frames = 0;
        self.note = note;
        self.progress = Progress::Finished;
    }
}

/// A request for a copy of every loop, and (when it comes back) the copy.
pub struct LoopCapture {
    pub tracks: Vec<TrackCapture>,
    pub sample_rate: u32,
    pub sync: SyncMode,
    pub quantize: Quantize,
    /// The grid's cycle when the copy started (0: none).
    pub cycle_frames: u64,
    pub outcome: CaptureOutcome,
    reply: Option<Sender<Box<LoopCapture>>>,
    next: usize,
}

impl LoopCapture {
    /// Not rt: room for `frames[t]` frames of track `t`; the finished capture is sent
    /// to `reply` by whoever collects the engine's garbage.
    pub fn new(frames: &[usize], reply: Option<Sender<Box<LoopCapture>>>) -> Self {
        let tracks = frames
            .iter()
            .map(|&n| TrackCapture {
                // Written a piece per block by the audio thread: touched here, not there.
                left: super::memory::touched_zeros(n),
                right: super::memory::touched_zeros(n),
                frames: 0,
                settings: TrackSettings::default(),
                note: TrackNote::Whole,
                layer: 0,
                copied: 0,
                restarts: 0,
                progress: Progress::Waiting,
            })
            .collect();
        Self {
            tracks,
            sample_rate: 0,
            sync: SyncMode::Off,
            quantize: Quantize::Off,
            cycle_frames: 0,
            outcome: CaptureOutcome::Pending,
            reply,
            next: 0,
        }
    }

    /// Where the finished capture should go (taken once).
    pub fn take_reply(&mut self) -> Option<Sender<Box<LoopCapture>>> {
        self.reply.take()
    }
}

impl Looper {
    /// rt: starts a capture: the looper-wide settings now, each track's loop as it
    /// becomes stable.
    pub fn capture_begin(&self, cap: &mut LoopCapture) {
        cap.sample_rate = self.settings.sample_rate;
        cap.sync = self.settings.sync;
        cap.quantize = self.settings.quantize;
        cap.cycle_frames = self.grid.cycle_frames;
        cap.outcome = CaptureOutcome::Pending;
        cap.next = 0;
    }

    /// rt: copies at most `budget` frames of the capture; true when it is complete.
    pub fn capture_step(&mut self, cap: &mut LoopCapture, budget: usize) -> bool {
        let mut budget = budget;
        while let Some(tc) = cap.tracks.get_mut(cap.next) {
            let t = cap.next;
            let (Some(track), Some(mem)) = (self.tracks.get(t), self.memory.tracks.get_mut(t))
            else {
                tc.skip(TrackNote::Whole);
                cap.next += 1;
                continue;
            };
            match tc.progress {
                Progress::Finished => cap.next += 1,
                Progress::Waiting => {
                    if track.settling() {
                        return false; // a seam or punch-out of a few frames: next block
                    }
                    let pool = mem.pool().max(1);
                    let cur = track.layer();
                    let (layer, note) = match track.mode {
                        Mode::Off => (None, TrackNote::Whole),
                        Mode::Recording => (None, TrackNote::RecordingNotSaved),
                        Mode::Playing => (Some(cur), TrackNote::Whole),
                        // The layer being written is not stable; its parent is.
                        _ if track.undo_avail > 0 => (
                            Some((cur + pool - 1) % pool),
                            TrackNote::WithoutOpInProgress,
                        ),
                        _ => (None, TrackNote::WithoutOpInProgress),
                    };
                    let (volume, pan) = track.mix();
                    let (len, cycle) = layer
                        .and_then(|li| mem.layers.get(li))
                        .map_or((0, 0), |l| (l.len, l.cycle));
                    tc.settings = TrackSettings {
                        cycle_frames: cycle,
                        volume,
                        pan,
                        muted: track.muted,
                        reversed: track.reversed,
                        speed: track.speed,
                        feedback: track.feedback,
                        source: track.source.min(255) as u8,
                    };
                    if len > tc.left.len().min(tc.right.len()) {
                        tc.skip(TrackNote::TooLong { frames: len });
                    } else if len == 0 {
                        tc.skip(note);
                    } else {
                        tc.layer = layer.unwrap_or(cur);
                        tc.frames = len;
                        tc.note = note;
                        tc.copied = 0;
                        tc.progress = Progress::Copying;
                    }
                }
                Progress::Copying => {
                    // Reused for a new take, cleared, or written into: start over.
                    let same = mem
                        .layers
                        .get(tc.layer)
                        .is_some_and(|l| l.len == tc.frames && l.cycle == tc.settings.cycle_frames);
                    let written = track.layer() == tc.layer
                        && (track.mode != Mode::Playing || track.settling());
                    if !same || written {
                        tc.restarts += 1;
                        if tc.restarts > MAX_RESTARTS {
                            tc.skip(TrackNote::Changed);
                        } else {
                            tc.progress = Progress::Waiting;
                        }
                        continue;
                    }
                    while tc.copied < tc.frames && budget > 0 {
                        let i = tc.copied;
                        let end = tc.frames.min(i + budget);
                        let (Some(dl), Some(dr)) =
                            (tc.left.get_mut(i..end), tc.right.get_mut(i..end))
                        else {
                            break;
                        };
                        // As it sounds, filling nothing in (no chunk of the pool taken).
                        for ((p, l), r) in (i..end).zip(dl).zip(dr) {
                            (*l, *r) = mem.peek(tc.layer, p);
                        }
                        budget -= end - i;
                        tc.copied = end;
                    }
                    if tc.copied >= tc.frames {
                        tc.progress = Progress::Finished;
                        cap.next += 1;
                    } else if budget == 0 {
                        return false;
                    } else {
                        tc.skip(TrackNote::Changed); // out of range: cannot happen, never loop
                    }
                }
            }
        }
        cap.outcome = CaptureOutcome::Done;
        true
    }

    /// Not rt: `track` plays this loop from its top, as its only take (no undo
    /// history). Fails, changing nothing, when the loop is longer than the track holds.
    pub fn preload(
        &mut self,
        track: usize,
        left: &[f32],
        right: &[f32],
        settings: &TrackSettings,
    ) -> Result<(), usize> {
        let len = left.len().min(right.len());
        let (Some(t), Some(mem)) = (
            self.tracks.get_mut(track),
            self.memory.tracks.get_mut(track),
        ) else {
            return Err(len);
        };
        if len > mem.cap_frames() {
            return Err(len);
        }
        let cycle = if (1..=len).contains(&settings.cycle_frames) {
            settings.cycle_frames
        } else {
            len
        };
        for li in 0..mem.pool() {
            mem.release(li);
        }
        mem.reset_layer(0, Mapping::Fresh, len, cycle);
        // The pool holds a whole track: every frame finds a chunk.
        for (i, (l, r)) in left.iter().zip(right).enumerate() {
            if let Some(d) = mem.slot(0, i) {
                d.copy_from_slice(&[*l, *r]);
            }
        }
        t.preload(
            0,
            len,
            settings.volume,
            settings.pan,
            settings.muted,
            settings.reversed,
            settings.speed,
            settings.feedback,
        );
        t.source = settings.source as usize;
        self.refresh_wanted();
        Ok(())
    }

    /// Not rt: the grid restored around preloaded loops: a tempo grid starts now, a
    /// first-loop grid takes the saved cycle (set by the first track that has a loop).
    pub fn preload_sync(&mut self, sync: SyncMode, cycle_frames: u64) {
        self.set_sync(sync);
        if sync == SyncMode::FirstLoop && cycle_frames > 0 {
            self.grid.cycle_frames = cycle_frames;
            self.grid.origin = self.frame;
            if let Some(t) = self
                .tracks
                .iter_mut()
                .zip(self.memory.tracks.iter())
                .find(|(t, m)| t.len(m) > 0)
                .map(|(t, _)| t)
            {
                t.set_cycle = true;
            }
        }
    }
}
