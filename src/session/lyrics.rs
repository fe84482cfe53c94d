//! Lyrics beside a song, so it can be sung along to and its chords learned: an LRC file
//! (timed lines, highlighted as the song reaches them), a ChordPro file (chords above the
//! words, transposable) or plain text. Found beside the song by its name (`song.lrc`,
//! `song.cho`, `song.chopro`, `song.chordpro`, `song.txt`). Readers of our own, tolerant:
//! a line they do not understand is kept as words, never a panic.

use std::path::{Path, PathBuf};

/// One line of words, with the chords above it (each at a character of the words) and,
/// for LRC, the time it is sung at.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LyricLine {
    pub at_secs: Option<f64>,
    pub words: String,
    /// (character index into `words`, chord name).
    pub chords: Vec<(usize, String)>,
    /// A heading or a comment (`{c: Chorus}`), shown apart.
    pub comment: bool,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Lyrics {
    pub title: Option<String>,
    pub artist: Option<String>,
    pub lines: Vec<LyricLine>,
    /// Whether lines carry times (LRC).
    pub timed: bool,
    pub source: PathBuf,
}

impl Lyrics {
    /// The line being sung at `secs` (LRC), if any.
    pub fn line_at(&self, secs: f64) -> Option<usize> {
        if !self.timed {
            return None;
        }
        self.lines
            .iter()
            .enumerate()
            .filter(|(_, l)| l.at_secs.is_some_and(|t| t <= secs))
            .max_by(|a, b| {
                a.1.at_secs
                    .partial_cmp(&b.1.at_secs)
                    .unwrap_or(std::cmp::Ordering::Equal)
            })
            .map(|(i, _)| i)
    }

    /// Every chord moved by `semitones` (ChordPro).
    pub fn transposed(&self, semitones: i32) -> Lyrics {
        let mut out = self.clone();
        for l in &mut out.lines {
            for (_, c) in &mut l.chords {
                *c = transpose_chord(c, semitones);
            }
        }
        out
    }
}

/// The lyrics file beside `song`, read, if there is one.
pub fn find_for(song: &Path) -> Option<Lyrics> {
    for ext in ["lrc", "cho", "chopro", "chordpro", "crd", "txt"] {
        let p = song.with_extension(ext);
        if p.is_file() {
            let bytes = std::fs::read(&p).ok()?;
            let text = super::playlist::text_of(&bytes);
            let mut l = match ext {
                "lrc" => parse_lrc(&text),
                "txt" => parse_text(&text),
                _ => parse_chordpro(&text),
            };
            l.source = p;
            return Some(l);
        }
    }
    None
}

/// `[mm:ss.xx]`, `[mm:ss]`, `[mm:ss:xx]` as seconds.
fn lrc_time(tag: &str) -> Option<f64> {
    let (m, rest) = tag.split_once(':')?;
    let m: f64 = m.trim().parse().ok()?;
    let rest = rest.trim().replacen(':', ".", 1);
    let s: f64 = rest.parse().ok()?;
    let t = m * 60.0 + s;
    (t.is_finite() && t >= 0.0 && m >= 0.0 && s >= 0.0).then_some(t)
}

