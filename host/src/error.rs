//! The host's error type: what went wrong with a compile, a limit, a
//! verification or a file, with enough context to act on.

use crate::artifact::verify_code::{VerifyCodeError, Violation};
use kiln_guest::CompileError;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// Which sandbox limit a compile hit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LimitKind {
    /// The wall-clock deadline passed.
    Time {
        /// The deadline that was set.
        limit: Duration,
    },
    /// The guest tried to grow its memory past the cap.
    Memory {
        /// The cap, in bytes.
        limit: u64,
    },
    /// The artifact was larger than the output cap.
    Output {
        /// The cap, in bytes.
        limit: u64,
        /// The artifact's size, in bytes.
        size: u64,
    },
}

/// Everything that can go wrong in the host.
#[derive(Debug)]
pub enum Error {
    /// The compiler rejected the input or failed on it.
    Compile(CompileError),
    /// A sandbox limit was hit; the host is unaffected.
    Limit(LimitKind),
    /// The sandbox itself failed (could not start the guest, the guest
    /// trapped without a panic message, ...).
    Sandbox {
        /// What failed.
        message: String,
    },
    /// `kiln check` found the sandboxed artifact differs from the native one
    /// or does not load.
    Verification {
        /// What differs or failed.
        message: String,
    },
    /// The machine-code verifier found code that breaks its rules: after a
    /// compile, the artifact is neither written nor signed; from `kiln
    /// verify-code`, the artifact is refused.
    CodeVerification {
        /// Every rule broken, in `.text` order (never empty).
        violations: Vec<Violation>,
    },
    /// The machine-code verifier could not verify an artifact: it does
    /// not read, or (for a given file) its target has no verifier yet.
    CodeUnverifiable {
        /// The file given (`kiln verify-code`: the input is rejected), or
        /// `None` for the artifact a compile just made (Kiln's own bytes:
        /// an internal error).
        artifact: Option<PathBuf>,
        /// Why.
        error: VerifyCodeError,
    },
    /// Running an artifact failed (instantiation, a trap, a missing export).
    Run {
        /// What failed, with its cause chain.
        message: String,
    },
    /// The incremental compile cache failed.
    Cache(crate::cache::CacheError),
    /// An emulated (or child-process) runner could not be used.
    Emulate(crate::emulate::EmulateError),
    /// A command line or its options are wrong (an unknown Wasmtime
    /// option, a value that does not parse).
    Usage {
        /// What is wrong, naming the option.
        message: String,
    },
    /// An artifact was refused for its provenance: no valid statement
    /// signed by a trusted key, or one about other bytes or settings.
    Provenance(crate::artifact::ProvenanceError),
    /// A file could not be read.
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file could not be written.
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

impl Error {
    /// The `kiln` CLI's exit code for this error: 1 input rejected,
    /// 3 sandbox limit, 4 verification failed, 5 internal error, 6 the
    /// emulation is not installed or failed.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Compile(CompileError::Internal { .. }) => 5,
            Self::Compile(_) | Self::Read { .. } | Self::Run { .. } => 1,
            Self::Limit(_) => 3,
            Self::Verification { .. } | Self::CodeVerification { .. } => 4,
            Self::CodeUnverifiable {
                artifact: Some(_), ..
            } => 1,
            Self::CodeUnverifiable { artifact: None, .. } => 5,
            Self::Cache(crate::cache::CacheError::BadTenant { .. }) | Self::Usage { .. } => 2,
            Self::Emulate(_) => 6,
            Self::Provenance(error) => provenance_exit_code(error),
            Self::Sandbox { .. } | Self::Write { .. } | Self::Cache(_) => 5,
        }
    }

    /// A stable name for this kind of error, for machine-read output
    /// (`kiln compile --json` with several inputs): the service's error
    /// kinds where it has one for the same failure, and one of `read`,
    /// `write`, `usage`, `internal` (the sandbox or the cache failed),
    /// `code-unverifiable`, `verification`, `run`, `emulation`,
    /// `provenance` otherwise.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Compile(CompileError::InvalidInput { .. }) => "invalid-input",
            Self::Compile(CompileError::UnsupportedTarget { .. }) => "unsupported-target",
            Self::Compile(CompileError::UnsupportedFeature { .. }) => "unsupported-feature",
            Self::Cache(crate::cache::CacheError::BadTenant { .. }) | Self::Usage { .. } => "usage",
            Self::Compile(CompileError::Internal { .. })
            | Self::Sandbox { .. }
            | Self::Cache(_) => "internal",
            Self::Limit(LimitKind::Time { .. }) => "time-limit",
            Self::Limit(LimitKind::Memory { .. }) => "memory-limit",
            Self::Limit(LimitKind::Output { .. }) => "output-limit",
            Self::CodeVerification { .. } => "code-verification",
            Self::CodeUnverifiable { .. } => "code-unverifiable",
            Self::Verification { .. } => "verification",
            Self::Run { .. } => "run",
            Self::Emulate(_) => "emulation",
            Self::Provenance(_) => "provenance",
            Self::Read { .. } => "read",
            Self::Write { .. } => "write",
        }
    }

    pub(crate) fn run(error: impl fmt::Display) -> Self {
        Self::Run {
            message: format!("{error:#}"),
        }
    }

    pub(crate) fn sandbox(error: impl fmt::Display) -> Self {
        Self::Sandbox {
            message: format!("{error:#}"),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Compile(error) => error.fmt(f),
            Self::Limit(LimitKind::Time { limit }) => write!(
                f,
                "sandbox limit: compile did not finish within {:.3} s (raise --timeout)",
                limit.as_secs_f64()
            ),
            Self::Limit(LimitKind::Memory { limit }) => write!(
                f,
                "sandbox limit: the compiler needed more than {limit} bytes of memory (raise --max-memory)"
            ),
            Self::Limit(LimitKind::Output { limit, size }) => write!(
                f,
                "sandbox limit: the artifact is {size} bytes, over the {limit}-byte cap (raise --max-output)"
            ),
            Self::Sandbox { message } => write!(f, "sandbox failure: {message}"),
            Self::Cache(error) => error.fmt(f),
            Self::Emulate(error) => write!(f, "emulation: {error}"),
            Self::Verification { message } => write!(f, "verification failed: {message}"),
            Self::CodeVerification { violations } => {
                write!(
                    f,
                    "machine-code verification failed: {} violation(s): ",
                    violations.len()
                )?;
                for (i, violation) in violations.iter().take(SHOWN_VIOLATIONS).enumerate() {
                    if i > 0 {
                        f.write_str("; ")?;
                    }
                    write!(f, "{violation}")?;
                }
                if violations.len() > SHOWN_VIOLATIONS {
                    write!(f, "; and {} more", violations.len() - SHOWN_VIOLATIONS)?;
                }
                // The verifier proves; some safe code it cannot prove yet
                // (the README lists those shapes).
                f.write_str(
                    ". Nothing was written. If the input uses a shape the verifier \
                     does not model yet (see the README), `--no-verify-code` compiles \
                     it unverified",
                )
            }
            Self::CodeUnverifiable {
                artifact: Some(artifact),
                error,
            } => write!(f, "cannot verify {}: {error}", artifact.display()),
            Self::CodeUnverifiable {
                artifact: None,
                error,
            } => write!(
                f,
                "the machine-code verifier cannot read the artifact just compiled: {error}"
            ),
            Self::Run { message } => write!(f, "run failed: {message}"),
            Self::Usage { message } => write!(f, "usage: {message}"),
            Self::Provenance(error) => write!(f, "artifact refused: {error}"),
            Self::Read { path, source } => write!(f, "failed to read {}: {source}", path.display()),
            Self::Write { path, source } => {
                write!(f, "failed to write {}: {source}", path.display())
            }
        }
    }
}

