//! One looper track: the state machine (record, overdub, multiply, insert, replace,
//! substitute, undo/redo, mute, reverse, speed, one-shot) and its per-frame work.
//!
//! Positions are counted in half frames, so half speed (±1 per frame), normal (±2) and
//! double speed (±4) stay exact integers; a half position reads the average of two frames.

use super::memory::{Mapping, TrackMemory, CHUNK_FRAMES, CHUNK_SHIFT};
use super::sync::{Grid, Quantize, SyncMode};
use super::{LoopOp, Speed};
use crate::engine::level::{bigger, fold_to_pair};
use crate::engine::smooth::{pan_gains, Smoother};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    Off,
    Recording,
    Playing,
    Overdub,
    Multiply,
    Insert,
    Replace,
    Substitute,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Write {
    Overdub,
    Replace,
}

/// The old sound, fading out under the new one after a jump (undo, trigger, reverse...).
#[derive(Clone, Copy, Debug)]
struct Ghost {
    /// Layer, its length and the head position and step there; None: fade in from silence.
    from: Option<(usize, usize, usize, isize)>,
    left: u32,
}

/// After a recording stops: input still due (the round trip) and the seam's tail.
#[derive(Clone, Copy, Debug)]
struct Finish {
    len: usize,
    lat: usize,
    tail: usize,
    f: usize,
}

#[derive(Clone, Copy, Debug)]
struct Inserting {
    src: usize,
    src_len: usize,
    at: usize,
    j: usize,
    by: Option<usize>,
}

/// Context the looper passes to each frame.
pub(crate) struct Ctx<'a> {
    pub lat: usize,
    pub now: u64,
    pub grid: &'a mut Grid,
    pub quantize: Quantize,
    pub count_in: bool,
}

pub(crate) struct Track {
    pub mode: Mode,
    cur: usize,
    pub undo_avail: usize,
    pub redo_avail: usize,
    pos_half: usize,
    pub reversed: bool,
    pub speed: Speed,
    pub muted: bool,
    pub paused: bool,
    pub oneshot: bool,
    pub solo_ok: bool,
    /// What the track played since the engine last read its meter: largest |sample|
    /// and sum of squares over both channels.
    pub peak: f32,
    pub sum_sq: f32,
    /// The meter's running mean square.
    pub meter_ms: f32,
    volume: f32,
    pan: f32,
    gain_l: Smoother,
    gain_r: Smoother,
    in_gain: Smoother,
    write: Option<Write>,
    pub feedback: f32,
    ghost: Option<Ghost>,
    rec_len: usize,
    pub rec_stop_at: Option<usize>,
    /// Record was pressed to stop and waits for its synced length.
    pub waiting_stop: bool,
    finishing: Option<Finish>,
    deferred: Option<LoopOp>,
    pub pending: Option<(LoopOp, u64)>,
    mult_stop_at: Option<usize>,
    ins: Option<Inserting>,
    pub source: usize,
    pub full: bool,
    pub full_count: u32,
    pub undo_dropped: u32,
    xfade: u32,
    /// Whether this track's first loop set the grid's cycle.
    pub set_cycle: bool,
}

impl Track {
    pub fn new(xfade: u32, source: usize) -> Self {
        let x = xfade.max(1);
        let (l, r) = pan_gains(0.0);
        Self {
            mode: Mode::Off,
            cur: 0,
            undo_avail: 0,
            redo_avail: 0,
            pos_half: 0,
            reversed: false,
            speed: Speed::Normal,
            muted: false,
            paused: false,
            oneshot: false,
            solo_ok: true,
            peak: 0.0,
            sum_sq: 0.0,
            meter_ms: 0.0,
            volume: 1.0,
            pan: 0.0,
            gain_l: Smoother::new(l, x),
            gain_r: Smoother::new(r, x),
            in_gain: Smoother::new(1.0, x),
            write: None,
            feedback: 1.0,
            ghost: None,
            rec_len: 0,
            rec_stop_at: None,
            waiting_stop: false,
            finishing: None,
            deferred: None,
            pending: None,
            mult_stop_at: None,
            ins: None,
            source: 0,
            full: false,
            full_count: 0,
            undo_dropped: 0,
            xfade: x,
            set_cycle: false,
        }
        .with_source(source)
    }

    fn with_source(mut self, s: usize) -> Self {
        self.source = s;
        self
    }

    pub fn len(&self, mem: &TrackMemory) -> usize {
        mem.layers.get(self.cur).map_or(0, |l| l.len)
    }

    pub fn cycle(&self, mem: &TrackMemory) -> usize {
        mem.layers.get(self.cur).map_or(0, |l| l.cycle)
    }

    pub fn layer(&self) -> usize {
        self.cur
    }

    /// Head position in frames (the recorded length while recording).
    pub fn pos(&self) -> usize {
        if self.mode == Mode::Recording {
            self.rec_len
        } else {
            self.pos_half >> 1
        }
    }

    fn step(&self) -> isize {
        let s = match self.speed {
            Speed::Half => 1,
            Speed::Normal => 2,
            Speed::Double => 4,
        };
        if self.reversed {
            -s
        } else {
            s
        }
    }

    /// rt: recomputes the output gains' targets (volume, pan, mute, solo, pause).
    pub fn retarget(&mut self) {
        let on = !(self.muted || self.paused || !self.solo_ok);
        let (l, r) = pan_gains(self.pan);
        let g = if on { self.volume } else { 0.0 };
        self.gain_l.set(g * l);
        self.gain_r.set(g * r);
    }

    /// rt: the old sound fades out under the new over the crossfade.
    fn fade_from_here(&mut self, mem: &TrackMemory) {
        let len = self.len(mem);
        let from = (len > 0 && self.mode != Mode::Recording && self.mode != Mode::Insert)
            .then_some((self.cur, len, self.pos_half, self.step()));
        self.ghost = Some(Ghost {
            from,
            left: self.xfade,
        });
    }

