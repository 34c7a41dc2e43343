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
use crate::{Artifact, Error, Options, Sandbox, host_triple};
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

/// The two runners of a cross-check.
#[derive(Debug, Clone, Copy)]
pub struct Runners<'a> {
    /// Runs the artifact under test (emulated).
    pub emulated: &'a Runner,
    /// Runs the reference on this machine.
    pub reference: &'a Runner,
}

/// Runs `artifact` (compiled from `input` with `options`) in the emulated
/// runner, and `input` compiled in the sandbox for this machine in the
/// reference runner, both with `config` in the directory `cwd`, and
/// compares them.
///
/// # Errors
///
/// [`Error::Emulate`] when either runner fails to answer, the reference
/// compile's error when it fails, [`Error::Write`] for the work files.
pub fn cross_check(
    sandbox: &Sandbox,
    input: &[u8],
    artifact: &Artifact,
    options: &Options,
    config: &RunConfig,
    cwd: &Path,
    runners: Runners<'_>,
) -> Result<CrossCheck, Error> {
    let host = host_triple().ok_or_else(|| Error::run("this machine is not a Kiln target"))?;
    let reference_options = Options {
        triple: host.to_string(),
        // CPU features name the emulated target's flags; the reference
        // is built for this machine's baseline.
        cpu_features: Vec::new(),
        ..options.clone()
    };
    let reference_artifact = sandbox.compile(input, &reference_options)?;

    let work = tempfile::tempdir().map_err(Error::run)?;
    let emulated_path = work.path().join("emulated.cwasm");
    let reference_path = work.path().join("reference.cwasm");
    for (path, bytes) in [
        (&emulated_path, &artifact.bytes),
        (&reference_path, &reference_artifact.bytes),
    ] {
        std::fs::write(path, bytes).map_err(|source| Error::Write {
            path: path.clone(),
            source,
        })?;
    }
    let theirs = runners
        .emulated
        .run(&emulated_path, options, config, cwd, true)?;
    let ours = runners
        .reference
        .run(&reference_path, &reference_options, config, cwd, true)?;
    let difference = difference(&theirs, &ours);
    Ok(CrossCheck {
        ran_emulated: !matches!(&theirs.outcome, Err(failure) if failure.stage != Stage::Run),
        agrees: difference.is_none(),
        outcome: describe(&theirs),
        emulated_ms: theirs.wall.as_secs_f64() * 1000.0,
        reference_ms: ours.wall.as_secs_f64() * 1000.0,
        difference,
    })
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
