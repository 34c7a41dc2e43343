//! Loading and running Kiln's artifacts, and nothing else: no compiler.
//!
//! The host links this crate to run artifacts for its own architecture.
//! For other architectures the same code is cross-built into the
//! `kiln-runner` program and run under qemu-user: the host writes a
//! [`protocol::Request`] file, the runner loads the artifact into an engine
//! built from the same settings definition as the compiler's
//! (`kiln-settings`), runs it with the guest's output on its own stdout and
//! stderr, and writes a [`protocol::Response`] file. Running the x86_64
//! reference through the very same code is what makes the two runs
//! comparable.

mod error;
pub mod load;
pub mod protocol;
pub mod run;
pub mod wast;

pub use error::RunError;

/// The triple of the machine this code runs on, if Kiln can target it.
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
