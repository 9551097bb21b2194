//! Files written whole or not at all: every writer of results, checkpoints, benchmark folders and
//! cached inputs goes through [`write_atomic`] (or [`write_atomic_with`] for streamed content),
//! so an interrupted or failed write never leaves a partial file under the final name, and never
//! leaves its temporary file behind.

use std::io::Write;
use std::path::{Path, PathBuf};

/// The temporary name a file is written under before it is renamed into place: hidden, in the
/// same directory (so the rename is atomic), unique to this process and call.
pub fn temporary_name(path: &Path) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp{}-{n}", std::process::id()))
}

/// Writes `bytes` to `path` atomically: to a temporary file in the same directory, flushed, then
/// renamed over `path`. On failure the temporary file is removed and the old `path` (if any) is
/// untouched.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_atomic_with(path, |w| w.write_all(bytes))
}

/// Like [`write_atomic`], with the content written by `fill` into a buffered writer.
pub fn write_atomic_with(path: &Path, fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> std::io::Result<()> {
    let tmp = temporary_name(path);
    let result = (|| {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
        fill(&mut f)?;
        f.flush()?;
        f.into_inner().map_err(|e| e.into_error())?.sync_data()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Like [`write_atomic`], for writers that want a path: `fill` writes the temporary file at the
/// path it is given, which is then renamed over `path` (removed on failure).
pub fn write_atomic_path(path: &Path, fill: impl FnOnce(&Path) -> std::io::Result<()>) -> std::io::Result<()> {
    let tmp = temporary_name(path);
    let result = fill(&tmp).and_then(|()| usual_permissions(&tmp)).and_then(|()| std::fs::rename(&tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Gives a file written by another library the permissions `File::create` would have given it
/// (`0666` less the umask: some writers create private `0600` files).
fn usual_permissions(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // The umask without changing it (`umask(2)` can only be read by setting it).
        let umask = std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| s.lines().find_map(|l| l.strip_prefix("Umask:").and_then(|v| u32::from_str_radix(v.trim(), 8).ok())))
            .unwrap_or(0o022);
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666 & !umask))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Makes a directory appear whole: `fill` writes into a fresh temporary sibling directory, which
/// is then renamed to `dir` (replacing an existing one). On failure the temporary directory is
/// removed. Temporary siblings of `dir` that a killed process left behind are removed first.
pub fn write_dir_atomic(dir: &Path, fill: impl FnOnce(&Path) -> std::io::Result<()>) -> std::io::Result<()> {
    let parent = dir.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)?;
    if let Some(name) = dir.file_name().map(|n| n.to_string_lossy().into_owned()) {
        let stale = format!(".{name}.tmp");
        for e in std::fs::read_dir(parent)?.flatten() {
            if e.file_name().to_string_lossy().starts_with(&stale) {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
    let tmp = temporary_name(dir);
    let result = (|| {
        std::fs::create_dir_all(&tmp)?;
        fill(&tmp)?;
        if dir.exists() {
            std::fs::remove_dir_all(dir)?;
        }
        std::fs::rename(&tmp, dir)
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result
}

/// Whether a file name is one of [`temporary_name`]'s (left behind only by a killed process).
pub fn is_temporary(name: &str) -> bool {
    name.starts_with('.') && name.contains(".tmp")
}

/// Free bytes on the file system holding `path`, for an unprivileged writer (Unix `statvfs`;
/// `None` where it cannot be told).
pub fn free_bytes(path: &Path) -> Option<u64> {
    #[cfg(unix)]
    {
        let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).ok()?;
        // SAFETY: an all-zero statvfs is a valid value of the plain C struct.
        let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
        // SAFETY: `c` is a valid NUL-terminated path and `s` a writable statvfs struct.
        let rc = unsafe { libc::statvfs(c.as_ptr(), &mut s) };
        #[allow(clippy::unnecessary_cast)] // the field types differ between platforms
        let free = s.f_bavail as u64 * s.f_frsize as u64;
        (rc == 0).then_some(free)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_write_leaves_the_old_file_and_no_temporary() {
        let dir = std::env::temp_dir().join(format!("lpzero-fsutil-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("x.json");
        write_atomic(&path, b"old").unwrap();
        let e = write_atomic_with(&path, |w| {
            w.write_all(b"partial")?;
            Err(std::io::Error::other("disk full"))
        });
        assert!(e.is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        let names: Vec<String> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        assert_eq!(names, vec!["x.json".to_string()]);
        write_atomic(&path, b"new").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        let sub = dir.join("sub");
        write_dir_atomic(&sub, |d| std::fs::write(d.join("a"), "1")).unwrap();
        assert!(write_dir_atomic(&sub, |_| Err(std::io::Error::other("no"))).is_err());
        assert_eq!(std::fs::read_to_string(sub.join("a")).unwrap(), "1");
        assert!(free_bytes(&dir).is_some_and(|b| b > 0));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
