//! Named CPU baselines: portable feature levels per architecture.
//!
//! An artifact compiled with host-detected CPU flags can fail to load on a
//! slightly different machine of the same architecture. A baseline names a
//! feature level instead (`x86-64-v2`, `armv8.1`, `rv64gcv`, `z15`): the
//! artifact uses exactly that level's features, so it loads on every
//! machine that has the level. A baseline is given where a CPU feature is
//! (`Options::cpu_features`, `--baseline` on the CLI) and expands to
//! Cranelift flags here. No baseline is the architecture's lowest level.
//!
//! The artifact itself records the CPU flags it was compiled with (Wasmtime
//! writes every ISA flag into its `.wasmtime.engine` section and checks
//! them against the loading CPU); [`matching_baseline`] names the level
//! those recorded flags are.

use crate::SettingsError;
use cranelift_codegen::settings::{self, Configurable};
use std::collections::BTreeSet;

/// A named CPU feature level for one architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Baseline {
    /// The name, as given to `--baseline`.
    pub name: &'static str,
    /// The target it applies to.
    pub triple: &'static str,
    /// The Cranelift flags and presets it enables.
    pub flags: &'static [&'static str],
    /// What machines it covers.
    pub description: &'static str,
}

/// Every baseline, lowest first within each architecture.
pub const BASELINES: &[Baseline] = &[
    Baseline {
        name: "x86-64-v1",
        triple: "x86_64-unknown-linux-gnu",
        flags: &[],
        description: "every x86-64 CPU (SSE2)",
    },
    Baseline {
        name: "x86-64-v2",
        triple: "x86_64-unknown-linux-gnu",
        flags: &["x86-64-v2"],
        description: "SSE3, SSSE3, SSE4.1, SSE4.2, POPCNT, CMPXCHG16B (2009 on)",
    },
    Baseline {
        name: "x86-64-v3",
        triple: "x86_64-unknown-linux-gnu",
        flags: &["x86-64-v3"],
        description: "v2 plus AVX, AVX2, BMI1, BMI2, FMA, LZCNT (Haswell, Zen 1 on)",
    },
    Baseline {
        name: "x86-64-v4",
        triple: "x86_64-unknown-linux-gnu",
        flags: &["x86-64-v4"],
        description: "v3 plus AVX-512 F, VL, DQ (Skylake-SP, Zen 4 on)",
    },
    Baseline {
        name: "armv8.0",
        triple: "aarch64-unknown-linux-gnu",
        flags: &[],
        description: "every AArch64 CPU",
    },
    Baseline {
        name: "armv8.1",
        triple: "aarch64-unknown-linux-gnu",
        flags: &["has_lse"],
        description: "Large System Extensions atomics (Graviton 2, Ampere, Apple M1 on)",
    },
    Baseline {
        name: "armv8.4",
        triple: "aarch64-unknown-linux-gnu",
        flags: &["has_lse", "has_dotprod"],
        description: "armv8.1 plus dot product (Graviton 3, Apple M1 on)",
    },
    Baseline {
        name: "rv64gc",
        triple: "riscv64gc-unknown-linux-gnu",
        flags: &[],
        description: "RV64 IMAFD with Zicsr, Zifencei, the Linux minimum",
    },
    Baseline {
        name: "rv64gcv",
        triple: "riscv64gc-unknown-linux-gnu",
        flags: &["has_v"],
        description: "rv64gc plus the vector extension (1.0)",
    },
    Baseline {
        name: "rva23u64",
        triple: "riscv64gc-unknown-linux-gnu",
        flags: &[
            "has_v",
            "has_zba",
            "has_zbb",
            "has_zbs",
            "has_zicond",
            "has_zfa",
        ],
        description: "the RVA23 application profile's bit manipulation, vector, Zicond, Zfa",
    },
    Baseline {
        name: "z14",
        triple: "s390x-unknown-linux-gnu",
        flags: &[],
        description: "z14 (z/Architecture 12th edition), Cranelift's minimum",
    },
    Baseline {
        name: "z15",
        triple: "s390x-unknown-linux-gnu",
        flags: &["z15"],
        description: "z15 (13th edition): miscellaneous-instruction-extensions 3, vector enhancements 2",
    },
    Baseline {
        name: "z17",
        triple: "s390x-unknown-linux-gnu",
        flags: &["z17"],
        description: "z17 (15th edition): also MIE 4, vector enhancements 3",
    },
];

/// The baseline named `name` for `triple`.
pub fn baseline(triple: &str, name: &str) -> Option<&'static Baseline> {
    BASELINES
        .iter()
        .find(|b| b.triple == triple && b.name == name)
}

/// The baselines of `triple`, lowest first.
pub fn baselines_for(triple: &str) -> impl Iterator<Item = &'static Baseline> {
    BASELINES.iter().filter(move |b| b.triple == triple)
}

/// `cpu_features` with every baseline name replaced by its flags.
pub(crate) fn expand<'a>(triple: &str, cpu_features: &'a [String]) -> Vec<&'a str> {
    let mut flags = Vec::new();
    for feature in cpu_features {
        match baseline(triple, feature) {
            Some(level) => flags.extend(level.flags.iter().copied()),
            None => flags.push(feature.as_str()),
        }
    }
    flags
}

/// The ISA flags that are on when compiling for `triple` with
/// `cpu_features` (baselines, Cranelift flags or presets), by name.
///
/// # Errors
///
/// [`SettingsError::UnsupportedTarget`] or
/// [`SettingsError::UnknownCpuFeature`].
pub fn enabled_isa_flags(
    triple: &str,
    cpu_features: &[String],
) -> Result<BTreeSet<String>, SettingsError> {
    let mut isa = cranelift_codegen::isa::lookup_by_name(triple).map_err(|_| {
        SettingsError::UnsupportedTarget {
            triple: triple.to_string(),
        }
    })?;
    for flag in expand(triple, cpu_features) {
        isa.enable(flag)
            .map_err(|_| SettingsError::UnknownCpuFeature {
                triple: triple.to_string(),
                feature: flag.to_string(),
            })?;
    }
    let isa = isa
        .finish(settings::Flags::new(settings::builder()))
        .map_err(|_| SettingsError::UnsupportedTarget {
            triple: triple.to_string(),
        })?;
    Ok(isa
        .isa_flags()
        .iter()
        .filter(|value| value.as_bool() == Some(true))
        .map(|value| value.name.to_string())
        .collect())
}

/// The baseline whose flags are exactly `enabled` (the ISA flags an
/// artifact records as on), if one is.
pub fn matching_baseline(triple: &str, enabled: &BTreeSet<String>) -> Option<&'static Baseline> {
    baselines_for(triple).find(|level| {
        let names: Vec<String> = vec![level.name.to_string()];
        enabled_isa_flags(triple, &names).is_ok_and(|flags| &flags == enabled)
    })
}
