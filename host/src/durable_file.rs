//! Writing a file so that readers (a watcher, another process, the next
//! start) see the old contents or the whole new ones, even across a crash.

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

/// Writes `path` through a temporary file with an unpredictable name in the
/// same directory, flushed to disk before it is renamed into place, then
/// flushes the directory so the rename itself survives a crash. A temporary
/// file left by a failed write is removed.
pub fn write_durably(
    path: &Path,
    write: impl FnOnce(&mut File) -> io::Result<()>,
) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(dir)?;
    write(tmp.as_file_mut())?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    File::open(dir)?.sync_all()
}

/// [`write_durably`] with the whole contents at hand.
pub fn write_bytes_durably(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_durably(path, |file| file.write_all(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_file_whole_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("entra-id.wasm");
        std::fs::write(&path, b"old").expect("write");
        write_bytes_durably(&path, b"new contents").expect("durable write");
        assert_eq!(std::fs::read(&path).expect("read"), b"new contents");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("entra-id.wasm")]);
    }

    #[test]
    fn a_failed_write_keeps_the_old_file_and_cleans_up() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("entra-id.wasm");
        std::fs::write(&path, b"old").expect("write");
        let err = write_durably(&path, |f| {
            f.write_all(b"half")?;
            Err(io::Error::other("disk full"))
        })
        .expect_err("fails");
        assert_eq!(err.to_string(), "disk full");
        assert_eq!(std::fs::read(&path).expect("read"), b"old");
        assert_eq!(std::fs::read_dir(dir.path()).expect("list").count(), 1);
    }
}
