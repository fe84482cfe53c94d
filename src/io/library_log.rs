//! What ALSA and JACK have to say goes through us, not straight to the terminal: their
//! messages ("ALSA lib confmisc.c:165 …", "Cannot connect to server socket …") are kept
//! here for a bug report, and Samspill says what matters in its own words.

use std::collections::VecDeque;
use std::ffi::{c_char, CStr};
use std::sync::{Mutex, Once};

/// Messages kept; older ones are let go.
const KEPT: usize = 64;

static MESSAGES: Mutex<VecDeque<String>> = Mutex::new(VecDeque::new());
static ROUTED: Once = Once::new();

fn keep(text: &CStr) {
    // Never waits: a library may call from a thread that must not block.
    if let Ok(mut m) = MESSAGES.try_lock() {
        if m.len() == KEPT {
            m.pop_front();
        }
        m.push_back(text.to_string_lossy().trim_end().to_owned());
    }
}

unsafe extern "C" {
    fn samspill_route_alsa_messages();
}

/// Called by the C shim with each ALSA message.
#[unsafe(no_mangle)]
extern "C" fn samspill_alsa_message(text: *const c_char) {
    if !text.is_null() {
        // SAFETY: the shim passes a NUL-terminated buffer that lives for this call.
        keep(unsafe { CStr::from_ptr(text) });
    }
}

unsafe extern "C" fn jack_message(text: *const c_char) {
    if !text.is_null() {
        // SAFETY: libjack passes a NUL-terminated string that lives for this call.
        keep(unsafe { CStr::from_ptr(text) });
    }
}

/// Routes ALSA's and JACK's messages here; once, before either library is used.
pub fn route_library_messages() {
    ROUTED.call_once(|| {
        // SAFETY: sets a process-wide handler; the shim's function lives as long as we do.
        unsafe { samspill_route_alsa_messages() };
        jack::set_logger(jack::LoggerType::Custom {
            info: jack_message,
            error: jack_message,
        });
    });
}

/// What the libraries said, oldest first (for `samspill devices --details`).
pub fn library_messages() -> Vec<String> {
    match MESSAGES.lock() {
        Ok(m) => m.iter().cloned().collect(),
        Err(p) => p.into_inner().iter().cloned().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alsa_messages_are_kept_not_printed() {
        route_library_messages();
        // An ALSA name that does not exist makes ALSA complain through its handler.
        let _ = alsa::PCM::new("samspill_no_such_pcm", alsa::Direction::Playback, false);
        let said = library_messages();
        assert!(
            said.iter()
                .any(|m| m.starts_with("ALSA ") && m.contains("samspill_no_such_pcm")),
            "{said:?}"
        );
    }
}
