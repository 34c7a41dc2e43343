//! The compiled compiler: the embedded guest builds (the component and the
//! threaded core module), compiled natively once and kept on disk so that a
//! warm start skips that compile.
//!
//! A cache entry is named by everything that decides its bytes: the hash of
//! the guest build, the Wasmtime version, and the engine's own
//! compatibility hash. A new guest or a new Wasmtime therefore never sees an
//! old entry. An entry that fails to load (truncated, foreign) is replaced.
//!
//! The entry is native code produced by this host from its own embedded
//! guest, never from user input, and it *is* the sandbox: mapped
//! executable in the host process, it could do anything the host can. So
//! it is not trusted because of where it lies. When an entry is written,
//! its keyed BLAKE3 hash (a MAC) is written beside it, keyed by a secret
//! that lives in Kiln's config directory (`cache-key`, 0600), not in the
//! cache directory: whoever can write the cache (a shared volume, a disk
//! error) cannot make an entry that passes. Before an entry is mapped, its
//! bytes are copied once into a sealed memfd (`sealed_file.rs`), hashed
//! there, and that same sealed copy is mapped, so what was checked is what
//! runs; a mismatch (or a missing MAC) is said on stderr and the entry
//! rebuilt.
//!
//! ```text
//!   ~/.config/kiln/cache-key          32 random bytes, created on first use
//!   ~/.cache/kiln/threaded-….cwasm    the entry
//!   ~/.cache/kiln/threaded-….cwasm.mac  hex of BLAKE3-keyed(cache-key, entry)
//! ```
//!
//! Without a config directory there is no key, and nothing is cached.

use crate::sealed_file::SealedFile;
use crate::{Error, guest, user_dirs, write_atomically};
use sha2::{Digest, Sha256};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use wasmtime::component::Component;
use wasmtime::{Engine, Module};

/// `KILN_CACHE_DIR` if set, else `kiln/` under the user's cache directory.
pub(crate) fn default_dir() -> Option<PathBuf> {
    user_dirs::cache_dir()
}

/// Loads the compiled component from `dir`, or compiles it (and stores it
/// there).
pub(crate) fn load_component(
    engine: &Engine,
    dir: Option<&Path>,
    config_dir: Option<&Path>,
) -> Result<Component, Error> {
    load(
        dir,
        config_dir,
        &entry_name(engine, "guest", guest::GUEST_SHA256),
        |bytes| engine.precompile_component(bytes),
        guest::GUEST_COMPONENT,
        // SAFETY (both): `load` passes only bytes this engine produced:
        // just compiled, or an entry whose MAC, keyed by a secret the cache
        // directory does not hold, matched them, in memory or in a sealed
        // copy that cannot change after the check.
        |bytes| unsafe { Component::deserialize(engine, bytes) },
        |sealed| unsafe { Component::deserialize_file(engine, sealed.path()) },
    )
}

/// Loads the compiled threaded guest from `dir`, or compiles it (and
/// stores it there).
pub(crate) fn load_threaded(
    engine: &Engine,
    dir: Option<&Path>,
    config_dir: Option<&Path>,
) -> Result<Module, Error> {
    load(
        dir,
        config_dir,
        &entry_name(engine, "threaded", guest::THREADED_SHA256),
        |bytes| engine.precompile_module(bytes),
        guest::THREADED_MODULE,
        // SAFETY (both): as for the component.
        |bytes| unsafe { Module::deserialize(engine, bytes) },
        |sealed| unsafe { Module::deserialize_open_file(engine, sealed.into_file()) },
    )
}

fn load<T>(
    dir: Option<&Path>,
    config_dir: Option<&Path>,
    name: &str,
    precompile: impl Fn(&[u8]) -> wasmtime::Result<Vec<u8>>,
    wasm: &[u8],
    from_bytes: impl Fn(&[u8]) -> wasmtime::Result<T>,
    from_sealed: impl FnOnce(SealedFile) -> wasmtime::Result<T>,
) -> Result<T, Error> {
    let key = dir.and(config_dir).and_then(cache_key);
    let path = dir.map(|dir| dir.join(name));
    if let (Some(path), Some(key)) = (&path, &key)
        && let Some(loaded) = load_entry(path, key, &from_bytes, from_sealed)
    {
        return Ok(loaded);
    }
    let bytes = precompile(wasm).map_err(Error::sandbox)?;
    let loaded = from_bytes(&bytes).map_err(Error::sandbox)?;
    // The cache is an optimisation: failing to write it is not an error.
    // The MAC goes first: an entry without its MAC is never used, and one
    // whose MAC belongs to an older entry fails the check and is rebuilt.
    if let (Some(dir), Some(path), Some(key)) = (dir, &path, &key)
        && std::fs::create_dir_all(dir).is_ok()
    {
        let mac = mac(key, &bytes).to_hex();
        if write_atomically(&mac_path(path), mac.as_bytes()).is_ok() {
            let _ = write_atomically(path, &bytes);
        }
    }
    Ok(loaded)
}