    /// rt: starts a new layer (an undo level) after the current one; false when every
    /// buffer is still needed by a layer being copied (then there is no new undo level).
    fn new_layer(&mut self, mem: &mut TrackMemory, map: Mapping, len: usize, cycle: usize) -> bool {
        let pool = mem.pool();
        if pool < 2 {
            return false;
        }
        // Something new is recorded: the redo levels are gone, their chunks go back.
        for k in (1..=self.redo_avail.min(pool - 1)).rev() {
            mem.release((self.cur + k) % pool);
        }
        self.redo_avail = 0;
        let next = (self.cur + 1) % pool;
        if mem.is_needed(next) {
            self.undo_dropped = self.undo_dropped.saturating_add(1);
            return false;
        }
        mem.reset_layer(next, map, len, cycle);
        self.cur = next;
        self.undo_avail = (self.undo_avail + 1).min(pool - 1);
        self.redo_avail = 0;
        true
    }

    /// rt: makes the chunk holding frame `i` of the current layer its own, for writing;
    /// while the pool is dry, gives up undo levels, oldest first. False: nothing left to
    /// give (the caller ends what it was doing: loop memory is full).
    fn own(&mut self, mem: &mut TrackMemory, i: usize) -> bool {
        let c = i >> CHUNK_SHIFT;
        while !mem.make_own(self.cur, c) {
            if !self.give_up_oldest(mem) {
                return false;
            }
        }
        true
    }

    /// rt: frees the chunks of a layer no undo or redo reaches (an op undone while it
    /// ran), else of the oldest undo level; false when there is nothing to free.
    fn give_up_oldest(&mut self, mem: &mut TrackMemory) -> bool {
        let pool = mem.pool();
        if pool == 0 {
            return false;
        }
        let live = (self.undo_avail + 1 + self.redo_avail).min(pool);
        let oldest = (self.cur + pool - self.undo_avail.min(pool - 1)) % pool;
        for k in live..pool {
            let dead = (oldest + k) % pool;
            if mem.layers.get(dead).is_some_and(|l| l.len > 0) && !mem.is_needed(dead) {
                mem.release(dead);
                return true;
            }
        }
        if self.undo_avail == 0 || mem.is_needed(oldest) {
            return false;
        }
        mem.release(oldest);
        self.undo_avail -= 1;
        self.undo_dropped = self.undo_dropped.saturating_add(1);
        true
    }

    /// rt: the loop memory cannot take what an overdub, replace or multiply writes: it
    /// ends (fading out), as a multiply does at the longest loop.
    fn memory_full(&mut self) {
        if self.mode != Mode::Playing {
            self.full = true;
            self.full_count = self.full_count.saturating_add(1);
            self.mode = Mode::Playing;
            self.mult_stop_at = None;
        }
        self.in_gain.set(0.0);
    }

    /// rt: applies `op` now, or parks it until the grid point / the seam it waits for.
    pub fn command(&mut self, op: LoopOp, mem: &mut TrackMemory, ctx: &mut Ctx) {
        match op {
            LoopOp::Record | LoopOp::RecordBars(_) => self.record(op, mem, ctx),
            LoopOp::Overdub
            | LoopOp::Replace
            | LoopOp::Substitute
            | LoopOp::Multiply
            | LoopOp::Insert => self.dub(op, mem, ctx),
            LoopOp::Undo => self.undo(mem),
            LoopOp::Redo => self.redo(mem),
            LoopOp::Clear => self.clear(mem),
            LoopOp::Mute => {
                self.muted = !self.muted;
                self.oneshot = false;
                self.retarget();
            }
            LoopOp::Solo => {} // the looper handles solo across tracks
            LoopOp::Reverse => {
                if self.mode == Mode::Recording {
                    self.end_record(mem, ctx);
                }
                self.fade_from_here(mem);
                self.reversed = !self.reversed;
            }
            LoopOp::HalfSpeed | LoopOp::DoubleSpeed | LoopOp::NormalSpeed => {
                let s = match op {
                    LoopOp::HalfSpeed => Speed::Half,
                    LoopOp::DoubleSpeed => Speed::Double,
                    _ => Speed::Normal,
                };
                if s != self.speed {
                    if self.mode != Mode::Recording {
                        self.fade_from_here(mem);
                    }
                    self.speed = s;
                }
            }
            LoopOp::OneShot | LoopOp::Trigger => {
                if self.len(mem) > 0 && self.mode == Mode::Playing {
                    self.fade_from_here(mem);
                    self.pos_half = if self.reversed {
                        (self.len(mem) * 2).saturating_sub(1)
                    } else {
                        0
                    };
                    self.muted = false;
                    self.paused = false;
                    self.oneshot = op == LoopOp::OneShot;
                    self.retarget();
                }
            }
            LoopOp::Pause => {
                if self.mode != Mode::Recording {
                    self.paused = !self.paused;
                    self.retarget();
                }
            }
            LoopOp::CancelPending => {
                self.pending = None;
                self.rec_stop_at = None;
                self.waiting_stop = false;
                self.deferred = None;
                if self.mode == Mode::Multiply {
                    self.mult_stop_at = None;
                }
            }
            LoopOp::SetFeedback(f) => {
                self.feedback = if f.is_finite() {
                    f.clamp(0.0, 1.0)
                } else {
                    1.0
                }
            }
            LoopOp::SetVolume(v) => {
                self.volume = if v.is_finite() {
                    v.clamp(0.0, 4.0)
                } else {
                    1.0
                };
                self.retarget();
            }
            LoopOp::SetPan(p) => {
                self.pan = if p.is_finite() {
                    p.clamp(-1.0, 1.0)
                } else {
                    0.0
                };
                self.retarget();
            }
            LoopOp::SetSource(s) => self.source = s as usize,
        }
    }

    fn record(&mut self, op: LoopOp, mem: &mut TrackMemory, ctx: &mut Ctx) {
        if self.finishing.is_some() {
            self.deferred = Some(op);
            return;
        }
        match self.mode {
            Mode::Recording => {
                if self.rec_stop_at.is_some() {
                    return; // already waiting for its stop point
                }
                let target = if ctx.grid.active() && !self.set_cycle {
                    ctx.grid.snap_len(self.rec_len as u64) as usize
                } else {
                    self.rec_len
                };
                if target > self.rec_len && target <= mem.cap_frames() {
                    self.rec_stop_at = Some(target);
                    self.waiting_stop = true;
                } else {
                    self.end_record(mem, ctx);
                }
            }
            _ if self.pending.is_some() => self.pending = None, // pressed again: cancel
            _ => {
                let q = if ctx.grid.active() {
                    ctx.quantize
                } else {
                    Quantize::Off
                };
                let tempo = matches!(ctx.grid.mode, SyncMode::Tempo { .. });
                if ctx.count_in && tempo && ctx.grid.active() {
                    let b = ctx.grid.next(ctx.now, Quantize::Bar) + ctx.grid.bar_frames();
                    self.pending = Some((op, b));
                } else if q != Quantize::Off {
                    let due = ctx.grid.next(ctx.now, q);
                    if due > ctx.now {
                        self.pending = Some((op, due));
                    } else {
                        self.start_record(op, mem, ctx);
                    }
                } else {
                    self.start_record(op, mem, ctx);
                }
            }
        }
    }

