//! The audio-thread half of the live looper (SooperLooper is the peer it follows):
//! 1–8 stereo tracks that record from a chosen source, overdub, multiply, insert,
//! replace, substitute, undo/redo, reverse, change speed and play once, in sync with a
//! cycle set by the first loop or by a tempo. Every jump is crossfaded, so nothing clicks.
//!
//! Memory (`LoopMemory`) is built off the audio thread and handed in a `Box`; nothing
//! here allocates, locks or panics.
//!
//! Wiring (for the engine): call [`Looper::command`] at the frame a command applies (the
//! engine already splits blocks at command frames), then [`Looper::process`] for each
//! piece with the stereo sources (index 0 live inputs, 1 instruments, 2 full mix — the
//! engine's choice, tracks pick one with `LoopOp::SetSource`), and read
//! [`Looper::state`] for meters and OSC.

pub mod memory;
pub mod snapshot;
pub mod sync;
pub(crate) mod track;

#[cfg(test)]
mod tests;

pub use memory::LoopMemory;
pub use snapshot::{CaptureOutcome, LoopCapture, TrackCapture, TrackNote, TrackSettings};
pub use sync::{Click, Grid, Quantize, SyncMode};

use super::level::bigger;
use super::shared::LoopMeter;
use std::sync::atomic::Ordering::Relaxed;
use track::{Ctx, Mode, Track};

pub use super::shared::MAX_TRACKS;
/// Default crossfade at seams, punches, mutes and jumps.
pub const DEFAULT_XFADE_FRAMES: u32 = 64;

/// The stereo pair a track records from: `(left, right)` slices of the current piece.
pub type Stereo<'a> = (&'a [f32], &'a [f32]);

/// Source index conventions the engine is expected to follow: every live input, the
/// instruments, the mix as heard before the loops, then each input alone.
pub const SOURCE_INPUTS: u8 = 0;
pub const SOURCE_INSTRUMENTS: u8 = 1;
pub const SOURCE_MIX: u8 = 2;
/// Input strip `k` alone is source `SOURCE_INPUT_BASE + k`.
pub const SOURCE_INPUT_BASE: u8 = 3;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Speed {
    Half,
    Normal,
    Double,
}

/// What a track is asked to do (small and `Copy`, for the engine's command queue).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LoopOp {
    /// Start (quantized if set) or stop recording a new loop.
    Record,
    /// Record exactly this many bars of the grid, then play (plain record without a grid).
    RecordBars(u32),
    Overdub,
    /// Overdub while the loop repeats underneath, growing it by whole cycles.
    Multiply,
    /// Insert new material at the head, pushing the rest later (whole cycles).
    Insert,
    /// Replace the loop with the input while held; the loop is silent meanwhile.
    Replace,
    /// Replace, but keep hearing the old loop while recording.
    Substitute,
    Undo,
    Redo,
    Clear,
    Mute,
    Solo,
    Reverse,
    HalfSpeed,
    DoubleSpeed,
    NormalSpeed,
    /// Play from the top once, then mute.
    OneShot,
    /// Play from the top (and unmute).
    Trigger,
    Pause,
    /// Drop a quantized op that is waiting (record start or stop, multiply end).
    CancelPending,
    /// 0..1, how much of the loop survives each overdub pass.
    SetFeedback(f32),
    /// Linear gain 0..4.
    SetVolume(f32),
    /// -1 left .. +1 right.
    SetPan(f32),
    /// Index into the sources the engine passes to `process`.
    SetSource(u8),
}

/// Settings fixed when the looper is built (and some changeable later, see setters).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LooperSettings {
    pub sample_rate: u32,
    pub xfade_frames: u32,
    pub sync: SyncMode,
    pub quantize: Quantize,
    pub count_in: bool,
    pub click: bool,
    /// Linear gain of the click.
    pub click_gain: f32,
    pub latency_frames: usize,
    /// Background copying of undo levels, in frames per processed frame.
    pub copy_rate: usize,
}

