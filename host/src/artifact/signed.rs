//! Where provenance meets compiling and loading: the statement a compile
//! signs, and the verified load, the library's safe way to turn an
//! artifact into a module or component.
//!
//! A `.cwasm` is native code that Wasmtime maps executable without
//! validating it (`Module::deserialize` is `unsafe` for exactly that
//! reason), so whoever can write an artifact file on its way to the loader
//! can run code in the loader. [`load_verified`] closes that gap: it checks
//! the statement's signature against the trusted keys, the artifact's
//! digest against the statement's subject, and the recorded settings
//! against the loading engine's, all on the bytes in memory, and only then
//! hands those same bytes to Wasmtime. Nothing is read twice, so nothing
//! can change between the check and the load.
//!
//! ```text
//!   compile:  input ─ sandbox ─▶ artifact ─┬─▶ app.cwasm             (plain, stock-loadable)
//!                     options, limits ─────┴─▶ app.cwasm.intoto.json (DSSE, Ed25519)
//!   load:     app.cwasm + statement + trust ─ verify ─▶ deserialize ─▶ Module/Component
//! ```

use super::statement::CodeVerificationRecord;
use super::{
    EngineRecord, Envelope, Expected, InputRecord, LimitsRecord, Predicate, ProvenanceError,
    SettingsRecord, SigningKey, Statement, TrustedKeys, rfc3339_utc, sha256_hex, sign, verify,
};
use crate::load::{self, Loaded};
use crate::{ArtifactKind, Error, GivenOptions, Limits, Options};
use std::time::SystemTime;
use wasmtime::Engine;

/// What a compile was, for its statement.
#[derive(Debug, Clone)]
pub struct CompileFacts<'a> {
    /// The input's name (its path as given, or `-`).
    pub input_name: &'a str,
    /// The input's bytes.
    pub input: &'a [u8],
    /// The options the artifact was compiled with.
    pub options: &'a Options,
    /// The options as the user gave them.
    pub given: &'a GivenOptions,
    /// The limits the sandbox enforced.
    pub limits: &'a Limits,
    /// When the compile started.
    pub started: SystemTime,
    /// When it finished.
    pub finished: SystemTime,
    /// Whose compile it was, where there are tenants.
    pub tenant: Option<&'a str>,
    /// What the machine-code verifier made of the artifact (`None`: the
    /// statement says nothing about it).
    pub code_verification: Option<&'a CodeVerificationRecord>,
}

/// The statement about `artifact` (named `artifact_name` in its subject).
pub fn statement(facts: &CompileFacts<'_>, artifact_name: &str, artifact: &[u8]) -> Statement {
    let info = crate::inspect::inspect(artifact).ok();
    let predicate = Predicate {
        input: InputRecord {
            name: facts.input_name.to_string(),
            sha256: sha256_hex(facts.input),
            size: facts.input.len() as u64,
        },
        target: facts.options.triple.clone(),
        cpu_flags: cpu_flags(facts.options),
        baseline: info.and_then(|info| info.baseline.map(str::to_string)),
        settings: SettingsRecord {
            given: serde_json::to_value(facts.given).unwrap_or(serde_json::Value::Null),
            resolved: facts.options.wasmtime.as_toml().to_string(),
        },
        kiln_version: env!("CARGO_PKG_VERSION").to_string(),
        wasmtime_version: kiln_settings::WASMTIME_VERSION.to_string(),
        engine: EngineRecord {
            sha256: crate::inspect::engine_record(artifact)
                .map(sha256_hex)
                .unwrap_or_default(),
        },
        limits: LimitsRecord {
            timeout_ms: u64::try_from(facts.limits.timeout.as_millis()).unwrap_or(u64::MAX),
            max_memory: facts.limits.max_memory,
            max_output: facts.limits.max_output,
        },
        started_on: rfc3339_utc(facts.started),
        finished_on: rfc3339_utc(facts.finished),
        tenant: facts.tenant.map(str::to_string),
        code_verification: facts.code_verification.cloned(),
    };
    Statement::new(artifact_name, artifact, predicate)
}

