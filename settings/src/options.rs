//! The options that shape an artifact, independent of how they arrive
//! (WIT record, CLI flags, library call).

use crate::WasmtimeOptions;

/// Everything that changes the bytes of an artifact.
///
/// An artifact must be loaded with the same options it was compiled with;
/// Wasmtime checks this and refuses a mismatch.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Options {
    /// Target triple, one of [`crate::TARGETS`].
    pub triple: String,
    /// Kiln baselines or Cranelift CPU flags and presets (`x86-64-v3`,
    /// `has_avx2`, `has_lse`); empty: the target's lowest baseline, which
    /// is what Wasmtime uses for an explicit target.
    pub cpu_features: Vec<String>,
    /// Everything else, in Wasmtime's own terms (`-W`, `-C`, `-O`, `-D`,
    /// `--config`); default: Wasmtime's defaults.
    pub wasmtime: WasmtimeOptions,
}

impl Options {
    /// Default options for `triple`.
    pub fn for_target(triple: &str) -> Self {
        Self {
            triple: triple.to_string(),
            ..Self::default()
        }
    }

    /// Options for `triple` with Wasmtime's flags written as on its command
    /// line (`["-W", "gc=n", "-Oopt-level=0"]`); options that cannot change
    /// an artifact are dropped.
    ///
    /// # Errors
    ///
    /// [`crate::SettingsError::WasmtimeOptions`] naming a flag Wasmtime refuses.
    #[cfg(feature = "cli")]
    pub fn with_wasmtime_flags<S: Into<String>>(
        triple: &str,
        flags: impl IntoIterator<Item = S>,
    ) -> Result<Self, crate::SettingsError> {
        let (wasmtime, _ignored) = WasmtimeOptions::from_args(flags)?;
        Ok(Self {
            triple: triple.to_string(),
            cpu_features: Vec::new(),
            wasmtime,
        })
    }
}

/// Whether an artifact (and the input it came from) is a core module or a
/// component: it decides how the artifact is loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ArtifactKind {
    /// A core WebAssembly module.
    Module,
    /// A component.
    Component,
}
