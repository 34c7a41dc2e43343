//! `kiln bench`: sandboxed compile time against native Wasmtime, measured
//! in one run on the same inputs.
//!
//! For each input, the median of `--reps` repetitions of:
//! - native Wasmtime, in-process, parallel compilation (the anchor);
//! - native Wasmtime, in-process, one thread;
//! - Kiln in the sandbox, one instance.
//!
//! Every measured compile must succeed and every sandboxed artifact must be
//! byte-identical to the native one, or the input is reported as failed:
//! a fast wrong answer is not a result.

use crate::flags::LimitFlags;
use clap::Args;
use host::{Options, Sandbox, host_triple};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

/// Measure sandboxed compile time against native Wasmtime (parallel and
/// one-thread) on the same inputs, in one run.
#[derive(Args)]
pub struct BenchCommand {
    /// Inputs; by default every `benchmark.wasm` under ../shared/corpus/sightglass.
    files: Vec<PathBuf>,
    /// Repetitions per measurement; the median is reported.
    #[arg(long, default_value_t = 3)]
    reps: usize,
    /// Target triple to compile for. By default the host's.
    #[arg(long)]
    target: Option<String>,
    /// Print one JSON object per input.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    limits: LimitFlags,
}

/// One input's measurements.
#[derive(Serialize)]
struct BenchRow {
    input: String,
    bytes: usize,
    native_parallel_ms: f64,
    native_1t_ms: f64,
    sandbox_ms: f64,
    /// `sandbox_ms / native_parallel_ms`.
    ratio_parallel: f64,
    /// `sandbox_ms / native_1t_ms`.
    ratio_1t: f64,
}

impl BenchCommand {
    pub fn execute(self) -> Result<ExitCode, host::Error> {
        let files = if self.files.is_empty() {
            default_inputs()
        } else {
            self.files.clone()
        };
        if files.is_empty() {
            return Err(host::Error::Run {
                message: "no inputs: name some, or provide ../shared/corpus/sightglass".to_string(),
            });
        }
        let triple = self.target.clone().or(host_triple().map(str::to_string));
        let options = Options::for_target(triple.as_deref().unwrap_or("x86_64-unknown-linux-gnu"));
        let sandbox = Sandbox::new(self.limits.limits())?;
        if !self.json {
            println!(
                "{:<40} {:>9} {:>11} {:>11} {:>11} {:>8} {:>8}",
                "input", "bytes", "native-par", "native-1t", "sandbox", "/par", "/1t"
            );
        }
        for file in &files {
            let input = crate::flags::read_input(file)?;
            let row = self.measure(file, &input, &sandbox, &options)?;
            if self.json {
                println!("{}", serde_json::to_string(&row).expect("a row serializes"));
            } else {
                println!(
                    "{:<40} {:>9} {:>9.1}ms {:>9.1}ms {:>9.1}ms {:>7.2}x {:>7.2}x",
                    row.input,
                    row.bytes,
                    row.native_parallel_ms,
                    row.native_1t_ms,
                    row.sandbox_ms,
                    row.ratio_parallel,
                    row.ratio_1t
                );
            }
        }
        Ok(ExitCode::SUCCESS)
    }

    fn measure(
        &self,
        file: &Path,
        input: &[u8],
        sandbox: &Sandbox,
        options: &Options,
    ) -> Result<BenchRow, host::Error> {
        let native = |parallel: bool| {
            kiln_guest::compile_configured(input, options, |config| {
                config.parallel_compilation(parallel);
            })
        };
        let reference = native(true)?.bytes;
        let native_parallel_ms = median_ms(self.reps, || native(true).map(drop))?;
        let native_1t_ms = median_ms(self.reps, || native(false).map(drop))?;
        let sandbox_ms = median_ms(self.reps, || {
            let artifact = sandbox.compile(input, options)?;
            if artifact.bytes != reference {
                return Err(host::Error::Verification {
                    message: format!("{}: sandboxed artifact differs from native", file.display()),
                });
            }
            Ok(())
        })?;
        Ok(BenchRow {
            input: short_name(file),
            bytes: input.len(),
            native_parallel_ms,
            native_1t_ms,
            sandbox_ms,
            ratio_parallel: sandbox_ms / native_parallel_ms,
            ratio_1t: sandbox_ms / native_1t_ms,
        })
    }
}

/// Runs `f` `reps` times (at least once) and returns the median wall time.
fn median_ms<E>(reps: usize, mut f: impl FnMut() -> Result<(), E>) -> Result<f64, host::Error>
where
    host::Error: From<E>,
{
    let mut times = Vec::with_capacity(reps.max(1));
    for _ in 0..reps.max(1) {
        let start = Instant::now();
        f()?;
        times.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}

fn default_inputs() -> Vec<PathBuf> {
    let corpus = Path::new("../shared/corpus/sightglass");
    let Ok(entries) = std::fs::read_dir(corpus) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|entry| Some(entry.ok()?.path().join("benchmark.wasm")))
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
}

/// `…/sightglass/bz2/benchmark.wasm` → `bz2/benchmark.wasm`.
fn short_name(file: &Path) -> String {
    let parts: Vec<_> = file.iter().rev().take(2).collect();
    parts
        .iter()
        .rev()
        .map(|p| p.to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}
