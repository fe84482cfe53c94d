//! What the therapist keeps about a song for talking about it: cue points with a short
//! prompt (shown large when the song reaches them, and optionally pausing there), an A–B
//! stretch to repeat, and notes. Kept by the song's content (the loudness cache's key),
//! so they follow the song when it is renamed or brought on another stick; one file per
//! song in `listening/songs/`, and a note per session in `listening/sessions/`, 0600.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// A place in a song with something to say there.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cue {
    pub at_secs: f64,
    pub prompt: String,
    /// The song pauses (with its fade) when it gets here.
    #[serde(default)]
    pub wait: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SongNotes {
    #[serde(default)]
    pub cues: Vec<Cue>,
    /// Seconds (from, to) played round and round.
    #[serde(default)]
    pub repeat: Option<[f64; 2]>,
    #[serde(default)]
    pub notes: String,
}

#[derive(Debug, thiserror::Error)]
pub enum NotesError {
    #[error("the notes {0} could not be read: {1}")]
    Read(PathBuf, String),
    #[error("the notes {0} could not be written: {1}")]
    Write(PathBuf, String),
}

/// The most cues one song keeps, and the longest prompt.
pub const MAX_CUES: usize = 64;
pub const MAX_PROMPT_CHARS: usize = 200;

impl SongNotes {
    /// Numbers that are not times are dropped, cues kept in time order.
    pub fn checked(mut self) -> SongNotes {
        self.cues
            .retain(|c| c.at_secs.is_finite() && c.at_secs >= 0.0 && c.at_secs < 86_400.0);
        self.cues.truncate(MAX_CUES);
        for c in &mut self.cues {
            if c.prompt.chars().count() > MAX_PROMPT_CHARS {
                c.prompt = c.prompt.chars().take(MAX_PROMPT_CHARS).collect();
            }
        }
        self.cues.sort_by(|a, b| {
            a.at_secs
                .partial_cmp(&b.at_secs)
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        if let Some([a, b]) = self.repeat {
            if !(a.is_finite() && b.is_finite() && 0.0 <= a && a + 0.1 <= b) {
                self.repeat = None;
            }
        }
        self
    }

    /// The notes kept for the song with content key `key` (none yet: empty).
    pub fn load(dir: &Path, key: &str) -> Result<SongNotes, NotesError> {
        let path = dir.join(format!("{key}.toml"));
        match std::fs::read_to_string(&path) {
            Ok(t) => toml::from_str::<SongNotes>(&t)
                .map(SongNotes::checked)
                .map_err(|e| NotesError::Read(path, e.message().to_string())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(SongNotes::default()),
            Err(e) => Err(NotesError::Read(path, e.to_string())),
        }
    }

    pub fn save(&self, dir: &Path, key: &str) -> Result<(), NotesError> {
        let path = dir.join(format!("{key}.toml"));
        super::make_private_dir(dir, true)
            .map_err(|e| NotesError::Write(path.clone(), e.to_string()))?;
        let text =
            toml::to_string(self).map_err(|e| NotesError::Write(path.clone(), e.to_string()))?;
        super::write_private(&path, text.as_bytes())
            .map_err(|e| NotesError::Write(path, e.to_string()))
    }

    /// The cue reached between `before` and `now` seconds (playing forward), if any.
    pub fn cue_between(&self, before: f64, now: f64) -> Option<&Cue> {
        self.cues
            .iter()
            .rev()
            .find(|c| c.at_secs > before && c.at_secs <= now)
    }

    /// The first cue that waits after `secs`.
    pub fn next_wait_after(&self, secs: f64) -> Option<f64> {
        self.cues
            .iter()
            .find(|c| c.wait && c.at_secs > secs)
            .map(|c| c.at_secs)
    }
}

/// A session's note: one text file per day, `listening/sessions/YYYY-MM-DD.txt`.
pub fn session_note_path(dir: &Path, day: &str) -> PathBuf {
    dir.join(format!("{}.txt", super::safe_name(day)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_round_trip_privately_and_bad_numbers_are_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let notes = SongNotes {
            cues: vec![
                Cue {
                    at_secs: 30.0,
                    prompt: "Hva tenker du på nå?".into(),
                    wait: true,
                },
                Cue {
                    at_secs: 10.0,
                    prompt: "Lytt til bassen".into(),
                    wait: false,
                },
            ],
            repeat: Some([12.0, 20.0]),
            notes: "Valgt av klienten".into(),
        }
        .checked();
        assert_eq!(notes.cues[0].at_secs, 10.0, "in time order");
        notes.save(dir.path(), "abc").unwrap();
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("abc.toml"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(SongNotes::load(dir.path(), "abc").unwrap(), notes);
        assert_eq!(
            SongNotes::load(dir.path(), "none").unwrap(),
            SongNotes::default()
        );
        assert_eq!(
            notes.cue_between(5.0, 10.0).unwrap().prompt,
            "Lytt til bassen"
        );
        assert!(notes.cue_between(10.0, 29.0).is_none());
        assert_eq!(notes.next_wait_after(10.0), Some(30.0));
        let bad = SongNotes {
            cues: vec![Cue {
                at_secs: f64::NAN,
                prompt: String::new(),
                wait: false,
            }],
            repeat: Some([5.0, 1.0]),
            notes: String::new(),
        }
        .checked();
        assert!(bad.cues.is_empty() && bad.repeat.is_none());
        std::fs::write(dir.path().join("broken.toml"), "cues = [[[").unwrap();
        assert!(SongNotes::load(dir.path(), "broken").is_err());
    }
}
