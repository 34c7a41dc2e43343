//! Loading artifacts natively: the engine that matches a compile's options,
//! and deserializing a `.cwasm` into it.
//!
//! The loading engine is built by the same `kiln_settings::compile_config`
//! as the compiler's, plus only settings that no artifact records (parallel
//! compilation, the allocation strategy). That is what makes Kiln's
//! artifacts load: Wasmtime compares the compile-time settings recorded in
//! the artifact with the engine's and refuses any difference.

use crate::{RunError, host_triple};
use kiln_settings::{ArtifactKind, Options};
use wasmtime::component::Component;
use wasmtime::{Config, Engine, Module};

/// A deserialized artifact.
pub enum Loaded {
    /// A core module.
    Module(Module),
    /// A component.
    Component(Component),
}

/// Whether an artifact for `triple` can be loaded and run on this machine:
/// the host's own architecture, or Pulley through Wasmtime's interpreter
/// when its pointer width matches the host's (Wasmtime requires that).
pub fn can_run_here(triple: &str) -> bool {
    host_triple() == Some(triple) || triple == pulley_triple()
}

/// The Pulley target whose pointer width matches this host's.
pub fn pulley_triple() -> &'static str {
    if cfg!(target_pointer_width = "64") {
        "pulley64"
    } else {
        "pulley32"
    }
}

/// The engine that loads artifacts compiled with `options`.
///
/// # Errors
///
/// [`RunError::Settings`] for options the settings reject,
/// [`RunError::Engine`] when Wasmtime cannot build the engine.
pub fn engine(options: &Options) -> Result<Engine, RunError> {
    engine_configured(options, |_| {})
}

/// Like [`engine`], with runtime-only settings added by `configure`
/// (settings no artifact records, such as allowing shared memories).
///
/// # Errors
///
/// As [`engine`].
pub fn engine_configured(
    options: &Options,
    configure: impl FnOnce(&mut Config),
) -> Result<Engine, RunError> {
    let mut config = kiln_settings::compile_config(options)?;
    configure(&mut config);
    Engine::new(&config).map_err(|e| RunError::Engine {
        message: format!("{e:#}"),
    })
}

/// Deserializes an artifact of `kind` into `engine`.
///
/// # Safety
///
/// The bytes become native code that runs in this process. They must come
/// from Kiln (the sandbox, or a `.cwasm` the user vouches for, as with
/// `wasmtime run --allow-precompiled`), never from an untrusted party.
/// Wasmtime checks the header, version and settings, not the code.
///
/// # Errors
///
/// [`RunError::Load`] when Wasmtime refuses the artifact (wrong target, other
/// settings, corrupt).
pub unsafe fn deserialize(
    engine: &Engine,
    bytes: &[u8],
    kind: ArtifactKind,
) -> Result<Loaded, RunError> {
    // SAFETY: the caller vouches for the bytes (see above).
    unsafe {
        match kind {
            ArtifactKind::Module => Module::deserialize(engine, bytes).map(Loaded::Module),
            ArtifactKind::Component => Component::deserialize(engine, bytes).map(Loaded::Component),
        }
    }
    .map_err(|e| RunError::Load {
        message: format!("{e:#}"),
    })
}

/// Detects whether `bytes` are a Wasmtime precompiled module or component.
pub fn detect_precompiled(bytes: &[u8]) -> Option<ArtifactKind> {
    match Engine::detect_precompiled(bytes)? {
        wasmtime::Precompiled::Module => Some(ArtifactKind::Module),
        wasmtime::Precompiled::Component => Some(ArtifactKind::Component),
    }
}
