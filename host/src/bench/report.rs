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
}
