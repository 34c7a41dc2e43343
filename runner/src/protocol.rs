//! The runner's request and response files, and serving one request.
//!
//! Both are JSON: a request is small (paths, options, arguments) and a
//! human can read a failed one. The artifact travels as a file path, not
//! inside the request, since the runner may be emulated and reading a file
//! is the cheapest way across. The guest's stdout and stderr are not in the
//! response: the guest writes them straight to the runner's own streams,
//! so the caller sees exactly what the program printed, byte for byte.

use crate::run::{Outcome, RunConfig};
use crate::{RunError, load, run, wast};
use kiln_settings::Options;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// What the host asks a runner to do.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Request {
    /// Load the `.cwasm` at `artifact` with `options` and run it.
    Run {
        /// The artifact (a module or a component).
        artifact: PathBuf,
        /// The options it was compiled with.
        options: Options,
        /// What to run, with which arguments and directories.
        config: RunConfig,
    },
    /// Run spec-test directives against the precompiled modules in `dir`.
    Wast {
        /// The directory holding `NAME.cwasm` for every module of the
        /// script (see [`wast::run_directives`]).
        dir: PathBuf,
        /// The script's file name.
        name: String,
        /// The options every module was compiled with.
        options: Options,
        /// The directives, in `json-from-wast`'s format.
        commands: Vec<serde_json::Value>,
    },
}

/// Which step of serving a request failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Stage {
    /// Building the engine from the options.
    Engine,
    /// Loading the artifact.
    Load,
    /// Running it.
    Run,
}

/// A failed request, as it crosses the process boundary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// Where it failed.
    pub stage: Stage,
    /// Why.
    pub message: String,
}

impl From<RunError> for Failure {
    fn from(error: RunError) -> Self {
        let stage = match &error {
            RunError::Settings(_) | RunError::Engine { .. } => Stage::Engine,
            RunError::Load { .. }
            | RunError::Read { .. }
            | RunError::Write { .. }
            | RunError::Protocol { .. } => Stage::Load,
            RunError::Run { .. } => Stage::Run,
        };
        Self {
            stage,
            message: error.to_string(),
        }
    }
}

impl From<Failure> for RunError {
    fn from(failure: Failure) -> Self {
        let message = failure.message;
        match failure.stage {
            Stage::Engine => RunError::Engine { message },
            Stage::Load => RunError::Load { message },
            Stage::Run => RunError::Run { message },
        }
    }
}

/// What a runner answers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Response {
    /// How [`Request::Run`] ended.
    Ran(Result<Outcome, Failure>),
    /// The failing directives of [`Request::Wast`], by index into its
    /// commands, with their messages.
    Wast(Result<Vec<(usize, String)>, Failure>),
}

/// Reads the request at `request`, carries it out, and writes the
/// response to `response` (atomically: a response file is whole or absent).
///
/// # Errors
///
/// [`RunError::Read`], [`RunError::Write`] or [`RunError::Protocol`] when
/// the request cannot be read or the response cannot be written; everything that goes wrong
/// serving the request is in the response instead.
pub fn serve(request: &Path, response: &Path) -> Result<(), RunError> {
    let request: Request = read_json(request)?;
    let answer = match request {
        Request::Run {
            artifact,
            options,
            config,
        } => Response::Ran(run_artifact(&artifact, &options, &config).map_err(Failure::from)),
        Request::Wast {
            dir,
            name,
            options,
            commands,
        } => Response::Wast(
            runner_engine(&options, true)
                .and_then(|engine| wast::run_directives(&engine, &dir, &name, &commands))
                .map_err(Failure::from),
        ),
    };
    write_json(response, &answer)
}

