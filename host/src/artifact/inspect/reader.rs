//! The one bounds-checked reader every table decoder uses.
//!
//! It walks a section's bytes, knows the section's name and where the
//! section lies in the file, and turns every short read, overlong LEB128
//! or out-of-range count into an [`InspectError::Malformed`] naming the
//! table and the file offset. It never indexes a slice directly, adds
//! lengths with checked arithmetic written as `len <= remaining`, and
//! hands out arrays only once their bytes are known to be there, so no
//! declared count drives an allocation.

use super::error::InspectError;

/// A cursor over one table's bytes.
#[derive(Clone)]
pub(crate) struct Reader<'a> {
    table: &'static str,
    data: &'a [u8],
    position: usize,
    /// The file offset of `data[0]`.
    base: u64,
}

/// An array of little-endian `u32`s whose bytes are known to be present.
#[derive(Clone, Copy)]
pub(crate) struct U32Array<'a> {
    bytes: &'a [u8],
}

impl<'a> U32Array<'a> {
    /// How many entries.
    pub(crate) fn len(&self) -> usize {
        self.bytes.len() / 4
    }

    /// Entry `index`, or `None` past the end.
    pub(crate) fn get(&self, index: usize) -> Option<u32> {
        let start = index.checked_mul(4)?;
        let word = self.bytes.get(start..start.checked_add(4)?)?;
        Some(u32::from_le_bytes(word.try_into().ok()?))
    }

    /// Every entry, in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = u32> + 'a {
        self.bytes
            .chunks_exact(4)
            .map(|word| u32::from_le_bytes([word[0], word[1], word[2], word[3]]))
    }
}

impl<'a> Reader<'a> {
    /// A reader over `data`, the bytes of `table`, found at file offset `base`.
    pub(crate) fn new(table: &'static str, data: &'a [u8], base: u64) -> Self {
        Self {
            table,
            data,
            position: 0,
            base,
        }
    }

    /// The error for the current position.
    pub(crate) fn error(&self, message: impl Into<String>) -> InspectError {
        InspectError::malformed(self.table, self.file_offset(), message)
    }

    /// The file offset of the next byte.
    pub(crate) fn file_offset(&self) -> u64 {
        self.base.saturating_add(self.position as u64)
    }

    /// Bytes left.
    pub(crate) fn remaining(&self) -> usize {
        self.data.len() - self.position
    }

    /// A reader over the same table from `position` (relative to this
    /// reader's start) to its end.
    pub(crate) fn at(&self, position: usize) -> Result<Reader<'a>, InspectError> {
        if position > self.data.len() {
            return Err(self.error(format!(
                "position {position:#x} lies past the end ({:#x} bytes)",
                self.data.len()
            )));
        }
        Ok(Self {
            position,
            ..self.clone()
        })
    }

    /// A reader over the bytes not yet read, counting positions from here.
    pub(crate) fn rest(&self) -> Reader<'a> {
        Self {
            table: self.table,
            data: &self.data[self.position..],
            position: 0,
            base: self.file_offset(),
        }
    }

    /// `len` bytes.
    pub(crate) fn bytes(&mut self, len: usize, what: &str) -> Result<&'a [u8], InspectError> {
        if len > self.remaining() {
            return Err(self.error(format!(
                "{what}: {len} bytes declared, {} left",
                self.remaining()
            )));
        }
        let start = self.position;
        self.position += len;
        Ok(&self.data[start..self.position])
    }

    /// One byte.
    pub(crate) fn u8(&mut self, what: &str) -> Result<u8, InspectError> {
        Ok(self.bytes(1, what)?[0])
    }

    /// A little-endian `u32`.
    pub(crate) fn u32(&mut self, what: &str) -> Result<u32, InspectError> {
        let bytes = self.bytes(4, what)?;
        Ok(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }

    /// `count` little-endian `u32`s, checked to be present before use.
    pub(crate) fn u32_array(
        &mut self,
        count: u32,
        what: &str,
    ) -> Result<U32Array<'a>, InspectError> {
        let count = usize::try_from(count).map_err(|_| self.error(format!("{what}: too many")))?;
        if count > self.remaining() / 4 {
            return Err(self.error(format!(
                "{what}: {count} entries declared, room for {}",
                self.remaining() / 4
            )));
        }
        Ok(U32Array {
            bytes: self.bytes(count * 4, what)?,
        })
    }

    /// An unsigned LEB128 number of at most 64 bits.
    pub(crate) fn uleb(&mut self, what: &str) -> Result<u64, InspectError> {
        let start = self.file_offset();
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.u8(what)?;
            let bits = u64::from(byte & 0x7f);
            if shift == 63 && bits > 1 {
                break;
            }
            value |= bits << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(InspectError::malformed(
            self.table,
            start,
            format!("{what}: LEB128 number longer than 64 bits"),
        ))
    }

    /// A signed LEB128 number of at most 64 bits.
    pub(crate) fn sleb(&mut self, what: &str) -> Result<i64, InspectError> {
        let start = self.file_offset();
        let mut value = 0i64;
        let mut shift = 0u32;
        loop {
            let byte = self.u8(what)?;
            if shift == 63 && byte != 0 && byte != 0x7f {
                return Err(InspectError::malformed(
                    self.table,
                    start,
                    format!("{what}: LEB128 number longer than 64 bits"),
                ));
            }
            value |= i64::from(byte & 0x7f) << shift;
            shift += 7;
            if byte & 0x80 == 0 {
                if shift < 64 && byte & 0x40 != 0 {
                    value |= -1i64 << shift;
                }
                return Ok(value);
            }
            if shift > 63 {
                return Err(InspectError::malformed(
                    self.table,
                    start,
                    format!("{what}: LEB128 number longer than 64 bits"),
                ));
            }
        }
    }
}