/// An LRC file: every line with one or more time tags is sung at those times; `[ti:]`,
/// `[ar:]` and `[offset:]` (milliseconds, later when positive) are read; the rest is kept
/// untimed.
pub fn parse_lrc(text: &str) -> Lyrics {
    let mut l = Lyrics {
        timed: true,
        ..Lyrics::default()
    };
    let mut offset = 0.0;
    let mut timed = Vec::new();
    for raw in text.lines() {
        let mut rest = raw.trim();
        let mut times = Vec::new();
        while let Some(inner) = rest.strip_prefix('[') {
            let Some(close) = inner.find(']') else {
                break;
            };
            let tag = &inner[..close];
            rest = inner[close + 1..].trim_start();
            if let Some(t) = lrc_time(tag) {
                times.push(t);
            } else if let Some((k, v)) = tag.split_once(':') {
                let v = v.trim().to_string();
                match k.trim().to_ascii_lowercase().as_str() {
                    "ti" => l.title = Some(v),
                    "ar" => l.artist = Some(v),
                    "offset" => offset = v.parse::<f64>().unwrap_or(0.0) / 1000.0,
                    _ => {}
                }
            }
        }
        // Word-by-word stamps (`<00:12.30>`) inside the line are left out of the words.
        let words = strip_angle_stamps(rest);
        for t in &times {
            timed.push((*t, words.clone()));
        }
    }
    timed.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
    l.lines = timed
        .into_iter()
        .map(|(t, words)| LyricLine {
            // A positive offset shows the lyrics earlier.
            at_secs: Some((t - offset).max(0.0)),
            words,
            chords: Vec::new(),
            comment: false,
        })
        .collect();
    l
}

fn strip_angle_stamps(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(open) = rest.find('<') {
        match rest[open..].find('>') {
            Some(close) if lrc_time(&rest[open + 1..open + close]).is_some() => {
                out.push_str(&rest[..open]);
                rest = &rest[open + close + 1..];
            }
            _ => {
                out.push_str(&rest[..open + 1]);
                rest = &rest[open + 1..];
            }
        }
    }
    out.push_str(rest);
    out.trim().to_string()
}

pub fn parse_text(text: &str) -> Lyrics {
    Lyrics {
        lines: text
            .lines()
            .map(|w| LyricLine {
                words: w.trim_end().to_string(),
                ..LyricLine::default()
            })
            .collect(),
        ..Lyrics::default()
    }
}

/// A ChordPro file: `[C]` chords inline (placed above the next word), `{title:}`,
/// `{artist:}`, `{comment:}` / `{c:}`, chorus marks, `{transpose: N}`; `#` lines are
/// the file's own comments.
pub fn parse_chordpro(text: &str) -> Lyrics {
    let mut l = Lyrics::default();
    let mut transpose = 0;
    for raw in text.lines() {
        let line = raw.trim_end();
        if line.trim_start().starts_with('#') {
            continue;
        }
        let t = line.trim();
        if t.starts_with('{') && t.ends_with('}') && t.len() >= 2 {
            let inner = &t[1..t.len() - 1];
            let (k, v) = inner.split_once(':').unwrap_or((inner, ""));
            let v = v.trim().to_string();
            match k.trim().to_ascii_lowercase().as_str() {
                "title" | "t" => l.title = Some(v),
                "artist" | "subtitle" | "st" => l.artist = l.artist.take().or(Some(v)),
                "comment" | "c" | "comment_italic" | "ci" | "highlight" => {
                    l.lines.push(LyricLine {
                        words: v,
                        comment: true,
                        ..LyricLine::default()
                    })
                }
                "start_of_chorus" | "soc" => l.lines.push(LyricLine {
                    words: if v.is_empty() { "Chorus".into() } else { v },
                    comment: true,
                    ..LyricLine::default()
                }),
                "transpose" => transpose = v.parse::<i32>().unwrap_or(0).clamp(-11, 11),
                _ => {}
            }
            continue;
        }
        let mut words = String::new();
        let mut chords = Vec::new();
        let mut rest = line;
        while let Some(open) = rest.find('[') {
            words.push_str(&rest[..open]);
            match rest[open..].find(']') {
                Some(close) => {
                    let chord = rest[open + 1..open + close].trim().to_string();
                    if !chord.is_empty() {
                        chords.push((words.chars().count(), chord));
                    }
                    rest = &rest[open + close + 1..];
                }
                None => {
                    words.push_str(&rest[open..]);
                    rest = "";
                }
            }
        }
        words.push_str(rest);
        l.lines.push(LyricLine {
            words,
            chords,
            ..LyricLine::default()
        });
    }
    if transpose != 0 {
        l = l.transposed(transpose);
    }
    l
}

const SHARPS: [&str; 12] = [
    "C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B",
];
const FLATS: [&str; 12] = [
    "C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B",
];

