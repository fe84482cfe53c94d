//! Loop memory: per-track pools of stereo chunks, allocated off the audio thread.
//!
//! Every recording operation starts a new *layer* (an undo level). A layer is a table of
//! chunks in its track's pool, and layers share the chunks they did not change
//! (reference counted): an overdub copies a chunk only when it first writes into it, so
//! an undo level costs what it changed, as SooperLooper keeps undo as changed spans.
//! Multiply and insert move frames off the chunk grid: such a layer remembers a
//! `Mapping` to its parent, reads through it until a chunk of its own is filled in (on
//! a write, and in the background at a bounded number of frames per processed frame).
//! Undo and redo are an index switch. When a pool runs dry the track gives up its
//! oldest undo level (`Track::make_room`).

/// Frames per chunk (a power of two).
pub const CHUNK_SHIFT: usize = 10;
pub const CHUNK_FRAMES: usize = 1 << CHUNK_SHIFT;
const CHUNK_SAMPLES: usize = 2 * CHUNK_FRAMES;
/// Beyond one full loop, each undo level sets aside this fraction (1/n) of a track for
/// the chunks it changes. Undo levels share it and the room a shorter loop leaves: with
/// the default four levels, a loop up to a fifth of the longest keeps four full
/// overdubs, and the whole costs under a quarter of four full copies.
pub const UNDO_SHARE: usize = 20;

/// A chunk slot that holds silence without a chunk of the pool.
const SILENT: u32 = u32::MAX;
static ZEROS: [f32; CHUNK_SAMPLES] = [0.0; CHUNK_SAMPLES];

/// Where a layer's not-yet-filled frames come from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Mapping {
    /// Every frame is written by a recording; nothing to copy.
    Fresh,
    /// Frame `p` is the parent's frame `p` (overdub, replace, substitute).
    Copy { src: usize },
    /// Frame `p` is the parent's frame `p % src_len` (multiply).
    Repeat { src: usize, src_len: usize },
    /// Frames before `at` are the parent's; `by` new frames follow (unknown while
    /// inserting: then nothing past `at` is copied); then the parent's frames from `at`.
    Insert {
        src: usize,
        at: usize,
        by: Option<usize>,
    },
}

impl Mapping {
    fn src(self) -> Option<usize> {
        match self {
            Mapping::Fresh => None,
            Mapping::Copy { src } | Mapping::Repeat { src, .. } | Mapping::Insert { src, .. } => {
                Some(src)
            }
        }
    }

    /// rt: the run starting at target frame `p` (at most `max` long): its source frame
    /// (None: nothing to copy) and its length.
    fn run(self, p: usize, max: usize) -> (Option<usize>, usize) {
        let max = max.max(1);
        match self {
            Mapping::Fresh => (None, max),
            Mapping::Copy { .. } => (Some(p), max),
            Mapping::Repeat { src_len, .. } => {
                if src_len == 0 {
                    return (None, max);
                }
                let off = p % src_len;
                (Some(off), max.min(src_len - off))
            }
            Mapping::Insert { at, by, .. } => {
                if p < at {
                    (Some(p), max.min(at - p))
                } else {
                    match by {
                        None => (None, max),
                        Some(by) if p < at + by => (None, max.min(at + by - p)),
                        Some(by) => (Some(p - by), max),
                    }
                }
            }
        }
    }
}

/// One undo level: a stereo loop (interleaved L R, chunk by chunk) and what is valid in it.
pub(crate) struct Layer {
    /// Per chunk of the loop: its chunk in the pool, or `SILENT`. A chunk not yet valid
    /// holds none.
    chunks: Box<[u32]>,
    /// Per chunk: holds its final contents (filled in, shared or written).
    valid: Box<[bool]>,
    pub len: usize,
    pub cycle: usize,
    pub map: Mapping,
    /// Background copier's cursor, in chunks.
    pub copied_chunks: usize,
}

/// Not rt: `n` zeros with every page already touched, so the audio thread that writes
/// them never takes a first-touch page fault (a zeroed allocation is only mapped lazily).
pub fn touched_zeros(n: usize) -> Box<[f32]> {
    let mut data = vec![0.0f32; n].into_boxed_slice();
    for page in data.chunks_mut(1024) {
        if let Some(s) = page.first_mut() {
            // SAFETY: a valid, aligned, initialised element of our own buffer.
            unsafe { std::ptr::write_volatile(s, 0.0) };
        }
    }
    data
}

