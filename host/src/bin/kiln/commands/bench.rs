//! `kiln bench`: sandboxed compile time and memory against native Wasmtime,
//! measured in one run on the same inputs ([`host::bench`] says what each
//! figure is); this prints them, as a table or as JSON lines.

use crate::flags::LimitFlags;
use clap::Args;
use host::bench::{Bench, BenchConfig, BenchRow, corpus_inputs};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Measure sandboxed compile time and memory against native Wasmtime on the
/// same inputs, in one run; and what verifying the artifact's machine code
/// costs against compiling it (`vrfy` ms, `vrfy/` its ratio to `sbx-par`;
/// x86_64 only); and Winch, the baseline compiler, native and sandboxed
/// (`wnch-nat`, `wnch-sbx` ms; `speedup`: `sbx-par` over `wnch-sbx`).
#[derive(Args)]
pub struct BenchCommand {
    /// Inputs; by default every benchmark under ../shared/corpus/sightglass.
    files: Vec<PathBuf>,
    /// Repetitions per measurement; the median is reported.
    #[arg(long, default_value_t = 3)]
    reps: usize,
    /// Cores for the parallel measurements, native and sandboxed alike. By
    /// default all this process may use.
    #[arg(long)]
    cores: Option<usize>,
    /// Target triple to compile for. By default the host's.
    #[arg(long)]
    target: Option<String>,
    /// Print one JSON object per input, then the summary object.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    limits: LimitFlags,
}

impl BenchCommand {
    pub fn execute(self) -> Result<ExitCode, host::Error> {
        let files = if self.files.is_empty() {
            corpus_inputs(Path::new("../shared/corpus/sightglass"))
        } else {
            self.files
        };
        if files.is_empty() {
            return Err(host::Error::Run {
                message: "no inputs: name some, or provide ../shared/corpus/sightglass".to_string(),
            });
        }
        // The bench runs this executable for the start-up figures and for
        // a native compile's peak memory.
        let kiln = std::env::current_exe().map_err(|e| host::Error::Run {
            message: format!("finding the kiln binary: {e}"),
        })?;
        let config = BenchConfig {
            reps: self.reps,
            cores: self.cores,
            target: self.target,
            limits: self.limits.limits(),
            ..BenchConfig::new(files, kiln)
        };
        let bench = Bench::new(config)?;
        if !self.json {
            print_header();
        }
        let summary = bench.run(|row| {
            if self.json {
                println!("{}", serde_json::to_string(row).expect("a row serializes"));
            } else {
                print_row(row);
            }
        })?;
        if self.json {
            println!(
                "{}",
                serde_json::to_string(&summary).expect("a summary serializes")
            );
        } else {
            println!(
                "warm CLI start to artifact (tiny module): {:.1} ms (process start {:.1} ms); \
                 {} concurrent compiles of {}: {:.2}x the throughput of one",
                summary.warm_cli_start_ms,
                summary.process_start_ms,
                summary.concurrent_compiles,
                summary.concurrency_input,
                summary.concurrent_throughput_x
            );
            let cli = summary.corpus_wasmtime_cli_ms.map_or_else(
                || "wasmtime compile not installed".to_string(),
                |ms| {
                    format!(
                        "wasmtime compile, a process per input: {ms:.0} ms ({:.2}x)",
                        summary.ratio_corpus_wasmtime_cli.unwrap_or_default()
                    )
                },
            );
            println!(
                "corpus of {} inputs: kiln compile --out-dir {:.0} ms ({:.0} ms verified), \
                 native in-process {:.0} ms: {:.2}x; {cli}",
                summary.corpus_inputs,
                summary.corpus_kiln_ms,
                summary.corpus_kiln_verified_ms,
                summary.corpus_native_ms,
                summary.ratio_corpus,
            );
        }
        Ok(ExitCode::SUCCESS)
    }
}

fn print_header() {
    println!(
        "{:<28} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>7} {:>7} {:>8} {:>8} {:>8} {:>7} {:>8} {:>8} {:>7}",
        "input",
        "bytes",
        "nat-par",
        "nat-1t",
        "compnt",
        "sbx-1t",
        "sbx-par",
        "recomp",
        "nat-rec",
        "/par",
        "/1t",
        "guest-MB",
        "nat-MB",
        "vrfy",
        "vrfy/",
        "wnch-nat",
        "wnch-sbx",
        "speedup"
    );
}

fn print_row(row: &BenchRow) {
    let mb = |bytes: u64| bytes as f64 / f64::from(1 << 20);
    let opt = |value: Option<f64>| value.map_or("-".to_string(), |v| format!("{v:.1}"));
    println!(
        "{:<28} {:>9} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>9} {:>9} {:>6.2}x {:>6.2}x {:>8.1} {:>8} {:>8} {:>7} {:>8} {:>8} {:>7}",
        row.input,
        row.bytes,
        row.native_parallel_ms,
        row.native_1t_ms,
        row.component_ms,
        row.sandbox_ms,
        row.sandbox_parallel_ms,
        opt(row.recompile_ms),
        opt(row.native_recompile_ms),
        row.ratio_parallel,
        row.ratio_1t,
        mb(row.guest_peak_bytes),
        opt(row.native_peak_bytes.map(mb)),
        opt(row.verify_code_ms),
        row.ratio_verify_code
            .map_or("-".to_string(), |ratio| format!("{ratio:.3}x")),
        opt(row.winch_native_parallel_ms),
        opt(row.winch_sandbox_parallel_ms),
        row.winch_speedup
            .map_or("-".to_string(), |speedup| format!("{speedup:.1}x")),
    );
}