/// A note name at the start of `s` ("C", "F#", "Bb", "H" as Norwegian B) and its length.
fn root(s: &str) -> Option<(usize, usize, bool)> {
    let mut chars = s.chars();
    let letter = chars.next()?.to_ascii_uppercase();
    let base = match letter {
        'C' => 0,
        'D' => 2,
        'E' => 4,
        'F' => 5,
        'G' => 7,
        'A' => 9,
        'B' | 'H' => 11,
        _ => return None,
    };
    match chars.next() {
        Some('#') => Some(((base + 1) % 12, 2, false)),
        Some('b') if s.len() >= 2 => Some(((base + 11) % 12, 2, true)),
        _ => Some((base, 1, false)),
    }
}

/// A chord moved by `semitones`: its root and a bass after `/`; the rest (m, 7, sus4)
/// stays. Not a chord: unchanged.
pub fn transpose_chord(chord: &str, semitones: i32) -> String {
    let shift = |s: &str| -> Option<String> {
        let (n, len, flat) = root(s)?;
        let m = (n as i32 + semitones).rem_euclid(12) as usize;
        let name = if flat { FLATS[m] } else { SHARPS[m] };
        Some(format!("{name}{}", s.get(len..).unwrap_or("")))
    };
    match chord.split_once('/') {
        Some((top, bass)) => match (shift(top), shift(bass)) {
            (Some(t), Some(b)) => format!("{t}/{b}"),
            _ => chord.to_string(),
        },
        None => shift(chord).unwrap_or_else(|| chord.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lrc_lines_are_timed_sorted_and_offset() {
        let l = parse_lrc("[ti:Sang]\n[offset:+500]\n[00:12.00][01:02.50]Refreng\n[00:05.10]Vers <00:06.00>en\nno time\n");
        assert_eq!(l.title.as_deref(), Some("Sang"));
        assert_eq!(l.lines.len(), 3);
        assert_eq!(l.lines[0].words, "Vers en");
        assert!((l.lines[0].at_secs.unwrap() - 4.6).abs() < 1e-9);
        assert_eq!(l.lines[2].words, "Refreng");
        assert_eq!(l.line_at(12.0), Some(1));
        assert_eq!(l.line_at(1.0), None);
    }

    #[test]
    fn chordpro_chords_sit_above_their_words_and_transpose() {
        let l = parse_chordpro("{title: Vise}\n{c: Vers}\n[G]Jeg går [Em]ut i [C/E]natt\n# note\n");
        assert_eq!(l.title.as_deref(), Some("Vise"));
        assert!(l.lines[0].comment);
        let v = &l.lines[1];
        assert_eq!(v.words, "Jeg går ut i natt");
        assert_eq!(
            v.chords,
            vec![(0, "G".into()), (8, "Em".into()), (13, "C/E".into())]
        );
        let up = l.transposed(2);
        assert_eq!(up.lines[1].chords[2].1, "D/F#");
        assert_eq!(transpose_chord("Bbmaj7", 1), "Bmaj7");
        assert_eq!(transpose_chord("Bb", -1), "A");
        assert_eq!(transpose_chord("Hm", 1), "Cm");
        assert_eq!(transpose_chord("N.C.", 3), "N.C.");
    }

    #[test]
    fn any_bytes_read_without_a_panic() {
        let mut seed = 7u64;
        let alphabet = b"[]{}:<>0123456789.:+-#/ abcCDEFGHb\n\xC3\xA5";
        for len in 0..600 {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    seed = seed
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    alphabet[(seed >> 33) as usize % alphabet.len()]
                })
                .collect();
            let text = crate::session::playlist::text_of(&bytes);
            let l = parse_lrc(&text);
            let _ = l.line_at(30.0);
            let c = parse_chordpro(&text);
            let _ = c.transposed(5);
            let _ = parse_text(&text);
            for w in text.split_whitespace() {
                let _ = transpose_chord(w, -7);
            }
        }
    }
}
