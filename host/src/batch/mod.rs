//! Whole corpora at once: `kiln compile A.wasm B.wasm DIR --out-dir OUT`.
//!
//! [`plan`] turns the paths given into inputs and artifact paths
//! (`plan.rs`: directories walked, their layout kept, two inputs for one
//! artifact refused); [`compile_all`] compiles them in one shared
//! [`Sandbox`](crate::Sandbox) and writes each artifact and its statement
//! (`run.rs`), reporting each input as it starts and ends; a failed input
//! is reported and the rest go on.
//!
//! # Scheduling
//!
//! The batch has a budget of `cores` threads that all its compiles share
//! (`schedule.rs`). Inputs are taken largest first, and each takes its
//! share of the work still left as threads: an input that is a small part
//! of it compiles on one thread, side by side with others, and one that
//! is a large part of it (one big module among small ones, or the last
//! few) on several, as far as its code can use them (one thread per
//! [`CODE_BYTES_PER_THREAD`](crate::CODE_BYTES_PER_THREAD)) and no more
//! than are free. No compile waits for more threads than are free, and the
//! threads in use never exceed the budget.
//!
//! Why: a compile on several threads is not as efficient as several
//! compiles on one thread each. Each worker thread in the sandbox costs an
//! instance of the guest, and a module's compile has serial parts
//! (parsing, translation, linking the object) during which the other
//! threads of a parallel compile idle; compiles side by side on one
//! thread each keep every core busy with no such loss. Largest first, so
//! that the batch does not end with one long compile on one core while
//! the others idle (the last inputs are the smallest, and those that are
//! a large part of what is left get several threads).
//!
//! # Time limits
//!
//! A turn with fewer threads than its input would take alone compiles
//! slower than that input alone, so its time limit is stretched in
//! proportion (`run.rs`, `turn_limits`): the same thread-seconds of
//! compiler work as a compile alone, no more.
//!
//! How a batch compares with native Wasmtime precompiling the same
//! inputs in-process on the same cores is `kiln bench`'s corpus figure
//! (`host/src/bench/corpus.rs`). Measured (release build, fat-LTO guests,
//! 2 cores; the 23 Sightglass inputs of `kiln bench`): one `kiln compile
//! --out-dir` 3.65 s without verification, native in-process 2.59 s
//! (1.41x), `wasmtime compile` one process per input 2.98 s (1.23x; in a
//! run under load, 1.19x and 1.15x). What is left is the guest's cost per
//! thread (a one-thread compile in the same run: median 1.26x native),
//! not the scheduling: every input compiles, most on one thread, while
//! others run beside it.

mod plan;
mod run;
mod schedule;

pub use plan::{BatchInput, Plan, PlanError, plan};
pub use run::{BatchEvent, BatchSettings, Signer, Written, compile_all};
