//! The blocked layout that the trap table and the address map share.
//!
//! Both tables are a sorted list of `(text offset, value)` entries cut
//! into blocks of at most 128 entries, with an index of the blocks in
//! front so that a lookup can binary-search it:
//!
//! ```text
//! ┌──────────────────────────────┬─── 0x00
//! │ entry_count: u32 LE          │
//! │ block_count: u32 LE          │   block_count = ceil(entry_count / 128)
//! ├──────────────────────────────┼─── 0x08
//! │ first_offset: u32 LE         │   one pair per block: the text offset
//! │ body_position: u32 LE        │   of its first entry, and where its
//! │ ...                          │   body starts, counted from the end
//! ├──────────────────────────────┼─── 0x08 + 8 * block_count
//! │ block bodies                 │   variable length, see each table
//! └──────────────────────────────┘
//! ```
//!
//! Every entry of a body starts with a ULEB128 token `delta << 1 | flag`:
//! `delta` is the distance in `.text` from the previous entry of the same
//! block (from `first_offset` for the first), so offsets only grow within
//! a block; what `flag` means belongs to each table.

use super::error::InspectError;
use super::reader::{Reader, U32Array};

/// Entries per block, as Wasmtime 48 writes them.
pub(crate) const BLOCK_SIZE: u32 = 128;

/// The header and index of a blocked table.
pub(crate) struct Blocks<'a> {
    /// The entry count the header declares.
    pub entry_count: u32,
    /// `first_offset`, `body_position` pairs.
    index: U32Array<'a>,
    /// The block bodies.
    bodies: Reader<'a>,
}

/// One block, ready to decode.
pub(crate) struct Block<'a> {
    /// The text offset of its first entry.
    pub first_offset: u32,
    /// How many entries it holds.
    pub entries: u32,
    /// Its body.
    pub body: Reader<'a>,
}

impl<'a> Blocks<'a> {
    /// Reads the header and the block index.
    pub(crate) fn parse(mut reader: Reader<'a>) -> Result<Self, InspectError> {
        let entry_count = reader.u32("entry count")?;
        let block_count = reader.u32("block count")?;
        if block_count != entry_count.div_ceil(BLOCK_SIZE) {
            return Err(reader.error(format!(
                "{block_count} blocks declared for {entry_count} entries \
                 (expected {})",
                entry_count.div_ceil(BLOCK_SIZE)
            )));
        }
        let pairs = block_count
            .checked_mul(2)
            .ok_or_else(|| reader.error("block count too large"))?;
        let index = reader.u32_array(pairs, "block index")?;
        let bodies = reader.rest();
        Ok(Self {
            entry_count,
            index,
            bodies,
        })
    }

    /// How many blocks.
    pub(crate) fn len(&self) -> usize {
        self.index.len() / 2
    }

    /// Block `i`.
    pub(crate) fn block(&self, i: usize) -> Result<Block<'a>, InspectError> {
        let first_offset = self.index.get(2 * i).unwrap_or(0);
        let position = self.index.get(2 * i + 1).unwrap_or(0);
        let done = u32::try_from(i)
            .unwrap_or(u32::MAX)
            .saturating_mul(BLOCK_SIZE);
        let entries = self.entry_count.saturating_sub(done).min(BLOCK_SIZE);
        let body = self
            .bodies
            .at(usize::try_from(position).unwrap_or(usize::MAX))
            .map_err(|_| {
                self.bodies.error(format!(
                    "block {i}'s body position {position:#x} lies past the section's end"
                ))
            })?;
        Ok(Block {
            first_offset,
            entries,
            body,
        })
    }
}

impl Block<'_> {
    /// Reads the next entry's token: the new text offset and the flag bit.
    pub(crate) fn token(&mut self, previous: u32) -> Result<(u32, bool), InspectError> {
        let token = self.body.uleb("entry token")?;
        let delta = u32::try_from(token >> 1)
            .map_err(|_| self.body.error("entry's offset delta exceeds 32 bits"))?;
        let offset = previous
            .checked_add(delta)
            .ok_or_else(|| self.body.error("entry's text offset exceeds 32 bits"))?;
        Ok((offset, token & 1 != 0))
    }
}
