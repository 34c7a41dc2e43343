//! The compiled compiler: the embedded guest component, compiled natively
//! once and kept on disk so that a warm start skips that compile.
//!
//! A cache entry is named by everything that decides its bytes: the hash of
//! the guest component, the Wasmtime version, and the engine's own
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
use wasmtime::Engine;
use wasmtime::component::Component;

/// `KILN_CACHE_DIR` if set, else `kiln/` under the user's cache directory.
pub(crate) fn default_dir() -> Option<PathBuf> {
    match std::env::var_os("KILN_CACHE_DIR") {
        Some(dir) if !dir.is_empty() => Some(PathBuf::from(dir)),
        _ => dirs::cache_dir().map(|dir| dir.join("kiln")),
    }
}

/// Loads the compiled guest from `dir`, or compiles it (and stores it there).
pub(crate) fn load(engine: &Engine, dir: Option<&Path>) -> Result<Component, Error> {
    let Some(dir) = dir else {
        return compile(engine).map(|(component, _)| component);
    };
    let path = dir.join(entry_name(engine));
    if path.is_file() {
        // SAFETY: the entry was written by `compile` below for this exact
        // guest, Wasmtime version and engine (its name says so), and
        // Wasmtime checks the header before using it.
        if let Ok(component) = unsafe { Component::deserialize_file(engine, &path) } {
            return Ok(component);
        }
    }
    let (component, bytes) = compile(engine)?;
    // The cache is an optimisation: failing to write it is not an error.
    if std::fs::create_dir_all(dir).is_ok() {
        let _ = write_atomically(&path, &bytes);
    }
    Ok(component)
}

fn compile(engine: &Engine) -> Result<(Component, Vec<u8>), Error> {
    let bytes = engine
        .precompile_component(guest::GUEST_COMPONENT)
        .map_err(Error::sandbox)?;
    // SAFETY: these bytes were just produced by this engine.
    let component = unsafe { Component::deserialize(engine, &bytes) }.map_err(Error::sandbox)?;
    Ok((component, bytes))
}

fn entry_name(engine: &Engine) -> String {
    let mut hasher = Sha256Hasher(Sha256::new());
    engine.precompile_compatibility_hash().hash(&mut hasher);
    let engine_hash = hasher.0.finalize();
    let engine_hex: String = engine_hash[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!(
        "guest-{}-wasmtime-{}-{engine_hex}.cwasm",
        &guest::GUEST_SHA256[..16],
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
