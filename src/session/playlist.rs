//! Playlists as people bring them: M3U and M3U8 (UTF-8 with or without a BOM, Latin-1,
//! UTF-16 from Windows; `#EXTINF` titles; relative, absolute, `file://` and Windows
//! paths) and PLS. A tolerant reader of our own: a line it cannot use becomes an entry
//! with the reason, never dropped in silence. Export writes `.m3u8` with paths relative
//! to the playlist, so a folder copied to a USB stick keeps working.

use std::path::{Component, Path, PathBuf};

/// The folder of the listening room's own files: the loudness measurements (and the
/// client's playlists, notes and cue points as they come).
pub const LISTENING_DIR: &str = "listening";

/// The listening folder in the user's data folder (0700), made if new.
pub fn listening_dir() -> Option<PathBuf> {
    let dir = super::data_dir()?.join(LISTENING_DIR);
    super::make_private_dir(&dir, true).ok()?;
    Some(dir)
}

/// Where the loudness measurements are kept: `listening/loudness.toml` in the user's
/// data folder (0700 folder, 0600 file); `None` without a data folder.
pub fn loudness_cache_path() -> Option<PathBuf> {
    Some(listening_dir()?.join("loudness.toml"))
}

/// One song of a playlist: where it is, what the list calls it, and why it cannot be
/// played, when it cannot.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub path: PathBuf,
    pub title: Option<String>,
    pub problem: Option<Problem>,
}

/// Why a song of a list cannot be played; the panel says it in its language.
#[derive(Clone, Debug, PartialEq)]
pub enum Problem {
    Missing,
    /// A Windows path (as the list has it) not found here.
    NotOnThisMachine(String),
    Folder,
    WebAddress,
    Unreadable(String),
    NotSound,
    /// The codec's name.
    Codec(String),
    Broken(String),
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Missing => write!(
                f,
                "not there (moved, renamed, or on a USB stick that is not in)"
            ),
            Problem::NotOnThisMachine(p) => {
                write!(
                    f,
                    "not found here (the list points to {p} on a Windows machine)"
                )
            }
            Problem::Folder => write!(f, "a folder, not a song"),
            Problem::WebAddress => write!(
                f,
                "a web address: Samspill plays files on this machine only"
            ),
            Problem::Unreadable(why) => write!(f, "cannot be read: {why}"),
            Problem::NotSound => write!(f, "not a sound file Samspill knows"),
            Problem::Codec(c) => write!(f, "sound in a form Samspill cannot play ({c})"),
            Problem::Broken(why) => write!(f, "broken: {why}"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PlaylistError {
    #[error("the playlist {0} cannot be read: {1}")]
    Unreadable(PathBuf, String),
    #[error("{0} is not a playlist Samspill knows (M3U, M3U8 or PLS) and holds no songs")]
    Empty(PathBuf),
}

/// Whether a path names a playlist by its extension.
pub fn is_playlist(path: &Path) -> bool {
    matches!(
        path.extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Some("m3u" | "m3u8" | "pls")
    )
}

/// The playlist's bytes as text, whatever the program that wrote it used.
pub fn text_of(bytes: &[u8]) -> String {
    if let Some(rest) = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        return String::from_utf8_lossy(rest).into_owned();
    }
    let utf16 = |rest: &[u8], le: bool| {
        let units: Vec<u16> = rest
            .chunks_exact(2)
            .map(|c| {
                if le {
                    u16::from_le_bytes([c[0], c[1]])
                } else {
                    u16::from_be_bytes([c[0], c[1]])
                }
            })
            .collect();
        String::from_utf16_lossy(&units)
    };
    if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        return utf16(rest, true);
    }
    if let Some(rest) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        return utf16(rest, false);
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        // Latin-1 (and Windows-1252's letters, which are the same for Norwegian ones).
        Err(_) => bytes.iter().map(|b| *b as char).collect(),
    }
}

/// Reads the playlist at `path`; entries' paths are resolved against its folder.
pub fn read(path: &Path) -> Result<Vec<Entry>, PlaylistError> {
    let bytes = std::fs::read(path)
        .map_err(|e| PlaylistError::Unreadable(path.to_owned(), e.to_string()))?;
    let base = path.parent().unwrap_or(Path::new("."));
    let entries = parse(&text_of(&bytes), base);
    if entries.is_empty() {
        return Err(PlaylistError::Empty(path.to_owned()));
    }
    Ok(entries)
}

/// The entries of a playlist's text (M3U or PLS, told by its content), against `base`.
pub fn parse(text: &str, base: &Path) -> Vec<Entry> {
    let is_pls = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .is_some_and(|l| l.eq_ignore_ascii_case("[playlist]"));
    if is_pls {
        parse_pls(text, base)
    } else {
        parse_m3u(text, base)
    }
}