impl Default for LooperSettings {
    fn default() -> Self {
        Self {
            sample_rate: 48_000,
            xfade_frames: DEFAULT_XFADE_FRAMES,
            sync: SyncMode::FirstLoop,
            quantize: Quantize::Off,
            count_in: false,
            click: false,
            click_gain: 0.5,
            latency_frames: 0,
            copy_rate: 32,
        }
    }
}

/// A snapshot of one track, for meters and OSC.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrackState {
    /// SooperLooper's state number: 0 off, 1 waitstart, 2 recording, 3 waitstop,
    /// 4 playing, 5 overdubbing, 6 multiplying, 7 inserting, 8 replacing, 10 muted,
    /// 12 oneshot, 13 substituting, 14 paused.
    pub state: u8,
    pub loop_len: usize,
    pub loop_pos: usize,
    pub cycle_len: usize,
    /// A quantized op waiting, and the looper frame it is due at.
    pub pending: Option<(LoopOp, u64)>,
    pub undo_levels: usize,
    pub redo_levels: usize,
    pub reversed: bool,
    pub speed: Speed,
    /// The last recording stopped because the track's memory was full.
    pub full: bool,
    /// How often that has happened.
    pub full_count: u32,
    /// Undo levels given up: an op found every buffer still being filled in, or the
    /// loop memory needed the chunks of the oldest level.
    pub undo_dropped: u32,
    pub source: u8,
}

/// The looper: lives in the engine.
/// Fields are open to the crate for `prep::looper_rate`, which carries a looper to a new
/// sample rate off the audio thread.
pub struct Looper {
    pub(crate) memory: Box<LoopMemory>,
    pub(crate) tracks: Vec<Track>,
    pub(crate) solo: [bool; MAX_TRACKS],
    pub(crate) grid: Grid,
    click: Click,
    pub(crate) settings: LooperSettings,
    pub(crate) frame: u64,
    /// Block-wise rendering of the settled cases (off only to test it against `tick`).
    pub(crate) fast_path: bool,
    /// The CPU has AVX2 (asked once, when built).
    wide_simd: bool,
    /// `sources_wanted`, kept up to date where a source changes.
    wanted: u64,
}

impl Looper {
    /// Not rt: one track per track of `memory`.
    pub fn new(memory: Box<LoopMemory>, settings: LooperSettings) -> Self {
        let x = settings.xfade_frames.max(1);
        let tracks = (0..memory.tracks.len()).map(|_| Track::new(x, 0)).collect();
        Self {
            tracks,
            solo: [false; MAX_TRACKS],
            grid: Grid::new(settings.sync, settings.sample_rate),
            click: Click::new(settings.sample_rate),
            memory,
            settings,
            frame: 0,
            fast_path: true,
            wide_simd: track::wide_simd(),
            // Every new track records the inputs.
            wanted: 1 << SOURCE_INPUTS,
        }
    }

    /// Test only: renders every frame through the general per-frame path.
    #[cfg(test)]
    pub(crate) fn set_fast_path(&mut self, on: bool) {
        self.fast_path = on;
    }

    pub fn tracks(&self) -> usize {
        self.tracks.len()
    }

    /// rt: the sources some track records from, a bit per source index (the engine
    /// skips preparing a source nobody listens to).
    pub fn sources_wanted(&self) -> u64 {
        self.wanted
    }

    /// rt: after a track's source changed.
    pub(crate) fn refresh_wanted(&mut self) {
        self.wanted = self
            .tracks
            .iter()
            .filter(|t| t.source < 64)
            .fold(0, |m, t| m | 1 << t.source);
    }

    /// Frames processed so far (the looper's clock; the grid counts in it).
    pub fn frame(&self) -> u64 {
        self.frame
    }

    /// The rate the looper's frames are counted at.
    pub fn sample_rate(&self) -> u32 {
        self.settings.sample_rate
    }

    /// Bytes of loop memory this looper holds.
    pub fn memory_bytes(&self) -> usize {
        self.memory.bytes()
    }

    pub fn grid(&self) -> &Grid {
        &self.grid
    }

