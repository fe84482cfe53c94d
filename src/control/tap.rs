//! Tap tempo: a tempo from the last few taps of a foot switch, key or button.
//! Pure (timestamps in, BPM out) so it can be tested with made-up times.

pub use crate::engine::looper::sync::{MAX_BPM, MIN_BPM};
/// A pause longer than this starts a new count: the old taps were another song.
pub const RESET_SECS: f64 = 2.0;
/// A tap this soon after the last is a bounce or a double tap (faster than 400 BPM),
/// not a beat: it is dropped.
pub const BOUNCE_SECS: f64 = 0.15;
/// Intervals averaged; a few is steady without lagging behind a change of tempo.
const INTERVALS: usize = 4;

#[derive(Clone, Debug, Default)]
pub struct TapTempo {
    /// The last taps, oldest first, in seconds on any clock that only goes forward.
    taps: Vec<f64>,
}

impl TapTempo {
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes a tap at `secs`; the tempo once there are two taps, `None` before.
    pub fn tap(&mut self, secs: f64) -> Option<f32> {
        if !secs.is_finite() {
            return self.bpm();
        }
        match self.taps.last() {
            // A clock going backwards is treated like a long pause.
            Some(&last) if secs - last > RESET_SECS || secs < last => self.taps.clear(),
            Some(&last) if secs - last < BOUNCE_SECS => return self.bpm(),
            _ => {}
        }
        self.taps.push(secs);
        if self.taps.len() > INTERVALS + 1 {
            self.taps.remove(0);
        }
        self.bpm()
    }

    /// The tempo of the taps so far, if there are at least two.
    pub fn bpm(&self) -> Option<f32> {
        let (first, last) = (self.taps.first()?, self.taps.last()?);
        let intervals = self.taps.len().checked_sub(1).filter(|n| *n > 0)?;
        let avg = (last - first) / intervals as f64;
        Some(((60.0 / avg) as f32).clamp(MIN_BPM, MAX_BPM))
    }

    pub fn reset(&mut self) {
        self.taps.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn four_taps_half_a_second_apart_are_120_bpm() {
        let mut t = TapTempo::new();
        assert_eq!(t.tap(10.0), None);
        assert_eq!(t.tap(10.5), Some(120.0));
        assert_eq!(t.tap(11.0), Some(120.0));
        assert_eq!(t.tap(11.5), Some(120.0));
    }

    #[test]
    fn the_tempo_is_the_average_of_the_last_taps() {
        let mut t = TapTempo::new();
        t.tap(0.0);
        t.tap(0.6);
        // Intervals 0.6 and 0.4: 0.5 s on average.
        assert_eq!(t.tap(1.0), Some(120.0));
        // Only the last four intervals count: a slow start is forgotten.
        for i in 1..=4 {
            t.tap(1.0 + i as f64 * 0.75);
        }
        assert_eq!(t.bpm(), Some(80.0));
    }

    #[test]
    fn a_pause_of_more_than_two_seconds_starts_over() {
        let mut t = TapTempo::new();
        t.tap(0.0);
        t.tap(0.5);
        assert_eq!(t.tap(3.0), None, "a new count after the pause");
        assert_eq!(t.tap(4.0), Some(60.0));
        assert_eq!(t.tap(3.5), None, "a clock going back starts over too");
    }

    #[test]
    fn the_tempo_stays_between_40_and_240() {
        let mut t = TapTempo::new();
        t.tap(0.0);
        assert_eq!(t.tap(1.9), Some(MIN_BPM), "31.6 bpm is slower than allowed");
        t.reset();
        t.tap(0.0);
        assert_eq!(t.tap(0.2), Some(MAX_BPM), "300 bpm is faster than allowed");
        assert_eq!(t.tap(f64::NAN), Some(MAX_BPM), "nonsense times are ignored");
        assert_eq!(t.bpm(), Some(MAX_BPM));
    }

    #[test]
    fn a_double_tap_is_a_bounce_not_a_tempo() {
        let mut t = TapTempo::new();
        assert_eq!(t.tap(0.0), None);
        assert_eq!(t.tap(0.05), None, "a bounce alone sets no tempo");
        assert_eq!(t.tap(0.05), None, "nor does one at the same instant");
        assert_eq!(t.tap(0.5), Some(120.0));
        assert_eq!(t.tap(0.6), Some(120.0), "a bounce leaves the tempo be");
        assert_eq!(t.tap(1.0), Some(120.0));
    }
}
