//! The benchmark behind `kiln bench`: sandboxed compile time and memory
//! against native Wasmtime, measured in one run on the same inputs.
//!
//! For each input, the median of [`BenchConfig::reps`] repetitions
//! (interleaved: each repetition runs every one of the first eight in turn)
//! of:
//! - native Wasmtime `precompile`, in-process, on [`BenchConfig::cores`]
//!   threads and on one (the anchors);
//! - the compiler component, one instance (the WIT contract's path);
//! - the threaded guest on one thread, and as `kiln compile` runs it: on
//!   one thread per 8 KiB of function bodies, up to the cores;
//! - the machine-code verification of the sandboxed artifact that every
//!   compile runs before writing it (x86_64 artifacts, for now), and its
//!   ratio to the parallel compile's time; the compiles are timed
//!   without it;
//! - Winch, Wasmtime's baseline compiler, on the same input: native
//!   in-process on the cores and the threaded guest as `kiln compile -C
//!   compiler=winch` runs it (its artifact byte-identical too), and how
//!   many times faster than the sandboxed Cranelift compile it answers;
//! - a recompile after a one-function change with the incremental cache
//!   warm (when the input has a function body to change), sandboxed as
//!   `kiln compile --cache` runs it and, interleaved with it, native
//!   Wasmtime's own incremental compile on the cores with its cache in
//!   memory (the floor that Wasmtime's design sets, `native_cache.rs`);
//!
//! and once per input the guest's peak linear memory against the peak RSS
//! a native compile adds (measured in a child process, so nothing earlier
//! in this one hides it, `native_peak.rs`). After the inputs, one summary:
//! warm CLI start to artifact for a tiny module and, beside it, the bare
//! process start; and the throughput of as many concurrent one-thread
//! compiles as cores against one (the two interleaved, as above). The
//! child processes are the `kiln` executable's ([`BenchConfig::kiln`]).
//!
//! Between two timed steps the bench waits for the work that a sandboxed
//! compile leaves for after its answer (zeroing its memory for the next
//! job, `memory_pool.rs`), so that it never falls on the next step, a
//! native one perhaps; the concurrency pair counts that work in its time.
//!
//! Every measured compile must succeed, every sandboxed artifact must be
//! byte-identical to the native one and its machine code must keep every
//! verifier rule, or the run fails: a fast wrong answer is not a result.
//!
//! ```no_run
//! # fn main() -> Result<(), host::Error> {
//! use host::bench::{Bench, BenchConfig};
//! let config = BenchConfig::new(vec!["app.wasm".into()], "/usr/local/bin/kiln".into());
//! let bench = Bench::new(config)?;
//! let summary = bench.run(|row| println!("{}: {:.2}x", row.input, row.ratio_parallel))?;
//! println!("{:.2}x the throughput of one", summary.concurrent_throughput_x);
//! # Ok(())
//! # }
//! ```
//!
//! What it may call: the [`Sandbox`](crate::Sandbox) for the sandboxed
//! compiles, `kiln-guest` for the native ones, and the `kiln` executable.

mod config;
mod corpus;
mod inputs;
mod measure;
mod native_cache;
pub mod native_peak;
mod one_change;
mod report;
mod runner;
mod summary;
mod timing;

pub use config::BenchConfig;
pub use inputs::corpus_inputs;
pub use report::{BenchRow, BenchSummary};
pub use runner::{Bench, run};