    /// rt: input reaches us `frames` late (the round trip); recordings are written that
    /// much earlier in the loop so they land where the player heard them.
    pub fn set_latency_compensation(&mut self, frames: usize) {
        self.settings.latency_frames = frames;
    }

    /// rt: a tempo grid starts now; a first-loop grid takes the longest loop playing,
    /// if any.
    pub fn set_sync(&mut self, mode: SyncMode) {
        // What is kept here is saved with a jam: only tempos the program takes.
        let mode = mode.within_range();
        self.settings.sync = mode;
        self.grid
            .set_mode(mode, self.settings.sample_rate, self.frame);
    }

    /// rt: which grid point later record starts and stops wait for.
    pub fn set_quantize(&mut self, q: Quantize) {
        self.settings.quantize = q;
    }

    /// rt: the click on the grid, heard with the loops.
    pub fn set_click(&mut self, on: bool) {
        self.settings.click = on;
    }

    /// rt: a bar of click before a recording that waits for the grid.
    pub fn set_count_in(&mut self, on: bool) {
        self.settings.count_in = on;
    }

    /// rt: applies `op` to `track` at the current frame (or parks it for its grid point).
    pub fn command(&mut self, track: usize, op: LoopOp) {
        if op == LoopOp::Solo {
            if let Some(s) = self.solo.get_mut(track) {
                *s = !*s;
            }
            self.update_solo();
            return;
        }
        let (Some(t), Some(m)) = (
            self.tracks.get_mut(track),
            self.memory.tracks.get_mut(track),
        ) else {
            return;
        };
        let mut ctx = Ctx {
            lat: self.settings.latency_frames,
            now: self.frame,
            grid: &mut self.grid,
            quantize: self.settings.quantize,
            count_in: self.settings.count_in,
        };
        t.command(op, m, &mut ctx);
        if let LoopOp::SetSource(_) = op {
            self.refresh_wanted();
        }
        if op == LoopOp::Clear {
            if let Some(s) = self.solo.get_mut(track) {
                *s = false;
            }
            self.update_solo();
            self.maybe_drop_cycle();
        }
    }

    pub(crate) fn update_solo(&mut self) {
        let any = self.solo.iter().any(|s| *s);
        for (i, t) in self.tracks.iter_mut().enumerate() {
            t.solo_ok = !any || self.solo.get(i).copied().unwrap_or(false);
            t.retarget();
        }
    }

    /// When every loop is gone, a first-loop grid waits for a new first loop.
    fn maybe_drop_cycle(&mut self) {
        let empty = self
            .tracks
            .iter()
            .zip(self.memory.tracks.iter())
            .all(|(t, m)| t.len(m) == 0 && t.mode != Mode::Recording);
        if empty && self.grid.mode == SyncMode::FirstLoop {
            self.grid.cycle_frames = 0;
            for t in &mut self.tracks {
                t.set_cycle = false;
            }
        }
    }