fn parse_m3u(text: &str, base: &Path) -> Vec<Entry> {
    let mut out = Vec::new();
    let mut title = None;
    for line in text.lines() {
        let line = line.trim().trim_start_matches('\u{feff}');
        if line.is_empty() {
            continue;
        }
        if let Some(info) = line.strip_prefix("#EXTINF:") {
            // "#EXTINF:213,Artist - Title": the title after the first comma.
            title = info
                .split_once(',')
                .map(|(_, t)| t.trim().to_string())
                .filter(|t| !t.is_empty());
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        out.push(entry(line, title.take(), base));
    }
    out
}

fn parse_pls(text: &str, base: &Path) -> Vec<Entry> {
    let mut files: Vec<(u32, String)> = Vec::new();
    let mut titles: Vec<(u32, String)> = Vec::new();
    for line in text.lines() {
        let Some((key, value)) = line.trim().split_once('=') else {
            continue;
        };
        let key = key.trim().to_ascii_lowercase();
        let number = |prefix: &str| key.strip_prefix(prefix).and_then(|n| n.parse::<u32>().ok());
        if let Some(n) = number("file") {
            files.push((n, value.trim().to_string()));
        } else if let Some(n) = number("title") {
            titles.push((n, value.trim().to_string()));
        }
    }
    files.sort_by_key(|(n, _)| *n);
    files
        .into_iter()
        .map(|(n, f)| {
            let title = titles
                .iter()
                .find(|(k, _)| *k == n)
                .map(|(_, t)| t.clone())
                .filter(|t| !t.is_empty());
            entry(&f, title, base)
        })
        .collect()
}

fn percent_decoded(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One playlist line as an entry: resolved, and checked that it is there.
fn entry(line: &str, title: Option<String>, base: &Path) -> Entry {
    let lower = line.to_ascii_lowercase();
    if lower.contains("://") && !lower.starts_with("file://") {
        return Entry {
            path: PathBuf::from(line),
            title,
            problem: Some(Problem::WebAddress),
        };
    }
    let text = match line.strip_prefix("file://") {
        // file:///home/a%20b.mp3 (and file://localhost/...)
        Some(rest) => percent_decoded(rest.strip_prefix("localhost").unwrap_or(rest)),
        None => line.to_string(),
    };
    let windows = text.contains('\\') || drive_letter(&text);
    let path = if windows {
        resolve_windows(&text, base)
    } else {
        let p = PathBuf::from(&text);
        if p.is_absolute() {
            p
        } else {
            base.join(p)
        }
    };
    let problem = match std::fs::metadata(&path) {
        Ok(m) if m.is_dir() => Some(Problem::Folder),
        Ok(_) => None,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some(if windows {
            Problem::NotOnThisMachine(text.clone())
        } else {
            Problem::Missing
        }),
        Err(e) => Some(Problem::Unreadable(e.to_string())),
    };
    Entry {
        path,
        title,
        problem,
    }
}

fn drive_letter(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':'
}

/// A Windows path in a playlist: relative ones against `base`; an absolute one (a drive
/// letter, a share) is looked for under `base` by its last folders, the way a music
/// folder copied from a PC sits beside its list: `E:\Music\Album\a.mp3` is tried as
/// `base/Music/Album/a.mp3`, `base/Album/a.mp3`, `base/a.mp3`. Not found: the first try.
fn resolve_windows(text: &str, base: &Path) -> PathBuf {
    let unixy = text.replace('\\', "/");
    let absolute = drive_letter(&unixy) || unixy.starts_with('/');
    let rest = if drive_letter(&unixy) {
        &unixy[2..]
    } else {
        &unixy[..]
    };
    let parts: Vec<&str> = rest
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    if !absolute {
        let mut p = base.to_path_buf();
        for part in parts {
            p.push(part);
        }
        return p;
    }
    let tries: Vec<PathBuf> = (0..parts.len())
        .map(|skip| {
            let mut p = base.to_path_buf();
            for part in &parts[skip..] {
                p.push(part);
            }
            p
        })
        .collect();
    tries
        .iter()
        .find(|p| p.exists())
        .or(tries.first())
        .cloned()
        .unwrap_or_else(|| base.join(rest))
}

/// `to` as seen from the folder `from`: `../Album/a.mp3` and the like; `to` itself when
/// they share nothing (another disk).
pub fn relative_to(to: &Path, from: &Path) -> PathBuf {
    let a: Vec<Component> = to.components().collect();
    let b: Vec<Component> = from.components().collect();
    let same = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    if same == 0 {
        return to.to_path_buf();
    }
    let mut p = PathBuf::new();
    for _ in same..b.len() {
        p.push("..");
    }
    for c in &a[same..] {
        p.push(c.as_os_str());
    }
    p
}

/// The playlist as `.m3u8` text for a file at `at`: UTF-8, `#EXTINF` with the titles,
/// paths relative to its folder.
pub fn to_m3u8(entries: &[Entry], at: &Path) -> String {
    let folder = at.parent().unwrap_or(Path::new("."));
    let mut s = String::from("#EXTM3U\n");
    for e in entries {
        if let Some(t) = &e.title {
            s.push_str(&format!("#EXTINF:-1,{t}\n"));
        }
        s.push_str(&relative_to(&e.path, folder).to_string_lossy());
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latin1_utf16_and_bom_are_read_as_text() {
        assert_eq!(text_of(b"\xEF\xBB\xBFs\xC3\xB8l.mp3"), "søl.mp3");
        assert_eq!(text_of(b"s\xF8l.mp3"), "søl.mp3");
        assert_eq!(text_of(b"\xFF\xFEs\x00\xF8\x00"), "sø");
        assert_eq!(text_of(b"\xFE\xFF\x00s\x00\xF8"), "sø");
    }

    #[test]
    fn m3u_lines_titles_comments_and_web_addresses() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.mp3"), b"x").unwrap();
        let text = "#EXTM3U\n#EXTINF:213,Kari - Sang\na.mp3\n\n# a note\nb.flac\nhttp://radio/x\n";
        let e = parse(text, dir.path());
        assert_eq!(e.len(), 3);
        assert_eq!(e[0].title.as_deref(), Some("Kari - Sang"));
        assert_eq!(e[0].problem, None);
        assert_eq!(e[1].title, None);
        assert_eq!(e[1].problem, Some(Problem::Missing));
        assert_eq!(e[2].problem, Some(Problem::WebAddress));
    }

    #[test]
    fn windows_paths_are_found_beside_the_list() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("Album")).unwrap();
        std::fs::write(dir.path().join("Album/a.mp3"), b"x").unwrap();
        let e = parse("E:\\Music\\Album\\a.mp3\r\nAlbum\\a.mp3\r\n", dir.path());
        assert_eq!(e[0].path, dir.path().join("Album/a.mp3"));
        assert_eq!(e[0].problem, None);
        assert_eq!(e[1].path, dir.path().join("Album/a.mp3"));
        let gone = parse("C:\\Users\\x\\b.mp3", dir.path());
        assert_eq!(
            gone[0].problem,
            Some(Problem::NotOnThisMachine("C:\\Users\\x\\b.mp3".into()))
        );
    }

    #[test]
    fn pls_in_number_order_with_titles() {
        let dir = tempfile::tempdir().unwrap();
        let text =
            "[playlist]\nFile2=b.mp3\nTitle2=B\nFile1=file:///tmp/a%20b.mp3\nNumberOfEntries=2\n";
        let e = parse(text, dir.path());
        assert_eq!(e[0].path, PathBuf::from("/tmp/a b.mp3"));
        assert_eq!(e[1].title.as_deref(), Some("B"));
        assert_eq!(e[1].path, dir.path().join("b.mp3"));
    }

    #[test]
    fn export_is_relative_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("music/x")).unwrap();
        std::fs::create_dir_all(dir.path().join("lists")).unwrap();
        let song = dir.path().join("music/x/a.mp3");
        std::fs::write(&song, b"x").unwrap();
        let at = dir.path().join("lists/l.m3u8");
        let entries = vec![Entry {
            path: song.clone(),
            title: Some("A".into()),
            problem: None,
        }];
        let text = to_m3u8(&entries, &at);
        assert!(text.contains("../music/x/a.mp3"), "{text}");
        let back = parse(&text, at.parent().unwrap());
        assert_eq!(
            back[0].path.canonicalize().unwrap(),
            song.canonicalize().unwrap()
        );
        assert_eq!(back[0].title.as_deref(), Some("A"));
    }

    #[test]
    fn any_bytes_parse_without_a_panic() {
        let mut seed = 1u64;
        for len in 0..400 {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    seed = seed
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    (seed >> 33) as u8
                })
                .collect();
            let _ = parse(&text_of(&bytes), Path::new("/nonexistent"));
            let mut pls = b"[playlist]\n".to_vec();
            pls.extend_from_slice(&bytes);
            let _ = parse(&text_of(&pls), Path::new("/nonexistent"));
        }
    }
}
