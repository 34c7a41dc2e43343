//! The WIT export layer: converts between the `kiln:compiler` records and
//! the plain library types. Exists only in the component build (the `http`
//! build exports `http.rs`'s handler instead). A panic traps the instance;
//! [`crate::install_panic_hook`] says how its message still reaches the host.

use crate::{ArtifactKind, CompileError, Options};
use kiln_settings::WasmtimeOptions;

wit_bindgen::generate!({
    world: "kiln",
    path: "../wit",
});

use exports::kiln::compiler::compiler as wit;

struct Compiler;

export!(Compiler);

impl wit::Guest for Compiler {
    fn compile(wasm: Vec<u8>, triple: String) -> Result<wit::Artifact, wit::CompileError> {
        crate::install_panic_hook();
        crate::quiet_cranelift_timing();
        to_wit(crate::compile(&wasm, &Options::for_target(&triple)))
    }

    fn compile_with(
        wasm: Vec<u8>,
        options: wit::Options,
    ) -> Result<wit::Artifact, wit::CompileError> {
        crate::install_panic_hook();
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
