//! Running artifacts in a runner program in a child process: the
//! cross-built `kiln-runner` under qemu-user for another architecture, or
//! a runner for this machine's own (`kiln runner`), so that an emulated
//! run and the reference it is compared with take the same path.
//!
//! The runner gets a request file and writes a response file
//! ([`kiln_runner::protocol`]); the guest's output is the runner's own
//! stdout and stderr, captured here or passed through.
//!
//! The cross-built runners are made by `scripts/build-runners.sh`, into
//! `target/kiln-runner/TRIPLE/release/kiln-runner` (or the directory in
//! `KILN_RUNNER_DIR`); qemu-user and the cross C libraries come from
//! Debian's `qemu-user` and `libc6-dev-*-cross` packages, installed by the
//! same script. None of this is needed to build or test Kiln itself.

use crate::run::{Outcome, RunConfig};
use crate::{Error, Options};
use kiln_runner::RunError;
use kiln_runner::protocol::{Failure, Request, Response, read_json, write_json};
use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The emulated architectures: triple, qemu-user program, the sysroot its
/// dynamic loader and C library live under.
const EMULATED: &[(&str, &str, &str)] = &[
    (
        "aarch64-unknown-linux-gnu",
        "qemu-aarch64",
        "/usr/aarch64-linux-gnu",
    ),
    (
        "riscv64gc-unknown-linux-gnu",
        "qemu-riscv64",
        "/usr/riscv64-linux-gnu",
    ),
    (
        "s390x-unknown-linux-gnu",
        "qemu-s390x",
        "/usr/s390x-linux-gnu",
    ),
];

/// The targets whose artifacts [`Runner::emulated`] can run.
pub fn emulated_targets() -> impl Iterator<Item = &'static str> {
    EMULATED.iter().map(|(triple, ..)| *triple)
}