/// The signing key a compile uses: the one in `file` when given (`kiln
/// compile --key`, the service's `key`), else the config directory's
/// default key, made on first use.
///
/// # Errors
///
/// [`Error::Usage`] when no file is given and there is no config
/// directory; [`Error::Provenance`] when the key cannot be read or made.
pub fn signing_key(file: Option<&std::path::Path>) -> Result<SigningKey, Error> {
    let key = match file {
        Some(file) => super::read_private_key(file),
        None => {
            let dir = crate::user_dirs::config_dir().ok_or_else(|| Error::Usage {
                message: "no config directory for Kiln's keys: set KILN_CONFIG_DIR".to_string(),
            })?;
            super::default_key(&dir)
        }
    };
    key.map_err(|error| ProvenanceError::Key(error).into())
}

/// Signs the statement about `artifact` with `key`: the DSSE envelope's JSON.
///
/// # Errors
///
/// [`Error::Provenance`] when the statement cannot be encoded.
pub fn signed_statement(
    facts: &CompileFacts<'_>,
    artifact_name: &str,
    artifact: &[u8],
    key: &SigningKey,
) -> Result<Vec<u8>, Error> {
    let envelope: Envelope = sign(&statement(facts, artifact_name, artifact), key)?;
    Ok(envelope.to_json()?)
}

/// What a loader built from `options` expects a statement to record.
pub fn expected(options: &Options) -> Expected {
    Expected {
        target: options.triple.clone(),
        resolved_settings: options.wasmtime.as_toml().to_string(),
        cpu_flags: cpu_flags(options),
        engine_sha256: None,
    }
}

/// The target a validly signed statement records: what a loader given no
/// target loads for. Only the signature is checked here; [`verify`] checks
/// the rest.
///
/// # Errors
///
/// [`ProvenanceError`] when no trusted key validly signed the statement.
pub fn signed_target(envelope: &[u8], trust: &TrustedKeys) -> Result<String, ProvenanceError> {
    Ok(super::open(envelope, trust)?.predicate.target)
}

/// The ISA flags `options` turn on, as the statement records them.
fn cpu_flags(options: &Options) -> Vec<String> {
    let requested: Vec<String> = options
        .wasmtime
        .enabled_flags()
        .iter()
        .chain(&options.cpu_features)
        .cloned()
        .collect();
    kiln_settings::enabled_isa_flags(&options.triple, &requested)
        .map(|flags| flags.into_iter().collect())
        .unwrap_or_default()
}

/// Loads `artifact` into an engine built from `options`, after checking
/// that `envelope` is a statement signed by a key in `trust`, about these
/// exact bytes, recording these settings. The safe way in: nothing of the
/// artifact is mapped unless every check holds.
///
/// # Errors
///
/// [`Error::Provenance`] naming the check that failed; [`Error::Run`] (or
/// the settings' error) when Wasmtime then refuses the artifact.
pub fn load_verified(
    artifact: &[u8],
    envelope: &[u8],
    trust: &TrustedKeys,
    options: &Options,
) -> Result<(Engine, Loaded, Statement), Error> {
    let statement = verify(artifact, envelope, trust, &expected(options))?;
    let kind = load::detect_precompiled(artifact).ok_or_else(|| {
        Error::Provenance(ProvenanceError::Malformed {
            what: "artifact",
            detail: "not a Wasmtime precompiled module or component".to_string(),
        })
    })?;
    let engine = load::engine(options)?;
    // SAFETY: these bytes are the ones a trusted key signed as Kiln's output
    // for this target and these settings (checked just above, on this very
    // buffer), and Wasmtime checks its own record of the settings too.
    let loaded = unsafe { load::deserialize(&engine, artifact, kind) }?;
    Ok((engine, loaded, statement))
}

/// Loads `artifact` without any check of where it came from.
///
/// # Safety
///
/// As `wasmtime::Module::deserialize`: the bytes must be an artifact that a
/// trusted Wasmtime compiler produced for these settings, unmodified since.
/// Anything else can run arbitrary native code in this process. Prefer
/// [`load_verified`].
///
/// # Errors
///
/// As [`load_verified`], less the provenance checks.
pub unsafe fn load_unverified(
    artifact: &[u8],
    kind: ArtifactKind,
    options: &Options,
) -> Result<(Engine, Loaded), Error> {
    let engine = load::engine(options)?;
    // SAFETY: the caller's contract.
    let loaded = unsafe { load::deserialize(&engine, artifact, kind) }?;
    Ok((engine, loaded))
}
