//! A verifier of the machine code inside an artifact: it proves, function
//! by function, that the code keeps to Wasmtime's isolation, whatever the
//! compiler that made it got wrong.
//!
//! The sandbox protects the machine that compiles; nothing else protects
//! the machine that runs the artifact. A compiler bug an input can
//! trigger yields code that reads or writes outside its linear memory or
//! jumps where it should not, and that code would come out of Kiln's
//! sandbox byte-identical to a native compile and signed. A signature says
//! where an artifact came from, not what its code does. So Kiln decodes
//! every instruction of every function and checks it against the shapes of
//! code that Wasmtime's isolation is built on, drawn in [`rules`].
//!
//! The verifier reads untrusted bytes. It goes through the inspection
//! reader ([`inspect`](super::inspect)) for the function layout, decodes
//! with `iced-x86`, reads Wasmtime's own records of the module (VMContext
//! layout, tables, globals, signatures) and the engine's memory settings
//! ([`layout`]), and never panics or trusts a declared count before the
//! bytes for it are there.
//!
//! x86_64 only, for now: an artifact for another target is refused with
//! [`VerifyCodeError::UnsupportedTarget`], and one compiled by Winch with
//! [`VerifyCodeError::UnsupportedCompiler`].

mod analyze;
mod covered;
mod decode;
mod induction;
pub mod layout;
mod probe;
mod relations;
pub mod rules;
mod slots;
mod step;
mod value;
mod vec_map;

use super::inspect::{self, InspectError};
use serde::Serialize;
use std::fmt;

/// The verifier's version, recorded in provenance statements: it changes
/// whenever the set of accepted code shapes does.
pub const VERIFIER_VERSION: &str = "kiln-verify-code/4";

pub use rules::Rule;

/// One place where the code breaks a rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// The function's symbol.
    pub function: String,
    /// Offset of the offending instruction (or byte) in `.text`.
    pub offset: u64,
    /// The rule it breaks.
    pub rule: Rule,
    /// What was found, in words.
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at .text+{:#x}: {} ({})",
            self.function,
            self.offset,
            self.rule.name(),
            self.detail
        )
    }
}

/// What the verifier found in one artifact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The verifier's version.
    pub verifier: &'static str,
    /// The artifact's target.
    pub target: String,
    /// Functions whose code was checked.
    pub functions: usize,
    /// Instructions decoded and checked.
    pub instructions: u64,
    /// Every rule broken, in `.text` order.
    pub violations: Vec<Violation>,
    /// Code the verifier left unchecked, each with why.
    pub unchecked: Vec<Unchecked>,
    /// Bytes inside functions that no control flow reaches (jump tables
    /// excluded): constant pools, padding, dead blocks. Never executed.
    pub unreached_bytes: u64,
}

/// A function the verifier did not check, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unchecked {
    /// Its symbol.
    pub function: String,
    /// Why it was not checked.
    pub reason: UncheckedReason,
}

/// Why a function was not checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum UncheckedReason {
    /// Code whose calling convention the verifier does not model yet (a
    /// component's own trampolines, module start-up code).
    CallingConvention,
    /// A function of a core module whose code reads objects in the GC
    /// heap: one that defines the GC proposal's struct or array types, or
    /// exception tags. The verifier does not model that heap's objects
    /// yet. (A module whose only GC references are `externref`s is
    /// checked: its code keeps them in tables and locals, never reads
    /// the heap.)
    GcHeap,
}

impl fmt::Display for UncheckedReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UncheckedReason::CallingConvention => "calling convention not modelled yet",
            UncheckedReason::GcHeap => {
                "its module reads GC-heap objects (struct, array or exception types), not modelled yet"
            }
        })
    }
}

impl Report {
    /// Whether every rule holds.
    pub fn passed(&self) -> bool {
        self.violations.is_empty()
    }
}

/// Why an artifact could not be verified at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyCodeError {
    /// The artifact could not be read.
    Inspect(InspectError),
    /// Its target has no verifier yet.
    UnsupportedTarget {
        /// The artifact's target triple.
        target: String,
    },
    /// Its code comes from a compiler whose code shapes the rules do not
    /// describe: Winch (`-C compiler=winch`) keeps wasm's operand stack in
    /// memory and has its own calling convention and bounds checks, and
    /// its code is not refused for breaking rules written for Cranelift's.
    UnsupportedCompiler {
        /// The compiler, as `-C compiler=` names it.
        compiler: &'static str,
    },
    /// Wasmtime's record of the module (`.wasmtime.info`) or engine
    /// settings (`.wasmtime.engine`) could not be decoded or is
    /// implausible.
    Metadata {
        /// The section.
        section: &'static str,
        /// What is wrong.
        message: String,
    },
}

impl fmt::Display for VerifyCodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Inspect(error) => error.fmt(f),
            Self::UnsupportedTarget { target } => write!(
                f,
                "the code verifier does not support {target} yet (x86_64 only)"
            ),
            Self::UnsupportedCompiler { compiler } => write!(
                f,
                "the code verifier does not support code compiled by {compiler} yet (Cranelift only)"
            ),
            Self::Metadata { section, message } => write!(f, "{section}: {message}"),
        }
    }
}

impl std::error::Error for VerifyCodeError {}

impl From<InspectError> for VerifyCodeError {
    fn from(error: InspectError) -> Self {
        Self::Inspect(error)
    }
}

/// Verifies every function of `bytes`, a `.cwasm`.
///
/// # Errors
///
/// [`VerifyCodeError`] when the artifact cannot be read, its target has no
/// verifier, or Wasmtime's records inside it do not decode. Broken rules
/// are not errors: they are the [`Report`]'s violations.
pub fn verify(bytes: &[u8]) -> Result<Report, VerifyCodeError> {
    let artifact = inspect::read(bytes)?;
    if !artifact.record.target.starts_with("x86_64") {
        return Err(VerifyCodeError::UnsupportedTarget {
            target: artifact.record.target.clone(),
        });
    }
    if layout::compiled_by_winch(bytes)? {
        return Err(VerifyCodeError::UnsupportedCompiler { compiler: "winch" });
    }
    let layout = layout::Layout::read(bytes, &artifact)?;
    Ok(analyze::artifact(bytes, &artifact, &layout))
}
