//! Kiln's compiler: WebAssembly in, a Wasmtime precompiled artifact out.
//!
//! This crate is built twice. For `wasm32-wasip2` it becomes the compiler
//! component that the host runs in a sandbox (the thin WIT export layer in
//! `export.rs` exists only there). Natively it is a plain library that the
//! host links for verification: the same code, the same Wasmtime settings
//! (from `kiln-settings`), so the two builds must produce identical bytes.
//!
//! The crate has no I/O of its own: [`compile`] maps bytes and options to an
//! [`Artifact`] or a [`CompileError`].

mod error;
mod facts;
#[cfg(any(test, target_pointer_width = "32"))]
mod length_guard;
pub mod sections;
#[cfg(any(test, all(target_arch = "wasm32", target_os = "unknown")))]
mod split_pool;
pub mod thread_cache;
mod winch;
pub mod wire;

#[cfg(all(target_arch = "wasm32", target_os = "wasi", feature = "wit-export"))]
mod export;
#[cfg(target_arch = "wasm32")]
mod platform;
#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
mod threaded;

pub use error::CompileError;
pub use kiln_settings::{ArtifactKind, Options, TARGETS};

use wasmtime::Engine;

/// Marks the line on the guest's stderr that carries a panic message: the
/// component's panic hook writes it, the host looks for it after a trap.
pub const PANIC_PREFIX: &str = "kiln-guest panic: ";

/// A compiled artifact and facts about it.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Artifact {
    /// The `.cwasm` bytes (an ELF image in Wasmtime's format).
    pub bytes: Vec<u8>,
    /// Module or component.
    pub kind: ArtifactKind,
    /// Functions defined by the input, summed over nested core modules.
    pub function_count: u32,
    /// Size of the artifact's `.text` section.
    pub code_bytes: u64,
}

impl std::fmt::Debug for Artifact {
    /// Shows the facts and the size, not megabytes of machine code.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Artifact")
            .field("bytes", &format_args!("[{} bytes]", self.bytes.len()))
            .field("kind", &self.kind)
            .field("function_count", &self.function_count)
            .field("code_bytes", &self.code_bytes)
            .finish()
    }
}

/// Installs, once, the component's panic hook.
///
/// The guest is built with `panic = "abort"`, so a panic traps the instance
/// and cannot be caught. Instead the hook writes the message to stderr with
/// [`PANIC_PREFIX`]; the host captures the guest's stderr and turns a trap
/// that follows such a line into an internal error carrying the message.
#[cfg(all(target_arch = "wasm32", target_os = "wasi"))]
pub fn install_panic_hook() {
    use std::io::Write;
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let mut stderr = std::io::stderr().lock();
            let message = info.to_string().replace('\n', " ");
            let _ = writeln!(stderr, "{PANIC_PREFIX}{message}");
            let _ = stderr.flush();
        }));
    });
}

/// Switches off Cranelift's per-pass timing on the calling thread.
///
/// Cranelift times every pass with `Instant::now()`; Kiln never reads those
/// timings. In the component each reading is a call out to the host's
/// clock, and the threaded build has no clock at all (`Instant::now()`
/// panics on `wasm32-unknown-unknown`). The profiler is per thread, so each
/// compile thread calls this before it compiles.
#[cfg(target_arch = "wasm32")]
pub fn quiet_cranelift_timing() {
    use cranelift_codegen::timing::{Pass, Profiler, set_thread_profiler};
    struct Quiet;
    impl Profiler for Quiet {
        fn start_pass(&self, _pass: Pass) -> Box<dyn std::any::Any> {
            Box::new(())
        }
    }
    set_thread_profiler(Box::new(Quiet));
}

/// Kiln's version string, naming the Wasmtime version of its artifacts.
pub fn version() -> String {
    format!(
        "kiln {} (wasmtime {})",
        env!("CARGO_PKG_VERSION"),
        kiln_settings::WASMTIME_VERSION
    )
}

/// Compiles `input` (binary or text; module or component) with `options`.
///
/// # Errors
///
/// - [`CompileError::InvalidInput`] when the input is malformed or invalid,
///   with the byte offset where the validator stopped;
/// - [`CompileError::UnsupportedTarget`] for a triple outside [`TARGETS`];
/// - [`CompileError::UnsupportedFeature`] for an unknown CPU feature or wasm
///   proposal name, or an input that needs a proposal that is off;
/// - [`CompileError::Internal`] when Cranelift or Wasmtime fails on valid input.
pub fn compile(input: &[u8], options: &Options) -> Result<Artifact, CompileError> {
    compile_configured(input, options, |_| {})
}

/// Like [`compile`], letting the caller adjust the [`wasmtime::Config`]
/// before the engine is built. For settings that change how the compile
/// runs, never what it produces: the host uses it to switch Wasmtime's
/// parallel compilation on or off when measuring the native compile.
///
/// # Errors
///
/// As [`compile`].
pub fn compile_configured(
    input: &[u8],
    options: &Options,
    configure: impl FnOnce(&mut wasmtime::Config),
) -> Result<Artifact, CompileError> {
    let mut config = kiln_settings::compile_config(options)?;
    configure(&mut config);
    let engine = Engine::new(&config).map_err(|e| CompileError::UnsupportedFeature {
        message: format!("{e:#}"),
    })?;
    let binary = facts::to_binary(input)?;
    // On 32 bits (in the sandbox) a declared length near 2^32 would wrap
    // the parsers' offset arithmetic; the guard rewrites it to one that
    // fails the same way without wrapping (`length_guard.rs` says why).
    // Natively there is nothing to guard, and the native build stays
    // plain Wasmtime: the oracle the sandbox is fuzzed against.
    #[cfg(target_pointer_width = "32")]
    let binary = length_guard::guard(binary)?;
    // Wasmtime keeps SIMD on for riscv64 without the V extension, as Kiln
    // does so that its artifacts match `wasmtime compile`'s, but Cranelift
    // has no lowering for it there and panics on the first vector
    // instruction. Refused up front instead, by what it is.
    if kiln_settings::simd_needs_vector_extension(options) && error::uses_simd(&binary) {
        return Err(CompileError::UnsupportedFeature {
            message: "wasm SIMD on riscv64 needs the V extension (--baseline rv64gcv)".to_string(),
        });
    }
    let kind = facts::detect_kind(&binary)?;
    let bytes = match kind {
        ArtifactKind::Module => engine.precompile_module(&binary),
        ArtifactKind::Component => engine.precompile_component(&binary),
    }
    .map_err(|e| error::classify(&binary, &e, options))?;
    let function_count = facts::function_count(&binary);
    let code_bytes = facts::code_bytes(&bytes);
    Ok(Artifact {
        bytes,
        kind,
        function_count,
        code_bytes,
    })
}
