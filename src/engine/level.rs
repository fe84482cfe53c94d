//! Block reductions for the meters and the limiter's quiet test.
//!
//! Written lane by lane with plain comparisons: `f32::max` and a running sum keep the
//! compiler to one sample at a time, these keep eight in flight.

const LANES: usize = 8;

#[inline(always)]
pub fn bigger(a: f32, b: f32) -> f32 {
    if b > a {
        b
    } else {
        a
    }
}

/// rt: folds lane accumulators by halving down to two lanes, the even and the odd ones
/// (left and right of interleaved stereo): a few vector steps, not a scalar chain.
#[inline(always)]
pub fn fold_to_pair<const N: usize>(mut a: [f32; N], f: impl Fn(f32, f32) -> f32) -> (f32, f32) {
    let mut w = N;
    while w > 2 {
        w /= 2;
        for i in 0..w {
            a[i] = f(a[i], a[i + w]);
        }
    }
    (a[0], a[1])
}

/// rt: the largest |sample| (NaN is ignored).
#[inline]
pub fn peak(x: &[f32]) -> f32 {
    let mut acc = [0f32; LANES];
    let chunks = x.chunks_exact(LANES);
    let rest = chunks.remainder();
    for c in chunks {
        for (a, s) in acc.iter_mut().zip(c) {
            *a = bigger(*a, s.abs());
        }
    }
    let tail = rest.iter().fold(0f32, |m, s| bigger(m, s.abs()));
    acc.into_iter().fold(tail, bigger)
}

/// rt: the largest |sample| and the sum of squares.
#[inline]
pub fn peak_and_sum_sq(x: &[f32]) -> (f32, f32) {
    let mut top = [0f32; LANES];
    let mut sum = [0f32; LANES];
    let chunks = x.chunks_exact(LANES);
    let rest = chunks.remainder();
    for c in chunks {
        for ((t, q), s) in top.iter_mut().zip(sum.iter_mut()).zip(c) {
            *t = bigger(*t, s.abs());
            *q += s * s;
        }
    }
    let mut p = top.into_iter().fold(0f32, bigger);
    let mut q: f32 = sum.iter().sum();
    for s in rest {
        p = bigger(p, s.abs());
        q += s * s;
    }
    (p, q)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agree_with_the_plain_loops_at_every_length() {
        for n in 0..40 {
            let x: Vec<f32> = (0..n).map(|i| ((i * 7919) % 13) as f32 - 6.5).collect();
            let want_peak = x.iter().fold(0f32, |m, s| m.max(s.abs()));
            let want_sum: f32 = x.iter().map(|s| s * s).sum();
            assert_eq!(peak(&x), want_peak, "n={n}");
            let (p, q) = peak_and_sum_sq(&x);
            assert_eq!(p, want_peak, "n={n}");
            assert!(
                (q - want_sum).abs() <= want_sum * 1e-6,
                "n={n}: {q} vs {want_sum}"
            );
        }
    }

    #[test]
    fn nan_does_not_hide_a_peak() {
        let mut x = vec![0.1f32; 20];
        x[3] = f32::NAN;
        x[17] = -0.9;
        assert_eq!(peak(&x), 0.9);
    }
}