impl Layer {
    fn new(cap_chunks: usize) -> Self {
        Self {
            chunks: vec![SILENT; cap_chunks].into_boxed_slice(),
            valid: vec![true; cap_chunks].into_boxed_slice(),
            len: 0,
            cycle: 0,
            map: Mapping::Fresh,
            copied_chunks: usize::MAX,
        }
    }

    /// Whether every chunk in the loop holds its final contents.
    pub fn complete(&self) -> bool {
        matches!(self.map, Mapping::Fresh) || self.copied_chunks >= self.len.div_ceil(CHUNK_FRAMES)
    }

    fn is_valid(&self, c: usize) -> bool {
        self.valid.get(c).copied().unwrap_or(true)
    }
}

/// One track's layers and the pool of chunks they share; `layers.len()` = undo levels + 1.
pub struct TrackMemory {
    pub(crate) layers: Box<[Layer]>,
    /// The chunks, `CHUNK_SAMPLES` each.
    pool: Box<[f32]>,
    /// Per chunk of the pool: how many layers hold it.
    refs: Box<[u16]>,
    /// Chunks no layer holds (a stack).
    free: Box<[u32]>,
    free_len: usize,
    cap_frames: usize,
}

/// Chunks in one track's pool: one full loop, and each undo level's share.
fn pool_chunks(cap_frames: usize, undo_levels: usize) -> usize {
    let full = cap_frames.div_ceil(CHUNK_FRAMES).max(1);
    full + (full * undo_levels).div_ceil(UNDO_SHARE).max(1)
}

impl TrackMemory {
    fn new(cap_frames: usize, undo_levels: usize) -> Self {
        let cap_chunks = cap_frames.div_ceil(CHUNK_FRAMES).max(1);
        let n = pool_chunks(cap_frames, undo_levels);
        Self {
            layers: (0..=undo_levels).map(|_| Layer::new(cap_chunks)).collect(),
            pool: touched_zeros(n * CHUNK_SAMPLES),
            refs: vec![0; n].into_boxed_slice(),
            free: (0..n as u32).rev().collect(),
            free_len: n,
            cap_frames,
        }
    }

    pub fn cap_frames(&self) -> usize {
        self.cap_frames
    }

    pub(crate) fn pool(&self) -> usize {
        self.layers.len()
    }

    /// Chunks of the pool no layer holds.
    pub fn free_chunks(&self) -> usize {
        self.free_len
    }

    /// rt: lets go of every chunk layer `li` holds; it becomes empty.
    pub(crate) fn release(&mut self, li: usize) {
        let Some(l) = self.layers.get_mut(li) else {
            return;
        };
        for k in l.chunks.iter_mut() {
            let old = std::mem::replace(k, SILENT);
            unref(&mut self.refs, &mut self.free, &mut self.free_len, old);
        }
        l.valid.fill(true);
        l.map = Mapping::Fresh;
        l.len = 0;
        l.cycle = 0;
        l.copied_chunks = usize::MAX;
    }

    /// rt: starts layer `li` from scratch with the given mapping (a fresh recording:
    /// silent and valid). A copy of a parent shares the parent's final chunks at once.
    pub(crate) fn reset_layer(&mut self, li: usize, map: Mapping, len: usize, cycle: usize) {
        self.release(li);
        let Some(l) = self.layers.get_mut(li) else {
            return;
        };
        l.map = map;
        l.len = len;
        l.cycle = cycle;
        if map == Mapping::Fresh {
            return;
        }
        l.valid.fill(false);
        l.copied_chunks = 0;
        if let Mapping::Copy { src } = map {
            let chunks = len.div_ceil(CHUNK_FRAMES);
            let mut all = true;
            for c in 0..chunks {
                all &= self.share(li, src, c);
            }
            if all {
                if let Some(l) = self.layers.get_mut(li) {
                    l.copied_chunks = chunks;
                }
            }
        }
    }

    /// rt: chunk `c` of layer `li` becomes the parent's chunk `c`, if that one is final.
    fn share(&mut self, li: usize, src: usize, c: usize) -> bool {
        if li == src {
            return false;
        }
        let Some(k) = self
            .layers
            .get(src)
            .filter(|p| p.is_valid(c))
            .and_then(|p| p.chunks.get(c))
            .copied()
        else {
            return false;
        };
        let Some(l) = self.layers.get_mut(li) else {
            return false;
        };
        if let (Some(slot), Some(v)) = (l.chunks.get_mut(c), l.valid.get_mut(c)) {
            // An invalid chunk holds none: nothing to let go of.
            *slot = k;
            *v = true;
            if let Some(r) = self.refs.get_mut(k as usize) {
                *r = r.saturating_add(1);
            }
        }
        true
    }

