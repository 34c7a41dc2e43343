//! Compile errors, and how a Wasmtime failure is sorted into one of them.

use crate::winch;
use kiln_settings::{Compiler, Options, SettingsError};
use std::fmt;
use wasmparser::{Validator, WasmFeatures};

/// Why a compile failed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum CompileError {
    /// The input is malformed or fails validation.
    InvalidInput {
        /// The validator's or text parser's message.
        message: String,
        /// Byte offset into the (binary) input, when known.
        offset: Option<u64>,
    },
    /// The triple is not one Kiln targets.
    UnsupportedTarget {
        /// The triple as given.
        triple: String,
    },
    /// A CPU feature or proposal is unknown or off, or the input needs one
    /// that is off.
    UnsupportedFeature {
        /// What is unsupported, in plain words.
        message: String,
    },
    /// The compiler failed on valid input: a bug.
    Internal {
        /// The failure, with its cause chain.
        message: String,
    },
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidInput {
                message,
                offset: Some(offset),
            } => write!(f, "invalid input: {message} (at offset {offset:#x})"),
            Self::InvalidInput {
                message,
                offset: None,
            } => write!(f, "invalid input: {message}"),
            Self::UnsupportedTarget { triple } => write!(
                f,
                "unsupported target `{triple}` (supported: {})",
                kiln_settings::TARGETS.join(", ")
            ),
            Self::UnsupportedFeature { message } => write!(f, "unsupported feature: {message}"),
            Self::Internal { message } => write!(f, "internal compiler error: {message}"),
        }
    }
}

impl std::error::Error for CompileError {}

impl From<SettingsError> for CompileError {
    fn from(error: SettingsError) -> Self {
        match error {
            SettingsError::UnsupportedTarget { triple } => Self::UnsupportedTarget { triple },
            other => Self::UnsupportedFeature {
                message: other.to_string(),
            },
        }
    }
}

/// Whether `binary` is valid and needs wasm SIMD: it validates with every
/// proposal on and fails without SIMD.
pub(crate) fn uses_simd(binary: &[u8]) -> bool {
    let without = WasmFeatures::all() - WasmFeatures::SIMD - WasmFeatures::RELAXED_SIMD;
    Validator::new_with_features(WasmFeatures::all())
        .validate_all(binary)
        .is_ok()
        && Validator::new_with_features(without)
            .validate_all(binary)
            .is_err()
}

/// Sorts a Wasmtime compile failure into a [`CompileError`].
///
/// Wasmtime reports validation failures and engine limitations through one
/// error type. Re-validating with every proposal enabled separates them, and
/// only on the failure path, so a successful compile validates once:
/// - fails even with everything on: the input is invalid, and wasmparser's
///   message and offset say where;
/// - passes with everything on: the input needs something this engine has
///   off or cannot do, unless Cranelift itself failed, which is a bug.
pub(crate) fn classify(binary: &[u8], error: &wasmtime::Error, options: &Options) -> CompileError {
    if let Err(invalid) = Validator::new_with_features(WasmFeatures::all()).validate_all(binary) {
        return CompileError::InvalidInput {
            message: invalid.message().to_string(),
            offset: Some(invalid.offset() as u64),
        };
    }
    let message = format!("{error:#}");
    if options.wasmtime.compiler() == Compiler::Winch
        && let Some(refusal) = winch::refusal(binary, &options.triple, &message)
    {
        return refusal;
    }
    if message.contains("Compilation error") || message.contains("compilation error") {
        CompileError::Internal { message }
    } else {
        CompileError::UnsupportedFeature { message }
    }
}
