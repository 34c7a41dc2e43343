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
//! guest, never from user input; it is trusted as the host binary is, by
//! whoever can write the user's cache directory.

use crate::{Error, guest, write_atomically};
use sha2::{Digest, Sha256};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use wasmtime::component::Component;
use wasmtime::{Engine, Module};

/// `KILN_CACHE_DIR` if set, else `kiln/` under the user's cache directory.
pub(crate) fn default_dir() -> Option<PathBuf> {
    match std::env::var_os("KILN_CACHE_DIR") {
        Some(dir) if !dir.is_empty() => Some(PathBuf::from(dir)),
        _ => dirs::cache_dir().map(|dir| dir.join("kiln")),
    }
}

/// Loads the compiled component from `dir`, or compiles it (and stores it
/// there).
pub(crate) fn load_component(engine: &Engine, dir: Option<&Path>) -> Result<Component, Error> {
    load(
        dir,
        &entry_name(engine, "guest", guest::GUEST_SHA256),
        |bytes| engine.precompile_component(bytes),
        guest::GUEST_COMPONENT,
        // SAFETY: the entry was written below for this exact guest, Wasmtime
        // version and engine (its name says so), and Wasmtime checks the
        // header before using it.
        |path| unsafe { Component::deserialize_file(engine, path) },
        // SAFETY: bytes just produced by this engine.
        |bytes| unsafe { Component::deserialize(engine, bytes) },
    )
}

/// Loads the compiled threaded guest from `dir`, or compiles it (and
/// stores it there).
pub(crate) fn load_threaded(engine: &Engine, dir: Option<&Path>) -> Result<Module, Error> {
    load(
        dir,
        &entry_name(engine, "threaded", guest::THREADED_SHA256),
        |bytes| engine.precompile_module(bytes),
        guest::THREADED_MODULE,
        // SAFETY: as for the component.
        |path| unsafe { Module::deserialize_file(engine, path) },
        // SAFETY: bytes just produced by this engine.
        |bytes| unsafe { Module::deserialize(engine, bytes) },
    )
}

fn load<T>(
    dir: Option<&Path>,
    name: &str,
    precompile: impl Fn(&[u8]) -> wasmtime::Result<Vec<u8>>,
    wasm: &[u8],
    from_file: impl Fn(&Path) -> wasmtime::Result<T>,
    from_bytes: impl Fn(&[u8]) -> wasmtime::Result<T>,
) -> Result<T, Error> {
    let path = dir.map(|dir| dir.join(name));
    if let Some(path) = path.as_deref().filter(|path| path.is_file())
        && let Ok(loaded) = from_file(path)
    {
        return Ok(loaded);
    }
    let bytes = precompile(wasm).map_err(Error::sandbox)?;
    let loaded = from_bytes(&bytes).map_err(Error::sandbox)?;
    // The cache is an optimisation: failing to write it is not an error.
    if let (Some(dir), Some(path)) = (dir, &path)
        && std::fs::create_dir_all(dir).is_ok()
    {
        let _ = write_atomically(path, &bytes);
    }
    Ok(loaded)
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
