//! Verification (`kiln check`): compile in the sandbox, compile the same
//! input natively with the same options, demand identical bytes, and where
//! the target runs here, load and instantiate the artifact.
//!
//! The native compile is the guest library linked into the host: the same
//! code and the same `kiln-settings`, so any difference is a real
//! divergence between the sandboxed build and the native one (a
//! miscompiled compiler, a setting that drifted), never noise.

use crate::load;
use crate::{CompileRequest, Error, Options, Sandbox};
use serde::Serialize;
use std::time::Instant;

/// The outcome of checking one input for one target.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CheckReport {
    /// The target triple.
    pub target: String,
    /// Everything that applies held: compiled, identical, and loaded where
    /// it can run here.
    pub ok: bool,
    /// The sandboxed and native artifacts are byte-identical.
    pub identical: bool,
    /// The artifact deserialized and instantiated; `None` where the target
    /// cannot run here.
    pub loaded: Option<bool>,
    /// Size of the sandboxed artifact.
    pub artifact_bytes: u64,
    /// Wall time of the sandboxed compile, in milliseconds.
    pub sandbox_ms: f64,
    /// Wall time of the native compile, in milliseconds.
    pub native_ms: f64,
    /// What went wrong, in plain words.
    pub error: Option<String>,
    /// The CLI exit code this outcome maps to (0 when `ok`).
    #[serde(skip)]
    pub exit_code: u8,
}

/// Checks `input` compiled with `options`.
pub fn check(sandbox: &Sandbox, input: &[u8], options: &Options) -> CheckReport {
    check_keeping(sandbox, input, options).0
}

/// Like [`check`], also returning the sandboxed artifact when the check
/// passed (for running it afterwards).
pub fn check_keeping(
    sandbox: &Sandbox,
    input: &[u8],
    options: &Options,
) -> (CheckReport, Option<crate::Artifact>) {
    let mut report = CheckReport {
        target: options.triple.clone(),
        ok: false,
        identical: false,
        loaded: None,
        artifact_bytes: 0,
        sandbox_ms: 0.0,
        native_ms: 0.0,
        error: None,
        exit_code: 0,
    };
    let fail = |mut report: CheckReport, error: Error| {
        report.exit_code = error.exit_code();
        report.error = Some(error.to_string());
        (report, None)
    };

    let start = Instant::now();
    let sandboxed = sandbox
        .compile(&CompileRequest::new(input, options))
        .map(|compiled| compiled.artifact);
    report.sandbox_ms = elapsed_ms(start);
    let sandboxed = match sandboxed {
        Ok(artifact) => artifact,
        Err(error) => return fail(report, error),
    };
    report.artifact_bytes = sandboxed.bytes.len() as u64;

    let start = Instant::now();
    let native = kiln_guest::compile(input, options);
    report.native_ms = elapsed_ms(start);
    let native = match native {
        Ok(artifact) => artifact,
        Err(error) => {
            let message =
                format!("the sandbox compiled the input but the native compile failed: {error}");
            return fail(report, Error::Verification { message });
        }
    };
    report.identical = sandboxed.bytes == native.bytes;
    if !report.identical {
        let message = describe_difference(&sandboxed.bytes, &native.bytes);
        return fail(report, Error::Verification { message });
    }

    if load::can_run_here(&options.triple) {
        let loaded = instantiate(&sandboxed, options);
        report.loaded = Some(loaded.is_ok());
        if let Err(error) = loaded {
            let message = format!("the artifact does not load: {error}");
            return fail(report, Error::Verification { message });
        }
    }
    report.ok = true;
    (report, Some(sandboxed))
}

/// Deserializes the artifact into an engine built from `options` and
/// instantiates it as `kiln run` would, without running it.
fn instantiate(artifact: &crate::Artifact, options: &Options) -> Result<(), Error> {
    // A module may import a shared memory, which the stand-ins then create;
    // whether an engine allows that is a run-time setting no artifact records.
    let engine = load::engine_configured(options, |config| {
        config.shared_memory(true);
    })?;
    // SAFETY: the artifact came out of the sandbox and was just shown to be
    // identical to the host's own native compile of the same input.
    let loaded = unsafe { load::deserialize(&engine, &artifact.bytes, artifact.kind) }?;
    Ok(crate::run::instantiate(&engine, &loaded)?)
}

fn describe_difference(sandboxed: &[u8], native: &[u8]) -> String {
    let first = sandboxed
        .iter()
        .zip(native)
        .position(|(a, b)| a != b)
        .unwrap_or(sandboxed.len().min(native.len()));
    format!(
        "the sandboxed artifact ({} bytes) differs from the native one ({} bytes), first at offset {first:#x}",
        sandboxed.len(),
        native.len()
    )
}

fn elapsed_ms(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1000.0
}
