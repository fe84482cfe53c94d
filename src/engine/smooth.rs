//! Linear parameter ramps, so no gain, pan or fade ever steps (no zipper noise, no clicks).

/// A value that glides to its target over a fixed time.
#[derive(Clone, Copy, Debug)]
pub struct Smoother {
    current: f32,
    target: f32,
    step: f32,
    left: u32,
    ramp_frames: u32,
}

impl Smoother {
    pub fn new(value: f32, ramp_frames: u32) -> Self {
        Self {
            current: value,
            target: value,
            step: 0.0,
            left: 0,
            ramp_frames: ramp_frames.max(1),
        }
    }

    /// rt: starts a glide from wherever the value is now.
    pub fn set(&mut self, target: f32) {
        if target == self.target {
            return;
        }
        self.target = target;
        self.left = self.ramp_frames;
        self.step = (target - self.current) / self.ramp_frames as f32;
    }

    /// rt: jumps without a glide (only while silent, e.g. at start).
    pub fn reset(&mut self, value: f32) {
        self.current = value;
        self.target = value;
        self.left = 0;
    }

    pub fn target(&self) -> f32 {
        self.target
    }

    pub fn current(&self) -> f32 {
        self.current
    }

    pub fn is_settled(&self) -> bool {
        self.left == 0
    }

    /// rt: the next value of the glide.
    #[inline]
    pub fn next_value(&mut self) -> f32 {
        if self.left > 0 {
            self.left -= 1;
            self.current = if self.left == 0 {
                self.target
            } else {
                self.current + self.step
            };
        }
        self.current
    }

    /// rt: multiplies `buf` by the glide; the settled case is a plain scale.
    #[inline]
    pub fn apply(&mut self, buf: &mut [f32]) {
        if self.is_settled() {
            let g = self.current;
            if g != 1.0 {
                buf.iter_mut().for_each(|s| *s *= g);
            }
        } else {
            buf.iter_mut().for_each(|s| *s *= self.next_value());
        }
    }

    /// rt: adds `src` times the glide into `dst`.
    #[inline]
    pub fn mix_into(&mut self, src: &[f32], dst: &mut [f32]) {
        if self.is_settled() {
            let g = self.current;
            if g != 0.0 {
                dst.iter_mut().zip(src).for_each(|(d, s)| *d += s * g);
            }
        } else {
            dst.iter_mut()
                .zip(src)
                .for_each(|(d, s)| *d += s * self.next_value());
        }
    }
}

pub fn db_to_gain(db: f32) -> f32 {
    if db <= -120.0 {
        0.0
    } else {
        10f32.powf(db / 20.0)
    }
}

pub fn gain_to_db(gain: f32) -> f32 {
    if gain <= 1e-6 {
        -120.0
    } else {
        20.0 * gain.log10()
    }
}

/// Constant-power pan: -1 left, 0 centre (each side -3 dB), +1 right.
pub fn pan_gains(pan: f32) -> (f32, f32) {
    let theta = (pan.clamp(-1.0, 1.0) + 1.0) * std::f32::consts::FRAC_PI_4;
    (theta.cos(), theta.sin())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glide_reaches_target_exactly_and_never_steps() {
        let mut s = Smoother::new(0.0, 100);
        s.set(1.0);
        let mut prev = 0.0;
        for _ in 0..100 {
            let v = s.next_value();
            assert!((v - prev).abs() <= 0.0101);
            prev = v;
        }
        assert_eq!(prev, 1.0);
        assert!(s.is_settled());
    }
}
