//! Files that hold secrets are the service user's alone, whatever the umask: the
//! SQLite database and its `-wal`/`-shm` (password hashes, queued links), the `file`
//! transport's `.eml` files (live links) and their folder, the development key.

use std::io;
use std::path::Path;

/// Read and write for the owner only.
pub(crate) const FILE_MODE: u32 = 0o600;
const DIR_MODE: u32 = 0o700;

/// Options that create a new file readable by its owner only; the umask can only take bits
/// away, so none is left for others.
pub(crate) fn new_file() -> std::fs::OpenOptions {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, FILE_MODE);
    options
}

/// [`new_file`] for Tokio.
pub(crate) fn new_file_async() -> tokio::fs::OpenOptions {
    let mut options = tokio::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(FILE_MODE);
    options
}

/// Creates `path` empty and private unless it exists. SQLite gives its `-wal` and `-shm`
/// the database file's permissions, so creating this first makes all three private.
pub(crate) fn create_empty(path: &Path) -> io::Result<()> {
    match new_file().open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// `create_dir_all`, each folder it makes private. Folders that exist are left as they are:
/// the path may be shared (`/tmp/mail`), and only its owner should loosen or tighten it.
pub(crate) fn create_dir_all(path: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, DIR_MODE);
    builder.create(path)
}

/// Takes away what others (neither owner nor group) may do with an existing file of
/// usher's own; the group's bits stay, since granting a group (a backup user's) is a
/// choice. Returns the mode before and after when it changed; `None` when the file is
/// missing or already closed to others.
pub(crate) fn close_to_others(path: &Path) -> io::Result<Option<(u32, u32)>> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = match std::fs::metadata(path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o007 == 0 {
            return Ok(None);
        }
        let closed = mode & !0o007;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(closed))?;
        Ok(Some((mode, closed)))
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(None)
    }
}

/// Whether others may list or enter an existing folder.
pub(crate) fn open_to_others(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).is_ok_and(|meta| meta.permissions().mode() & 0o005 != 0)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        false
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).map_or(0, |meta| meta.permissions().mode() & 0o7777)
    }

    #[test]
    fn what_usher_creates_is_private_and_what_exists_loses_only_the_others_bits() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("usher.db");
        create_empty(&db).unwrap();
        assert_eq!(mode(&db), 0o600);
        let nested = dir.path().join("mail/outgoing");
        create_dir_all(&nested).unwrap();
        assert_eq!((mode(&dir.path().join("mail")), mode(&nested)), (0o700, 0o700));

        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o664)).unwrap();
        create_empty(&db).unwrap();
        assert_eq!(mode(&db), 0o664, "an existing file is not created again");
        assert_eq!(close_to_others(&db).unwrap(), Some((0o664, 0o660)));
        assert_eq!(mode(&db), 0o660);
        assert_eq!(close_to_others(&db).unwrap(), None);
        assert_eq!(close_to_others(&dir.path().join("missing")).unwrap(), None);
        assert!(!open_to_others(&nested));
    }
}
