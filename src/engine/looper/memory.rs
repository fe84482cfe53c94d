//! Loop memory: per-track pools of stereo layer buffers, allocated off the audio thread.
//!
//! Every recording operation starts a new *layer* (an undo level) in the next buffer of
//! the track's ring. A new layer is not copied from its parent up front (that would be a
//! big memcpy inside one block); instead it remembers a `Mapping` to its parent and is
//! filled in chunk by chunk: on demand when the play or write head enters a chunk, and in
//! the background at a bounded number of frames per processed frame. Undo and redo are
//! then an index switch.

/// Frames per copy-on-demand chunk (a power of two).
pub const CHUNK_SHIFT: usize = 10;
pub const CHUNK_FRAMES: usize = 1 << CHUNK_SHIFT;

/// Where a layer's not-yet-copied frames come from.
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

/// One undo level: a stereo loop (interleaved L R) and what is valid in it.
pub(crate) struct Layer {
    pub data: Box<[f32]>,
    /// Per chunk: holds its final contents (copied or written).
    pub valid: Box<[bool]>,
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
    fn new(cap_frames: usize) -> Self {
        let chunks = cap_frames.div_ceil(CHUNK_FRAMES).max(1);
        let data = touched_zeros(cap_frames * 2);
        Self {
            data,
            valid: vec![true; chunks].into_boxed_slice(),
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

    /// rt: the frame `i`, without any copy-on-demand (the caller made sure it is valid).
    #[inline]
    pub fn frame(&self, i: usize) -> (f32, f32) {
        match self.data.get(2 * i..2 * i + 2) {
            Some(&[l, r]) => (l, r),
            _ => (0.0, 0.0),
        }
    }

    #[inline]
    pub fn frame_mut(&mut self, i: usize) -> Option<&mut [f32]> {
        self.data.get_mut(2 * i..2 * i + 2)
    }
}

/// One track's buffers: `layers.len()` = undo levels + 1.
pub struct TrackMemory {
    pub(crate) layers: Box<[Layer]>,
    cap_frames: usize,
}

impl TrackMemory {
    pub fn cap_frames(&self) -> usize {
        self.cap_frames
    }

    pub(crate) fn pool(&self) -> usize {
        self.layers.len()
    }

    /// rt: starts layer `li` from scratch with the given mapping and no valid chunks
    /// (or all valid for a fresh recording).
    pub(crate) fn reset_layer(&mut self, li: usize, map: Mapping, len: usize, cycle: usize) {
        if let Some(l) = self.layers.get_mut(li) {
            l.map = map;
            l.len = len;
            l.cycle = cycle;
            let fresh = map == Mapping::Fresh;
            l.valid.fill(fresh);
            l.copied_chunks = if fresh { usize::MAX } else { 0 };
        }
    }

    /// rt: makes sure the chunk holding frame `i` of layer `li` is valid.
    #[inline]
    pub(crate) fn ensure(&mut self, li: usize, i: usize) {
        let ok = self
            .layers
            .get(li)
            .and_then(|l| l.valid.get(i >> CHUNK_SHIFT))
            .copied()
            .unwrap_or(true);
        if !ok {
            self.materialize(li, i >> CHUNK_SHIFT, 0);
        }
    }

    /// rt: reads frame `i` of layer `li`, copying its chunk in first if needed.
    #[inline]
    pub(crate) fn read(&mut self, li: usize, i: usize) -> (f32, f32) {
        self.ensure(li, i);
        self.layers.get(li).map_or((0.0, 0.0), |l| l.frame(i))
    }

    /// rt: frame `i` of layer `li` for writing, copied in first if needed.
    #[inline]
    pub(crate) fn slot(&mut self, li: usize, i: usize) -> Option<&mut [f32]> {
        self.ensure(li, i);
        self.layers.get_mut(li).and_then(|l| l.frame_mut(i))
    }

    /// rt: copies chunk `c` of layer `li` from its parent (recursively through
    /// parents that are themselves still being copied) and marks it valid.
    fn materialize(&mut self, li: usize, c: usize, depth: usize) {
        let Some(layer) = self.layers.get(li) else {
            return;
        };
        let map = layer.map;
        let start = c << CHUNK_SHIFT;
        let end = (start + CHUNK_FRAMES).min(self.cap_frames);
        if let Some(v) = self.layers.get_mut(li).and_then(|l| l.valid.get_mut(c)) {
            *v = true;
        }
        self.copy_mapped(li, map, start, end, depth);
    }

    /// rt: copies target frames `start..end` of layer `li` through `map`, ignoring (and
    /// not changing) the valid flags of `li`.
    pub(crate) fn copy_mapped(
        &mut self,
        li: usize,
        map: Mapping,
        start: usize,
        end: usize,
        depth: usize,
    ) {
        let Some(src) = map.src() else {
            return;
        };
        if src == li || depth > self.layers.len() {
            return;
        }
        let mut p = start;
        while p < end {
            let (from, run) = map.run(p, end - p);
            if let Some(s) = from {
                // The parent's frames must be final before they are copied.
                let mut k = s >> CHUNK_SHIFT;
                while k << CHUNK_SHIFT < s + run {
                    let ok = self
                        .layers
                        .get(src)
                        .and_then(|l| l.valid.get(k))
                        .copied()
                        .unwrap_or(true);
                    if !ok {
                        self.materialize(src, k, depth + 1);
                    }
                    k += 1;
                }
                if let Some((dst, srcl)) = pair(&mut self.layers, li, src) {
                    if let (Some(d), Some(from)) = (
                        dst.data.get_mut(2 * p..2 * (p + run)),
                        srcl.data.get(2 * s..2 * (s + run)),
                    ) {
                        d.copy_from_slice(from);
                    }
                }
            }
            p += run;
        }
    }

    /// rt: the background copier: copies up to `budget_frames` of not-yet-valid chunks,
    /// oldest dependent layer first (so chains of parents collapse). `order` lists the
    /// live layers oldest first.
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
                let valid = self
                    .layers
                    .get(li)
                    .and_then(|l| l.valid.get(c))
                    .copied()
                    .unwrap_or(true);
                if !valid {
                    self.materialize(li, c, 0);
                    budget = budget.saturating_sub(CHUNK_FRAMES);
                } else {
                    budget = budget.saturating_sub(16);
                }
                c += 1;
            }
            if let Some(l) = self.layers.get_mut(li) {
                l.copied_chunks = c;
            }
            if budget == 0 {
                return;
            }
        }
    }

    /// rt: whether some layer still being copied reads from layer `li`.
    pub(crate) fn is_needed(&self, li: usize) -> bool {
        self.layers
            .iter()
            .enumerate()
            .any(|(i, l)| i != li && l.map.src() == Some(li) && !l.complete())
    }
}

