//! Who may have written a compiled-cache file. Entries are mapped as native
//! code, so the cache directory, its key file and each entry must be this
//! service's own: owned by its effective user, writable by no one else, and
//! not a symlink (which could point anywhere, or be swapped later).

use std::fs;
use std::io::{self, Write};
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Directory,
    File,
    /// A secret: not even readable by others.
    Secret,
}

/// Refuses `path` unless it is a `kind` owned by us with no group or other
/// write permission (no group or other access at all for a secret).
pub fn check_private(path: &Path, kind: Kind) -> io::Result<()> {
    let refuse = |why: String| Err(io::Error::new(io::ErrorKind::PermissionDenied, why));
    let meta = fs::symlink_metadata(path)?;
    if meta.file_type().is_symlink() {
        return refuse(
            "it is a symlink; the compiled cache must be the service's own files".into(),
        );
    }
    match kind {
        Kind::Directory if !meta.is_dir() => return refuse("it is not a directory".into()),
        Kind::File | Kind::Secret if !meta.is_file() => {
            return refuse("it is not a regular file".into());
        }
        _ => {}
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let me = rustix::process::geteuid().as_raw();
        if meta.uid() != me {
            return refuse(format!(
                "it is owned by uid {}, not by this service's uid {me}",
                meta.uid()
            ));
        }
        let forbidden = if kind == Kind::Secret { 0o077 } else { 0o022 };
        let mode = meta.mode() & 0o777;
        if mode & forbidden != 0 {
            return refuse(format!(
                "its mode {mode:o} lets others {}; it must be the service's alone",
                if kind == Kind::Secret {
                    "read or write it"
                } else {
                    "write it"
                }
            ));
        }
    }
    Ok(())
}

/// The installation's secret: read from `path`, or made (32 random bytes,
/// mode 0600, never replacing a file) when absent.
pub fn load_or_create_secret(path: &Path) -> io::Result<[u8; 32]> {
    match fs::symlink_metadata(path) {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => create_secret(path)?,
        Err(e) => return Err(e),
    }
    check_private(path, Kind::Secret)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    let bytes = fs::read(path)?;
    bytes.try_into().map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{} does not hold a 32-byte key", path.display()),
        )
    })
}

fn create_secret(path: &Path) -> io::Result<()> {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| io::Error::other(e.to_string()))?;
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(mut file) => {
            file.write_all(&secret)?;
            file.sync_all()
        }
        // Another process made it first: use theirs.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn chmod(path: &Path, mode: u32) {
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod");
    }

    #[test]
    fn private_files_and_directories_pass() {
        let dir = tempfile::tempdir().expect("tempdir");
        chmod(dir.path(), 0o700);
        assert!(check_private(dir.path(), Kind::Directory).is_ok());
        let file = dir.path().join("entry");
        fs::write(&file, b"x").expect("write");
        chmod(&file, 0o644);
        assert!(check_private(&file, Kind::File).is_ok());
        assert!(
            check_private(&file, Kind::Secret).is_err(),
            "readable by others"
        );
    }

    #[test]
    fn group_or_other_writable_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        for mode in [0o770, 0o702, 0o777] {
            chmod(dir.path(), mode);
            let err = check_private(dir.path(), Kind::Directory).expect_err("writable");
            assert!(
                err.to_string().contains("lets others write"),
                "{mode:o}: {err}"
            );
        }
        chmod(dir.path(), 0o700);
    }

    #[test]
    fn symlinks_are_refused_even_to_private_targets() {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().join("real");
        fs::create_dir(&target).expect("mkdir");
        chmod(&target, 0o700);
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).expect("symlink");
        let err = check_private(&link, Kind::Directory).expect_err("symlink");
        assert!(err.to_string().contains("symlink"), "{err}");
    }

    #[test]
    fn another_users_files_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("entry");
        fs::write(&file, b"x").expect("write");
        chmod(&file, 0o600);
        // Only root can give a file away; elsewhere this case cannot be set up.
        if rustix::process::geteuid().is_root() {
            std::os::unix::fs::chown(&file, Some(65534), None).expect("chown");
            let err = check_private(&file, Kind::File).expect_err("foreign owner");
            assert!(err.to_string().contains("owned by uid 65534"), "{err}");
        } else {
            eprintln!("not root: cannot make a file owned by another user");
        }
    }

    #[test]
    fn the_secret_is_made_once_private_and_reused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("cache.key");
        let first = load_or_create_secret(&path).expect("created");
        let mode = fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(load_or_create_secret(&path).expect("read back"), first);
        chmod(&path, 0o644);
        assert!(
            load_or_create_secret(&path).is_err(),
            "a readable key is refused"
        );
        chmod(&path, 0o600);
        fs::write(&path, b"short").expect("write");
        assert!(
            load_or_create_secret(&path).is_err(),
            "a key of the wrong size"
        );
    }
}
