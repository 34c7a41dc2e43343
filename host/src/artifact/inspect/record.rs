//! The settings record (`.wasmtime.engine`): what an artifact records about itself: kind, target, the Wasmtime
//! version that made it, and the CPU flags its code uses, so that `kiln`
//! can name the baseline an artifact needs without being told.
//!
//! Wasmtime writes this record into every artifact's `.wasmtime.engine`
//! ELF section and checks it when loading: a version byte (0), the length
//! and text of the Wasmtime version, then a postcard encoding whose first
//! fields are the target triple, the shared Cranelift flags and the ISA
//! flags, each flag a name and a value (an enum name, a number or a bool).
//! Only those leading fields are read here. The layout belongs to the
//! pinned Wasmtime (`kiln_settings::WASMTIME_VERSION`); a test reads it back
//! from real artifacts, so a Wasmtime upgrade that moves it fails there.

use super::error::InspectError;
use crate::ArtifactKind;
use crate::load::detect_precompiled;
use object::{Object, ObjectSection};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// The section Wasmtime keeps its compile settings in.
const ENGINE_SECTION: &str = ".wasmtime.engine";

/// What an artifact records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArtifactInfo {
    /// Module or component.
    pub kind: ArtifactKind,
    /// The target triple it was compiled for.
    pub target: String,
    /// The Wasmtime version that compiled it (and the only one that loads it).
    pub wasmtime_version: String,
    /// The ISA flags its code was compiled with on.
    pub cpu_flags: BTreeSet<String>,
    /// The Kiln baseline those flags are exactly, if one is.
    pub baseline: Option<&'static str>,
}

/// A flag's value, as Wasmtime records it.
#[derive(Deserialize)]
pub(crate) enum FlagValue<'a> {
    Enum(#[allow(dead_code, reason = "decoded only to move past it")] &'a str),
    Num(#[allow(dead_code, reason = "decoded only to move past it")] u8),
    Bool(bool),
}

/// The leading fields of Wasmtime's record.
#[derive(Deserialize)]
struct Record<'a> {
    target: String,
    #[serde(borrow)]
    _shared_flags: Vec<(&'a str, FlagValue<'a>)>,
    #[serde(borrow)]
    isa_flags: Vec<(&'a str, FlagValue<'a>)>,
}

/// The bytes of an artifact's `.wasmtime.engine` section: Wasmtime's own
/// record of the engine settings it must be loaded with.
pub fn engine_record(bytes: &[u8]) -> Option<&[u8]> {
    let file = object::File::parse(bytes).ok()?;
    file.section_by_name(ENGINE_SECTION)?.data().ok()
}

/// Reads what `bytes` (a `.cwasm`) records.
///
/// # Errors
///
/// [`InspectError`] when the bytes are not an artifact or its record does
/// not parse.
pub fn inspect(bytes: &[u8]) -> Result<ArtifactInfo, InspectError> {
    let kind = detect_precompiled(bytes).ok_or(InspectError::NotAnArtifact)?;
    let bad = |message: &str| InspectError::BadRecord {
        message: message.to_string(),
    };
    let file = object::File::parse(bytes).map_err(|e| bad(&e.to_string()))?;
    let section = file
        .section_by_name(ENGINE_SECTION)
        .ok_or_else(|| bad("missing"))?;
    let data = section.data().map_err(|e| bad(&e.to_string()))?;
    let [0, length, rest @ ..] = data else {
        return Err(bad("unknown record version"));
    };
    let length = usize::from(*length);
    if rest.len() < length {
        return Err(bad("truncated version"));
    }
    let (version, encoded) = rest.split_at(length);
    let wasmtime_version = String::from_utf8_lossy(version).into_owned();
    let (record, _) =
        postcard::take_from_bytes::<Record<'_>>(encoded).map_err(|e| bad(&e.to_string()))?;
    let cpu_flags: BTreeSet<String> = record
        .isa_flags
        .iter()
        .filter(|(_, value)| matches!(value, FlagValue::Bool(true)))
        .map(|(name, _)| name.to_string())
        .collect();
    let baseline = kiln_settings::matching_baseline(&record.target, &cpu_flags).map(|b| b.name);
    Ok(ArtifactInfo {
        kind,
        target: record.target,
        wasmtime_version,
        cpu_flags,
        baseline,
    })
}
