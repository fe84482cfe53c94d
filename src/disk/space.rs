//! How much the disk under a folder can still take.

use std::path::Path;

/// Bytes an ordinary user may still write on the filesystem holding `path`.
pub fn free_bytes(path: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a valid C string and `st` a valid statvfs to fill.
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return None;
    }
    Some(st.f_bavail as u64 * st.f_frsize as u64)
}

/// Seconds of recording `free` bytes hold at `bytes_per_sec`.
pub fn seconds_left(free: u64, bytes_per_sec: u64) -> u64 {
    free / bytes_per_sec.max(1)
}

/// "2 h 05 min", "9 min", "40 s": time left, as a person reads it.
pub fn time_text(secs: u64) -> String {
    match secs {
        s if s >= 3600 => format!("{} h {:02} min", s / 3600, (s % 3600) / 60),
        s if s >= 60 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_folder_we_are_in_has_some_room_and_times_read_plainly() {
        assert!(free_bytes(Path::new(".")).is_some());
        assert!(free_bytes(Path::new("/no/such/folder/anywhere")).is_none());
        assert_eq!(time_text(7500), "2 h 05 min");
        assert_eq!(time_text(540), "9 min");
        assert_eq!(time_text(40), "40 s");
        assert_eq!(seconds_left(288_000 * 60, 288_000), 60);
    }
}