    /// rt: called by the looper when a parked op falls due.
    pub fn run_pending(&mut self, mem: &mut TrackMemory, ctx: &mut Ctx) {
        if let Some((op, _)) = self.pending.take() {
            if matches!(op, LoopOp::Record | LoopOp::RecordBars(_)) {
                self.start_record(op, mem, ctx);
            } else {
                self.command(op, mem, ctx);
            }
        }
    }

    fn start_record(&mut self, op: LoopOp, mem: &mut TrackMemory, ctx: &mut Ctx) {
        self.fade_from_here(mem);
        if !self.new_layer(mem, Mapping::Fresh, 0, 0) {
            self.ghost = None;
            return;
        }
        self.mode = Mode::Recording;
        self.rec_len = 0;
        self.rec_stop_at = match op {
            LoopOp::RecordBars(n) if ctx.grid.active() => {
                Some((ctx.grid.bar_frames() as usize).saturating_mul(n.max(1) as usize))
            }
            _ => None,
        };
        self.pos_half = 0;
        self.write = None;
        self.ins = None;
        self.mult_stop_at = None;
        self.full = false;
        self.set_cycle = false;
        if ctx.grid.mode == SyncMode::FirstLoop && !ctx.grid.active() {
            self.set_cycle = true;
        }
    }

    fn end_record(&mut self, mem: &mut TrackMemory, ctx: &mut Ctx) {
        let len = self.rec_len;
        self.rec_stop_at = None;
        self.waiting_stop = false;
        if len == 0 {
            self.mode = Mode::Off;
            if let Some(l) = mem.layers.get_mut(self.cur) {
                l.len = 0;
            }
            return;
        }
        let cycle = if ctx.grid.active() && (len as u64).is_multiple_of(ctx.grid.cycle_frames) {
            ctx.grid.cycle_frames as usize
        } else {
            len
        };
        if let Some(l) = mem.layers.get_mut(self.cur) {
            l.len = len;
            l.cycle = cycle;
        }
        if self.set_cycle && ctx.grid.mode == SyncMode::FirstLoop && !ctx.grid.active() {
            ctx.grid.cycle_frames = len as u64;
            ctx.grid.origin = ctx.now;
        }
        self.mode = Mode::Playing;
        self.pos_half = if self.reversed {
            (len * 2).saturating_sub(1)
        } else {
            0
        };
        self.finishing = Some(Finish {
            len,
            lat: ctx.lat.min(len),
            tail: (self.xfade as usize).min(len / 2),
            f: 0,
        });
        // The loop enters from silence.
        self.ghost = Some(Ghost {
            from: None,
            left: self.xfade,
        });
    }

    fn dub(&mut self, op: LoopOp, mem: &mut TrackMemory, ctx: &mut Ctx) {
        if self.mode == Mode::Recording {
            // A special ending: close the loop now, then start the new op at the seam.
            self.rec_stop_at = None;
            self.end_record(mem, ctx);
            self.deferred = Some(op);
            return;
        }
        if self.finishing.is_some() {
            self.deferred = Some(op);
            return;
        }
        let len = self.len(mem);
        if len == 0 {
            return;
        }
        let wanted = match op {
            LoopOp::Overdub => Mode::Overdub,
            LoopOp::Replace => Mode::Replace,
            LoopOp::Substitute => Mode::Substitute,
            LoopOp::Multiply => Mode::Multiply,
            _ => Mode::Insert,
        };
        match self.mode {
            Mode::Playing => {}
            Mode::Multiply => {
                // Finish at the end of the cycle we are in.
                let c = self.cycle(mem).max(1);
                let h = self.pos();
                let stop = h.div_ceil(c).max(1) * c;
                self.mult_stop_at = Some(stop.min(len));
                return;
            }
            Mode::Insert => {
                self.stop_insert(mem);
                return;
            }
            _ => {
                // Pressing the running op (or another) punches out.
                self.mode = Mode::Playing;
                self.in_gain.set(0.0);
                return;
            }
        }
        if self.write.is_some() {
            // Still fading out the last punch: finish it at once, then go on.
            self.write = None;
        }
        let src = self.cur;
        let cycle = self.cycle(mem).max(1);
        let i = self.pos();
        let map = match wanted {
            Mode::Multiply => Mapping::Repeat { src, src_len: len },
            Mode::Insert => Mapping::Insert {
                src,
                at: i,
                by: None,
            },
            _ => Mapping::Copy { src },
        };
        if !self.new_layer(mem, map, len, cycle) {
            if wanted == Mode::Overdub {
                // No free buffer: overdub in place, without an undo level.
            } else {
                return;
            }
        }
        self.mode = wanted;
        self.in_gain.reset(0.0);
        self.in_gain.set(1.0);
        match wanted {
            Mode::Insert => {
                self.ins = Some(Inserting {
                    src,
                    src_len: len,
                    at: i,
                    j: 0,
                    by: None,
                });
                // Inserting runs forward at normal speed.
                self.reversed = false;
                self.speed = Speed::Normal;
                self.pos_half = i * 2;
                self.write = None;
            }
            Mode::Replace | Mode::Substitute => self.write = Some(Write::Replace),
            _ => self.write = Some(Write::Overdub),
        }
        if wanted == Mode::Multiply {
            self.mult_stop_at = None;
        }
    }

    fn stop_insert(&mut self, mem: &TrackMemory) {
        let cap = mem.cap_frames();
        let cycle = self.cycle(mem).max(1);
        let x = self.xfade as usize;
        if let Some(ins) = &mut self.ins {
            if ins.by.is_some() {
                return;
            }
            let room = cap.saturating_sub(ins.src_len);
            let mut by = (ins.j + x).div_ceil(cycle) * cycle;
            if by > room {
                by = (ins.j + x).min(room);
            }
            ins.by = Some(by.max(ins.j + 1));
        }
    }

