//! Kiln's component tests: the real compiler component in the real
//! sandbox, its artifacts loaded and run by real Wasmtime.
//!
//! One [`Sandbox`] is shared by the tests of this binary, as a service
//! would share it; its compiled guest is cached under the test target
//! directory so that only the first run pays for compiling it.

mod bad_input;
mod check_imports;
mod cli;
mod code_verification;
mod compile_many;
mod copy_stand_ins;
mod corpus;
mod emulate;
mod fuzz;
mod guest_cache;
mod incremental;
mod inspect;
mod limits;
mod parallel;
mod provenance;
mod sandbox_imports;
mod serve;
mod spec;
mod stock;
mod targets;
mod verify_code;
mod wide_lengths;
mod winch;

#[path = "../support/bombs.rs"]
#[allow(dead_code)]
mod bombs;
#[path = "../support/http.rs"]
mod http;
#[path = "../support/noise.rs"]
mod noise;

use host::{CompileRequest, Guest, Limits, Sandbox, Threads};
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
        Sandbox::with_dirs(
            Limits::default(),
            Some(cache_dir()),
            Some(cli::config_dir()),
        )
        .expect("the sandbox starts")
    })
}

/// The sandbox's compile paths, so that a property can be checked on each.
#[derive(Debug, Clone, Copy)]
pub enum GuestPath {
    /// The compiler component (the WIT contract), one instance.
    Component,
    /// The threaded guest on exactly this many threads.
    Threads(usize),
}

impl GuestPath {
    /// The component, the threaded guest on one thread and on four.
    pub const ALL: [GuestPath; 3] = [Self::Component, Self::Threads(1), Self::Threads(4)];

    /// Compiles on this path with the shared sandbox.
    pub fn compile(
        self,
        input: &[u8],
        options: &host::Options,
        limits: &Limits,
    ) -> Result<host::Artifact, host::Error> {
        let request = CompileRequest::new(input, options).limits(*limits);
        let request = match self {
            Self::Component => request.guest(Guest::Component),
            Self::Threads(jobs) => request.threads(Threads::Exactly(jobs)),
        };
        sandbox()
            .compile(&request)
            .map(|compiled| compiled.artifact)
    }
}

/// Compiles `input` with the shared sandbox as `kiln compile` does (no
/// cache, no statement), keeping the artifact.
pub fn compile(input: &[u8], options: &host::Options) -> Result<host::Artifact, host::Error> {
    sandbox()
        .compile(&CompileRequest::new(input, options))
        .map(|compiled| compiled.artifact)
}

/// A fixture from `tests/fixtures`.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}