    /// rt: a chunk of the pool for one layer alone, or None when the pool is dry.
    fn alloc(&mut self) -> Option<u32> {
        self.free_len = self.free_len.checked_sub(1)?;
        let k = *self.free.get(self.free_len)?;
        if let Some(r) = self.refs.get_mut(k as usize) {
            *r = 1;
        }
        Some(k)
    }

    fn chunk(&self, k: u32) -> &[f32] {
        let at = k as usize * CHUNK_SAMPLES;
        self.pool.get(at..at + CHUNK_SAMPLES).unwrap_or(&ZEROS)
    }

    fn chunk_mut(&mut self, k: u32) -> Option<&mut [f32]> {
        let at = k as usize * CHUNK_SAMPLES;
        self.pool.get_mut(at..at + CHUNK_SAMPLES)
    }

    /// rt: makes sure chunk `c` of layer `li` holds its final contents (filled in from
    /// the parent); false when that needs a chunk and the pool is dry.
    #[inline]
    pub(crate) fn ensure_chunk(&mut self, li: usize, c: usize) -> bool {
        self.ensure_deep(li, c, 0)
    }

    /// rt: frame `i` of layer `li`: from its chunk when it has its final contents (filled
    /// in now if it can be), else read through to the parent.
    #[inline]
    pub(crate) fn read(&mut self, li: usize, i: usize) -> (f32, f32) {
        if self.ensure_chunk(li, i >> CHUNK_SHIFT) {
            self.frame(li, i)
        } else {
            self.peek(li, i)
        }
    }

    /// rt: frame `i` of layer `li`, its chunk valid.
    #[inline]
    fn frame(&self, li: usize, i: usize) -> (f32, f32) {
        let k = self
            .layers
            .get(li)
            .and_then(|l| l.chunks.get(i >> CHUNK_SHIFT))
            .copied()
            .unwrap_or(SILENT);
        if k == SILENT {
            return (0.0, 0.0);
        }
        let o = 2 * (i & (CHUNK_FRAMES - 1));
        match self.chunk(k).get(o..o + 2) {
            Some(&[l, r]) => (l, r),
            _ => (0.0, 0.0),
        }
    }

    /// rt: frame `i` of layer `li` as it sounds, without filling anything in (through
    /// the parents of layers still being filled).
    pub(crate) fn peek(&self, li: usize, i: usize) -> (f32, f32) {
        let (mut li, mut i) = (li, i);
        for _ in 0..=self.layers.len() {
            let Some(l) = self.layers.get(li) else {
                break;
            };
            if l.is_valid(i >> CHUNK_SHIFT) {
                return self.frame(li, i);
            }
            match l.map.run(i, 1) {
                (Some(s), _) => match l.map.src() {
                    Some(src) if src != li => (li, i) = (src, s),
                    _ => break,
                },
                (None, _) => break,
            }
        }
        (0.0, 0.0)
    }

    /// rt: frames `start..end` of layer `li`, inside one valid chunk (interleaved).
    #[inline]
    pub(crate) fn span(&self, li: usize, start: usize, end: usize) -> Option<&[f32]> {
        let c = start >> CHUNK_SHIFT;
        let l = self.layers.get(li)?;
        if !l.is_valid(c) || end == start || (end - 1) >> CHUNK_SHIFT != c {
            return None;
        }
        let k = *l.chunks.get(c)?;
        let (a, b) = (
            2 * (start & (CHUNK_FRAMES - 1)),
            2 * (end - (c << CHUNK_SHIFT)),
        );
        if k == SILENT {
            ZEROS.get(a..b)
        } else {
            self.chunk(k).get(a..b)
        }
    }

    /// rt: frames `start..end` of layer `li` for writing, inside one chunk that is
    /// already the layer's own (`make_own`).
    #[inline]
    pub(crate) fn span_mut(&mut self, li: usize, start: usize, end: usize) -> Option<&mut [f32]> {
        let c = start >> CHUNK_SHIFT;
        if end == start || (end - 1) >> CHUNK_SHIFT != c {
            return None;
        }
        let k = *self.layers.get(li)?.chunks.get(c)?;
        if k == SILENT || self.refs.get(k as usize).copied() != Some(1) {
            return None;
        }
        let (a, b) = (
            2 * (start & (CHUNK_FRAMES - 1)),
            2 * (end - (c << CHUNK_SHIFT)),
        );
        self.chunk_mut(k)?.get_mut(a..b)
    }