/// Why an emulated runner cannot be used or did not answer.
#[derive(Debug)]
pub enum EmulateError {
    /// Kiln has no emulation for this target.
    NotEmulated {
        /// The target asked for.
        triple: String,
    },
    /// A tool the emulation needs is not installed.
    Missing {
        /// What is missing (a program, a sysroot, the cross-built runner).
        what: String,
        /// Where it was looked for.
        path: PathBuf,
    },
    /// The runner could not be started.
    Spawn {
        /// The program.
        program: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The runner exited without a response.
    NoResponse {
        /// Its exit status.
        status: Option<i32>,
        /// The signal that killed it, if one did (an instruction the
        /// emulated CPU lacks is `SIGILL`, 4).
        signal: Option<i32>,
        /// The end of its stderr.
        stderr: String,
    },
}

impl fmt::Display for EmulateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotEmulated { triple } => write!(
                f,
                "no emulation for `{triple}` (emulated: {})",
                emulated_targets().collect::<Vec<_>>().join(", ")
            ),
            Self::Missing { what, path } => write!(
                f,
                "{what} not found at {} (run scripts/build-runners.sh)",
                path.display()
            ),
            Self::Spawn { program, source } => {
                write!(f, "cannot start {}: {source}", program.display())
            }
            Self::NoResponse {
                status,
                signal,
                stderr,
            } => {
                match (status, signal) {
                    (Some(status), _) => write!(f, "the runner exited with status {status}")?,
                    (None, Some(4)) => write!(
                        f,
                        "the runner was killed by SIGILL (an instruction this CPU lacks: \
                         is the artifact's baseline above the machine's?)"
                    )?,
                    (None, Some(signal)) => write!(f, "the runner was killed by signal {signal}")?,
                    (None, None) => write!(f, "the runner ended")?,
                }
                write!(f, " without a response")?;
                if !stderr.is_empty() {
                    write!(f, ": {stderr}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for EmulateError {}

/// What a runner's run of an artifact gave.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// How it ended: the outcome, or the failure (a load error, a trap).
    pub outcome: Result<Outcome, Failure>,
    /// The guest's stdout (empty when passed through).
    pub stdout: Vec<u8>,
    /// The guest's stderr (empty when passed through).
    pub stderr: Vec<u8>,
    /// Wall time of the runner process, start to exit.
    pub wall: Duration,
}

/// A runner program, started once per request.
#[derive(Debug, Clone)]
pub struct Runner {
    program: PathBuf,
    /// Arguments before the request and response paths.
    prefix: Vec<OsString>,
    /// The program is qemu-user, which takes a CPU model first.
    emulated: bool,
}

impl Runner {
    /// The cross-built runner for `triple` under qemu-user.
    ///
    /// # Errors
    ///
    /// [`EmulateError::NotEmulated`] for a target without emulation,
    /// [`EmulateError::Missing`] when qemu, the sysroot or the runner is
    /// not installed.
    pub fn emulated(triple: &str) -> Result<Self, EmulateError> {
        Self::emulated_from(triple, &runner_dir())
    }

    /// Like [`Runner::emulated`], with the cross-built runners looked for
    /// in `runners` (`TRIPLE/release/kiln-runner` under it).
    ///
    /// # Errors
    ///
    /// As [`Runner::emulated`].
    pub fn emulated_from(triple: &str, runners: &Path) -> Result<Self, EmulateError> {
        let (_, qemu, sysroot) = EMULATED
            .iter()
            .find(|(t, ..)| *t == triple)
            .ok_or_else(|| EmulateError::NotEmulated {
                triple: triple.to_string(),
            })?;
        let qemu = find_program(qemu).ok_or_else(|| EmulateError::Missing {
            what: format!("{qemu} (Debian's qemu-user)"),
            path: PathBuf::from("$PATH"),
        })?;
        let sysroot = PathBuf::from(sysroot);
        if !sysroot.join("lib").is_dir() {
            return Err(EmulateError::Missing {
                what: format!("the {triple} C library (Debian's libc6-*-cross)"),
                path: sysroot,
            });
        }
        let runner = runners.join(triple).join("release/kiln-runner");
        if !runner.is_file() {
            return Err(EmulateError::Missing {
                what: format!("kiln-runner for {triple}"),
                path: runner,
            });
        }
        Ok(Self {
            program: qemu,
            prefix: vec!["-L".into(), sysroot.into(), runner.into()],
            emulated: true,
        })
    }

    /// A runner for this machine's own architecture: `program` followed by
    /// `args` serves requests (for example `kiln runner`).
    pub fn native(program: PathBuf, args: Vec<OsString>) -> Self {
        Self {
            program,
            prefix: args,
            emulated: false,
        }
    }

    /// Runs the artifact at `artifact` (compiled with `options`) with
    /// `config`, in the directory `cwd`. The guest's output is captured
    /// when `capture`, else passed through to this process's own.
    ///
    /// # Errors
    ///
    /// [`Error::Emulate`] when the runner cannot be started or gives no
    /// response. A failing guest is not an error: it is in the report.
    pub fn run(
        &self,
        artifact: &Path,
        options: &Options,
        config: &RunConfig,
        cwd: &Path,
        capture: bool,
    ) -> Result<RunReport, Error> {
        let artifact = std::path::absolute(artifact).map_err(Error::run)?;
        let request = Request::Run {
            artifact,
            options: options.clone(),
            config: config.clone(),
        };
        let start = Instant::now();
        let (response, stdout, stderr) = self.exchange(&request, options, cwd, capture)?;
        let wall = start.elapsed();
        let outcome = match response {
            Response::Ran(outcome) => outcome,
            Response::Wast(_) => return Err(Error::run("the runner answered another request")),
        };
        Ok(RunReport {
            outcome,
            stdout,
            stderr,
            wall,
        })
    }

    /// Runs spec-test directives against the artifacts in `dir`
    /// ([`kiln_runner::wast::run_directives`]) in the runner.
    ///
    /// # Errors
    ///
    /// [`Error::Emulate`] as [`Runner::run`]; [`Error::Run`] when the runner
    /// could not run the directives at all.
    pub fn run_directives(
        &self,
        dir: &Path,
        name: &str,
        options: &Options,
        commands: &[serde_json::Value],
    ) -> Result<Vec<(usize, String)>, Error> {
        let request = Request::Wast {
            dir: std::path::absolute(dir).map_err(Error::run)?,
            name: name.to_string(),
            options: options.clone(),
            commands: commands.to_vec(),
        };
        match self.exchange(&request, options, dir, true)?.0 {
            Response::Wast(result) => {
                result.map_err(|failure| Error::from(RunError::from(failure)))
            }
            Response::Ran(_) => Err(Error::run("the runner answered another request")),
        }
    }

    /// Writes `request` (for artifacts compiled with `options`), runs the
    /// runner on it, and reads its response.
    fn exchange(
        &self,
        request: &Request,
        options: &Options,
        cwd: &Path,
        capture: bool,
    ) -> Result<(Response, Vec<u8>, Vec<u8>), Error> {
        let work = tempfile::tempdir().map_err(Error::run)?;
        let request_path = work.path().join("request.json");
        let response_path = work.path().join("response.json");
        write_json(&request_path, request)?;
        let mut command = Command::new(&self.program);
        if self.emulated {
            command.arg("-cpu").arg(qemu_cpu(options));
        }
        command
            .args(&self.prefix)
            .arg(&request_path)
            .arg(&response_path)
            .current_dir(cwd)
            .stdin(Stdio::null());
        let (status, stdout, stderr) = if capture {
            let output = command
                .output()
                .map_err(|source| self.spawn_error(source))?;
            (output.status, output.stdout, output.stderr)
        } else {
            let status = command
                .status()
                .map_err(|source| self.spawn_error(source))?;
            (status, Vec::new(), Vec::new())
        };
        if !response_path.exists() {
            let text = String::from_utf8_lossy(&stderr);
            let tail = text[text.ceil_char_boundary(text.len().saturating_sub(400))..].to_string();
            return Err(Error::Emulate(EmulateError::NoResponse {
                status: status.code(),
                signal: std::os::unix::process::ExitStatusExt::signal(&status),
                stderr: tail,
            }));
        }
        let response = read_json(&response_path)?;
        Ok((response, stdout, stderr))
    }

    fn spawn_error(&self, source: std::io::Error) -> Error {
        Error::Emulate(EmulateError::Spawn {
            program: self.program.clone(),
            source,
        })
    }
}

/// The emulated CPU for artifacts compiled with `options`: a model with
/// no more than their CPU features where qemu 7.2 has one, so that a run
/// shows the artifact works on its baseline. aarch64: a Cortex-A53
/// (armv8.0, no LSE) for the lowest level, a Neoverse N1 (LSE, dot
/// product) above it. riscv64: `rv64` with just the extensions the
/// artifact uses switched on (qemu 7.2 has V, Zba, Zbb and Zbs; not Zicond
/// or Zfa). s390x: `max`, qemu's most complete model (its named models ask
/// for facilities its emulation lacks).
fn qemu_cpu(options: &Options) -> String {
    let flags = kiln_settings::enabled_isa_flags(&options.triple, &options.cpu_features)
        .unwrap_or_default();
    if options.triple.starts_with("riscv64") {
        let mut model = "rv64".to_string();
        for (flag, extension) in [
            ("has_v", "v=true,vext_spec=v1.0,vlen=128"),
            ("has_zba", "zba=true"),
            ("has_zbb", "zbb=true"),
            ("has_zbs", "zbs=true"),
        ] {
            if flags.contains(flag) {
                model.push(',');
                model.push_str(extension);
            }
        }
        model
    } else if options.triple.starts_with("aarch64") {
        if flags.is_empty() {
            "cortex-a53"
        } else {
            "neoverse-n1"
        }
        .to_string()
    } else {
        "max".to_string()
    }
}

/// Where the cross-built runners are: `KILN_RUNNER_DIR`, else this
/// checkout's `target/kiln-runner`.
fn runner_dir() -> PathBuf {
    match std::env::var_os("KILN_RUNNER_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/kiln-runner"),
    }
}

/// `name` on `PATH`.
fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}
