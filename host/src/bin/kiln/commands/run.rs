//! `kiln run`: run a Kiln artifact (or compile an input in the sandbox first)
//! natively, or with `--emulate` under qemu-user for another architecture.

use crate::flags::{CompileFlags, LimitFlags, RunFlags, read_input};
use crate::keys::TrustFlags;
use clap::Args;
use host::artifact::{
    expected, load_verified, read_envelope, signed_target, statement_path, verify,
};
use host::emulate::Runner;
use host::load::{self, Loaded};
use host::run::{Outcome, run};
use host::{CompileRequest, Sandbox, host_triple};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use wasmtime::Engine;

/// Run a WASI command (a preview1 core module or a `wasi:cli` component),
/// or call one export with integer/float arguments and print its results,
/// one per line.
///
/// FILE is a `.wasm`/`.wat` input, compiled in the sandbox first, or a
/// `.cwasm` made by Kiln: loaded only when its provenance statement (beside
/// it, or `--statement`) is signed by a trusted key, is about these bytes,
/// and records the options given here (the ones it was compiled with).
/// `--allow-unsigned` loads it unchecked, as `wasmtime run
/// --allow-precompiled` does.
#[derive(Args)]
pub struct RunCommand {
    /// The artifact or input to run.
    file: PathBuf,
    /// Target to compile a `.wasm`/`.wat` input for: the host's (default), or Pulley
    /// (`pulley64` on 64-bit hosts); with `--emulate`, an emulated one.
    #[arg(long)]
    target: Option<String>,
    /// Run under qemu-user in the cross-built `kiln-runner` for `--target`
    /// (aarch64, riscv64gc or s390x; see `scripts/build-runners.sh`).
    #[arg(long, requires = "target")]
    emulate: bool,
    /// The artifact's statement (default: its name with `.intoto.json`).
    #[arg(long, value_name = "FILE")]
    statement: Option<PathBuf>,
    /// Load a `.cwasm` without checking its statement. Whoever could write
    /// the file can then run native code in this process.
    #[arg(long)]
    allow_unsigned: bool,
    #[command(flatten)]
    trust: TrustFlags,
    #[command(flatten)]
    run: RunFlags,
    #[command(flatten)]
    options: CompileFlags,
    #[command(flatten)]
    limits: LimitFlags,
}

impl RunCommand {
    pub fn execute(self) -> Result<ExitCode, host::Error> {
        let bytes = read_input(&self.file)?;
        let config = self.run.config(&self.file);
        if self.emulate {
            return self.execute_emulated(&bytes, &config);
        }
        let (engine, loaded) = self.load(&bytes)?;
        exit_with(run(&engine, &loaded, &config)?)
    }

    /// Runs under emulation, the guest's output passed straight through.
    fn execute_emulated(
        &self,
        bytes: &[u8],
        config: &host::run::RunConfig,
    ) -> Result<ExitCode, host::Error> {
        let triple = self.target.as_deref().expect("clap requires --target");
        let runner = Runner::emulated(triple).map_err(host::Error::Emulate)?;
        let options = self.options.resolve()?.options(triple);
        let work = tempfile::tempdir().map_err(|e| host::Error::Write {
            path: std::env::temp_dir(),
            source: e,
        })?;
        let artifact = if load::detect_precompiled(bytes).is_some() {
            if self.allow_unsigned {
                warn_unsigned(&self.file);
                self.file.clone()
            } else {
                let envelope = read_envelope(&self.statement_file())?;
                verify(bytes, &envelope, &self.trust.trust()?, &expected(&options))?;
                // The runner reads a file: give it the bytes just checked,
                // not the path, which could change after the check.
                let path = work.path().join("artifact.cwasm");
                host::write_atomically(&path, bytes)?;
                path
            }
        } else {
            let compiled = Sandbox::new(self.limits.limits())?
                .compile(&CompileRequest::new(bytes, &options))?;
            let path = work.path().join("artifact.cwasm");
            host::write_atomically(&path, &compiled.artifact.bytes)?;
            path
        };
        let report = runner.run(&artifact, &options, config, Path::new("."), false)?;
        match report.outcome {
            Ok(outcome) => exit_with(outcome),
            Err(failure) => Err(host::RunError::from(failure).into()),
        }
    }

    /// Loads a `.cwasm` (trying each target that runs here) or compiles
    /// the input in the sandbox for `--target` (default: the host).
    fn load(&self, bytes: &[u8]) -> Result<(Engine, Loaded), host::Error> {
        let runnable: Vec<&str> = match &self.target {
            Some(target) => vec![target.as_str()],
            None => host_triple()
                .into_iter()
                .chain(["pulley64", "pulley32"])
                .collect(),
        };
        if let Some(kind) = load::detect_precompiled(bytes) {
            if !self.allow_unsigned {
                return self.load_signed(bytes);
            }
            warn_unsigned(&self.file);
            let settings = self.options.resolve()?;
            let mut first_error = None;
            for triple in &runnable {
                let engine = load::engine(&settings.options(triple))?;
                // SAFETY: the user passed --allow-unsigned and so vouches for
                // this file, as `wasmtime run --allow-precompiled` does.
                match unsafe { load::deserialize(&engine, bytes, kind) } {
                    Ok(loaded) => return Ok((engine, loaded)),
                    Err(error) => {
                        first_error.get_or_insert(error);
                    }
                }
            }
            return Err(first_error.expect("at least one target was tried").into());
        }
        let triple = runnable[0];
        if !load::can_run_here(triple) {
            return Err(host::CompileError::UnsupportedTarget {
                triple: format!("{triple} (cannot run on this machine)"),
            }
            .into());
        }
        let options = self.options.resolve()?.options(triple);
        let artifact = Sandbox::new(self.limits.limits())?
            .compile(&CompileRequest::new(bytes, &options))?
            .artifact;
        let engine = load::engine(&options)?;
        // SAFETY: the artifact was just produced by the sandboxed compiler
        // from the user's own input.
        let loaded = unsafe { load::deserialize(&engine, &artifact.bytes, artifact.kind) }?;
        Ok((engine, loaded))
    }
}

impl RunCommand {
    fn statement_file(&self) -> PathBuf {
        self.statement
            .clone()
            .unwrap_or_else(|| statement_path(&self.file))
    }

    /// Loads a `.cwasm` only after its statement checks out, for `--target`
    /// or else the target the artifact records.
    fn load_signed(&self, bytes: &[u8]) -> Result<(Engine, Loaded), host::Error> {
        let envelope = read_envelope(&self.statement_file())?;
        let trust = self.trust.trust()?;
        let target = match &self.target {
            Some(target) => target.clone(),
            None => signed_target(&envelope, &trust)?,
        };
        let options = self.options.resolve()?.options(&target);
        let (engine, loaded, _statement) = load_verified(bytes, &envelope, &trust, &options)?;
        Ok((engine, loaded))
    }
}

fn warn_unsigned(file: &Path) {
    eprintln!(
        "warning: loading {} without checking its provenance (--allow-unsigned)",
        file.display()
    );
}

/// The exit status of `kiln run` for a run's outcome; returned values are
/// printed one per line.
fn exit_with(outcome: Outcome) -> Result<ExitCode, host::Error> {
    match outcome {
        Outcome::Exited(status) => Ok(ExitCode::from(u8::try_from(status).unwrap_or(1))),
        Outcome::Returned(values) => {
            for value in values {
                println!("{value}");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