/// The entry at `path`, when it is there, matches its MAC and loads.
///
/// The entry is copied once into a sealed memfd, checked there, and mapped
/// from there (`sealed_file.rs` says why); where that is not possible it is
/// read into memory, checked, and deserialized from those bytes.
fn load_entry<T>(
    path: &Path,
    key: &[u8; 32],
    from_bytes: impl Fn(&[u8]) -> wasmtime::Result<T>,
    from_sealed: impl FnOnce(SealedFile) -> wasmtime::Result<T>,
) -> Option<T> {
    match SealedFile::copy_of(path) {
        Ok(sealed) => {
            let intact = sealed.with_bytes(|bytes| entry_is_intact(path, bytes, key));
            if intact.unwrap_or(false) {
                return from_sealed(sealed).ok();
            }
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return None,
        Err(_) => {
            let bytes = std::fs::read(path).ok()?;
            if entry_is_intact(path, &bytes, key) {
                return from_bytes(&bytes).ok();
            }
        }
    }
    eprintln!(
        "kiln: the cached compiler {} failed its integrity check; rebuilding it",
        path.display()
    );
    None
}

/// Whether `bytes`, read from the entry at `path`, match the MAC beside it.
fn entry_is_intact(path: &Path, bytes: &[u8], key: &[u8; 32]) -> bool {
    let Ok(recorded) = std::fs::read_to_string(mac_path(path)) else {
        return false;
    };
    let Ok(recorded) = blake3::Hash::from_hex(recorded.trim()) else {
        return false;
    };
    // `blake3::Hash` compares in constant time.
    mac(key, bytes) == recorded
}

/// The MAC of an entry, hashed on every core: the check is on the start's
/// path, and an entry is tens of megabytes.
fn mac(key: &[u8; 32], bytes: &[u8]) -> blake3::Hash {
    blake3::Hasher::new_keyed(key)
        .update_rayon(bytes)
        .finalize()
}

fn mac_path(entry: &Path) -> PathBuf {
    let mut name = entry.as_os_str().to_owned();
    name.push(".mac");
    PathBuf::from(name)
}

/// The secret that keys the entries' MACs: `cache-key` in Kiln's config
/// directory, 32 random bytes made on first use, readable by the user
/// alone. `None` (and so no caching) when there is no config directory or
/// it cannot be written.
fn cache_key(config_dir: &Path) -> Option<[u8; 32]> {
    let path = config_dir.join("cache-key");
    let read = || {
        let text = std::fs::read_to_string(&path).ok()?;
        blake3::Hash::from_hex(text.trim())
            .ok()
            .map(|key| *key.as_bytes())
    };
    if let Some(key) = read() {
        return Some(key);
    }
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).ok()?;
    let text = blake3::Hash::from_bytes(key).to_hex();
    match user_dirs::create_private(&path, text.as_bytes()) {
        Ok(()) => Some(key),
        // Another process made it first: its key is the one its entries
        // are (or will be) checked with. A file there that holds no key
        // (damaged) is replaced: every entry it vouched for is rebuilt.
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => read().or_else(|| {
            user_dirs::write_private(&path, text.as_bytes()).ok()?;
            Some(key)
        }),
        Err(_) => None,
    }
}

fn entry_name(engine: &Engine, build: &str, sha256: &str) -> String {
    let mut hasher = Sha256Hasher(Sha256::new());
    engine.precompile_compatibility_hash().hash(&mut hasher);
    let engine_hash = hasher.0.finalize();
    let engine_hex: String = engine_hash[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!(
        "{build}-{}-wasmtime-{}-{engine_hex}.cwasm",
        &sha256[..16],
        kiln_settings::WASMTIME_VERSION,
    )
}

/// Feeds [`Hash`] output into SHA-256, so the key is stable across runs and
/// Rust versions (unlike `DefaultHasher`).
struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn finish(&self) -> u64 {
        let digest = self.0.clone().finalize();
        digest[..8]
            .iter()
            .fold(0, |acc, byte| (acc << 8) | u64::from(*byte))
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}
