//! The user's data: settings, jams, songs and playlists.
//! Everything lives in the user's data folder, readable by its owner only.

pub mod jam;
pub mod lyrics;
pub mod notes;
pub mod playlist;
pub mod settings;
pub mod song;

use std::io::Write;
use std::path::{Path, PathBuf};

/// The user's Samspill folder (e.g. ~/.local/share/samspill), made private if new.
/// `SAMSPILL_DATA_DIR` overrides it (tests, portable installs).
pub fn data_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("SAMSPILL_DATA_DIR") {
        Some(d) => PathBuf::from(d),
        None => directories::ProjectDirs::from("no", "Samspill", "samspill")?
            .data_dir()
            .to_owned(),
    };
    if !dir.exists() {
        std::fs::create_dir_all(&dir).ok()?;
        set_private(&dir, 0o700);
    }
    Some(dir)
}

#[cfg(unix)]
fn set_private(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode));
}

#[cfg(not(unix))]
fn set_private(_path: &Path, _mode: u32) {}

/// Writes a file readable by its owner only, atomically (temp file, then rename),
/// so a crash mid-write never leaves half a file.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    set_private(&tmp, 0o600);
    std::fs::rename(&tmp, path)
}

/// A folder made readable by its owner only (`existing_ok`: an existing one is fine,
/// and missing parents are made too).
pub fn make_private_dir(dir: &Path, existing_ok: bool) -> std::io::Result<()> {
    if existing_ok && dir.is_dir() {
        return Ok(());
    }
    let mut b = std::fs::DirBuilder::new();
    b.recursive(existing_ok);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir)?;
    set_private(dir, 0o700);
    Ok(())
}

/// A folder name from what the user typed: letters, digits, `-` and `_` only (no
/// dots or slashes, so it can never point outside its parent); may be empty.
pub fn safe_name(name: &str) -> String {
    let mut out = String::new();
    for c in name.trim().chars() {
        if c.is_alphanumeric() || c == '-' || c == '_' {
            out.push(c);
        } else if (c.is_whitespace() || c == '.') && !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
        if out.chars().count() >= 60 {
            break;
        }
    }
    out.trim_matches('-').to_owned()
}

/// Makes a new entry in `dir` (a file made, renamed or removed) survive a power cut.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}
