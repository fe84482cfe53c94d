//! Numbers from outside (typed lines, OSC, settings, scripts, jams) are checked here
//! before they go anywhere: NaN and ±Inf pass every `clamp`, so they are refused by name.

/// A number that is not a number: the message names what it was for and what came.
#[derive(Clone, Copy, Debug, PartialEq, thiserror::Error)]
#[error("{what} must be a number, not {value}")]
pub struct NotFinite {
    pub what: &'static str,
    pub value: f64,
}

/// `value` if it is finite; otherwise an error naming `what` and the value.
pub fn finite<T: Copy + Into<f64>>(what: &'static str, value: T) -> Result<T, NotFinite> {
    let x: f64 = value.into();
    if x.is_finite() {
        Ok(value)
    } else {
        Err(NotFinite { what, value: x })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nan_and_infinities_are_refused_by_name() {
        assert_eq!(finite("the level", -6.0f32), Ok(-6.0));
        for v in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            let e = finite("the level", v).unwrap_err();
            let text = e.to_string();
            assert!(
                text.starts_with("the level must be a number, not "),
                "{text}"
            );
            assert!(
                text.ends_with(&format!("{}", v as f64)),
                "{text} does not name {v}"
            );
        }
    }
}