    fn undo(&mut self, mem: &mut TrackMemory) {
        let pool = mem.pool().max(1);
        self.fade_from_here(mem);
        self.finishing = None;
        self.deferred = None;
        self.pending = None;
        self.write = None;
        self.ins = None;
        self.mult_stop_at = None;
        self.rec_stop_at = None;
        let in_op = !matches!(self.mode, Mode::Playing | Mode::Off);
        if self.undo_avail == 0 {
            if self.mode == Mode::Recording {
                self.mode = Mode::Off;
            }
            return;
        }
        self.cur = (self.cur + pool - 1) % pool;
        self.undo_avail -= 1;
        if in_op {
            // Undo during an op throws the op away: there is nothing to redo.
        } else {
            self.redo_avail += 1;
        }
        self.after_jump(mem);
    }

    fn redo(&mut self, mem: &mut TrackMemory) {
        if self.redo_avail == 0 || !matches!(self.mode, Mode::Playing | Mode::Off) {
            return;
        }
        let pool = mem.pool().max(1);
        self.fade_from_here(mem);
        self.cur = (self.cur + 1) % pool;
        self.redo_avail -= 1;
        self.undo_avail += 1;
        self.after_jump(mem);
    }

    fn after_jump(&mut self, mem: &TrackMemory) {
        let len = self.len(mem);
        self.mode = if len > 0 { Mode::Playing } else { Mode::Off };
        if len > 0 {
            self.pos_half %= len * 2;
        } else {
            self.pos_half = 0;
        }
    }

    fn clear(&mut self, mem: &mut TrackMemory) {
        self.fade_from_here(mem);
        for i in 0..mem.pool() {
            mem.reset_layer(i, Mapping::Fresh, 0, 0);
        }
        let keep_ghost = self.ghost;
        let (src, vol, pan, fb) = (self.source, self.volume, self.pan, self.feedback);
        let (x, counts) = (self.xfade, (self.full_count, self.undo_dropped));
        *self = Track::new(x, src);
        self.volume = vol;
        self.pan = pan;
        self.feedback = fb;
        (self.full_count, self.undo_dropped) = counts;
        self.retarget();
        self.gain_l.reset(self.gain_l.target());
        self.gain_r.reset(self.gain_r.target());
        // The cleared layers are silent now; the ghost reads zeros and only shapes the cut.
        self.ghost = keep_ghost.map(|g| Ghost { from: None, ..g });
    }

    /// rt: one frame: records, plays, overdubs; returns what the track adds to the output.
    #[inline]
    pub fn tick(&mut self, mem: &mut TrackMemory, il: f32, ir: f32, ctx: &mut Ctx) -> (f32, f32) {
        let mut out = (0.0f32, 0.0f32);
        if self.mode == Mode::Recording {
            let i = self.rec_len;
            let mut room = true;
            if i >= ctx.lat {
                room = self.own(mem, i - ctx.lat);
                if let Some(s) = mem.slot(self.cur, i - ctx.lat) {
                    s.copy_from_slice(&[il, ir]);
                }
            }
            self.rec_len += 1;
            if self.rec_len >= mem.cap_frames() || !room {
                self.full = true;
                self.full_count = self.full_count.saturating_add(1);
                self.end_record(mem, ctx);
            } else if Some(self.rec_len) == self.rec_stop_at {
                self.end_record(mem, ctx);
            }
        } else {
            if self.finishing.is_some() {
                self.finish_frame(mem, il, ir, ctx);
            }
            let len = self.len(mem);
            let frozen = self.paused && self.gain_l.is_settled() && self.gain_r.is_settled();
            if len > 0 && !frozen {
                out = if self.mode == Mode::Insert {
                    self.insert_frame(mem, il, ir)
                } else {
                    let o = read_half(mem, self.cur, self.pos_half, len);
                    if let Some(w) = self.write {
                        let g = self.write_frame(mem, w, il, ir, len, ctx.lat);
                        if self.mode == Mode::Replace {
                            (o.0 * (1.0 - g), o.1 * (1.0 - g))
                        } else {
                            o
                        }
                    } else {
                        o
                    }
                };
                self.advance(mem);
            }
        }
        if let Some(gh) = &mut self.ghost {
            let x = gh.left as f32 / self.xfade as f32;
            let y = 1.0 - x;
            let mut o = (out.0 * y, out.1 * y);
            if let Some((li, glen, p, st)) = &mut gh.from {
                let (gl, gr) = read_half(mem, *li, *p, *glen);
                o.0 += gl * x;
                o.1 += gr * x;
                *p = wrap_half(*p, *st, *glen * 2);
            }
            out = o;
            gh.left -= 1;
            if gh.left == 0 {
                self.ghost = None;
            }
        }
        (
            out.0 * self.gain_l.next_value(),
            out.1 * self.gain_r.next_value(),
        )
    }

