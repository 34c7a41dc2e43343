//! One compile, asked for and answered: the single way into the sandbox.
//!
//! Every caller (the `kiln` CLI, the `kiln serve` service, the benchmark,
//! the tests) describes a compile as a [`CompileRequest`] and gets back a
//! [`Compiled`]. The request says what varies between callers, each with
//! a default that is what `kiln compile` does, but for `verify_code`:
//!
//! | field        | default                         | who changes it                 |
//! |--------------|---------------------------------|--------------------------------|
//! | `limits`     | the [`Sandbox`]'s own           | the service, per tenant        |
//! | `threads`    | one per 8 KiB of code, ≤ jobs   | the benchmark, the tests       |
//! | `guest`      | the threaded guest              | the benchmark, the WIT tests   |
//! | `cache`      | none                            | `--cache DIR`, the service     |
//! | `provenance` | none: no statement is made      | the CLI and the service        |
//! | `verify_code`| off: recorded as `skipped`      | `kiln compile`, the service    |
//!
//! A statement is made inside [`Sandbox::compile`] rather than by the
//! caller, so that its times, limits and tenant are the compile's own and
//! no caller can sign an artifact with facts that were not those of its
//! compile.
//!
//! Before that, where the request asks, the artifact's machine code goes
//! through the verifier ([`verify_code`](crate::artifact::verify_code)):
//! an artifact whose code breaks a rule is an error
//! ([`Error::CodeVerification`]), so the caller never gets it to write,
//! sign or run. The statement records the outcome (`skipped` where not
//! asked), and so does [`Compiled::code_verification`], for a compile
//! without one.
//!
//! [`Sandbox`]: super::Sandbox
//! [`Sandbox::compile`]: super::Sandbox::compile

use crate::artifact::statement::{CodeVerificationOutcome, CodeVerificationRecord};
use crate::artifact::verify_code::{self, VERIFIER_VERSION, VerifyCodeError};
use crate::artifact::{CompileFacts, SigningKey, signed_statement};
use crate::cache::IncrementalCache;
use crate::{Artifact, CompileStats, Error, GivenOptions, Limits, Options};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// How many threads a compile gets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Threads {
    /// One per [`CODE_BYTES_PER_THREAD`](super::CODE_BYTES_PER_THREAD) of
    /// function bodies, at most the sandbox's jobs (`kiln compile`'s choice).
    #[default]
    Auto,
    /// Exactly this many, whatever the input's size (1: the calling thread
    /// alone).
    Exactly(usize),
}

/// Which build of the compiler runs the compile.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Guest {
    /// The threaded core module on a shared memory (parallel compiles,
    /// the incremental cache).
    #[default]
    Threaded,
    /// The `kiln:compiler` component behind the WIT contract: one thread,
    /// no cache.
    Component,
}

/// Who signs the compile's provenance statement, and the names it records.
#[derive(Debug, Clone, Copy)]
pub struct Provenance<'a> {
    /// The signing key.
    pub key: &'a SigningKey,
    /// The options as the user gave them (recorded beside the resolved ones).
    pub given: &'a GivenOptions,
    /// The input's name (a path, `-`, or what a client called it).
    pub input_name: &'a str,
    /// The artifact's name, the statement's subject.
    pub artifact_name: &'a str,
}

/// One compile: the input, its options, and how to run it.
#[derive(Clone)]
pub struct CompileRequest<'a> {
    pub(super) input: &'a [u8],
    pub(super) options: &'a Options,
    pub(super) limits: Option<Limits>,
    pub(super) threads: Threads,
    pub(super) guest: Guest,
    pub(super) cache: Option<(&'a Arc<IncrementalCache>, &'a str)>,
    pub(super) provenance: Option<Provenance<'a>>,
    pub(super) verify_code: bool,
}

impl<'a> CompileRequest<'a> {
    /// A compile of `input` (binary or text, module or component) with
    /// `options`, as `kiln compile` runs it with no cache and no statement.
    pub fn new(input: &'a [u8], options: &'a Options) -> Self {
        Self {
            input,
            options,
            limits: None,
            threads: Threads::Auto,
            guest: Guest::Threaded,
            cache: None,
            provenance: None,
            verify_code: false,
        }
    }

