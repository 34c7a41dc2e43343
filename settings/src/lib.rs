//! The single definition of the Wasmtime engine settings Kiln uses.
//!
//! A Wasmtime artifact (`.cwasm`) loads only into an engine whose settings
//! match the ones it was compiled with: target, Cranelift flags, tunables,
//! wasm features, GC collector, concurrency support, and more. The compiler
//! inside the sandbox (`kiln-guest`, built for wasm32) and the host that
//! loads and runs artifacts (built natively) are two different builds of
//! Wasmtime. Several Wasmtime defaults are derived from Cargo features (the
//! collector, `concurrency_support`, the default proposal set), so this
//! crate's dependency on `wasmtime` carries the features of a stock
//! Wasmtime 48 (`gc-copying`, `component-model-async`, ...) for both
//! builds, and both build their [`Config`] with [`compile_config`].
//!
//! With no options given, that `Config` is the one `wasmtime compile
//! --target T` of `wasmtime-cli` 48.0.8 uses, so a Kiln artifact loads into
//! any Wasmtime 48 engine with default settings. Other settings arrive in
//! Wasmtime's own syntax ([`WasmtimeOptions`]) and are applied by the code
//! Wasmtime's CLI applies them with.
//!
//! Host-specific detection is never used: a [`Config`] always gets an explicit
//! target, so a compile in the sandbox and a compile on the host produce the
//! same bytes. CPU flags come from Kiln's named baselines, lowest by default,
//! which is also what Wasmtime uses for an explicit target.

mod baselines;
mod options;
mod query;
mod wasmtime_options;

pub use baselines::{
    BASELINES, Baseline, baseline, baselines_for, enabled_isa_flags, matching_baseline,
};
pub use options::{ArtifactKind, Options};
pub use query::{QuerySettings, UnknownParameter};
/// Wasmtime CLI's option structures, as `wasmtime-cli-flags` defines them.
pub use wasmtime_cli_flags;
pub use wasmtime_options::{Compiler, GivenOptions, WasmtimeOptions};

use std::fmt;
use wasmtime::Config;

/// The target triples Kiln compiles for.
///
/// `pulley32` and `pulley64` are Wasmtime's portable interpreter targets.
pub const TARGETS: &[&str] = &[
    "x86_64-unknown-linux-gnu",
    "aarch64-unknown-linux-gnu",
    "riscv64gc-unknown-linux-gnu",
    "s390x-unknown-linux-gnu",
    "pulley32",
    "pulley64",
];

/// The version of Wasmtime whose artifacts Kiln produces and loads.
pub const WASMTIME_VERSION: &str = "48.0.8";

/// Why a set of [`Options`] cannot become a [`Config`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SettingsError {
    /// The triple is not in [`TARGETS`].
    UnsupportedTarget {
        /// The triple as given.
        triple: String,
    },
    /// The CPU feature (Cranelift flag or preset) is unknown for this target.
    UnknownCpuFeature {
        /// The target the feature was asked for.
        triple: String,
        /// The feature as given.
        feature: String,
    },
    /// Wasmtime's options do not parse, or Wasmtime refuses them (an
    /// unknown option, a bad value, a setting this build cannot honour).
    WasmtimeOptions {
        /// Wasmtime's message, naming the option.
        message: String,
    },
}

impl fmt::Display for SettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnsupportedTarget { triple } => write!(
                f,
                "unsupported target `{triple}` (supported: {})",
                TARGETS.join(", ")
            ),
            Self::UnknownCpuFeature { triple, feature } => write!(
                f,
                "unknown CPU feature `{feature}` for target `{triple}` (baselines: {})",
                baselines_for(triple)
                    .map(|b| b.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Self::WasmtimeOptions { message } => write!(f, "{message}"),
        }
    }
}

impl std::error::Error for SettingsError {}

/// Builds the Wasmtime [`Config`] that compiles (and loads) artifacts for
/// `options`.
///
/// Wasmtime's options are applied by `wasmtime-cli-flags`'
/// `CommonOptions::config`, exactly as `wasmtime compile --target T`
/// applies them; then the baseline's CPU flags are enabled on top. The host
/// adds only settings that do not change what an artifact must match
/// (allocation strategy, parallel compilation).
///
/// # Errors
///
/// Returns [`SettingsError`] when the target or a CPU feature is unknown,
/// or Wasmtime refuses its options.
pub fn compile_config(options: &Options) -> Result<Config, SettingsError> {
    check_target(&options.triple)?;
    check_cpu_features(&options.triple, &options.cpu_features)?;

    let mut common = options.wasmtime.common()?;
    common.target = Some(options.triple.clone());
    let mut config = common
        .config(None)
        .map_err(|e| SettingsError::WasmtimeOptions {
            message: format!("{e:#}"),
        })?;
    let enabled = options.wasmtime.enabled_flags().iter().map(String::as_str);
    for flag in enabled.chain(baselines::expand(&options.triple, &options.cpu_features)) {
        // SAFETY: the flag was checked to exist for this target above, and
        // an artifact built with it is only ever loaded after Wasmtime checks
        // that the loading CPU supports it.
        unsafe {
            config.cranelift_flag_enable(flag);
        }
    }
    Ok(config)
}

/// Whether `options` compile for riscv64 without the V extension (the
/// `rv64gc` baseline), where Cranelift has no lowering for wasm SIMD: a
/// module that uses SIMD fails there, and the error says to choose
/// `rv64gcv`. Wasmtime keeps SIMD on by default for every target, and so
/// does Kiln, so that its artifacts match `wasmtime compile`'s.
pub fn simd_needs_vector_extension(options: &Options) -> bool {
    options.triple.starts_with("riscv64")
        && !enabled_isa_flags(&options.triple, &options.cpu_features)
            .is_ok_and(|flags| flags.contains("has_v"))
}

/// Checks that `triple` is one of [`TARGETS`].
///
/// # Errors
///
/// [`SettingsError::UnsupportedTarget`] otherwise.
pub fn check_target(triple: &str) -> Result<(), SettingsError> {
    if TARGETS.contains(&triple) {
        Ok(())
    } else {
        Err(SettingsError::UnsupportedTarget {
            triple: triple.to_string(),
        })
    }
}

/// Checks every CPU feature (a Kiln baseline, or a Cranelift flag or
/// preset) against the target, so that a typo is reported by name instead
/// of as an engine build failure.
fn check_cpu_features(triple: &str, features: &[String]) -> Result<(), SettingsError> {
    if features.is_empty() {
        return Ok(());
    }
    enabled_isa_flags(triple, features).map(drop)
}
