//! Where Kiln keeps things for a user: the cache directory (compiled
//! compiler builds, tools) and the config directory (keys).
//!
//! The two are kept apart on purpose: the cache may be shared or wiped,
//! the config directory holds the secrets that vouch for what the cache
//! holds (`guest_cache.rs`) and the key that signs artifacts.

use std::io::Write;
use std::path::{Path, PathBuf};

/// `KILN_CACHE_DIR` if set, else `kiln/` under the user's cache directory.
pub fn cache_dir() -> Option<PathBuf> {
    from_env("KILN_CACHE_DIR").or_else(|| dirs::cache_dir().map(|dir| dir.join("kiln")))
}

/// `KILN_CONFIG_DIR` if set, else `kiln/` under the user's config directory.
pub fn config_dir() -> Option<PathBuf> {
    from_env("KILN_CONFIG_DIR").or_else(|| dirs::config_dir().map(|dir| dir.join("kiln")))
}

fn from_env(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
}

/// Writes a secret atomically, readable by the user alone, replacing any
/// file at `path`: see [`create_private`], which does not replace.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    staged_private(path, bytes)?
        .persist(path)
        .map_err(|e| e.error)?;
    Ok(())
}

/// Writes a secret atomically, readable by the user alone, unless a file
/// already is at `path` (then `AlreadyExists`, and that file is kept).
///
/// Secrets made on first use (the signing key, the cache key) go through
/// here: when two processes make one at the same moment, the one that
/// reaches the file first wins and the other reads it, rather than each
/// going on with a secret that the file no longer holds. Linux's
/// no-replace rename (or a hard link where that is missing) never
/// replaces a file made meanwhile.
pub(crate) fn create_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    staged_private(path, bytes)?
        .persist_noclobber(path)
        .map_err(|e| e.error)?;
    Ok(())
}

/// `bytes` in a synced temporary file beside `path`: the directory is
/// created 0700 where missing, the file 0600 from its creation on, so that
/// no moment exists when another user could open it; it is set to 0600
/// again in case the umask took bits off.
fn staged_private(path: &Path, bytes: &[u8]) -> std::io::Result<tempfile::NamedTempFile> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};

    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let mut file = tempfile::Builder::new()
        .prefix(".kiln-")
        .permissions(std::fs::Permissions::from_mode(0o600))
        .tempfile_in(dir)?;
    file.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o600))?;
    file.write_all(bytes)?;
    file.as_file().sync_all()?;
    Ok(file)
}
