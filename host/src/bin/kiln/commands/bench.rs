//! `kiln bench`: sandboxed compile time and memory against native Wasmtime,
//! measured in one run on the same inputs.
//!
//! For each input, the median of `--reps` repetitions (interleaved: each
//! repetition runs every one of the first five in turn) of:
//! - native Wasmtime `precompile`, in-process, on `--cores` threads and on
//!   one (the anchors);
//! - the compiler component, one instance (the WIT contract's path);
//! - the threaded guest on one thread, and as `kiln compile` runs it: on
//!   one thread per 8 KiB of function bodies, up to `--cores`;
//! - a recompile after a one-function change with the incremental cache
//!   warm (when the input has a function body to change), sandboxed as
//!   `kiln compile --cache` runs it and, interleaved with it, native
//!   Wasmtime's own incremental compile on `--cores` threads with its cache
//!   in memory (the floor that Wasmtime's design sets, `native_cache.rs`);
//!
//! and once per input the guest's peak linear memory against the peak RSS
//! a native compile adds (measured in a child process, so nothing earlier
//! in this one hides it). After the inputs, one summary object: warm CLI
//! start to artifact for a tiny module and, beside it, the bare process
//! start; and the throughput of `--cores` concurrent one-thread compiles
//! against one (the two interleaved, as above).
//!
//! Between two timed steps the bench waits for the work that a sandboxed
//! compile leaves for after its answer (zeroing its memory for the next
//! job, `memory_pool.rs`), so that it never falls on the next step, a
//! native one perhaps; the concurrency pair counts that work in its time.
//!
//! Every measured compile must succeed and every sandboxed artifact must be
//! byte-identical to the native one, or the run fails: a fast wrong answer
//! is not a result.

use crate::commands::native_cache::NativeCache;
use crate::commands::one_change::change_one_function;
use crate::flags::LimitFlags;
use clap::Args;
use host::cache::{DEFAULT_MAX_BYTES, DEFAULT_TENANT, IncrementalCache};
use host::{Artifact, Limits, Options, Sandbox, host_triple};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Measure sandboxed compile time and memory against native Wasmtime on the
/// same inputs, in one run.
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

/// One input's measurements.
#[derive(Serialize)]
struct BenchRow {
    input: String,
    bytes: usize,
    cores: usize,
    native_parallel_ms: f64,
    native_1t_ms: f64,
    /// The compiler component, one instance.
    component_ms: f64,
    /// The threaded guest on one thread.
    sandbox_ms: f64,
    /// The threaded guest on up to `cores` threads, as `kiln compile` picks.
    sandbox_parallel_ms: f64,
    /// Recompile after a one-function change, incremental cache warm.
    recompile_ms: Option<f64>,
    /// The same recompile by native Wasmtime on `cores` threads, its
    /// incremental cache in memory.
    native_recompile_ms: Option<f64>,
    /// The parallel compile's guest linear memory at its end (its peak).
    guest_peak_bytes: u64,
    /// Peak RSS added by a native parallel compile.
    native_peak_bytes: Option<u64>,
    /// `sandbox_parallel_ms / native_parallel_ms`.
    ratio_parallel: f64,
    /// `sandbox_ms / native_1t_ms`: the one-instance overhead.
    ratio_1t: f64,
    /// `recompile_ms / sandbox_parallel_ms`.
    ratio_recompile: Option<f64>,
    /// `native_recompile_ms / native_parallel_ms`: what Wasmtime's
    /// incremental compilation gives natively.
    ratio_native_recompile: Option<f64>,
}