    /// rt: the whole piece at once for the common settled cases (silent, plainly
    /// playing, or overdubbing at normal speed forward, with settled gains and nothing
    /// fading); the samples, chunk copies and state are exactly those `tick` would give
    /// frame by frame. False: nothing was done, run `tick` for every frame instead.
    pub fn fast_block(
        &mut self,
        mem: &mut TrackMemory,
        src: Option<(&[f32], &[f32])>,
        out_l: &mut [f32],
        out_r: &mut [f32],
        lat: usize,
        wide: bool,
    ) -> bool {
        if self.mode == Mode::Recording
            || self.finishing.is_some()
            || self.ghost.is_some()
            || !self.gain_l.is_settled()
            || !self.gain_r.is_settled()
        {
            return false;
        }
        let n = out_l.len().min(out_r.len());
        let (gl, gr) = (self.gain_l.current(), self.gain_r.current());
        let len = self.len(mem);
        if len == 0 || self.paused {
            // Nothing read or written: the track adds a (signed) zero.
            let (zl, zr) = (0.0f32 * gl, 0.0f32 * gr);
            out_l.iter_mut().for_each(|o| *o += zl);
            out_r.iter_mut().for_each(|o| *o += zr);
            return true;
        }
        if self.oneshot || self.speed != Speed::Normal || self.reversed || self.pos_half & 1 != 0 {
            return false;
        }
        let cur = self.cur;
        match (self.mode, self.write) {
            (Mode::Playing, None) => {
                let mut i = self.pos_half >> 1;
                // Every chunk final first (a multiply still being filled in may lack
                // room for that: then frame by frame, reading through).
                if !each_chunk(i, n, len, |c| mem.ensure_chunk(cur, c)) {
                    return false;
                }
                let mut k = 0;
                while k < n {
                    let run = (n - k).min(len - i).min(chunk_left(i));
                    let (Some(d), Some(ol), Some(or)) = (
                        mem.span(cur, i, i + run),
                        out_l.get_mut(k..k + run),
                        out_r.get_mut(k..k + run),
                    ) else {
                        return false;
                    };
                    let (p, q) = play_into(d, gl, gr, ol, or, wide);
                    self.peak = bigger(self.peak, p);
                    self.sum_sq += q;
                    k += run;
                    i += run;
                    if i >= len {
                        i = 0;
                    }
                }
                self.pos_half = i * 2;
                true
            }
            (Mode::Overdub, Some(Write::Overdub)) => {
                let Some((sl, sr)) = src else {
                    return false;
                };
                let back = lat % len;
                if !self.in_gain.is_settled() || n + back > len || sl.len() < n || sr.len() < n {
                    return false;
                }
                // With the write head `back` frames behind and the piece no longer
                // than the rest of the loop, every frame is read before it is written
                // and written at most once: reading the piece, then writing it, is
                // what the frame-by-frame order does.
                let g = self.in_gain.current();
                let keep = 1.0 + (self.feedback - 1.0) * g;
                let mut ri = self.pos_half >> 1;
                let mut wi = if ri >= back {
                    ri - back
                } else {
                    ri + len - back
                };
                // The written chunks the layer's own and every read chunk final first
                // (when the pool cannot give that, frame by frame does what it can).
                if !each_chunk(wi, n, len, |c| self.own(mem, c << CHUNK_SHIFT))
                    || !each_chunk(ri, n, len, |c| mem.ensure_chunk(cur, c))
                {
                    return false;
                }
                let mut k = 0;
                while k < n {
                    let run = (n - k)
                        .min(len - ri)
                        .min(len - wi)
                        .min(chunk_left(ri))
                        .min(chunk_left(wi));
                    let (Some(d), Some(ol), Some(or)) = (
                        mem.span(cur, ri, ri + run),
                        out_l.get_mut(k..k + run),
                        out_r.get_mut(k..k + run),
                    ) else {
                        return false;
                    };
                    let (p, q) = play_into(d, gl, gr, ol, or, wide);
                    self.peak = bigger(self.peak, p);
                    self.sum_sq += q;
                    let (Some(w), Some(il), Some(ir)) = (
                        mem.span_mut(cur, wi, wi + run),
                        sl.get(k..k + run),
                        sr.get(k..k + run),
                    ) else {
                        return false;
                    };
                    dub_into(w, il, ir, keep, g, wide);
                    k += run;
                    ri += run;
                    if ri >= len {
                        ri = 0;
                    }
                    wi += run;
                    if wi >= len {
                        wi = 0;
                    }
                }
                self.pos_half = ri * 2;
                true
            }
            _ => false,
        }
    }

    /// rt: input still due after a recording stopped, then the seam: the input that
    /// follows the loop's end is crossfaded into its start, so the end runs into it.
    fn finish_frame(&mut self, mem: &mut TrackMemory, il: f32, ir: f32, ctx: &mut Ctx) {
        let Some(fin) = &mut self.finishing else {
            return;
        };
        let f = fin.f;
        fin.f += 1;
        let fin = *fin;
        if f < fin.lat {
            let at = fin.len - fin.lat + f;
            self.own(mem, at);
            if let Some(s) = mem.slot(self.cur, at) {
                s.copy_from_slice(&[il, ir]);
            }
        } else if f - fin.lat < fin.tail {
            let k = f - fin.lat;
            let g = k as f32 / fin.tail as f32;
            self.own(mem, k);
            if let Some(s) = mem.slot(self.cur, k) {
                let (a, b) = (
                    s.first().copied().unwrap_or(0.0),
                    s.get(1).copied().unwrap_or(0.0),
                );
                s.copy_from_slice(&[a * g + il * (1.0 - g), b * g + ir * (1.0 - g)]);
            }
        }
        if fin.f >= fin.lat + fin.tail {
            self.finishing = None;
            if let Some(op) = self.deferred.take() {
                self.command(op, mem, ctx);
            }
        }
    }

    /// rt: overdub / replace at the write head (`lat` steps behind the play head);
    /// returns the punch gain.
    fn write_frame(
        &mut self,
        mem: &mut TrackMemory,
        w: Write,
        il: f32,
        ir: f32,
        len: usize,
        lat: usize,
    ) -> f32 {
        let g = self.in_gain.next_value();
        let step = self.step();
        let len_half = (len * 2) as isize;
        let back = (lat as isize).saturating_mul(step) % len_half.max(1);
        let wh = (self.pos_half as isize - back).rem_euclid(len_half.max(1)) as usize;
        let wi = wh >> 1;
        let keep = match w {
            Write::Overdub => 1.0 + (self.feedback - 1.0) * g,
            Write::Replace => 1.0 - g,
        };
        let mut put = |track: &mut Self, i: usize, weight: f32, first: bool| {
            if !track.own(mem, i) {
                track.memory_full();
            }
            if let Some([a, b]) = mem.slot(track.cur, i) {
                if first {
                    *a *= keep;
                    *b *= keep;
                }
                *a += il * g * weight;
                *b += ir * g * weight;
            }
        };
        match step.abs() {
            1 => put(self, wi, 0.5, (wh & 1 == 0) == (step > 0)),
            4 => {
                put(self, wi, 1.0, true);
                put(self, (wi + 1) % len.max(1), 1.0, true);
            }
            _ => put(self, wi, 1.0, true),
        }
        if self.mode != Mode::Overdub
            && self.mode != Mode::Replace
            && self.mode != Mode::Substitute
            && self.mode != Mode::Multiply
            && self.in_gain.is_settled()
            && self.in_gain.current() == 0.0
        {
            self.write = None;
        }
        g
    }

