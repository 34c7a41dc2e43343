//! The WIT export layer: converts between the `kiln:compiler` records and
//! the plain library types. Exists only in the wasm build.
//!
//! The guest is built with `panic = "abort"`, so a panic traps the instance
//! and cannot be caught here. Instead a panic hook writes the message to
//! stderr with [`PANIC_PREFIX`]; the host captures the guest's stderr and
//! turns a trap that follows such a line into an internal error carrying the
//! message.

use crate::{ArtifactKind, CompileError, Options, PANIC_PREFIX};
use kiln_settings::WasmtimeOptions;
use std::io::Write;
use std::sync::Once;

wit_bindgen::generate!({
    world: "kiln",
    path: "../wit",
});

use exports::kiln::compiler::compiler as wit;

struct Compiler;

export!(Compiler);

fn install_panic_hook() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let mut stderr = std::io::stderr().lock();
            let message = info.to_string().replace('\n', " ");
            let _ = writeln!(stderr, "{PANIC_PREFIX}{message}");
            let _ = stderr.flush();
        }));
    });
}

impl wit::Guest for Compiler {
    fn compile(wasm: Vec<u8>, triple: String) -> Result<wit::Artifact, wit::CompileError> {
        install_panic_hook();
        crate::quiet_cranelift_timing();
        to_wit(crate::compile(&wasm, &Options::for_target(&triple)))
    }

    fn compile_with(
        wasm: Vec<u8>,
        options: wit::Options,
    ) -> Result<wit::Artifact, wit::CompileError> {
        install_panic_hook();
        crate::quiet_cranelift_timing();
        to_wit(from_wit(options).and_then(|options| crate::compile(&wasm, &options)))
    }

    fn targets() -> Vec<String> {
        crate::TARGETS.iter().map(|t| t.to_string()).collect()
    }

    fn version() -> String {
        crate::version()
    }
}

fn from_wit(options: wit::Options) -> Result<Options, CompileError> {
    let (wasmtime, _ignored) = WasmtimeOptions::from_toml(&options.wasmtime_config)?;
    Ok(Options {
        triple: options.triple,
        cpu_features: options.cpu_features,
        wasmtime,
    })
}

fn to_wit(
    result: Result<crate::Artifact, CompileError>,
) -> Result<wit::Artifact, wit::CompileError> {
    match result {
        Ok(artifact) => Ok(wit::Artifact {
            bytes: artifact.bytes,
            kind: match artifact.kind {
                ArtifactKind::Module => wit::ArtifactKind::Module,
                ArtifactKind::Component => wit::ArtifactKind::Component,
            },
            function_count: artifact.function_count,
            code_bytes: artifact.code_bytes,
        }),
        Err(CompileError::InvalidInput { message, offset }) => {
            Err(wit::CompileError::InvalidInput(wit::InvalidInput {
                message,
                offset,
            }))
        }
        Err(CompileError::UnsupportedTarget { triple }) => {
            Err(wit::CompileError::UnsupportedTarget(triple))
        }
        Err(CompileError::UnsupportedFeature { message }) => {
            Err(wit::CompileError::UnsupportedFeature(message))
        }
        Err(CompileError::Internal { message }) => Err(wit::CompileError::Internal(message)),
    }
}