/// Measurements that are not per input.
#[derive(Serialize)]
struct BenchSummary {
    /// `kiln compile` of a tiny module with the guest cache warm, process
    /// start included.
    warm_cli_start_ms: f64,
    /// `kiln --version`: the process start alone.
    process_start_ms: f64,
    /// The input the concurrency figure was measured on.
    concurrency_input: String,
    /// Concurrent one-thread compiles (= `cores`).
    concurrent_compiles: usize,
    /// Throughput of `concurrent_compiles` concurrent compiles over one
    /// compile's; the goal is at least 0.85 × `concurrent_compiles`.
    concurrent_throughput_x: f64,
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
        let cores = self
            .cores
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from))
            .max(1);
        let sandbox = Sandbox::new(self.limits.limits())?.with_jobs(cores);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(cores)
            .build()
            .map_err(|e| host::Error::Run {
                message: format!("starting {cores} native compile threads: {e}"),
            })?;
        if !self.json {
            println!(
                "{:<28} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>7} {:>7} {:>8} {:>8}",
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
                "nat-MB"
            );
        }
        let mut inputs = Vec::new();
        for file in &files {
            let input = crate::flags::read_input(file)?;
            let row = self.measure(file, &input, &sandbox, &pool, cores, &options)?;
            if self.json {
                println!("{}", serde_json::to_string(&row).expect("a row serializes"));
            } else {
                print_row(&row);
            }
            inputs.push((file.clone(), input));
        }
        let summary = self.summary(&sandbox, &inputs, cores, &options)?;
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
        }
        Ok(ExitCode::SUCCESS)
    }

    fn measure(
        &self,
        file: &Path,
        input: &[u8],
        sandbox: &Sandbox,
        pool: &rayon::ThreadPool,
        cores: usize,
        options: &Options,
    ) -> Result<BenchRow, host::Error> {
        let native = |parallel: bool| {
            kiln_guest::compile_configured(input, options, |config| {
                config.parallel_compilation(parallel);
            })
        };
        let reference = pool.install(|| native(true))?.bytes;
        let same = |artifact: &Artifact, what: &str| {
            if artifact.bytes == reference {
                Ok(())
            } else {
                Err(host::Error::Verification {
                    message: format!("{}: {what} artifact differs from native", file.display()),
                })
            }
        };
        let limits = sandbox.limits();
        let mut guest_peak_bytes = 0;
        let threads = sandbox.threads_for(input);
        let [
            native_parallel_ms,
            native_1t_ms,
            component_ms,
            sandbox_ms,
            sandbox_parallel_ms,
        ] = interleaved_medians_ms(
            self.reps,
            sandbox,
            [
                &mut || {
                    pool.install(|| native(true))?;
                    Ok(())
                },
                &mut || {
                    native(false)?;
                    Ok(())
                },
                &mut || {
                    same(
                        &sandbox.compile_component(input, options, &limits)?,
                        "component",
                    )
                },
                &mut || {
                    same(
                        &sandbox.compile_on_threads(input, options, 1, &limits)?,
                        "one-thread",
                    )
                },
                &mut || {
                    let (artifact, stats) =
                        sandbox.compile_with_stats(input, options, threads, &limits)?;
                    guest_peak_bytes = guest_peak_bytes.max(stats.guest_memory_bytes);
                    same(&artifact, "parallel")
                },
            ],
        )?;
        let recompiles = self.recompile_ms(input, sandbox, pool, options)?;
        let (recompile_ms, native_recompile_ms) = (
            recompiles.map(|(sandboxed, _)| sandboxed),
            recompiles.map(|(_, native)| native),
        );
        Ok(BenchRow {
            input: short_name(file),
            bytes: input.len(),
            cores,
            native_parallel_ms,
            native_1t_ms,
            component_ms,
            sandbox_ms,
            sandbox_parallel_ms,
            recompile_ms,
            native_recompile_ms,
            guest_peak_bytes,
            native_peak_bytes: native_peak(file, &options.triple, cores),
            ratio_parallel: sandbox_parallel_ms / native_parallel_ms,
            ratio_1t: sandbox_ms / native_1t_ms,
            ratio_recompile: recompile_ms.map(|ms: f64| ms / sandbox_parallel_ms),
            ratio_native_recompile: native_recompile_ms.map(|ms: f64| ms / native_parallel_ms),
        })
    }

    /// The median recompiles after a one-function change, sandboxed and
    /// native (`None` for an input with no function to change), each cache
    /// warm with the unchanged module's functions; each repetition changes
    /// another value, so each has exactly one function to compile. Both
    /// artifacts must equal a cold native compile's.
    fn recompile_ms(
        &self,
        input: &[u8],
        sandbox: &Sandbox,
        pool: &rayon::ThreadPool,
        options: &Options,
    ) -> Result<Option<(f64, f64)>, host::Error> {
        if change_one_function(input, 0).is_none() {
            return Ok(None);
        }
        let dir = tempfile::tempdir().map_err(|source| host::Error::Write {
            path: std::env::temp_dir(),
            source,
        })?;
        let cache =
            IncrementalCache::open(dir.path(), DEFAULT_MAX_BYTES).map_err(host::Error::Cache)?;
        sandbox.compile_incremental(input, options, &cache, DEFAULT_TENANT)?;
        let native_cache = Arc::new(NativeCache::default());
        let native = |input: &[u8]| {
            pool.install(|| {
                kiln_guest::compile_configured(input, options, |config| {
                    // Only fails where the feature is compiled out.
                    let _ = config.enable_incremental_compilation(native_cache.clone());
                })
            })
        };
        native(input)?;
        // Interleaved, as the other columns are; the cold compile that
        // checks both answers is not timed.
        let (mut sandboxed, mut native_times) = (Vec::new(), Vec::new());
        for salt in 1..=self.reps.max(1) {
            let changed = change_one_function(input, salt as i32).unwrap_or_default();
            let start = Instant::now();
            let (recompiled, _) =
                sandbox.compile_incremental(&changed, options, &cache, DEFAULT_TENANT)?;
            sandboxed.push(start.elapsed().as_secs_f64() * 1000.0);
            sandbox.settle();
            let start = Instant::now();
            let native_recompiled = native(&changed)?;
            native_times.push(start.elapsed().as_secs_f64() * 1000.0);
            let cold = kiln_guest::compile(&changed, options)?.bytes;
            if recompiled.bytes != cold || native_recompiled.bytes != cold {
                return Err(host::Error::Verification {
                    message: "a recompiled artifact differs from a cold native compile".to_string(),
                });
            }
        }
        Ok(Some((median(sandboxed), median(native_times))))
    }

    fn summary(
        &self,
        sandbox: &Sandbox,
        inputs: &[(PathBuf, Vec<u8>)],
        cores: usize,
        options: &Options,
    ) -> Result<BenchSummary, host::Error> {
        let exe = std::env::current_exe().map_err(|e| host::Error::Run {
            message: format!("finding the kiln binary: {e}"),
        })?;
        let dir = tempfile::tempdir().map_err(|source| host::Error::Write {
            path: std::env::temp_dir(),
            source,
        })?;
        let tiny = dir.path().join("tiny.wat");
        std::fs::write(&tiny, TINY_MODULE).map_err(|source| host::Error::Write {
            path: tiny.clone(),
            source,
        })?;
        let out = dir.path().join("tiny.cwasm");
        let run = |args: &[&std::ffi::OsStr]| -> Result<(), host::Error> {
            let status = Command::new(&exe)
                .args(args)
                .output()
                .map_err(|e| host::Error::Run {
                    message: format!("running {}: {e}", exe.display()),
                })?;
            if status.status.success() {
                Ok(())
            } else {
                Err(host::Error::Run {
                    message: format!(
                        "`kiln {}` failed: {}",
                        args.iter()
                            .map(|a| a.to_string_lossy())
                            .collect::<Vec<_>>()
                            .join(" "),
                        String::from_utf8_lossy(&status.stderr)
                    ),
                })
            }
        };
        let compile_args = [
            "compile".as_ref(),
            tiny.as_os_str(),
            "--target".as_ref(),
            options.triple.as_ref(),
            "-o".as_ref(),
            out.as_os_str(),
        ];
        run(&compile_args)?; // warms the guest cache
        let reps = self.reps.max(15);
        let warm_cli_start_ms = median_ms(reps, || run(&compile_args))?;
        let process_start_ms = median_ms(reps, || run(&["--version".as_ref()]))?;

        // The middle-sized input: large enough to be work, small enough to
        // repeat.
        let mut by_size: Vec<_> = inputs.iter().collect();
        by_size.sort_by_key(|(_, input)| input.len());
        let (file, input) = by_size[by_size.len() / 2];
        let limits = sandbox.limits();
        // Throughput counts all the work, the zeroing after each answer
        // included.
        let [one, many] = interleaved_medians_ms(
            self.reps,
            sandbox,
            [
                &mut || {
                    sandbox.compile_on_threads(input, options, 1, &limits)?;
                    sandbox.settle();
                    Ok(())
                },
                &mut || {
                    concurrent(sandbox, input, options, &limits, cores)?;
                    sandbox.settle();
                    Ok(())
                },
            ],
        )?;
        Ok(BenchSummary {
            warm_cli_start_ms,
            process_start_ms,
            concurrency_input: short_name(file),
            concurrent_compiles: cores,
            concurrent_throughput_x: cores as f64 * one / many,
        })
    }
}