    /// rt: one frame of an insert: new input goes in at the head, the old loop after the
    /// insert point waits; the old sound fades out at the start and back in at the end.
    fn insert_frame(&mut self, mem: &mut TrackMemory, il: f32, ir: f32) -> (f32, f32) {
        let Some(mut ins) = self.ins else {
            self.mode = Mode::Playing;
            return (0.0, 0.0);
        };
        let g = self.in_gain.next_value();
        let x = self.xfade as usize;
        let sl = ins.src_len.max(1);
        let (gin, gold, old_at) = match ins.by {
            Some(by) if ins.j + x >= by => {
                let e = (by - ins.j) as f32 / x as f32;
                (g * e, 1.0 - e, (ins.at + sl * 2 - (by - ins.j)) % sl)
            }
            _ => (g, 1.0 - g, (ins.at + ins.j) % sl),
        };
        let old = if gold > 0.0 {
            mem.read(ins.src, old_at)
        } else {
            (0.0, 0.0)
        };
        let o = (old.0 * gold, old.1 * gold);
        let q = ins.at + ins.j;
        let room = self.own(mem, q);
        if let Some(s) = mem.slot(self.cur, q) {
            s.copy_from_slice(&[il * gin + o.0, ir * gin + o.1]);
        }
        ins.j += 1;
        let new_len = ins.src_len + ins.j;
        if let Some(l) = mem.layers.get_mut(self.cur) {
            l.len = new_len;
        }
        if (new_len >= mem.cap_frames() || !room) && ins.by.is_none() {
            ins.by = Some(ins.j);
            self.full = true;
            self.full_count = self.full_count.saturating_add(1);
        }
        self.ins = Some(ins);
        if Some(ins.j) == ins.by {
            let map = Mapping::Insert {
                src: ins.src,
                at: ins.at,
                by: ins.by,
            };
            let end = ins.at + ins.j;
            let chunk_end = (end / CHUNK_FRAMES + 1) * CHUNK_FRAMES;
            if let Some(l) = mem.layers.get_mut(self.cur) {
                l.map = map;
            }
            // The chunk the insert ended in still lacks the old frames after it.
            self.own(mem, end);
            mem.copy_mapped(self.cur, map, end, chunk_end.min(mem.cap_frames()));
            self.ins = None;
            self.mode = Mode::Playing;
        }
        o
    }

    /// rt: moves the head one frame on (wrapping, extending a multiply, ending a one-shot).
    fn advance(&mut self, mem: &mut TrackMemory) {
        let len = self.len(mem);
        let step = self.step();
        if self.mode == Mode::Insert {
            self.pos_half += 2;
            return;
        }
        if self.mode == Mode::Multiply && step > 0 {
            let next = self.pos_half + step as usize;
            if let Some(stop) = self.mult_stop_at {
                if next >= stop * 2 {
                    self.mult_stop_at = None;
                    self.mode = Mode::Playing;
                    self.in_gain.set(0.0);
                    if let Some(l) = mem.layers.get_mut(self.cur) {
                        l.len = stop.max(1);
                    }
                    self.pos_half = next % (stop.max(1) * 2);
                    return;
                }
            }
            if next >= len * 2 {
                let c = self.cycle(mem).max(1);
                if len + c <= mem.cap_frames() {
                    if let Some(l) = mem.layers.get_mut(self.cur) {
                        l.len = len + c;
                    }
                    self.pos_half = next;
                } else {
                    self.full = true;
                    self.full_count = self.full_count.saturating_add(1);
                    self.mode = Mode::Playing;
                    self.in_gain.set(0.0);
                    self.pos_half = next % (len * 2).max(1);
                }
                return;
            }
            self.pos_half = next;
            return;
        }
        let len_half = len * 2;
        let next = wrap_half(self.pos_half, step, len_half);
        if self.oneshot {
            // Fade out over the last crossfade of the pass.
            let left = if step > 0 {
                len_half.saturating_sub(self.pos_half)
            } else {
                self.pos_half + 1
            } / step.unsigned_abs();
            if left <= self.xfade as usize {
                self.oneshot = false;
                self.muted = true;
                self.retarget();
            }
        }
        self.pos_half = next;
    }

    /// rt: background copying for this track's undo levels.
    pub fn copy_some(&self, mem: &mut TrackMemory, budget: usize) {
        let pool = mem.pool();
        if pool == 0 {
            return;
        }
        // Indices wrap by one subtraction (no division per call).
        let cur = if self.cur < pool {
            self.cur
        } else {
            self.cur % pool
        };
        let back = self.undo_avail.min(pool - 1);
        let oldest = if cur >= back {
            cur - back
        } else {
            cur + pool - back
        };
        let n = (self.undo_avail + 1 + self.redo_avail).min(pool);
        mem.copy_some(
            (oldest..oldest + n).map(|k| if k >= pool { k - pool } else { k }),
            budget,
        );
    }
}

/// rt: the head's step, wrapped into `0..len_half`.
#[inline]
fn wrap_half(p: usize, step: isize, len_half: usize) -> usize {
    if len_half == 0 {
        return 0;
    }
    // A step can pass a whole loop (double speed over a loop of one frame): the common
    // cases stay cheap, the rare one wraps as often as it needs.
    let s = step.unsigned_abs();
    if s <= len_half {
        if step >= 0 {
            let n = p + s;
            if n >= len_half {
                n - len_half
            } else {
                n
            }
        } else if p >= s {
            p - s
        } else {
            p + len_half - s
        }
    } else {
        (p as isize + step).rem_euclid(len_half as isize) as usize
    }
}

/// rt: `f` for each chunk that `n` frames from `start` pass through, in a loop of
/// `len` frames (wrapping); false as soon as `f` says so.
#[inline]
fn each_chunk(start: usize, n: usize, len: usize, mut f: impl FnMut(usize) -> bool) -> bool {
    let (mut i, mut left) = (start, n);
    while left > 0 && i < len {
        if !f(i >> CHUNK_SHIFT) {
            return false;
        }
        let run = left.min(len - i).min(chunk_left(i));
        left -= run;
        i += run;
        if i >= len {
            i = 0;
        }
    }
    true
}

/// rt: frames from `i` to the end of its chunk.
#[inline]
fn chunk_left(i: usize) -> usize {
    CHUNK_FRAMES - (i & (CHUNK_FRAMES - 1))
}