    /// rt: makes chunk `c` of layer `li` valid and the layer's alone, so it can be
    /// written (copied from a shared chunk first); false when the pool is dry.
    pub(crate) fn make_own(&mut self, li: usize, c: usize) -> bool {
        if !self.ensure_chunk(li, c) {
            return false;
        }
        let Some(&k) = self.layers.get(li).and_then(|l| l.chunks.get(c)) else {
            return false;
        };
        if k != SILENT && self.refs.get(k as usize).copied() == Some(1) {
            return true;
        }
        let Some(n) = self.alloc() else {
            return false;
        };
        let at = n as usize * CHUNK_SAMPLES;
        if k == SILENT {
            if let Some(d) = self.pool.get_mut(at..at + CHUNK_SAMPLES) {
                d.fill(0.0);
            }
        } else {
            self.pool.copy_within(
                k as usize * CHUNK_SAMPLES..(k as usize + 1) * CHUNK_SAMPLES,
                at,
            );
            unref(&mut self.refs, &mut self.free, &mut self.free_len, k);
        }
        if let Some(slot) = self.layers.get_mut(li).and_then(|l| l.chunks.get_mut(c)) {
            *slot = n;
        }
        true
    }

    /// rt: frame `i` of layer `li` for writing (see `make_own`).
    #[inline]
    pub(crate) fn slot(&mut self, li: usize, i: usize) -> Option<&mut [f32]> {
        if !self.make_own(li, i >> CHUNK_SHIFT) {
            return None;
        }
        self.span_mut(li, i, i + 1)
    }

    /// rt: fills chunk `c` of layer `li` in from its parent (through parents that are
    /// themselves still being filled in) and marks it valid; false when it needs a chunk
    /// and the pool is dry (then it stays as it was).
    fn materialize(&mut self, li: usize, c: usize, depth: usize) -> bool {
        let Some(layer) = self.layers.get(li) else {
            return true;
        };
        let map = layer.map;
        let Some(src) = map.src() else {
            return true;
        };
        if src == li || depth > self.layers.len() {
            return false;
        }
        if let Mapping::Copy { .. } = map {
            return (self.ensure_deep(src, c, depth + 1)) && self.share(li, src, c);
        }
        let start = c << CHUNK_SHIFT;
        let end = (start + CHUNK_FRAMES).min(self.cap_frames);
        // The parent's frames are made final first where that is possible; `peek` reads
        // through the rest.
        let mut p = start;
        while p < end {
            let (from, run) = map.run(p, end - p);
            if let Some(s) = from {
                let mut k = s >> CHUNK_SHIFT;
                while k << CHUNK_SHIFT < s + run {
                    self.ensure_deep(src, k, depth + 1);
                    k += 1;
                }
            }
            p += run;
        }
        let Some(n) = self.alloc() else {
            return false;
        };
        self.fill_mapped(n, src, map, start, end);
        if let Some(l) = self.layers.get_mut(li) {
            if let (Some(slot), Some(v)) = (l.chunks.get_mut(c), l.valid.get_mut(c)) {
                *slot = n;
                *v = true;
            }
        }
        true
    }

    fn ensure_deep(&mut self, li: usize, c: usize, depth: usize) -> bool {
        let ok = self.layers.get(li).is_none_or(|l| l.is_valid(c));
        ok || self.materialize(li, c, depth)
    }

    /// rt: pool chunk `n` takes target frames `start..end` (one chunk) through `map`
    /// from layer `src`; frames the map has no source for are silent.
    fn fill_mapped(&mut self, n: u32, src: usize, map: Mapping, start: usize, end: usize) {
        let base = start & !(CHUNK_FRAMES - 1);
        for p in start..end {
            let v = match map.run(p, 1) {
                (Some(s), _) => self.peek(src, s),
                (None, _) => (0.0, 0.0),
            };
            let o = 2 * (p - base);
            if let Some(d) = self.chunk_mut(n).and_then(|d| d.get_mut(o..o + 2)) {
                d.copy_from_slice(&[v.0, v.1]);
            }
        }
    }

    /// rt: writes target frames `start..end` of layer `li` (inside one chunk the layer
    /// owns) through `map`, leaving the other frames of the chunk as they are.
    pub(crate) fn copy_mapped(&mut self, li: usize, map: Mapping, start: usize, end: usize) {
        let Some(src) = map.src() else {
            return;
        };
        if src == li || end <= start || !self.make_own(li, start >> CHUNK_SHIFT) {
            return;
        }
        let Some(&n) = self
            .layers
            .get(li)
            .and_then(|l| l.chunks.get(start >> CHUNK_SHIFT))
        else {
            return;
        };
        let end = end.min((start | (CHUNK_FRAMES - 1)) + 1);
        self.fill_mapped(n, src, map, start, end);
    }

