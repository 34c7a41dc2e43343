//! The ELF container: its sections with their sizes and flags, and the
//! bytes of the ones the other tables live in.
//!
//! Parsing is the `object` crate's, which checks every header and range
//! against the file and borrows section data from it without copying.
//! An artifact puts each table in its own section at address 0; code
//! offsets in every table count from the start of `.text`.

use super::error::InspectError;
use object::{Object, ObjectSection, SectionFlags};
use serde::Serialize;

/// One ELF section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Section {
    /// Its name.
    pub name: String,
    /// Where it starts in the file (0 for sections with no bytes there).
    pub file_offset: u64,
    /// Its size in bytes.
    pub size: u64,
    /// Its ELF `sh_flags`.
    pub flags: u64,
}

impl Section {
    /// `sh_flags` in `readelf`'s letters (`A`, `X`, `W`...).
    pub fn flag_letters(&self) -> String {
        [(0x2, 'A'), (0x4, 'X'), (0x1, 'W'), (0x10, 'M'), (0x20, 'S')]
            .iter()
            .filter(|(bit, _)| self.flags & bit != 0)
            .map(|(_, letter)| *letter)
            .collect()
    }
}

/// Parses the ELF container.
///
/// # Errors
///
/// [`InspectError::Malformed`] naming `ELF` when the headers do not parse.
pub fn parse(bytes: &[u8]) -> Result<object::File<'_>, InspectError> {
    object::File::parse(bytes)
        .map_err(|e| InspectError::malformed("ELF", 0, format!("headers do not parse: {e}")))
}

/// Every section, in file order.
///
/// # Errors
///
/// [`InspectError::Malformed`] when a section's name cannot be read.
pub fn sections(file: &object::File<'_>) -> Result<Vec<Section>, InspectError> {
    let mut sections = Vec::new();
    for section in file.sections() {
        let name = section.name().map_err(|e| {
            InspectError::malformed("ELF", 0, format!("section {} name: {e}", section.index().0))
        })?;
        let flags = match section.flags() {
            SectionFlags::Elf { sh_flags } => sh_flags,
            _ => 0,
        };
        sections.push(Section {
            name: name.to_string(),
            file_offset: section.file_range().map_or(0, |(offset, _)| offset),
            size: section.size(),
            flags,
        });
    }
    Ok(sections)
}

/// The bytes of the section `name` and their file offset, or `None`
/// when there is no such section.
///
/// # Errors
///
/// [`InspectError::Malformed`] naming the section when its bytes lie
/// outside the file.
pub fn section_data<'a>(
    file: &object::File<'a>,
    name: &'static str,
) -> Result<Option<(&'a [u8], u64)>, InspectError> {
    let Some(section) = file.section_by_name(name) else {
        return Ok(None);
    };
    let offset = section.file_range().map_or(0, |(offset, _)| offset);
    let data = section.data().map_err(|e| {
        InspectError::malformed(name, offset, format!("bytes not in the file: {e}"))
    })?;
    Ok(Some((data, offset)))
}
