//! `kiln run`: run a Kiln artifact (or compile an input in the sandbox first)
//! natively.

use crate::flags::{CompileFlags, LimitFlags, read_input};
use clap::Args;
use host::load::{self, Loaded};
use host::run::{Outcome, Preopen, RunConfig, run};
use host::{Sandbox, host_triple};
use std::path::PathBuf;
use std::process::ExitCode;
use wasmtime::Engine;

/// Run a WASI command (a preview1 core module or a `wasi:cli` component),
/// or call one export with integer/float arguments and print its results,
/// one per line.
///
/// FILE is a `.cwasm` made by Kiln (loaded with the same options it was
/// compiled with; trusted like `wasmtime run --allow-precompiled`), or a
/// `.wasm`/`.wat` input, compiled in the sandbox first.
#[derive(Args)]
pub struct RunCommand {
    /// The artifact or input to run.
    file: PathBuf,
    /// Call this export instead of running the command; ARGS are its arguments.
    #[arg(long, value_name = "NAME")]
    invoke: Option<String>,
    /// Give the guest a directory: `DIR` or `HOST_DIR::GUEST_DIR`; repeatable.
    #[arg(long = "dir", value_name = "DIR")]
    dirs: Vec<String>,
    /// Target to compile a `.wasm`/`.wat` input for: the host's (default), or Pulley
    /// (`pulley64` on 64-bit hosts).
    #[arg(long)]
    target: Option<String>,
    #[command(flatten)]
    options: CompileFlags,
    #[command(flatten)]
    limits: LimitFlags,
    /// Arguments for the command (or for the invoked export).
    #[arg(last = true)]
    args: Vec<String>,
}

impl RunCommand {
    pub fn execute(self) -> Result<ExitCode, host::Error> {
        let bytes = read_input(&self.file)?;
        let (engine, loaded) = self.load(&bytes)?;
        let mut argv = vec![self.file.display().to_string()];
        let config = RunConfig {
            args: if self.invoke.is_some() {
                argv
            } else {
                argv.extend(self.args.iter().cloned());
                argv
            },
            preopens: self.dirs.iter().map(|d| Preopen::parse(d)).collect(),
            invoke: self.invoke.clone(),
            invoke_args: self.args.clone(),
        };
        match run(&engine, &loaded, &config)? {
            Outcome::Exited(status) => Ok(ExitCode::from(u8::try_from(status).unwrap_or(1))),
            Outcome::Returned(values) => {
                for value in values {
                    println!("{value}");
                }
                Ok(ExitCode::SUCCESS)
            }
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
            let mut first_error = None;
            for triple in &runnable {
                let engine = load::engine(&self.options.options(triple))?;
                // SAFETY: the user asked to run this precompiled file and so
                // vouches for it, as `wasmtime run --allow-precompiled` does.
                match unsafe { load::deserialize(&engine, bytes, kind) } {
                    Ok(loaded) => return Ok((engine, loaded)),
                    Err(error) => {
                        first_error.get_or_insert(error);
                    }
                }
            }
            return Err(first_error.expect("at least one target was tried"));
        }
        let triple = runnable[0];
        if !load::can_run_here(triple) {
            return Err(host::CompileError::UnsupportedTarget {
                triple: format!("{triple} (cannot run on this machine)"),
            }
            .into());
        }
        let options = self.options.options(triple);
        let artifact = Sandbox::new(self.limits.limits())?.compile(bytes, &options)?;
        let engine = load::engine(&options)?;
        // SAFETY: the artifact was just produced by the sandboxed compiler
        // from the user's own input.
        let loaded = unsafe { load::deserialize(&engine, &artifact.bytes, artifact.kind) }?;
        Ok((engine, loaded))
    }
}
