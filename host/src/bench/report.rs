//! What the benchmark reports: one [`BenchRow`] per input, then one
//! [`BenchSummary`]. Both serialize to the objects `kiln bench --json`
//! prints, their fields in this order.

use serde::Serialize;

/// One input's measurements; times are medians in milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BenchRow {
    /// The input's last two path components (`bz2/benchmark.wasm`).
    pub input: String,
    /// The input's size in bytes.
    pub bytes: usize,
    /// Cores the parallel measurements used.
    pub cores: usize,
    /// Native Wasmtime on `cores` threads.
    pub native_parallel_ms: f64,
    /// Native Wasmtime on one thread.
    pub native_1t_ms: f64,
    /// The compiler component, one instance.
    pub component_ms: f64,
    /// The threaded guest on one thread.
    pub sandbox_ms: f64,
    /// The threaded guest on up to `cores` threads, as `kiln compile` picks.
    pub sandbox_parallel_ms: f64,
    /// Recompile after a one-function change, incremental cache warm
    /// (`None`: the input has no function body to change).
    pub recompile_ms: Option<f64>,
    /// The same recompile by native Wasmtime on `cores` threads, its
    /// incremental cache in memory.
    pub native_recompile_ms: Option<f64>,
    /// The parallel compile's guest linear memory at its end (its peak).
    pub guest_peak_bytes: u64,
    /// Peak RSS added by a native parallel compile (`None` where it cannot
    /// be read: no `/proc`).
    pub native_peak_bytes: Option<u64>,
    /// `sandbox_parallel_ms / native_parallel_ms`.
    pub ratio_parallel: f64,
    /// `sandbox_ms / native_1t_ms`: the one-instance overhead.
    pub ratio_1t: f64,
    /// `recompile_ms / sandbox_parallel_ms`.
    pub ratio_recompile: Option<f64>,
    /// `native_recompile_ms / native_parallel_ms`: what Wasmtime's
    /// incremental compilation gives natively.
    pub ratio_native_recompile: Option<f64>,
    /// The machine-code verification of the sandboxed artifact, which
    /// every compile runs before writing it (`None`: a target the verifier
    /// does not read yet; x86_64 only, for now). Not in the compile
    /// columns above.
    pub verify_code_ms: Option<f64>,
    /// `verify_code_ms / sandbox_parallel_ms`: what verification adds to
    /// a compile of the same input.
    pub ratio_verify_code: Option<f64>,
    /// Native Wasmtime's Winch (`-C compiler=winch`) on `cores` threads
    /// (`None`: Winch refuses the input, as for a proposal it lacks).
    pub winch_native_parallel_ms: Option<f64>,
    /// The threaded guest's Winch compile, as `kiln compile -C
    /// compiler=winch` runs it.
    pub winch_sandbox_parallel_ms: Option<f64>,
    /// `winch_sandbox_parallel_ms / winch_native_parallel_ms`.
    pub ratio_winch: Option<f64>,
    /// `sandbox_parallel_ms / winch_sandbox_parallel_ms`: how many times
    /// faster the sandboxed baseline compile answers than the sandboxed
    /// optimizing one; the goal is at least 5 on inputs of 1 MB and more.
    pub winch_speedup: Option<f64>,
}

/// Measurements that are not per input.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BenchSummary {
    /// `kiln compile` of a tiny module with the guest cache warm, process
    /// start included.
    pub warm_cli_start_ms: f64,
    /// `kiln --version`: the process start alone.
    pub process_start_ms: f64,
    /// The input the concurrency figure was measured on.
    pub concurrency_input: String,
    /// Concurrent one-thread compiles (= `cores`).
    pub concurrent_compiles: usize,
    /// Throughput of `concurrent_compiles` concurrent compiles over one
    /// compile's; the goal is at least 0.85 × `concurrent_compiles`.
    pub concurrent_throughput_x: f64,
    /// Inputs in the corpus figures: every input of the run.
    pub corpus_inputs: usize,
    /// One `kiln compile --out-dir --no-verify-code` child over all the
    /// inputs on `concurrent_compiles` cores: process start, reading,
    /// writing every artifact and statement included.
    pub corpus_kiln_ms: f64,
    /// The same, verifying each artifact's machine code (`kiln compile`'s
    /// default).
    pub corpus_kiln_verified_ms: f64,
    /// Native in-process `precompile` of all the inputs at once on the
    /// same cores.
    pub corpus_native_ms: f64,
    /// The real `wasmtime compile`, one process per input, as many at
    /// once as cores (`None`: the CLI is not installed).
    pub corpus_wasmtime_cli_ms: Option<f64>,
    /// `corpus_kiln_ms / corpus_native_ms`; the goal is at most 1.0 on 2
    /// cores.
    pub ratio_corpus: f64,
    /// `corpus_kiln_ms / corpus_wasmtime_cli_ms`.
    pub ratio_corpus_wasmtime_cli: Option<f64>,
}
