//! Voice stealing shared by the built-in synth and the drum kit: a stolen voice is not
//! cut but moved to a fade slot, where it dies out in a few milliseconds.

/// Stolen voices fade out over this long.
pub const STEAL_FADE_SECS: f32 = 0.004;
/// A fade slot may be reused for a new steal once its voice is this far down.
const MAX_CUT_FADE: f32 = 0.1;

/// A voice that can be stolen into a fade slot.
pub trait Fading: Copy {
    fn active(&self) -> bool;
    /// Where its fade is now (1 = not fading yet).
    fn fade(&self) -> f32;
    /// Lower is stolen first.
    fn steal_rank(&self) -> (u8, u64);
    /// rt: fade to silence, `step` per sample, then free.
    fn begin_fade(&mut self, step: f32);
    fn silence(&mut self);
}

/// rt: a free voice, or the best one to steal after moving it to a fade slot.
/// `None` in a burst that has filled every fade slot: dropping the newest note is
/// quieter than cutting a loud one.
pub fn free_or_steal<V: Fading>(voices: &mut [V], fading: &mut [V], step: f32) -> Option<usize> {
    if let Some(i) = voices.iter().position(|v| !v.active()) {
        return Some(i);
    }
    let mut victim = 0;
    let mut best = (u8::MAX, u64::MAX);
    for (i, v) in voices.iter().enumerate() {
        let rank = v.steal_rank();
        if rank < best {
            best = rank;
            victim = i;
        }
    }
    // A free fade slot, else the one closest to silence.
    let mut slot = 0;
    let mut lowest = f32::MAX;
    for (i, f) in fading.iter().enumerate() {
        let left = if f.active() { f.fade() } else { -1.0 };
        if left < lowest {
            lowest = left;
            slot = i;
        }
    }
    if lowest > MAX_CUT_FADE {
        return None;
    }
    if let (Some(src), Some(dst)) = (voices.get_mut(victim), fading.get_mut(slot)) {
        *dst = *src;
        dst.begin_fade(step);
        src.silence();
    }
    Some(victim)
}
