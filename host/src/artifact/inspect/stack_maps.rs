//! The GC stack maps (`.wasmtime.stackmap`): at each safepoint (the return
//! address of a call that may collect garbage), which stack slots hold
//! live GC references, so the collector can find and update them.
//!
//! Wasmtime 48's layout, all little-endian 32-bit words, with no padding
//! and no alignment:
//!
//! ```text
//! ┌──────────────────────────────┬─── 0x00
//! │ count                        │
//! ├──────────────────────────────┼─── 0x04
//! │ pc[0] .. pc[count-1]         │   safepoint offsets in .text, sorted
//! ├──────────────────────────────┼─── 0x04 + 4 * count
//! │ index[0] .. index[count-1]   │   where pc[i]'s map starts in data,
//! │                              │   counted in words
//! ├──────────────────────────────┼─── 0x04 + 8 * count
//! │ data[0] .. data[M-1]         │   the maps, to the section's end
//! └──────────────────────────────┘
//! ```
//!
//! and the map at `data[index[i]]`:
//!
//! ```text
//! ┌──────────────────────────────┐
//! │ frame_size                   │   bytes from SP up to FP at the pc
//! ├──────────────────────────────┤
//! │ words                        │   how many bitmap words follow
//! ├──────────────────────────────┤
//! │ bitmap[0] .. bitmap[words-1] │   bit b of word w set: the 4-byte
//! └──────────────────────────────┘   slot at SP + 4 * (32w + b) is live
//! ```
//!
//! Maps may share data, so live slots are computed on demand from
//! [`StackMaps::words`] rather than stored per entry.

use super::error::InspectError;
use super::reader::Reader;
use serde::Serialize;
use std::ops::Range;

/// The section's name.
pub const SECTION: &str = ".wasmtime.stackmap";

/// One safepoint's map.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StackMapEntry {
    /// The safepoint's offset in `.text`.
    pub pc: u32,
    /// Bytes from the stack pointer up to the frame pointer at the pc.
    pub frame_size: u32,
    /// Its bitmap, as a range of [`StackMaps::words`].
    #[serde(skip)]
    pub bitmap: Range<usize>,
}

/// The decoded section.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StackMaps {
    /// One map per safepoint, in the section's order.
    pub entries: Vec<StackMapEntry>,
    /// The data words the bitmaps index.
    #[serde(skip)]
    pub words: Vec<u32>,
}

impl StackMaps {
    /// The SP-relative byte offsets of the live slots at `entry`.
    pub fn live_slots(&self, entry: &StackMapEntry) -> impl Iterator<Item = u64> + '_ {
        let words = self.words.get(entry.bitmap.clone()).unwrap_or(&[]);
        words.iter().enumerate().flat_map(|(w, &word)| {
            (0..32u64)
                .filter(move |bit| word & (1 << bit) != 0)
                .map(move |bit| 4 * (32 * w as u64 + bit))
        })
    }
}

/// Decodes the stack-map section.
///
/// # Errors
///
/// [`InspectError::Malformed`] when the arrays are cut short, the data is
/// not whole words, or a map lies past the data's end.
pub fn parse(data: &[u8], file_offset: u64) -> Result<StackMaps, InspectError> {
    let mut reader = Reader::new(SECTION, data, file_offset);
    let count = reader.u32("safepoint count")?;
    let pcs = reader.u32_array(count, "safepoint offsets")?;
    let indices = reader.u32_array(count, "map positions")?;
    if !reader.remaining().is_multiple_of(4) {
        return Err(reader.error(format!(
            "map data is {} bytes, not whole 4-byte words",
            reader.remaining()
        )));
    }
    let data_start = reader.file_offset();
    let words: Vec<u32> = reader
        .u32_array(
            u32::try_from(reader.remaining() / 4).unwrap_or(u32::MAX),
            "map data",
        )?
        .iter()
        .collect();
    let mut entries = Vec::new();
    for (i, (pc, index)) in pcs.iter().zip(indices.iter()).enumerate() {
        let at = |what: &str| {
            InspectError::malformed(
                SECTION,
                data_start.saturating_add(u64::from(index).saturating_mul(4)),
                format!("safepoint {i} (pc {pc:#x}): {what}"),
            )
        };
        let start = usize::try_from(index).map_err(|_| at("map position too large"))?;
        let header = words
            .get(start..)
            .and_then(|rest| rest.get(..2))
            .ok_or_else(|| at("map lies past the data's end"))?;
        let (frame_size, count) = (header[0], header[1]);
        let bitmap_start = start + 2;
        let count = usize::try_from(count).map_err(|_| at("bitmap too large"))?;
        if count > words.len() - bitmap_start {
            return Err(at("bitmap runs past the data's end"));
        }
        entries.push(StackMapEntry {
            pc,
            frame_size,
            bitmap: bitmap_start..bitmap_start + count,
        });
    }
    Ok(StackMaps { entries, words })
}