/// Not rt (it may ask the CPU once): whether the block paths may use AVX2.
pub(crate) fn wide_simd() -> bool {
    #[cfg(target_arch = "x86_64")]
    return std::arch::is_x86_feature_detected!("avx2");
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// rt: adds interleaved stereo `d` times the gains into `ol` / `or`; returns the
/// largest |sample| added and the sum of squares, for the track's meter.
#[inline(always)]
fn play_into(
    d: &[f32],
    gl: f32,
    gr: f32,
    ol: &mut [f32],
    or: &mut [f32],
    wide: bool,
) -> (f32, f32) {
    #[cfg(target_arch = "x86_64")]
    if wide {
        // SAFETY: `wide` is only true when the CPU has AVX2 (see `wide_simd`).
        let m = unsafe { play_and_meter_avx2(d, gl, gr, ol, or) };
        return m.level(gl, gr);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = wide;
    play_into_any(d, gl, gr, ol, or);
    meter_any(d).level(gl, gr)
}

/// rt: `play_into_any` and the meter in one pass: eight frames at a time are split
/// into left and right for the outputs while the meter reads them as they lie.
/// The same multiplies and adds as the frame-by-frame path (no fused multiply-adds).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn play_and_meter_avx2(d: &[f32], gl: f32, gr: f32, ol: &mut [f32], or: &mut [f32]) -> SideLevels {
    use std::arch::x86_64::*;
    let n = ol.len().min(or.len()).min(d.len() / 2);
    let whole = n / 8 * 8;
    let abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fff_ffff));
    let (vgl, vgr) = (_mm256_set1_ps(gl), _mm256_set1_ps(gr));
    let (mut top_a, mut top_b) = (_mm256_setzero_ps(), _mm256_setzero_ps());
    let (mut sum_a, mut sum_b) = (_mm256_setzero_ps(), _mm256_setzero_ps());
    for k in (0..whole).step_by(8) {
        // SAFETY: k + 8 <= n, so d holds 2k + 16 floats and ol, or hold k + 8.
        unsafe {
            let a = _mm256_loadu_ps(d.as_ptr().add(2 * k)); // L0 R0 L1 R1 | L2 R2 L3 R3
            let b = _mm256_loadu_ps(d.as_ptr().add(2 * k + 8)); // L4 R4 L5 R5 | L6 R6 L7 R7
                                                                // A NaN sample loses to what is held: max returns its second operand then.
            top_a = _mm256_max_ps(_mm256_and_ps(a, abs_mask), top_a);
            top_b = _mm256_max_ps(_mm256_and_ps(b, abs_mask), top_b);
            sum_a = _mm256_add_ps(sum_a, _mm256_mul_ps(a, a));
            sum_b = _mm256_add_ps(sum_b, _mm256_mul_ps(b, b));
            // L0 L1 L4 L5 | L2 L3 L6 L7, then the middle pairs swapped into order.
            let lefts = _mm256_shuffle_ps::<0b10_00_10_00>(a, b);
            let rights = _mm256_shuffle_ps::<0b11_01_11_01>(a, b);
            let lefts = _mm256_castpd_ps(_mm256_permute4x64_pd::<0b11_01_10_00>(_mm256_castps_pd(
                lefts,
            )));
            let rights = _mm256_castpd_ps(_mm256_permute4x64_pd::<0b11_01_10_00>(
                _mm256_castps_pd(rights),
            ));
            let pl = ol.as_mut_ptr().add(k);
            let pr = or.as_mut_ptr().add(k);
            _mm256_storeu_ps(
                pl,
                _mm256_add_ps(_mm256_loadu_ps(pl), _mm256_mul_ps(lefts, vgl)),
            );
            _mm256_storeu_ps(
                pr,
                _mm256_add_ps(_mm256_loadu_ps(pr), _mm256_mul_ps(rights, vgr)),
            );
        }
    }
    let (mut tops, mut sums) = ([0f32; 8], [0f32; 8]);
    // SAFETY: each array holds exactly the 8 floats stored.
    unsafe {
        _mm256_storeu_ps(tops.as_mut_ptr(), _mm256_max_ps(top_a, top_b));
        _mm256_storeu_ps(sums.as_mut_ptr(), _mm256_add_ps(sum_a, sum_b));
    }
    let (pl, pr) = fold_to_pair(tops, bigger);
    let (sl, sr) = fold_to_pair(sums, |a, b| a + b);
    let mut m = SideLevels {
        peak: [pl, pr],
        sum_sq: [sl, sr],
    };
    let rest = d.get(2 * whole..2 * n).unwrap_or(&[]);
    if let (Some(l), Some(r)) = (ol.get_mut(whole..n), or.get_mut(whole..n)) {
        play_into_any(rest, gl, gr, l, r);
    }
    m.add_frames(rest);
    m
}

/// The same multiplies and adds, in the same order, as `tick` and the looper do per
/// frame (wider vectors do not change a single result: no fused multiply-adds).
#[inline(always)]
fn play_into_any(d: &[f32], gl: f32, gr: f32, ol: &mut [f32], or: &mut [f32]) {
    for ((f, l), r) in d.chunks_exact(2).zip(ol.iter_mut()).zip(or.iter_mut()) {
        if let [a, b] = f {
            *l += *a * gl;
            *r += *b * gr;
        }
    }
}

/// Peak and sum of squares of each side of interleaved stereo, before any gain.
#[derive(Clone, Copy, Default)]
struct SideLevels {
    peak: [f32; 2],
    sum_sq: [f32; 2],
}

impl SideLevels {
    /// rt: folds in the frames of `rest`, one at a time.
    #[inline(always)]
    fn add_frames(&mut self, rest: &[f32]) {
        for f in rest.chunks_exact(2) {
            for (k, x) in f.iter().enumerate() {
                self.peak[k] = bigger(self.peak[k], x.abs());
                self.sum_sq[k] += x * x;
            }
        }
    }

    /// rt: what the track played with these gains: its peak and its sum of squares.
    #[inline(always)]
    fn level(self, gl: f32, gr: f32) -> (f32, f32) {
        (
            bigger(self.peak[0] * gl.abs(), self.peak[1] * gr.abs()),
            self.sum_sq[0] * gl * gl + self.sum_sq[1] * gr * gr,
        )
    }
}