    /// rt: the background copier: fills in up to `budget_frames` of not-yet-valid
    /// chunks, oldest dependent layer first (so chains of parents collapse). `order`
    /// lists the live layers oldest first. Stops when the pool is dry.
    pub(crate) fn copy_some(&mut self, order: impl Iterator<Item = usize>, budget_frames: usize) {
        let mut budget = budget_frames;
        for li in order {
            let Some(l) = self.layers.get(li) else {
                continue;
            };
            if l.complete() || matches!(l.map, Mapping::Insert { by: None, .. }) {
                continue;
            }
            let chunks = l.len.div_ceil(CHUNK_FRAMES);
            let mut c = l.copied_chunks;
            while c < chunks && budget > 0 {
                if self.layers.get(li).is_some_and(|l| l.is_valid(c)) {
                    budget = budget.saturating_sub(16);
                } else if self.materialize(li, c, 0) {
                    budget = budget.saturating_sub(CHUNK_FRAMES);
                } else {
                    break;
                }
                c += 1;
            }
            if let Some(l) = self.layers.get_mut(li) {
                l.copied_chunks = c;
            }
            if budget == 0 || c < chunks {
                return;
            }
        }
    }

    /// rt: whether some layer still being filled in reads from layer `li`.
    pub(crate) fn is_needed(&self, li: usize) -> bool {
        self.layers
            .iter()
            .enumerate()
            .any(|(i, l)| i != li && l.map.src() == Some(li) && !l.complete())
    }
}

/// rt: one layer fewer holds pool chunk `k`; with none left it is free again.
fn unref(refs: &mut [u16], free: &mut [u32], free_len: &mut usize, k: u32) {
    if k == SILENT {
        return;
    }
    let Some(r) = refs.get_mut(k as usize) else {
        return;
    };
    *r = r.saturating_sub(1);
    if *r == 0 {
        if let Some(f) = free.get_mut(*free_len) {
            *f = k;
            *free_len += 1;
        }
    }
}

/// All loop memory, built off the audio thread and handed to the engine in a `Box`.
pub struct LoopMemory {
    pub(crate) tracks: Vec<TrackMemory>,
    sample_rate: u32,
}

impl LoopMemory {
    /// Not rt: `tracks` (1..=8) stereo tracks of `max_secs` each, with `undo_levels`
    /// levels of undo (at least one) sharing the pool of [`LoopMemory::bytes_for`].
    pub fn new(tracks: usize, max_secs: f32, undo_levels: usize, sample_rate: u32) -> Self {
        let (tracks, cap, undo) = Self::shape(tracks, max_secs, undo_levels, sample_rate);
        Self {
            tracks: (0..tracks).map(|_| TrackMemory::new(cap, undo)).collect(),
            sample_rate,
        }
    }

    fn shape(tracks: usize, max_secs: f32, undo: usize, rate: u32) -> (usize, usize, usize) {
        let cap = (max_secs.max(0.1) * rate.max(1) as f32) as usize;
        (
            tracks.clamp(1, crate::engine::shared::MAX_TRACKS),
            cap,
            undo.clamp(1, 64),
        )
    }

    /// Bytes `new` with these arguments holds, without making it (for the settings page).
    pub fn bytes_for(tracks: usize, max_secs: f32, undo_levels: usize, sample_rate: u32) -> u64 {
        let (tracks, cap, undo) = Self::shape(tracks, max_secs, undo_levels, sample_rate);
        let cap_chunks = cap.div_ceil(CHUNK_FRAMES).max(1);
        let n = pool_chunks(cap, undo);
        // The pool (f32 samples, a count and a free-list entry per chunk) and each
        // layer's table (a chunk index and a flag per chunk).
        let per_track = n * (CHUNK_SAMPLES * 4 + 2 + 4) + (undo + 1) * cap_chunks * 5;
        (tracks * per_track) as u64
    }

    pub fn tracks(&self) -> usize {
        self.tracks.len()
    }

    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    /// Frames one track can hold.
    pub fn cap_frames(&self) -> usize {
        self.tracks.first().map_or(0, |t| t.cap_frames)
    }

    /// Bytes this memory holds.
    pub fn bytes(&self) -> usize {
        self.tracks
            .iter()
            .map(|t| {
                t.pool.len() * 4
                    + t.refs.len() * 2
                    + t.free.len() * 4
                    + t.layers
                        .iter()
                        .map(|l| l.chunks.len() * 4 + l.valid.len())
                        .sum::<usize>()
            })
            .sum()
    }
}
