//! The options that shape an artifact, independent of how they arrive
//! (WIT record, CLI flags, library call).

/// How hard Cranelift optimises.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum OptLevel {
    /// No optimisation.
    None,
    /// Optimise for speed; Wasmtime's default.
    #[default]
    Speed,
    /// Optimise for speed and size.
    SpeedAndSize,
}

impl From<OptLevel> for wasmtime::OptLevel {
    fn from(level: OptLevel) -> Self {
        match level {
            OptLevel::None => wasmtime::OptLevel::None,
            OptLevel::Speed => wasmtime::OptLevel::Speed,
            OptLevel::SpeedAndSize => wasmtime::OptLevel::SpeedAndSize,
        }
    }
}

/// Everything that changes the bytes of an artifact.
///
/// An artifact must be loaded with the same options it was compiled with;
/// Wasmtime checks this and refuses a mismatch.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Options {
    /// Target triple, one of [`crate::TARGETS`].
    pub triple: String,
    /// Cranelift CPU flags or presets (`has_avx2`, `x86-64-v3`, `has_lse`).
    pub cpu_features: Vec<String>,
    /// Optimisation level.
    pub opt_level: OptLevel,
    /// Fuel instrumentation.
    pub consume_fuel: bool,
    /// Epoch-interruption instrumentation.
    pub epoch_interruption: bool,
    /// DWARF debug information.
    pub debug_info: bool,
    /// Wasm proposals switched on (`true`) or off (`false`) by name.
    pub wasm_features: Vec<(String, bool)>,
}

impl Options {
    /// Default options for `triple`.
    pub fn for_target(triple: &str) -> Self {
        Self {
            triple: triple.to_string(),
            ..Self::default()
        }
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