/// rt: the meter pass, frame by frame, where there is no AVX2.
#[inline(always)]
fn meter_any(d: &[f32]) -> SideLevels {
    let mut m = SideLevels::default();
    m.add_frames(d);
    m
}

/// rt: an overdub pass over interleaved stereo `w`: each frame keeps `keep` of itself
/// and gains the input times `g`, exactly as `write_frame` computes it.
#[inline]
fn dub_into(w: &mut [f32], il: &[f32], ir: &[f32], keep: f32, g: f32, wide: bool) {
    #[cfg(target_arch = "x86_64")]
    if wide {
        // SAFETY: `wide` is only true when the CPU has AVX2 (see `wide_simd`); the
        // body is plain safe code.
        unsafe { dub_into_avx2(w, il, ir, keep, g) };
        return;
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = wide;
    dub_into_any(w, il, ir, keep, g)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn dub_into_avx2(w: &mut [f32], il: &[f32], ir: &[f32], keep: f32, g: f32) {
    dub_into_any(w, il, ir, keep, g)
}

#[inline(always)]
fn dub_into_any(w: &mut [f32], il: &[f32], ir: &[f32], keep: f32, g: f32) {
    for ((f, &a), &b) in w.chunks_exact_mut(2).zip(il).zip(ir) {
        if let [x, y] = f {
            *x *= keep;
            *y *= keep;
            *x += a * g * 1.0;
            *y += b * g * 1.0;
        }
    }
}

/// rt: the sound at half position `p` (the mean of two frames between frames).
#[inline]
fn read_half(mem: &mut TrackMemory, li: usize, p: usize, len: usize) -> (f32, f32) {
    let i = p >> 1;
    let a = mem.read(li, i);
    if p & 1 == 0 {
        a
    } else {
        let j = if i + 1 >= len { 0 } else { i + 1 };
        let b = mem.read(li, j);
        ((a.0 + b.0) * 0.5, (a.1 + b.1) * 0.5)
    }
}

/// For saving and reopening jams (`super::snapshot`): what a saved track needs to know
/// and set, without opening up the state machine.
impl Track {
    /// Linear volume and pan as set by the user.
    pub(crate) fn mix(&self) -> (f32, f32) {
        (self.volume, self.pan)
    }

    /// The play head in half frames (for a new sample rate, `super::rate`).
    pub(crate) fn head_half(&self) -> usize {
        self.pos_half
    }

    /// Not rt: puts the play head at `half` half frames (for a new sample rate).
    pub(crate) fn set_head_half(&mut self, half: usize) {
        self.pos_half = half;
    }

    /// A short tail that still writes into the current layer (the seam after a
    /// recording, the punch-out after an overdub): worth waiting out.
    pub(crate) fn settling(&self) -> bool {
        self.finishing.is_some() || (self.mode == Mode::Playing && self.write.is_some())
    }

    /// Not rt: the track plays layer `layer` (`len` frames, already in memory) from
    /// its top, with no undo history, at the given mix.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn preload(
        &mut self,
        layer: usize,
        len: usize,
        volume: f32,
        pan: f32,
        muted: bool,
        reversed: bool,
        speed: Speed,
        feedback: f32,
    ) {
        self.cur = layer;
        self.mode = if len > 0 { Mode::Playing } else { Mode::Off };
        self.undo_avail = 0;
        self.redo_avail = 0;
        self.reversed = reversed;
        self.speed = speed;
        self.pos_half = if reversed {
            (len * 2).saturating_sub(1)
        } else {
            0
        };
        self.muted = muted;
        self.volume = if volume.is_finite() {
            volume.clamp(0.0, 4.0)
        } else {
            1.0
        };
        self.pan = if pan.is_finite() {
            pan.clamp(-1.0, 1.0)
        } else {
            0.0
        };
        self.feedback = if feedback.is_finite() {
            feedback.clamp(0.0, 1.0)
        } else {
            1.0
        };
        self.retarget();
        // Start at the saved mix, not gliding to it.
        self.gain_l.reset(self.gain_l.target());
        self.gain_r.reset(self.gain_r.target());
        self.ghost = None;
    }
}

#[cfg(test)]
mod meter_tests {
    use super::*;

    /// The wide meter pass reads the same levels as the frame-by-frame one, and both read
    /// what `play_into` added.
    #[test]
    fn the_meter_passes_agree_and_read_what_was_played() {
        for frames in [0usize, 1, 15, 16, 17, 64, 100] {
            let d: Vec<f32> = (0..2 * frames)
                .map(|i| ((i * 7919 % 101) as f32 - 50.0) / 60.0)
                .collect();
            let plain = meter_any(&d);
            let (gl, gr) = (0.7f32, -0.3f32);
            let (mut ol, mut or) = (vec![0f32; frames], vec![0f32; frames]);
            let (peak, sum_sq) = play_into(&d, gl, gr, &mut ol, &mut or, wide_simd());
            let want_peak = ol.iter().chain(&or).fold(0f32, |m, s| m.max(s.abs()));
            let want_sum: f32 = ol.iter().chain(&or).map(|s| s * s).sum();
            assert!(
                (peak - want_peak).abs() <= 1e-6,
                "{frames}: {peak} vs {want_peak}"
            );
            assert!(
                (sum_sq - want_sum).abs() <= 1e-4 * want_sum.max(1.0),
                "{frames}: {sum_sq} vs {want_sum}"
            );
            #[cfg(target_arch = "x86_64")]
            if wide_simd() {
                // The one-pass AVX2 version: the same outputs bit for bit, the same meter.
                let (mut wl, mut wr) = (vec![0.5f32; frames], vec![-0.5f32; frames]);
                let (mut pl, mut pr) = (wl.clone(), wr.clone());
                // SAFETY: the CPU has AVX2.
                let wide = unsafe { play_and_meter_avx2(&d, gl, gr, &mut wl, &mut wr) };
                play_into_any(&d, gl, gr, &mut pl, &mut pr);
                assert!(wl == pl && wr == pr, "{frames} frames: outputs differ");
                assert_eq!(wide.peak, plain.peak, "{frames} frames");
                for k in 0..2 {
                    let (a, b) = (wide.sum_sq[k], plain.sum_sq[k]);
                    assert!((a - b).abs() <= 1e-4 * b.max(1.0), "{frames}: {a} vs {b}");
                }
            }
        }
    }
}
