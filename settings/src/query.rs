//! Compile settings given as URL query parameters.
//!
//! Two HTTP front ends take a compile's settings in the query string: the
//! host's service (`kiln serve`, `POST /v1/compile`) and the compiler's own
//! `wasi:http` build (`POST /compile`). Both take the names of `kiln
//! compile`'s flags, so one grammar lives here:
//!
//! | parameter            | meaning                                        |
//! |----------------------|------------------------------------------------|
//! | `target`             | the target triple                              |
//! | `baseline`           | a named CPU baseline (`x86-64-v3`, ...)        |
//! | `cpu-feature`        | a Cranelift CPU flag or preset (repeatable)    |
//! | `W` / `wasm`         | Wasmtime's `-W` (repeatable)                   |
//! | `C` / `codegen`      | Wasmtime's `-C` (repeatable)                   |
//! | `O` / `optimize`     | Wasmtime's `-O` (repeatable)                   |
//! | `D` / `debug`        | Wasmtime's `-D` (repeatable)                   |
//! | `S` / `wasi`         | Wasmtime's `-S` (accepted; shapes no artifact) |
//! | `name`               | the input's name, for a provenance statement   |
//!
//! Each option-group value is what follows the flag on a command line,
//! `KEY[=VAL[,KEY[=VAL]...]]`. Decoding the query string (percent escapes,
//! `+`) is the caller's: this module sees decoded pairs.

use crate::GivenOptions;
use std::fmt;

/// A compile's settings as a query string gives them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QuerySettings {
    /// `target`, when given.
    pub target: Option<String>,
    /// `baseline`, when given.
    pub baseline: Option<String>,
    /// Every `cpu-feature`, in order.
    pub cpu_features: Vec<String>,
    /// Wasmtime's option groups.
    pub given: GivenOptions,
    /// `name`, when given.
    pub name: Option<String>,
}

/// A query parameter that is not one of [`QuerySettings`]'.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownParameter {
    /// The parameter's name as given.
    pub name: String,
}

impl fmt::Display for UnknownParameter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown query parameter `{}` (known: target, baseline, cpu-feature, W, C, O, D, S, name)",
            self.name
        )
    }
}

impl std::error::Error for UnknownParameter {}

impl QuerySettings {
    /// Collects decoded `(name, value)` pairs; a repeated single-valued
    /// parameter keeps its last value.
    ///
    /// # Errors
    ///
    /// [`UnknownParameter`] for the first name that is not in the table.
    pub fn from_pairs<K, V>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Self, UnknownParameter>
    where
        K: AsRef<str>,
        V: Into<String>,
    {
        let mut settings = Self::default();
        for (name, value) in pairs {
            let value = value.into();
            match name.as_ref() {
                "target" => settings.target = Some(value),
                "baseline" => settings.baseline = Some(value),
                "name" => settings.name = Some(value),
                "cpu-feature" => settings.cpu_features.push(value),
                "W" | "wasm" => settings.given.wasm.push(value),
                "C" | "codegen" => settings.given.codegen.push(value),
                "O" | "optimize" => settings.given.optimize.push(value),
                "D" | "debug" => settings.given.debug.push(value),
                "S" | "wasi" => settings.given.wasi.push(value),
                other => {
                    return Err(UnknownParameter {
                        name: other.to_string(),
                    });
                }
            }
        }
        Ok(settings)
    }

    /// The CPU features in the order the compile takes them: the baseline
    /// first, then each `cpu-feature`.
    pub fn cpu_features(&self) -> Vec<String> {
        self.baseline
            .iter()
            .chain(&self.cpu_features)
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_flag_name_lands_in_its_group() {
        let settings = QuerySettings::from_pairs([
            ("target", "pulley64"),
            ("baseline", "b"),
            ("cpu-feature", "f1"),
            ("cpu-feature", "f2"),
            ("W", "gc=n"),
            ("wasm", "simd=y"),
            ("O", "opt-level=2"),
            ("C", "parallel-compilation=n"),
            ("D", "debug-info"),
            ("S", "cli"),
            ("name", "in.wasm"),
        ])
        .unwrap();
        assert_eq!(settings.target.as_deref(), Some("pulley64"));
        assert_eq!(settings.cpu_features(), ["b", "f1", "f2"]);
        assert_eq!(settings.given.wasm, ["gc=n", "simd=y"]);
        assert_eq!(settings.given.optimize, ["opt-level=2"]);
        assert_eq!(settings.given.codegen, ["parallel-compilation=n"]);
        assert_eq!(settings.given.debug, ["debug-info"]);
        assert_eq!(settings.given.wasi, ["cli"]);
        assert_eq!(settings.name.as_deref(), Some("in.wasm"));
    }

    #[test]
    fn an_unknown_name_is_refused_by_name() {
        let error = QuerySettings::from_pairs([("target", "x"), ("opt", "3")]).unwrap_err();
        assert_eq!(error.name, "opt");
        assert!(error.to_string().contains("`opt`"));
    }
}