    /// rt: runs every track for `out_l.len()` frames, reading each track's source from
    /// `sources` (missing sources read as silence) and ADDING the loops (and the click,
    /// when on or counting in) into `out_l` / `out_r`.
    pub fn process(&mut self, sources: &[Stereo<'_>], out_l: &mut [f32], out_r: &mut [f32]) {
        self.process_split(sources, out_l, out_r, None);
    }

    /// rt: like `process`, but the click goes to its own pair (e.g. headphones only).
    pub fn process_split(
        &mut self,
        sources: &[Stereo<'_>],
        out_l: &mut [f32],
        out_r: &mut [f32],
        mut click: Option<(&mut [f32], &mut [f32])>,
    ) {
        let n = out_l.len().min(out_r.len());
        let lat = self.settings.latency_frames;
        let mut pos = 0;
        while pos < n {
            // Parked ops that fall due now.
            let now = self.frame;
            // One pass: run what falls due, and find the next due point.
            let mut next_due = u64::MAX;
            for (t, m) in self.tracks.iter_mut().zip(self.memory.tracks.iter_mut()) {
                if matches!(t.pending, Some((_, due)) if due <= now) {
                    let mut ctx = Ctx {
                        lat,
                        now,
                        grid: &mut self.grid,
                        quantize: self.settings.quantize,
                        count_in: self.settings.count_in,
                    };
                    t.run_pending(m, &mut ctx);
                }
                if let Some((_, d)) = t.pending {
                    next_due = next_due.min(d);
                }
            }
            let len = (n - pos).min(next_due.saturating_sub(now).max(1) as usize);
            let end = pos + len;
            let (Some(ol), Some(or)) = (out_l.get_mut(pos..end), out_r.get_mut(pos..end)) else {
                break;
            };
            for (t, m) in self.tracks.iter_mut().zip(self.memory.tracks.iter_mut()) {
                let src = sources
                    .get(t.source)
                    .and_then(|(l, r)| Some((l.get(pos..end)?, r.get(pos..end)?)));
                if self.fast_path && t.fast_block(m, src, ol, or, lat, self.wide_simd) {
                    continue;
                }
                let mut ctx = Ctx {
                    lat,
                    now,
                    grid: &mut self.grid,
                    quantize: self.settings.quantize,
                    count_in: self.settings.count_in,
                };
                // Kept in registers here, stored once: `t` is behind a reference `tick` takes.
                let (mut peak, mut sum_sq) = (0f32, 0f32);
                match src {
                    Some((sl, sr)) => {
                        for (((o_l, o_r), &il), &ir) in
                            ol.iter_mut().zip(or.iter_mut()).zip(sl).zip(sr)
                        {
                            let (a, b) = t.tick(m, il, ir, &mut ctx);
                            *o_l += a;
                            *o_r += b;
                            peak = bigger(bigger(peak, a.abs()), b.abs());
                            sum_sq += a * a + b * b;
                            ctx.now += 1;
                        }
                    }
                    None => {
                        for (o_l, o_r) in ol.iter_mut().zip(or.iter_mut()) {
                            let (a, b) = t.tick(m, 0.0, 0.0, &mut ctx);
                            *o_l += a;
                            *o_r += b;
                            peak = bigger(bigger(peak, a.abs()), b.abs());
                            sum_sq += a * a + b * b;
                            ctx.now += 1;
                        }
                    }
                }
                t.peak = bigger(t.peak, peak);
                t.sum_sq += sum_sq;
            }
            let counting_in =
                self.settings.count_in && self.tracks.iter().any(|t| t.pending.is_some());
            if self.settings.click || counting_in {
                let g = self.settings.click_gain;
                match &mut click {
                    Some((cl, cr)) => {
                        if let (Some(cl), Some(cr)) = (cl.get_mut(pos..end), cr.get_mut(pos..end)) {
                            self.click.render(&self.grid, now, g, cl, cr);
                        }
                    }
                    None => self.click.render(&self.grid, now, g, ol, or),
                }
            }
            self.frame += len as u64;
            pos = end;
        }
        let budget = n.saturating_mul(self.settings.copy_rate);
        for (t, m) in self.tracks.iter().zip(self.memory.tracks.iter_mut()) {
            t.copy_some(m, budget);
        }
    }

    /// rt: every track's state and meter into `meters`, for the panel and OSC: one pass,
    /// straight into the atomics. `decay` is the RMS meter's decay over `frames`.
    pub fn publish(&mut self, meters: &[LoopMeter], decay: f32, frames: usize) {
        let per_sample = 1.0 / (2 * frames.max(1)) as f32;
        for ((t, m), out) in self
            .tracks
            .iter_mut()
            .zip(self.memory.tracks.iter())
            .zip(meters)
        {
            let len = t.len(m);
            t.meter_ms = t.meter_ms * decay + t.sum_sq * per_sample * (1.0 - decay);
            t.sum_sq = 0.0;
            out.level.peak.store(std::mem::take(&mut t.peak));
            out.level.rms.store(t.meter_ms.sqrt());
            out.state.store(state_number(t, len), Relaxed);
            let shown_len = if t.mode == Mode::Recording {
                t.pos()
            } else {
                len
            };
            out.loop_frames.store(shown_len as u32, Relaxed);
            out.pos_frames.store(t.pos() as u32, Relaxed);
            out.cycle_frames.store(t.cycle(m) as u32, Relaxed);
            out.full_count.store(t.full_count, Relaxed);
            out.undo_levels.store(t.undo_avail as u32, Relaxed);
            out.redo_levels.store(t.redo_avail as u32, Relaxed);
            out.source.store(t.source as u32, Relaxed);
        }
    }

    /// A snapshot of `track` (a default, off state for a track that does not exist).
    pub fn state(&self, track: usize) -> TrackState {
        let (Some(t), Some(m)) = (self.tracks.get(track), self.memory.tracks.get(track)) else {
            return TrackState {
                state: 0,
                loop_len: 0,
                loop_pos: 0,
                cycle_len: 0,
                pending: None,
                undo_levels: 0,
                redo_levels: 0,
                reversed: false,
                speed: Speed::Normal,
                full: false,
                full_count: 0,
                undo_dropped: 0,
                source: 0,
            };
        };
        let len = t.len(m);
        let state = state_number(t, len) as u8;
        TrackState {
            state,
            loop_len: if t.mode == Mode::Recording {
                t.pos()
            } else {
                len
            },
            loop_pos: t.pos(),
            cycle_len: t.cycle(m),
            pending: t.pending,
            undo_levels: t.undo_avail,
            redo_levels: t.redo_avail,
            reversed: t.reversed,
            speed: t.speed,
            full: t.full,
            full_count: t.full_count,
            undo_dropped: t.undo_dropped,
            source: t.source.min(255) as u8,
        }
    }

    /// The current loop of `track` (left, right) as it sounds, filling nothing in. Not
    /// rt (it allocates a whole loop); for tests and for saving loops to disk.
    pub fn loop_frames(&self, track: usize) -> Option<(Vec<f32>, Vec<f32>)> {
        let t = self.tracks.get(track)?;
        let m = self.memory.tracks.get(track)?;
        let li = t.layer();
        let len = t.len(m);
        let mut l = Vec::with_capacity(len);
        let mut r = Vec::with_capacity(len);
        for i in 0..len {
            let (a, b) = m.peek(li, i);
            l.push(a);
            r.push(b);
        }
        Some((l, r))
    }
}

/// SooperLooper's state numbers, as `Shared::loops[i].state` and `TrackState::state`
/// hold them.
pub mod state {
    pub const OFF: u32 = 0;
    pub const WAIT_START: u32 = 1;
    pub const RECORDING: u32 = 2;
    pub const WAIT_STOP: u32 = 3;
    pub const PLAYING: u32 = 4;
    pub const OVERDUBBING: u32 = 5;
    pub const MULTIPLYING: u32 = 6;
    pub const INSERTING: u32 = 7;
    pub const REPLACING: u32 = 8;
    pub const MUTED: u32 = 10;
    pub const ONESHOT: u32 = 12;
    pub const SUBSTITUTE: u32 = 13;
    pub const PAUSED: u32 = 14;
}

/// SooperLooper's state number of a track whose loop is `len` frames.
fn state_number(t: &Track, len: usize) -> u32 {
    use state::*;
    match t.mode {
        _ if t.pending.is_some() && t.mode != Mode::Recording => WAIT_START,
        Mode::Recording if t.waiting_stop => WAIT_STOP,
        Mode::Recording => RECORDING,
        Mode::Overdub => OVERDUBBING,
        Mode::Multiply => MULTIPLYING,
        Mode::Insert => INSERTING,
        Mode::Replace => REPLACING,
        Mode::Substitute => SUBSTITUTE,
        Mode::Off => OFF,
        Mode::Playing if len == 0 => OFF,
        Mode::Playing if t.paused => PAUSED,
        Mode::Playing if t.muted => MUTED,
        Mode::Playing if t.oneshot => ONESHOT,
        Mode::Playing => PLAYING,
    }
}
