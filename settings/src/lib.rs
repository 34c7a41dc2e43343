//! The single definition of the Wasmtime engine settings Kiln uses.
//!
//! A Wasmtime artifact (`.cwasm`) loads only into an engine whose settings
//! match the ones it was compiled with: target, Cranelift flags, tunables,
//! wasm features, GC collector, concurrency support, and more. The compiler
//! inside the sandbox (`kiln-guest`, built for `wasm32-wasip2`) and the host
//! that loads and runs artifacts (built natively) are two different builds of
//! Wasmtime, with different Cargo features (`runtime` exists only on the host).
//! Several Wasmtime defaults are derived from Cargo features (the collector,
//! `concurrency_support`, the default proposal set), so leaving any of them to
//! the default would let the two sides drift apart. Every such setting is
//! therefore spelled out here, once, and both sides build their [`Config`]
//! with [`compile_config`].
//!
//! Host-specific detection is never used: a [`Config`] always gets an explicit
//! target, so a compile in the sandbox and a compile on the host produce the
//! same bytes.

mod baselines;
mod features;
mod options;

pub use baselines::{
    BASELINES, Baseline, baseline, baselines_for, enabled_isa_flags, matching_baseline,
};
pub use features::{WASM_FEATURE_NAMES, wasm_feature};
pub use options::{ArtifactKind, OptLevel, Options};

use std::fmt;
use wasmtime::{Collector, Config};

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
    /// The wasm proposal name is not one of [`WASM_FEATURE_NAMES`].
    UnknownWasmFeature {
        /// The name as given.
        name: String,
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
            Self::UnknownWasmFeature { name } => write!(
                f,
                "unknown wasm feature `{name}` (known: {})",
                WASM_FEATURE_NAMES.join(", ")
            ),
        }
    }
}

impl std::error::Error for SettingsError {}

/// Builds the Wasmtime [`Config`] that compiles (and loads) artifacts for
/// `options`.
///
/// The host adds only settings that do not change what an artifact must
/// match (allocation strategy, parallel compilation) on top of this.
///
/// # Errors
///
/// Returns [`SettingsError`] when the target, a CPU feature or a wasm
/// feature name is unknown.
pub fn compile_config(options: &Options) -> Result<Config, SettingsError> {
    check_target(&options.triple)?;
    check_cpu_features(&options.triple, &options.cpu_features)?;

    let mut config = Config::new();
    config
        .target(&options.triple)
        .map_err(|_| SettingsError::UnsupportedTarget {
            triple: options.triple.clone(),
        })?;
    // Defaults that otherwise follow Wasmtime's Cargo features, pinned so
    // the sandboxed build (no `runtime`, no async) and the host agree.
    config.concurrency_support(false);
    config.collector(Collector::DeferredReferenceCounting);
    config.cranelift_opt_level(options.opt_level.into());
    config.consume_fuel(options.consume_fuel);
    config.epoch_interruption(options.epoch_interruption);
    config.debug_info(options.debug_info);
    for flag in baselines::expand(&options.triple, &options.cpu_features) {
        // SAFETY: the flag was checked to exist for this target above, and
        // an artifact built with it is only ever loaded after Wasmtime checks
        // that the loading CPU supports it.
        unsafe {
            config.cranelift_flag_enable(flag);
        }
    }
    if simd_needs_vector_extension(options) {
        config.wasm_features(wasmtime::WasmFeatures::SIMD, false);
        config.wasm_features(wasmtime::WasmFeatures::RELAXED_SIMD, false);
    }
    for (name, enabled) in &options.wasm_features {
        let flag = wasm_feature(name)
            .ok_or_else(|| SettingsError::UnknownWasmFeature { name: name.clone() })?;
        if !enabled {
            // An explicit request to keep a dependent on wins, and then
            // Wasmtime reports the clash by name.
            for dependent in features::built_on(name) {
                let asked_on = options
                    .wasm_features
                    .iter()
                    .any(|(other, on)| other == dependent && *on);
                if let (false, Some(dependent)) = (asked_on, wasm_feature(dependent)) {
                    config.wasm_features(dependent, false);
                }
            }
        }
        config.wasm_features(flag, *enabled);
    }
    Ok(config)
}

/// Whether wasm SIMD is off by default for `options` because the target
/// lacks the vector unit Cranelift lowers it to: riscv64 without the V
/// extension (the `rv64gc` baseline). Cranelift has no scalar fallback
/// there and stops on the first vector instruction, so a SIMD module is
/// refused up front, by validation, with a hint to choose `rv64gcv`. An
/// explicit `simd` request still wins.
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