/// Loads and runs one artifact in an engine that cannot compile.
fn run_artifact(
    artifact: &Path,
    options: &Options,
    config: &RunConfig,
) -> Result<Outcome, RunError> {
    let bytes = std::fs::read(artifact).map_err(RunError::read(artifact))?;
    let kind = load::detect_precompiled(&bytes).ok_or_else(|| RunError::Load {
        message: format!(
            "{} is not a Wasmtime precompiled artifact",
            artifact.display()
        ),
    })?;
    let engine = runner_engine(options, false)?;
    // SAFETY: the runner is only ever handed artifacts by Kiln's host, which
    // took them from its sandbox (or from a user who vouches for them).
    let loaded = unsafe { load::deserialize(&engine, &bytes, kind) }?;
    run::run(&engine, &loaded, config)
}

/// The loading engine with the compiler switched off: nothing the runner
/// runs was compiled by it. Spec scripts also need shared memories.
///
/// Except for Winch's artifacts: Wasmtime marks an engine as able to call
/// Winch's code only while its compiler is configured as Winch, and with
/// the compiler switched off it refuses them ("compiled with Winch calling
/// convention but it is not enabled"). Loading still compiles nothing: the
/// artifact carries all its code.
fn runner_engine(options: &Options, shared_memory: bool) -> Result<wasmtime::Engine, RunError> {
    let winch = options.wasmtime.compiler() == kiln_settings::Compiler::Winch;
    load::engine_configured(options, |config| {
        config.enable_compiler(winch);
        config.shared_memory(shared_memory);
    })
}

/// Reads a JSON message from `path`.
///
/// # Errors
///
/// [`RunError::Read`] or [`RunError::Protocol`].
pub fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, RunError> {
    let text = std::fs::read(path).map_err(RunError::read(path))?;
    serde_json::from_slice(&text).map_err(|e| RunError::Protocol {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// Writes a JSON message to `path`: to a temporary file beside it first,
/// then renamed into place.
///
/// # Errors
///
/// [`RunError::Write`].
pub fn write_json(path: &Path, message: &impl Serialize) -> Result<(), RunError> {
    let text = serde_json::to_vec(message).map_err(|e| RunError::Protocol {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let partial = path.with_extension("partial");
    std::fs::write(&partial, text).map_err(RunError::write(&partial))?;
    std::fs::rename(&partial, path).map_err(RunError::write(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_keeps_its_stage_across_the_boundary() {
        for (error, stage) in [
            (
                RunError::Engine {
                    message: "e".into(),
                },
                Stage::Engine,
            ),
            (
                RunError::Load {
                    message: "l".into(),
                },
                Stage::Load,
            ),
            (RunError::run("trap"), Stage::Run),
        ] {
            let failure = Failure::from(error);
            assert_eq!(failure.stage, stage);
            let text = serde_json::to_string(&failure).unwrap();
            let back: Failure = serde_json::from_str(&text).unwrap();
            assert_eq!(back, failure);
            let again = Failure::from(RunError::from(back));
            assert_eq!(again.stage, stage);
        }
    }

    #[test]
    fn a_request_that_does_not_parse_is_a_protocol_error_and_no_response() {
        let dir = std::env::temp_dir().join(format!("kiln-runner-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let request = dir.join("request.json");
        let response = dir.join("response.json");
        std::fs::write(&request, b"{\"Run\": 3}").unwrap();
        let error = serve(&request, &response).unwrap_err();
        assert!(matches!(error, RunError::Protocol { .. }), "{error:?}");
        assert!(!response.exists());
        let missing = serve(&dir.join("absent.json"), &response).unwrap_err();
        assert!(matches!(missing, RunError::Read { .. }), "{missing:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_missing_artifact_is_answered_as_a_load_failure() {
        let dir = std::env::temp_dir().join(format!("kiln-runner-load-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let request = dir.join("request.json");
        let response = dir.join("response.json");
        let triple = crate::host_triple().unwrap_or("x86_64-unknown-linux-gnu");
        write_json(
            &request,
            &Request::Run {
                artifact: dir.join("absent.cwasm"),
                options: Options::for_target(triple),
                config: RunConfig::default(),
            },
        )
        .unwrap();
        serve(&request, &response).unwrap();
        match read_json::<Response>(&response).unwrap() {
            Response::Ran(Err(failure)) => assert_eq!(failure.stage, Stage::Load),
            other => panic!("{other:?}"),
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
