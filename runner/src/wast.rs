//! Spec-test directives against precompiled modules, counted one by one.
//!
//! The host converts a script into `json-from-wast`'s form, compiles every
//! module in the sandbox and leaves `NAME.cwasm` files in a directory;
//! Wasmtime's directive runner (`wasmtime-wast`, told to load those files
//! instead of compiling) then carries the directives out here: `module`,
//! `register`, `invoke`, `assert_return` with NaN patterns, `assert_trap`,
//! `assert_exhaustion`, `assert_exception`, `assert_unlinkable`,
//! `assert_uninstantiable`, threads.
//!
//! Wasmtime's runner stops at the first failing directive. To count every
//! directive, the failing one is recorded, dropped, and the script re-run
//! from the start (its earlier directives set up the state later ones
//! need); after [`MAX_FAILURES`] failures the rest counts as failed. Doing
//! this loop here, inside one runner, keeps an emulated script to one
//! process.

use crate::RunError;
use std::path::Path;
use wasmtime::Engine;
use wasmtime_wast::{Async, SpectestConfig, WastContext};

/// After this many failures in one script, its remaining directives are
/// counted as failed without running them.
pub const MAX_FAILURES: usize = 50;

/// Runs `commands` (each a `json-from-wast` directive with its `line`)
/// against the artifacts in `dir`, and returns the failing ones by index
/// with their messages, in index order.
///
/// # Errors
///
/// [`RunError::Write`] when the script file cannot be written into `dir`.
pub fn run_directives(
    engine: &Engine,
    dir: &Path,
    name: &str,
    commands: &[serde_json::Value],
) -> Result<Vec<(usize, String)>, RunError> {
    let line = |index: usize| commands[index].get("line").and_then(|l| l.as_u64());
    let mut remaining: Vec<usize> = (0..commands.len()).collect();
    let mut failures = Vec::new();
    loop {
        if failures.len() >= MAX_FAILURES {
            let message = "not run: too many earlier failures in this file";
            failures.extend(remaining.drain(..).map(|i| (i, message.to_string())));
            break;
        }
        let kept: Vec<&serde_json::Value> = remaining.iter().map(|&i| &commands[i]).collect();
        let script = serde_json::json!({ "source_filename": name, "commands": kept });
        let json_path = dir.join(Path::new(name).with_extension("json"));
        std::fs::write(&json_path, script.to_string()).map_err(RunError::write(&json_path))?;
        let mut context = new_context(engine);
        context.ignore_error_messages(true).precompile_load(dir);
        let Err(error) = context.run_file(Path::new(name)) else {
            break;
        };
        let message = root_cause(&error);
        let position = failed_line(&error)
            .and_then(|failed| remaining.iter().position(|&i| line(i) == Some(failed)));
        match position {
            Some(position) => failures.push((remaining.remove(position), message)),
            None => {
                failures.extend(remaining.drain(..).map(|i| (i, message.clone())));
                break;
            }
        }
    }
    failures.sort_by_key(|(index, _)| *index);
    Ok(failures)
}

/// A directive runner on `engine` with the spec test host module.
pub fn new_context(engine: &Engine) -> WastContext {
    let mut context = WastContext::new(engine, Async::No, |_| {});
    // The spec host module cannot fail to register on a working engine;
    // if it did, every directive that needs it fails and is counted.
    let _ = context.register_spectest(&SpectestConfig {
        use_shared_memory: true,
        suppress_prints: true,
    });
    context
}

/// The line of the failing directive, from the runner's context message
/// (`failed directive on FILE:LINE`).
fn failed_line(error: &wasmtime::Error) -> Option<u64> {
    let top = error.to_string();
    let rest = top.strip_prefix("failed directive on ")?;
    rest.rsplit(':').next()?.trim().parse().ok()
}

fn root_cause(error: &wasmtime::Error) -> String {
    let message = format!("{error:#}");
    message.chars().take(300).collect()
}