    /// Runs it under `limits` instead of the sandbox's own.
    #[must_use]
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = Some(limits);
        self
    }

    /// Runs it on `threads` threads.
    #[must_use]
    pub fn threads(mut self, threads: Threads) -> Self {
        self.threads = threads;
        self
    }

    /// Runs it on `guest`.
    #[must_use]
    pub fn guest(mut self, guest: Guest) -> Self {
        self.guest = guest;
        self
    }

    /// Reuses and extends `tenant`'s entries in `cache`: functions
    /// unchanged since an earlier compile of that tenant's are not compiled
    /// again, and no other tenant's entries are read. The artifact is the
    /// same as without the cache. Threaded guest only.
    #[must_use]
    pub fn cache(mut self, cache: &'a Arc<IncrementalCache>, tenant: &'a str) -> Self {
        self.cache = Some((cache, tenant));
        self
    }

    /// Signs a provenance statement about the artifact.
    #[must_use]
    pub fn provenance(mut self, provenance: Provenance<'a>) -> Self {
        self.provenance = Some(provenance);
        self
    }

    /// Whether the artifact's machine code is verified before it is
    /// answered or signed. Off unless asked for: `kiln compile` asks by
    /// default (`--no-verify-code` opts out) and the service always does;
    /// an embedder opts in here. Not verified, the statement records
    /// `skipped`.
    #[must_use]
    pub fn verify_code(mut self, verify: bool) -> Self {
        self.verify_code = verify;
        self
    }

    /// The tenant whose cache entries it uses, if any.
    pub fn tenant(&self) -> Option<&'a str> {
        self.cache.map(|(_, tenant)| tenant)
    }
}

/// A finished compile.
#[derive(Debug, Clone)]
pub struct Compiled {
    /// The artifact: the `.cwasm` bytes and what they hold.
    pub artifact: Artifact,
    /// The signed provenance statement (a DSSE envelope's JSON), when the
    /// request asked for one.
    pub statement: Option<Vec<u8>>,
    /// What the compile took inside the sandbox.
    pub stats: CompileStats,
    /// Wall-clock time from the request to the artifact, the machine-code
    /// verification and the statement not included.
    pub duration: Duration,
    /// What the machine-code verifier made of the artifact (as the
    /// statement records it).
    pub code_verification: CodeVerificationRecord,
    /// Wall-clock time the machine-code verification took (zero when
    /// skipped).
    pub verify_code_duration: Duration,
}

/// Verifies the machine code of `artifact` as `request` asks: the record
/// for the statement, and how long it took.
///
/// # Errors
///
/// As [`check_code`].
pub(super) fn verify_code(
    request: &CompileRequest<'_>,
    artifact: &Artifact,
) -> Result<(CodeVerificationRecord, Duration), Error> {
    if !request.verify_code {
        let skipped = CodeVerificationRecord {
            outcome: CodeVerificationOutcome::Skipped,
            verifier: VERIFIER_VERSION.to_string(),
            functions: 0,
            instructions: 0,
            unchecked: 0,
        };
        return Ok((skipped, Duration::ZERO));
    }
    let start = Instant::now();
    let record = check_code(&artifact.bytes)?;
    Ok((record, start.elapsed()))
}

/// Verifies the machine code of `artifact`, which Kiln's compiler just
/// made: what a statement records of it.
///
/// # Errors
///
/// [`Error::CodeVerification`] naming every violation when a rule does
/// not hold; [`Error::CodeUnverifiable`] (internal) when the verifier
/// cannot read the artifact. A target the verifier does not read yet is
/// no error: it is recorded as such, and so is code from a compiler whose
/// code shapes it does not describe (Winch).
pub(crate) fn check_code(artifact: &[u8]) -> Result<CodeVerificationRecord, Error> {
    let record = |outcome, functions, instructions, unchecked| CodeVerificationRecord {
        outcome,
        verifier: VERIFIER_VERSION.to_string(),
        functions,
        instructions,
        unchecked,
    };
    match verify_code::verify(artifact) {
        Ok(report) if report.passed() => Ok(record(
            CodeVerificationOutcome::Passed,
            report.functions as u64,
            report.instructions,
            report.unchecked.len() as u64,
        )),
        Ok(report) => Err(Error::CodeVerification {
            violations: report.violations,
        }),
        Err(VerifyCodeError::UnsupportedTarget { .. }) => {
            Ok(record(CodeVerificationOutcome::UnsupportedTarget, 0, 0, 0))
        }
        Err(VerifyCodeError::UnsupportedCompiler { .. }) => Ok(record(
            CodeVerificationOutcome::UnsupportedCompiler,
            0,
            0,
            0,
        )),
        Err(error) => Err(Error::CodeUnverifiable {
            artifact: None,
            error,
        }),
    }
}

/// Signs the statement about `artifact` as `request` asks, if it does,
/// recording `code_verification`.
pub(super) fn sign(
    request: &CompileRequest<'_>,
    limits: &Limits,
    started: SystemTime,
    artifact: &Artifact,
    code_verification: &CodeVerificationRecord,
) -> Result<Option<Vec<u8>>, Error> {
    let Some(provenance) = request.provenance else {
        return Ok(None);
    };
    let facts = CompileFacts {
        input_name: provenance.input_name,
        input: request.input,
        options: request.options,
        given: provenance.given,
        limits,
        started,
        finished: SystemTime::now(),
        tenant: request.tenant(),
        code_verification: Some(code_verification),
    };
    signed_statement(
        &facts,
        provenance.artifact_name,
        &artifact.bytes,
        provenance.key,
    )
    .map(Some)
}
