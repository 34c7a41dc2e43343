//! Facts about inputs and artifacts: text or binary, module or component,
//! how many functions, how much machine code.

use crate::{ArtifactKind, CompileError};
use object::{Object, ObjectSection};
use std::borrow::Cow;
use wasmparser::{Parser, Payload};

/// Returns the binary form of `input`, parsing the text format if needed.
///
/// Text is parsed here, inside the sandbox, like everything else the user
/// sends.
pub(crate) fn to_binary(input: &[u8]) -> Result<Cow<'_, [u8]>, CompileError> {
    if input.is_empty() {
        return Err(CompileError::InvalidInput {
            message: "empty input: expected a wasm binary or text".to_string(),
            offset: Some(0),
        });
    }
    if input.starts_with(b"\0asm") {
        return Ok(Cow::Borrowed(input));
    }
    match std::str::from_utf8(input) {
        Ok(_) => wat::parse_bytes(input).map_err(|e| CompileError::InvalidInput {
            message: e.to_string(),
            offset: None,
        }),
        Err(_) => Err(CompileError::InvalidInput {
            message: "not a wasm binary (no `\\0asm` magic) and not UTF-8 text".to_string(),
            offset: Some(0),
        }),
    }
}

/// Detects a module or component from the binary header.
pub(crate) fn detect_kind(binary: &[u8]) -> Result<ArtifactKind, CompileError> {
    if Parser::is_component(binary) {
        Ok(ArtifactKind::Component)
    } else if Parser::is_core_wasm(binary) {
        Ok(ArtifactKind::Module)
    } else {
        Err(CompileError::InvalidInput {
            message: "unknown binary version: neither a core module nor a component".to_string(),
            offset: Some(4),
        })
    }
}

/// Counts the functions with bodies, across nested core modules too.
///
/// Called only after a successful compile, so the input is valid.
pub(crate) fn function_count(binary: &[u8]) -> u32 {
    Parser::new(0)
        .parse_all(binary)
        .filter_map(|payload| match payload {
            Ok(Payload::CodeSectionStart { count, .. }) => Some(count),
            _ => None,
        })
        .sum()
}

/// The size of the artifact's `.text` section (0 if it has none).
pub(crate) fn code_bytes(artifact: &[u8]) -> u64 {
    object::File::parse(artifact)
        .ok()
        .and_then(|file| file.section_by_name(".text").map(|text| text.size()))
        .unwrap_or(0)
}