/// rt: `dst` mutably and `src` shared, from one slice (None if they are the same).
fn pair(layers: &mut [Layer], dst: usize, src: usize) -> Option<(&mut Layer, &Layer)> {
    if dst < src {
        let (a, b) = layers.split_at_mut(src);
        Some((a.get_mut(dst)?, b.first()?))
    } else if src < dst {
        let (a, b) = layers.split_at_mut(dst);
        Some((b.first_mut()?, a.get(src)?))
    } else {
        None
    }
}

/// All loop memory, built off the audio thread and handed to the engine in a `Box`.
pub struct LoopMemory {
    pub(crate) tracks: Vec<TrackMemory>,
    sample_rate: u32,
}

impl LoopMemory {
    /// Not rt: `tracks` (1..=8) stereo tracks of `max_secs` each, with `undo_levels`
    /// levels of undo (each a full-length buffer; at least one).
    pub fn new(tracks: usize, max_secs: f32, undo_levels: usize, sample_rate: u32) -> Self {
        let cap = (max_secs.max(0.1) * sample_rate.max(1) as f32) as usize;
        let pool = undo_levels.clamp(1, 64) + 1;
        Self {
            tracks: (0..tracks.clamp(1, super::MAX_TRACKS))
                .map(|_| TrackMemory {
                    layers: (0..pool).map(|_| Layer::new(cap)).collect(),
                    cap_frames: cap,
                })
                .collect(),
            sample_rate,
        }
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

    /// Bytes this memory holds (for the settings page).
    pub fn bytes(&self) -> usize {
        self.tracks
            .iter()
            .flat_map(|t| t.layers.iter())
            .map(|l| l.data.len() * 4 + l.valid.len())
            .sum()
    }
}