/// A module small enough that only the start-up is measured.
const TINY_MODULE: &str = r#"(module (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add))"#;

/// `n` one-thread compiles of `input` at once.
fn concurrent(
    sandbox: &Sandbox,
    input: &[u8],
    options: &Options,
    limits: &Limits,
    n: usize,
) -> Result<(), host::Error> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..n)
            .map(|_| {
                scope.spawn(|| {
                    sandbox
                        .compile_on_threads(input, options, 1, limits)
                        .map(drop)
                })
            })
            .collect();
        handles.into_iter().try_for_each(|handle| {
            handle.join().unwrap_or_else(|_| {
                Err(host::Error::Run {
                    message: "a concurrent compile panicked".to_string(),
                })
            })
        })
    })
}

fn print_row(row: &BenchRow) {
    let mb = |bytes: u64| bytes as f64 / f64::from(1 << 20);
    let opt = |value: Option<f64>| value.map_or("-".to_string(), |v| format!("{v:.1}"));
    println!(
        "{:<28} {:>9} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>9} {:>9} {:>6.2}x {:>6.2}x {:>8.1} {:>8}",
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
    );
}

/// Peak RSS that a native parallel compile of `file` adds, measured by
/// `kiln native-peak` in a child process; `None` where that cannot be read
/// (no `/proc`).
fn native_peak(file: &Path, triple: &str, cores: usize) -> Option<u64> {
    let exe = std::env::current_exe().ok()?;
    let output = Command::new(exe)
        .arg("native-peak")
        .arg(file)
        .args(["--target", triple, "--cores", &cores.to_string()])
        .output()
        .ok()?;
    String::from_utf8(output.stdout).ok()?.trim().parse().ok()
}

