//! The address map (`.wasmtime.addrmap`): for ranges of `.text`, the byte
//! offset in the input wasm they were compiled from, for backtraces and
//! debuggers.
//!
//! The section has the blocked layout of [`super::blocks`]; an entry covers
//! `.text` from its offset to the next entry's. The token's flag says the
//! entry has no wasm position (code Wasmtime generated); otherwise a
//! position follows, the block's first absolute and the rest as signed
//! distances from the previous position in the block:
//!
//! ```text
//! ┌──────────────────────────────┐
//! │ token: ULEB128               │   delta << 1 | no_position
//! │ [position: ULEB128]          │   the block's first position, or
//! │ [distance: SLEB128]          │   later ones, unless no_position
//! │ ...                          │   one per entry of the block
//! └──────────────────────────────┘
//! ```

use super::blocks::Blocks;
use super::error::InspectError;
use super::reader::Reader;
use serde::Serialize;

/// The section's name.
pub const SECTION: &str = ".wasmtime.addrmap";

/// One address-map entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AddressEntry {
    /// Start of the range in `.text`.
    pub offset: u32,
    /// Byte offset in the input wasm, or `None` for generated code.
    pub wasm_offset: Option<u32>,
}

/// Decodes the address map.
///
/// # Errors
///
/// [`InspectError::Malformed`] when the header, the index or a body is cut
/// short, out of range, or a position leaves 32 bits.
pub fn parse(data: &[u8], file_offset: u64) -> Result<Vec<AddressEntry>, InspectError> {
    let blocks = Blocks::parse(Reader::new(SECTION, data, file_offset))?;
    let mut entries = Vec::new();
    for i in 0..blocks.len() {
        let mut block = blocks.block(i)?;
        let mut offset = block.first_offset;
        let mut previous: Option<u32> = None;
        for _ in 0..block.entries {
            let (next, no_position) = block.token(offset)?;
            offset = next;
            let wasm_offset = if no_position {
                None
            } else {
                let position = match previous {
                    None => u32::try_from(block.body.uleb("wasm position")?).ok(),
                    Some(previous) => {
                        let distance = block.body.sleb("wasm position distance")?;
                        i32::try_from(distance)
                            .ok()
                            .and_then(|d| previous.checked_add_signed(d))
                    }
                }
                .ok_or_else(|| block.body.error("wasm position leaves 32 bits"))?;
                previous = Some(position);
                Some(position)
            };
            entries.push(AddressEntry {
                offset,
                wasm_offset,
            });
        }
    }
    Ok(entries)
}
