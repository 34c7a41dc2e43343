//! The trap table (`.wasmtime.traps`): which instructions in `.text` may
//! trap, and why, so that Wasmtime can name the trap a signal stands for.
//!
//! The section has the blocked layout of [`super::blocks`]. Each block
//! body starts with the block's most common trap code; an entry's token
//! flag says whether the entry carries its own code byte instead:
//!
//! ```text
//! ┌──────────────────────────────┐
//! │ default_code: u8             │   once per block
//! ├──────────────────────────────┤
//! │ token: ULEB128               │   delta << 1 | has_own_code
//! │ [code: u8]                   │   only when has_own_code
//! │ ...                          │   one per entry of the block
//! └──────────────────────────────┘
//! ```
//!
//! A code is Wasmtime's `Trap` as a byte, or 0xFF (an internal assertion)
//! or 0xFE (a corrupt GC heap).

use super::blocks::Blocks;
use super::error::InspectError;
use super::reader::Reader;
use serde::Serialize;

/// The section's name.
pub const SECTION: &str = ".wasmtime.traps";

/// One trap site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrapEntry {
    /// Offset of the trapping instruction in `.text`.
    pub offset: u32,
    /// The trap code byte.
    pub code: u8,
    /// The trap's name, or `None` for a code Wasmtime 48 does not know.
    pub kind: Option<String>,
}

/// Names a trap code byte.
pub fn trap_name(code: u8) -> Option<String> {
    match code {
        0xFF => Some("InternalAssert".to_string()),
        0xFE => Some("GcHeapCorrupt".to_string()),
        _ => wasmtime::Trap::from_u8(code).map(|trap| format!("{trap:?}")),
    }
}

/// Decodes the trap table.
///
/// # Errors
///
/// [`InspectError::Malformed`] when the header, the index or a body is
/// cut short or out of range.
pub fn parse(data: &[u8], file_offset: u64) -> Result<Vec<TrapEntry>, InspectError> {
    let blocks = Blocks::parse(Reader::new(SECTION, data, file_offset))?;
    let mut entries = Vec::new();
    for i in 0..blocks.len() {
        let mut block = blocks.block(i)?;
        let default_code = block.body.u8("block's default trap code")?;
        let mut offset = block.first_offset;
        for _ in 0..block.entries {
            let (next, own_code) = block.token(offset)?;
            offset = next;
            let code = if own_code {
                block.body.u8("trap code")?
            } else {
                default_code
            };
            entries.push(TrapEntry {
                offset,
                code,
                kind: trap_name(code),
            });
        }
    }
    Ok(entries)
}
