//! Kiln's host: runs the sandboxed compiler, verifies and loads its output.
//!
//! The compiler (`kiln-guest`) runs as a WebAssembly component inside
//! Wasmtime with no capabilities and hard limits on time, memory and output
//! size ([`Sandbox`], [`Limits`]). Its artifacts are ordinary Wasmtime
//! precompiled modules and components; [`load`] builds the engine that loads
//! them from the same settings definition the compiler used
//! (`kiln-settings`), [`verify`] checks an artifact against a native compile,
//! and [`run`] executes one.
//!
//! Production compiles never run Cranelift natively on the input: that is
//! the point of the sandbox. Only [`verify`] does, on purpose.

mod bindings;
pub mod cache;
mod error;
mod guest_cache;
mod limits;
pub mod load;
mod output;
pub mod run;
mod sandbox;
pub mod verify;
pub mod wast;

pub use error::{Error, LimitKind};
pub use kiln_guest::{Artifact, ArtifactKind, CompileError, OptLevel, Options, TARGETS};
pub use limits::{Limits, parse_size};
pub use output::write_atomically;
pub use sandbox::{CompileStats, PARALLEL_THRESHOLD, Sandbox};

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

/// The triple of the machine this host runs on, if Kiln can target it.
pub fn host_triple() -> Option<&'static str> {
    if cfg!(all(target_arch = "x86_64", target_os = "linux")) {
        Some("x86_64-unknown-linux-gnu")
    } else if cfg!(all(target_arch = "aarch64", target_os = "linux")) {
        Some("aarch64-unknown-linux-gnu")
    } else if cfg!(all(target_arch = "riscv64", target_os = "linux")) {
        Some("riscv64gc-unknown-linux-gnu")
    } else if cfg!(all(target_arch = "s390x", target_os = "linux")) {
        Some("s390x-unknown-linux-gnu")
    } else {
        None
    }
}
