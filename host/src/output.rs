//! Writing outputs so that no reader ever sees half a file.

use crate::Error;
use std::io::Write;
use std::path::Path;

/// Writes `bytes` to `path` atomically: into a temporary file in the same
/// directory, flushed to disk, then renamed over `path`. On any failure the
/// temporary file is removed and `path` is untouched.
///
/// The file gets the permissions a compiler's output normally has, 0666
/// less the process's umask (as `wasmtime compile` and `cc` give): the
/// temporary file is created with mode 0666 and the kernel applies the
/// umask, so that a loader running as another user of the group can read
/// it. (A temporary file's default, 0600, would survive the rename.)
///
/// # Errors
///
/// [`Error::Write`] naming `path`.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let fail = |source| Error::Write {
        path: path.to_path_buf(),
        source,
    };
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let mut file = tempfile::Builder::new()
        .prefix(".kiln-")
        .suffix(".tmp")
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666))
        .tempfile_in(dir)
        .map_err(fail)?;
    file.write_all(bytes).map_err(fail)?;
    file.as_file().sync_all().map_err(fail)?;
    file.persist(path).map_err(|e| fail(e.error))?;
    Ok(())
}