/// Runs `f` `reps` times (at least once) and returns the median wall time.
pub fn median_ms<E>(reps: usize, mut f: impl FnMut() -> Result<(), E>) -> Result<f64, host::Error>
where
    host::Error: From<E>,
{
    median_of(reps, || {
        let start = Instant::now();
        f()?;
        Ok::<_, E>(start.elapsed())
    })
}

/// The median wall time of each of `steps` over `reps` repetitions (at
/// least one), where each repetition runs every step once, in turn.
///
/// Interleaved rather than one step's repetitions after another's, so that
/// a slow spell of the machine (a noisy neighbour, a frequency change)
/// falls on every column of a row alike and the ratios between them stay
/// honest; on a shared virtual machine such spells last seconds.
fn interleaved_medians_ms<const N: usize>(
    reps: usize,
    sandbox: &Sandbox,
    mut steps: [&mut dyn FnMut() -> Result<(), host::Error>; N],
) -> Result<[f64; N], host::Error> {
    let mut times: [Vec<f64>; N] = std::array::from_fn(|_| Vec::with_capacity(reps.max(1)));
    for _ in 0..reps.max(1) {
        for (step, times) in steps.iter_mut().zip(&mut times) {
            let start = Instant::now();
            step()?;
            times.push(start.elapsed().as_secs_f64() * 1000.0);
            // What a sandboxed compile leaves for after its answer must
            // not fall on the next step.
            sandbox.settle();
        }
    }
    Ok(times.map(median))
}

/// Runs `f` `reps` times (at least once); `f` times what matters itself.
fn median_of<E>(reps: usize, mut f: impl FnMut() -> Result<Duration, E>) -> Result<f64, host::Error>
where
    host::Error: From<E>,
{
    let mut times = Vec::with_capacity(reps.max(1));
    for _ in 0..reps.max(1) {
        times.push(f()?.as_secs_f64() * 1000.0);
    }
    Ok(median(times))
}

/// The median of `times` (not empty).
fn median(mut times: Vec<f64>) -> f64 {
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// Every benchmark module under `../shared/corpus/sightglass`: each
/// directory's `benchmark.wasm`, or its one `.wasm` file.
fn default_inputs() -> Vec<PathBuf> {
    let corpus = Path::new("../shared/corpus/sightglass");
    let Ok(entries) = std::fs::read_dir(corpus) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|entry| benchmark_in(&entry.ok()?.path()))
        .collect();
    files.sort();
    files
}

fn benchmark_in(dir: &Path) -> Option<PathBuf> {
    let named = dir.join("benchmark.wasm");
    if named.is_file() {
        return Some(named);
    }
    let mut wasm = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|entry| Some(entry.ok()?.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "wasm"));
    let first = wasm.next()?;
    wasm.next().is_none().then_some(first)
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