/// How many violations [`Error::CodeVerification`]'s message names; the
/// rest are counted.
const SHOWN_VIOLATIONS: usize = 8;

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Compile(error) => Some(error),
            Self::Read { source, .. } | Self::Write { source, .. } => Some(source),
            Self::CodeUnverifiable { error, .. } => Some(error),
            _ => None,
        }
    }
}

/// 7: no statement that a trusted key validly signed (missing, malformed,
/// oversized, untrusted, bad signature, unreadable key); 8: a valid
/// statement about other bytes or other settings.
fn provenance_exit_code(error: &crate::artifact::ProvenanceError) -> u8 {
    use crate::artifact::ProvenanceError as P;
    match error {
        P::DigestMismatch { .. } | P::SettingsMismatch { .. } => 8,
        _ => 7,
    }
}

impl From<crate::artifact::ProvenanceError> for Error {
    fn from(error: crate::artifact::ProvenanceError) -> Self {
        Self::Provenance(error)
    }
}

impl From<CompileError> for Error {
    fn from(error: CompileError) -> Self {
        Self::Compile(error)
    }
}

impl From<kiln_runner::RunError> for Error {
    fn from(error: kiln_runner::RunError) -> Self {
        match error {
            kiln_runner::RunError::Settings(error) => Self::Compile(error.into()),
            kiln_runner::RunError::Read { path, source } => Self::Read { path, source },
            kiln_runner::RunError::Write { path, source } => Self::Write { path, source },
            other => Self::run(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::artifact::verify_code::Rule;

    fn violation(offset: u64) -> Violation {
        Violation {
            function: "wasm[0]::function[1]".to_string(),
            offset,
            rule: Rule::HeapAccess,
            detail: "no bounds check dominates the load".to_string(),
        }
    }

    #[test]
    fn code_verification_exits_4_naming_function_offset_and_rule() {
        let error = Error::CodeVerification {
            violations: vec![violation(0x40)],
        };
        assert_eq!(error.exit_code(), 4);
        let text = error.to_string();
        assert!(
            text.starts_with("machine-code verification failed: 1 violation(s): "),
            "{text}"
        );
        assert!(text.contains("wasm[0]::function[1]"), "{text}");
        assert!(text.contains(".text+0x40"), "{text}");
        assert!(text.contains(Rule::HeapAccess.name()), "{text}");
    }

    #[test]
    fn code_verification_names_the_first_few_and_counts_the_rest() {
        let violations: Vec<Violation> = (0..SHOWN_VIOLATIONS as u64 + 3).map(violation).collect();
        let text = Error::CodeVerification { violations }.to_string();
        assert!(
            text.contains(&format!("{} violation(s)", SHOWN_VIOLATIONS + 3)),
            "{text}"
        );
        assert_eq!(
            text.matches("wasm[0]::function[1]").count(),
            SHOWN_VIOLATIONS
        );
        assert!(
            text.contains("; and 3 more. Nothing was written."),
            "{text}"
        );
        assert!(text.ends_with("compiles it unverified"), "{text}");
    }

    #[test]
    fn an_unverifiable_artifact_exits_1_naming_it() {
        let error = Error::CodeUnverifiable {
            artifact: Some(PathBuf::from("app.cwasm")),
            error: VerifyCodeError::UnsupportedTarget {
                target: "aarch64-unknown-linux-gnu".to_string(),
            },
        };
        assert_eq!(error.exit_code(), 1);
        let text = error.to_string();
        assert!(text.contains("app.cwasm"), "{text}");
        assert!(text.contains("aarch64-unknown-linux-gnu"), "{text}");
    }

    /// Kiln's own fresh artifact that its verifier cannot read is Kiln's
    /// fault, not the input's: exit 5.
    #[test]
    fn a_compiled_artifact_the_verifier_cannot_read_is_internal() {
        let error = Error::CodeUnverifiable {
            artifact: None,
            error: VerifyCodeError::Metadata {
                section: ".wasmtime.info",
                message: "does not decode".to_string(),
            },
        };
        assert_eq!(error.exit_code(), 5);
        let text = error.to_string();
        assert!(text.contains("just compiled"), "{text}");
        assert!(text.contains(".wasmtime.info: does not decode"), "{text}");
    }
}
