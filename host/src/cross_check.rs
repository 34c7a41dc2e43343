//! An artifact for another architecture, run under emulation and compared
//! with the same input's run on this machine (`kiln check --emulate`).
//!
//! Both runs go through a runner in a child process: the emulated one is
//! the cross-built `kiln-runner` under qemu-user, the reference one the
//! same runner code built for this machine (`kiln runner`). So both load
//! their artifact the same way and both guests' output is captured the
//! same way, and the comparison is of what the two artifacts did: how the
//! run ended (exit status, returned values, or the trap) and every byte of
//! stdout and stderr.

use crate::emulate::{RunReport, Runner};
use crate::run::RunConfig;
use crate::{Artifact, CompileRequest, Error, Options, Sandbox, host_triple};
use kiln_runner::protocol::Stage;
use serde::Serialize;
use std::path::Path;

/// The emulated run beside the reference run.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CrossCheck {
    /// The artifact ran under emulation (it may still have trapped).
    pub ran_emulated: bool,
    /// The emulated run did exactly what the reference run did.
    pub agrees: bool,
    /// How the emulated run ended, in words.
    pub outcome: String,
    /// Wall time of the emulated runner process, in milliseconds.
    pub emulated_ms: f64,
    /// Wall time of the reference runner process, in milliseconds.
    pub reference_ms: f64,
    /// Where the runs differ, when they do.
    pub difference: Option<String>,
}

/// The options of the reference for an artifact compiled with `options`:
/// this machine's target, its lowest CPU baseline (the CPU features name
/// the other target's flags), everything else the same.
///
/// # Errors
///
/// [`Error::Run`] when this machine is not a Kiln target.
pub fn reference_options(options: &Options) -> Result<Options, Error> {
    let host = host_triple().ok_or_else(|| Error::run("this machine is not a Kiln target"))?;
    Ok(Options {
        triple: host.to_string(),
        cpu_features: Vec::new(),
        ..options.clone()
    })
}

/// The reference run: `input` compiled in the sandbox with
/// [`reference_options`] and run with `config` in `cwd` by `runner` (this
/// machine's), its output captured. One reference serves every emulated
/// target compiled with the same options.
///
/// # Errors
///
/// The compile's error, [`Error::Write`] for the artifact file,
/// [`Error::Emulate`] when the runner fails to answer.
pub fn reference_run(
    sandbox: &Sandbox,
    input: &[u8],
    options: &Options,
    config: &RunConfig,
    cwd: &Path,
    runner: &Runner,
) -> Result<RunReport, Error> {
    let options = reference_options(options)?;
    let artifact = sandbox
        .compile(&CompileRequest::new(input, &options))?
        .artifact;
    run_captured(runner, &artifact, &options, config, cwd)
}

/// Runs `artifact` (compiled with `options`) in the emulated runner with
/// `config` in `cwd`, and compares the run with `reference`.
///
/// # Errors
///
/// [`Error::Emulate`] when the runner fails to answer, [`Error::Write`]
/// for the artifact file.
pub fn cross_check(
    artifact: &Artifact,
    options: &Options,
    config: &RunConfig,
    cwd: &Path,
    emulated: &Runner,
    reference: &RunReport,
) -> Result<CrossCheck, Error> {
    let theirs = run_captured(emulated, artifact, options, config, cwd)?;
    let difference = difference(&theirs, reference);
    Ok(CrossCheck {
        ran_emulated: !matches!(&theirs.outcome, Err(failure) if failure.stage != Stage::Run),
        agrees: difference.is_none(),
        outcome: describe(&theirs),
        emulated_ms: theirs.wall.as_secs_f64() * 1000.0,
        reference_ms: reference.wall.as_secs_f64() * 1000.0,
        difference,
    })
}

/// Writes `artifact` to a work file and runs it in `runner`, capturing the
/// guest's output.
fn run_captured(
    runner: &Runner,
    artifact: &Artifact,
    options: &Options,
    config: &RunConfig,
    cwd: &Path,
) -> Result<RunReport, Error> {
    let work = tempfile::tempdir().map_err(Error::run)?;
    let path = work.path().join("artifact.cwasm");
    std::fs::write(&path, &artifact.bytes).map_err(|source| Error::Write {
        path: path.clone(),
        source,
    })?;
    runner.run(&path, options, config, cwd, true)
}

/// How a run ended, in words.
fn describe(report: &RunReport) -> String {
    match &report.outcome {
        Ok(outcome) => format!("{outcome:?}"),
        Err(failure) => format!("failed: {}", failure.message),
    }
}

/// The first way `emulated` differs from `reference`, if any.
fn difference(emulated: &RunReport, reference: &RunReport) -> Option<String> {
    if emulated.outcome != reference.outcome {
        return Some(format!(
            "emulated run: {}; reference run: {}",
            describe(emulated),
            describe(reference)
        ));
    }
    for (stream, theirs, ours) in [
        ("stdout", &emulated.stdout, &reference.stdout),
        ("stderr", &emulated.stderr, &reference.stderr),
    ] {
        if theirs != ours {
            let at = theirs
                .iter()
                .zip(ours.iter())
                .position(|(a, b)| a != b)
                .unwrap_or(theirs.len().min(ours.len()));
            return Some(format!(
                "{stream} differs at byte {at} (emulated {} bytes, reference {} bytes)",
                theirs.len(),
                ours.len()
            ));
        }
    }
    None
}
