//! Why Winch refused an input, in terms of the proposal it needs.
//!
//! Winch, Wasmtime's baseline compiler (`-C compiler=winch`), implements
//! fewer proposals than Cranelift. Wasmtime handles that in two places,
//! and neither says so in words a user can act on:
//!
//! ```text
//!   what the input needs           what Wasmtime reports          sorted here as
//!   ────────────────────────────   ────────────────────────────   ───────────────────────
//!   a proposal Winch lacks          a validation failure:          unsupported feature,
//!   (tail calls, GC, exceptions,    "tail calls support is not     naming each proposal
//!   ... ; threads on aarch64)       enabled"                       by its `-W` name
//!
//!   an instruction Winch has not    Winch's code generator error   unsupported feature,
//!   written for the target or the   wrapped as "Compilation        naming SIMD when the
//!   CPU flags (SIMD without AVX,    error: Unimplemented..."       input uses it
//!   most SIMD on aarch64)
//! ```
//!
//! Without this module the first reads like an invalid module (it is
//! valid: the general classifier already re-validated it with every
//! proposal on) and the second like a compiler bug. Both are limits of the
//! chosen compiler, and the way out is the same: compile with Cranelift,
//! or for the second, raise the CPU baseline.
//!
//! The list of proposals is Wasmtime 48's own (`Config`'s
//! "compiler panicking features" for Winch). A proposal counts as needed
//! when the input fails validation without it and passes with everything
//! on; that is three or four validations, paid only on the failure path.

use crate::error::CompileError;
use wasmparser::{Validator, WasmFeatures};

/// A proposal Winch does not implement: its `-W` name and the wasmparser
/// features that make it up.
struct Lack {
    name: &'static str,
    features: WasmFeatures,
}

/// What Winch lacks on every target.
const LACKS: &[Lack] = &[
    Lack {
        name: "gc",
        features: WasmFeatures::GC,
    },
    Lack {
        name: "function-references",
        features: WasmFeatures::FUNCTION_REFERENCES,
    },
    Lack {
        // wasmparser's `gc_types`: `externref` and the other types whose
        // values a collector manages. Wasmtime switches it off with GC.
        name: "reference-types (externref)",
        features: WasmFeatures::GC_TYPES,
    },
    Lack {
        name: "tail-call",
        features: WasmFeatures::TAIL_CALL,
    },
    Lack {
        name: "relaxed-simd",
        features: WasmFeatures::RELAXED_SIMD,
    },
    Lack {
        name: "exceptions",
        features: WasmFeatures::EXCEPTIONS,
    },
    Lack {
        name: "legacy-exceptions",
        features: WasmFeatures::LEGACY_EXCEPTIONS,
    },
    Lack {
        name: "stack-switching",
        features: WasmFeatures::STACK_SWITCHING,
    },
];

/// What Winch lacks on aarch64 in addition: shared memories and atomics.
const LACKS_ON_AARCH64: &[Lack] = &[Lack {
    name: "threads",
    features: WasmFeatures::THREADS,
}];

/// What Winch lacks on a CPU without some AVX or AVX-512 feature.
///
/// No baseline is named as the way out: Sightglass's SIMD modules stay
/// refused even at `x86-64-v3` with AVX-512 F, VL, DQ, BITALG and VBMI added,
/// since Winch's x86_64 SIMD is itself incomplete.
const NO_AVX: &str =
    "an instruction it implements only with AVX or AVX-512 features these settings do not give";

/// The markers of Winch's code generator errors that are limits of its
/// implementation, not bugs (its `CodeGenError` variants, as their
/// `Debug` and `Display` forms reach the message), and what each means.
const LIMITS: &[(&str, &str)] = &[
    (
        "UnimplementedWasmInstruction",
        "an instruction it has not implemented",
    ),
    (
        "Unimplemented Wasm instruction",
        "an instruction it has not implemented",
    ),
    (
        "UnimplementedMasmInstruction",
        "an instruction it has not implemented for this target",
    ),
    (
        "Unimplemented Masm instruction",
        "an instruction it has not implemented for this target",
    ),
    ("UnsupportedWasmType", "a value type it does not support"),
    ("Unsupported Wasm type", "a value type it does not support"),
    ("UnimplementedForNoAvx", NO_AVX),
    ("CPUs without AVX", NO_AVX),
    (
        "UnsupportedTableEagerInit",
        "a table it cannot initialize eagerly",
    ),
    (
        "eager initialization of tables",
        "a table it cannot initialize eagerly",
    ),
    (
        "exceeds the implementation limit",
        "a `br_table` with more targets than it allows",
    ),
];

/// Why Winch refused `binary` for `triple`, given Wasmtime's `message`;
/// `None` when the failure is not a known limit of Winch.
pub(crate) fn refusal(binary: &[u8], triple: &str, message: &str) -> Option<CompileError> {
    let mut lacks: Vec<&Lack> = LACKS.iter().collect();
    if triple.starts_with("aarch64") {
        lacks.extend(LACKS_ON_AARCH64);
    }
    let needed: Vec<&str> = lacks
        .iter()
        .filter(|lack| needs(binary, lack.features))
        .map(|lack| lack.name)
        .collect();
    if !needed.is_empty() {
        let list = needed
            .iter()
            .map(|name| format!("`{name}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let noun = if needed.len() == 1 {
            "proposal"
        } else {
            "proposals"
        };
        return Some(CompileError::UnsupportedFeature {
            message: format!(
                "the input needs the {list} {noun}, which Winch (-C compiler=winch) does not \
                 implement{on}; compile it with Cranelift (the default)",
                on = if triple.starts_with("aarch64") {
                    " on aarch64"
                } else {
                    ""
                },
            ),
        });
    }
    let (_, what) = LIMITS.iter().find(|(marker, _)| message.contains(marker))?;
    let simd = if crate::error::uses_simd(binary) {
        "; the input uses the `simd` proposal, which Winch implements only in part"
    } else {
        ""
    };
    Some(CompileError::UnsupportedFeature {
        message: format!(
            "Winch (-C compiler=winch) cannot compile this input for {triple}: it uses {what}{simd}; \
             compile it with Cranelift (the default)"
        ),
    })
}

/// Whether `binary`, valid with every proposal on, fails without
/// `features`.
fn needs(binary: &[u8], features: WasmFeatures) -> bool {
    Validator::new_with_features(WasmFeatures::all() - features)
        .validate_all(binary)
        .is_err()
}
