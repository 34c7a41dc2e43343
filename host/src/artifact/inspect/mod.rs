//! Reading and checking everything inside an artifact: the ELF sections,
//! the settings record, the function layout, and the tables Wasmtime
//! trusts at run time (traps, address map, unwind information, GC stack
//! maps, exception tables), one file per table, each with its layout
//! drawn in its doc comment. [`check`] holds them against each other.
//!
//! Everything here reads untrusted bytes: each decoder goes through the
//! bounds-checked [`reader`](self) and returns an [`InspectError`] naming
//! the table and file offset, never panics, and never allocates for a
//! declared count before the bytes for it are there. It may call nothing
//! that compiles or runs code.

pub mod address_map;
mod blocks;
pub mod check;
pub mod code;
pub mod elf;
pub mod error;
pub mod exceptions;
pub mod flow;
pub mod functions;
mod reader;
pub mod record;
pub mod report;
pub mod stack_maps;
pub mod traps;
pub mod unwind;

pub use check::{CheckInput, Violation, check};
pub use error::InspectError;
pub use record::{ArtifactInfo, engine_record, inspect};

use object::{Object, ObjectSection};
use serde::Serialize;

/// Where `.text` lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Text {
    /// Its file offset.
    pub file_offset: u64,
    /// Its size.
    pub size: u64,
}

/// Everything an artifact holds, decoded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Artifact {
    /// The settings record (its fields at the top level of the JSON, as
    /// `kiln inspect --json` has always printed them).
    #[serde(flatten)]
    pub record: ArtifactInfo,
    /// The Kiln version that read it.
    pub kiln_version: &'static str,
    /// Whether the ELF (and so `.eh_frame`) is big-endian.
    pub big_endian: bool,
    /// The ELF sections.
    pub sections: Vec<elf::Section>,
    /// `.text`.
    pub text: Text,
    /// The compiled functions, sorted by start.
    pub functions: Vec<functions::Function>,
    /// The trap table.
    pub traps: Vec<traps::TrapEntry>,
    /// The address map.
    pub address_map: Vec<address_map::AddressEntry>,
    /// The unwind information (native targets).
    pub unwind: Option<unwind::Unwind>,
    /// The GC stack maps.
    pub stack_maps: stack_maps::StackMaps,
    /// The exception tables.
    pub exceptions: exceptions::Exceptions,
    /// Bytes of the input's data segments (`.rodata.wasm`).
    pub data_segment_bytes: u64,
    /// DWARF sections (`.debug_*`, `.wasmtime.dwarf`) with their sizes.
    pub dwarf: Vec<(String, u64)>,
}

impl Artifact {
    /// The function that holds `offset`, if any.
    pub fn function_at(&self, offset: u64) -> Option<&functions::Function> {
        let after = self.functions.partition_point(|f| f.start <= offset);
        self.functions[..after]
            .iter()
            .rev()
            .find(|f| f.contains(offset))
    }
}

/// Reads and decodes every table of `bytes`, a `.cwasm`.
///
/// # Errors
///
/// [`InspectError`] when the bytes are not an artifact, or a table cannot
/// be decoded (naming it and the file offset).
pub fn read(bytes: &[u8]) -> Result<Artifact, InspectError> {
    let record = inspect(bytes)?;
    let file = elf::parse(bytes)?;
    let sections = elf::sections(&file)?;
    let text = file
        .section_by_name(".text")
        .ok_or_else(|| InspectError::malformed("ELF", 0, "no .text section"))?;
    let text = Text {
        file_offset: text.file_range().map_or(0, |(offset, _)| offset),
        size: text.size(),
    };
    let functions = functions::parse(&file)?;
    let traps = match elf::section_data(&file, traps::SECTION)? {
        Some((data, offset)) => traps::parse(data, offset)?,
        None => Vec::new(),
    };
    let address_map = match elf::section_data(&file, address_map::SECTION)? {
        Some((data, offset)) => address_map::parse(data, offset)?,
        None => Vec::new(),
    };
    let unwind = match elf::section_data(&file, unwind::SECTION)? {
        Some((data, offset)) => Some(unwind::parse(
            data,
            offset.wrapping_sub(text.file_offset),
            !file.is_little_endian(),
            &record.target,
        )?),
        None => None,
    };
    let stack_maps = match elf::section_data(&file, stack_maps::SECTION)? {
        Some((data, offset)) => stack_maps::parse(data, offset)?,
        None => stack_maps::StackMaps::default(),
    };
    let exceptions = match elf::section_data(&file, exceptions::SECTION)? {
        Some((data, offset)) => exceptions::parse(data, offset)?,
        None => exceptions::Exceptions::default(),
    };
    let data_segment_bytes = sections
        .iter()
        .find(|s| s.name == ".rodata.wasm")
        .map_or(0, |s| s.size);
    let dwarf = sections
        .iter()
        .filter(|s| s.name.starts_with(".debug_") || s.name == ".wasmtime.dwarf")
        .map(|s| (s.name.clone(), s.size))
        .collect();
    Ok(Artifact {
        record,
        kiln_version: env!("CARGO_PKG_VERSION"),
        big_endian: !file.is_little_endian(),
        sections,
        text,
        functions,
        traps,
        address_map,
        unwind,
        stack_maps,
        exceptions,
        data_segment_bytes,
        dwarf,
    })
}
