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

/// Writes a secret atomically, readable by the user alone: the directory
/// is created 0700, the file 0600 from its creation on, so that no moment
/// exists when another user could open it.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};

    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let mut file = tempfile::Builder::new()
        .prefix(".kiln-")
        .permissions(std::fs::Permissions::from_mode(0o600))
        .tempfile_in(dir)?;
    file.write_all(bytes)?;
    file.as_file().sync_all()?;
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}
