//! Kiln's host: runs the sandboxed compiler, verifies and loads its output.
//!
//! The compiler (`kiln-guest`) runs as a WebAssembly component inside
//! Wasmtime with no capabilities and hard limits on time, memory and output
//! size ([`Sandbox`], [`Limits`]). Its artifacts are ordinary Wasmtime
//! precompiled modules and components; [`load`] builds the engine that loads
//! them from the same settings definition the compiler used
//! (`kiln-settings`), [`verify`] checks an artifact against a native compile,
//! and [`run`] executes one ([`load`] and [`run`] are the `kiln-runner`
//! crate's, which [`emulate`] also runs cross-built under qemu-user).
//!
//! Production compiles never run Cranelift natively on the input: that is
//! the point of the sandbox. Only [`verify`] does, on purpose.

pub mod artifact;
pub mod batch;
pub mod bench;
mod bindings;
pub mod cache;
pub mod cross_check;
pub mod emulate;
mod error;
mod guest_cache;
pub use artifact::inspect;
mod limits;
mod output;
mod sandbox;
mod sealed_file;
pub mod serve;
mod settings;
pub mod user_dirs;
pub mod verify;
pub mod wast;

pub use error::{Error, LimitKind};
pub use kiln_guest::{Artifact, ArtifactKind, CompileError, Options, TARGETS};
pub use kiln_runner::{RunError, host_triple, load, run};
pub use kiln_settings::{Compiler, GivenOptions, SettingsError, WasmtimeOptions};
pub use limits::{Limits, MAX_TIMEOUT, parse_size, parse_timeout, timeout_from_secs};
pub use output::write_atomically;
pub use sandbox::{
    CODE_BYTES_PER_THREAD, CompileRequest, CompileStats, Compiled, Guest, Provenance, Sandbox,
    Threads, compile_threads,
};
pub use settings::CompileSettings;

/// The compiler component embedded in this host, and its hash.
pub mod guest {
    include!(concat!(env!("OUT_DIR"), "/guest.rs"));
}

/// Locks `mutex`, taking the data even if a thread panicked holding it:
/// the host's mutexes guard plain bookkeeping that a panic cannot leave
/// half-updated.
pub(crate) fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
