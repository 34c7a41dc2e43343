//! Kiln's component tests: the real compiler component in the real
//! sandbox, its artifacts loaded and run by real Wasmtime.
//!
//! One [`Sandbox`] is shared by the tests of this binary, as a service
//! would share it; its compiled guest is cached under the test target
//! directory so that only the first run pays for compiling it.

mod bad_input;
mod cli;
mod corpus;
mod fuzz;
mod guest_cache;
mod limits;
mod sandbox_imports;
mod spec;
mod targets;

use host::{Limits, Sandbox};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The cache directory for the compiled guest, shared with CLI tests.
pub fn cache_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("kiln-cache")
}

/// The shared sandbox, with default limits.
pub fn sandbox() -> &'static Sandbox {
    static SANDBOX: OnceLock<Sandbox> = OnceLock::new();
    SANDBOX.get_or_init(|| {
        Sandbox::with_cache_dir(Limits::default(), Some(cache_dir())).expect("the sandbox starts")
    })
}

/// A fixture from `tests/fixtures`.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}
