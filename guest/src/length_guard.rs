//! Keeps a hostile declared length from wrapping the 32-bit arithmetic of
//! the parsers inside the sandbox.
//!
//! # The problem
//!
//! Inside the sandbox the compiler is a wasm32 program: `usize` is 32 bits.
//! wasmparser 0.254 (the version Wasmtime 48 pins) checks a length-prefixed
//! read as `position + len <= buffer.len()`. Natively that sum cannot
//! overflow; on 32 bits a `len` near 2^32 wraps it, the check passes, and
//! the slice that follows panics (or, where the sum only builds a range,
//! yields a wrong one). The same 14 bytes that a native build refuses as
//! "unexpected end-of-file" thus became an internal compiler error in the
//! sandbox. wasmparser 0.263 checks against the bytes remaining instead,
//! but Wasmtime 48 cannot take it (0.254.2 is the last 0.254 release), and
//! Kiln does not vendor upstream code.
//!
//! # Why rewriting, not refusing
//!
//! The obvious fix, refusing any oversized length up front, is wrong for
//! Kiln: Wasmtime *tolerates* some malformed custom sections. It reads the
//! `name` section until its first error, keeps the names read so far, and
//! compiles on. A 64-bit compile of a module whose name section ends in a
//! hostile length therefore succeeds, and the sandbox must produce the same
//! artifact, byte for byte. So the guard does not judge the input at all.
//! It finds each declared length that exceeds 2^31 (more than any input
//! the sandbox can hold, so the parser will refuse it whatever it is), and
//! rewrites that LEB128 in place to 2^31, in the same 5 bytes. For the
//! parser nothing changes but the wrap: the length still exceeds what
//! remains, the same check fails at the same offset with the same message,
//! and every other offset in the input is where it was. Natively the
//! rewrite would be a no-op, which is what the differential fuzz target
//! (`fuzz/fuzz_targets/wide_lengths.rs`) holds the sandbox to: the same
//! outcome and the same bytes as an unguarded 64-bit compile.
//!
//! Why not the other ways out. A 64-bit guest (`wasm64-unknown-unknown`,
//! which Debian's toolchain lists) would not do: the component has no
//! 64-bit form (the component model's canonical ABI is defined on 32-bit
//! memories), so the WIT compiler would still need this guard, and the
//! threaded guest would pay explicit bounds checks on every access of a
//! 64-bit memory. A newer wasmparser is out of reach (above). A pre-scan
//! that refuses is wrong (above). What is left is to keep every length the
//! parser will add from wrapping, which this does.
//!
//! Why 2^31 is safe: every offset in the input is below 2^31 (the guard
//! refuses larger inputs, which a wasm32 compiler cannot hold anyway), so
//! `offset + 2^31` stays below 2^32; and 2^31 exceeds every remaining-bytes
//! count and every size limit wasmparser compares a length with.
//!
//! # Which lengths
//!
//! Those that wasmparser 0.254 adds to a position while Wasmtime 48
//! compiles (found by reading every `read_bytes`, `read_reader` and
//! `read_unlimited_string` in it); strings read with `read_string` or
//! `skip_string` are checked against a 100,000-byte limit first and
//! cannot wrap:
//!
//! ```text
//!   where                         what                     read by
//!   every section, any depth      size                     Parser
//!   module code section           each body's size         Parser
//!   module data section           each segment's bytes     DataSectionReader
//!   module `name` section         each subsection's size,  Wasmtime's names
//!                                 each name in a name map  (functions, ...)
//! ```
//!
//! Nested core modules and components are walked with
//! [`sections::nested_sections`], on an explicit stack. Within a section the walk reads as wasmparser
//! reads (its own reader for constant expressions), and stops at the first
//! thing it cannot read, where wasmparser stops too; past an oversized
//! length it stops, since the parser stops there.
//!
//! The cost is one linear walk over section headers, code-body sizes,
//! data segments and names (bodies and payloads are skipped, not read),
//! with no copy of the input unless a length is rewritten; it has not been
//! timed on its own.

use crate::CompileError;
use crate::sections::{self, Section, Stop};
use std::borrow::Cow;
use wasmparser::{BinaryReader, ConstExpr};

/// What an oversized length becomes: 2^31, as a 5-byte LEB128.
const CLAMPED: [u8; 5] = [0x80, 0x80, 0x80, 0x80, 0x08];

/// Lengths above this are rewritten; inputs must be shorter than it.
const LIMIT: u32 = 1 << 31;

/// `binary` with every wrapping length rewritten (a copy only when there is
/// one), or an error for an input a 32-bit compiler cannot address.
pub(crate) fn guard(binary: Cow<'_, [u8]>) -> Result<Cow<'_, [u8]>, CompileError> {
    if binary.len() >= LIMIT as usize {
        return Err(CompileError::InvalidInput {
            message: format!(
                "input of {} bytes is over the 2 GiB a 32-bit compiler can address",
                binary.len()
            ),
            offset: None,
        });
    }
    let sites = wrapping_lengths(&binary);
    if sites.is_empty() {
        return Ok(binary);
    }
    let mut owned = binary.into_owned();
    for site in sites {
        owned[site..site + CLAMPED.len()].copy_from_slice(&CLAMPED);
    }
    Ok(Cow::Owned(owned))
}

/// Offsets of the LEB128s whose values exceed [`LIMIT`], in the positions
/// the table in the module doc names. Each is 5 bytes long (a value of
/// 2^28 or more needs all 5).
pub(crate) fn wrapping_lengths(binary: &[u8]) -> Vec<usize> {
    let mut sites = Vec::new();
    for (component, section) in sections::nested_sections(binary) {
        let section = match section {
            Ok(section) => section,
            Err(Stop::Oversized(section)) => {
                note(&mut sites, section.size_at, section.size);
                continue;
            }
            Err(Stop::Malformed(_)) => continue,
        };
        // Fits, so its end is a `usize` within `binary`.
        let contents = &binary[..section.end() as usize];
        match (component, section.id) {
            (false, sections::MODULE_CODE) => code(contents, section, &mut sites),
            (false, MODULE_DATA) => data(contents, section, &mut sites),
            (false, CUSTOM) => custom(contents, section, &mut sites),
            _ => {}
        }
    }
    sites
}

const CUSTOM: u8 = 0;
const MODULE_DATA: u8 = 11;

/// Records `at` if `value` would wrap.
fn note(sites: &mut Vec<usize>, at: usize, value: u32) {
    if value > LIMIT {
        sites.push(at);
    }
}

/// Reads a length at `at` within `contents`: `Some((start, end))` of the
/// bytes it counts when they fit, else `None` (after noting it if it
/// wraps).
fn length(contents: &[u8], at: usize, sites: &mut Vec<usize>) -> Option<(usize, usize)> {
    let (len, start) = sections::read_u32(contents, at)?;
    match start.checked_add(len as usize) {
        Some(end) if end <= contents.len() => Some((start, end)),
        _ => {
            note(sites, at, len);
            None
        }
    }
}

/// The code section: a count, then each body's size and bytes.
fn code(contents: &[u8], section: Section, sites: &mut Vec<usize>) {
    let Some((count, mut at)) = sections::read_u32(contents, section.start) else {
        return;
    };
    for _ in 0..count {
        match length(contents, at, sites) {
            Some((_, next)) => at = next,
            None => return,
        }
    }
}

/// The data section: a count, then segments of flags, (memory index,)
/// (offset expression,) and a length-prefixed payload.
fn data(contents: &[u8], section: Section, sites: &mut Vec<usize>) {
    let Some((count, mut at)) = sections::read_u32(contents, section.start) else {
        return;
    };
    for _ in 0..count {
        let Some(next) = segment(contents, at, sites) else {
            return;
        };
        at = next;
    }
}

/// One data segment at `at`; the offset after it.
fn segment(contents: &[u8], at: usize, sites: &mut Vec<usize>) -> Option<usize> {
    let (flags, mut at) = sections::read_u32(contents, at)?;
    if flags == 2 {
        at = sections::read_u32(contents, at)?.1;
    }
    if flags == 0 || flags == 2 {
        let mut reader = BinaryReader::new(contents.get(at..)?, at);
        reader.read::<ConstExpr>().ok()?;
        at = reader.original_position();
    } else if flags != 1 {
        return None;
    }
    length(contents, at, sites).map(|(_, end)| end)
}

/// A custom section: its name (a string of at most 100,000 bytes, which
/// cannot wrap) and, for `name`, its subsections.
fn custom(contents: &[u8], section: Section, sites: &mut Vec<usize>) {
    let Some((name_start, name_end)) = length(contents, section.start, sites) else {
        return;
    };
    if &contents[name_start..name_end] == b"name" {
        names(contents, name_end, sites);
    }
}

/// The `name` section from `at`: subsections of an id, a size and
/// contents; the name maps among them (ids 1 and 4 to 9 and 11) hold
/// entries of an index and a name of any length.
fn names(contents: &[u8], mut at: usize, sites: &mut Vec<usize>) {
    while at < contents.len() {
        let id = contents[at];
        if id & 0x80 != 0 {
            return;
        }
        let Some((body, end)) = length(contents, at + 1, sites) else {
            return;
        };
        if matches!(id, 1 | 4..=9 | 11) {
            name_map(&contents[..end], body, sites);
        }
        at = end;
    }
}

/// A name map from `at`: a count, then entries of an index and a name.
fn name_map(contents: &[u8], at: usize, sites: &mut Vec<usize>) {
    let Some((count, mut at)) = sections::read_u32(contents, at) else {
        return;
    };
    for _ in 0..count {
        let Some((_, name_at)) = sections::read_u32(contents, at) else {
            return;
        };
        match length(contents, name_at, sites) {
            Some((_, next)) => at = next,
            None => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first error wasmparser's validator reports for `bytes`.
    fn validation(bytes: &[u8]) -> Result<(), String> {
        wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all())
            .validate_all(bytes)
            .map(|_| ())
            .map_err(|e| format!("{} at {:#x}", e.message(), e.offset()))
    }

    fn leb5(value: u32) -> [u8; 5] {
        let mut out = [0; 5];
        for (index, byte) in out.iter_mut().enumerate() {
            *byte = ((value >> (7 * index)) & 0x7f) as u8 | if index < 4 { 0x80 } else { 0 };
        }
        out
    }

    fn module(sections: &[(u8, Vec<u8>)]) -> Vec<u8> {
        let mut bytes = b"\0asm\x01\0\0\0".to_vec();
        for (id, contents) in sections {
            bytes.push(*id);
            bytes.extend_from_slice(&leb5(contents.len() as u32));
            bytes.extend_from_slice(contents);
        }
        bytes
    }

    /// Guards `bytes` and checks what a 64-bit parser makes of the result:
    /// the same as of the original. Returns the rewritten offsets.
    fn guarded_like_native(bytes: &[u8]) -> Vec<usize> {
        let sites = wrapping_lengths(bytes);
        let guarded = guard(Cow::Borrowed(bytes)).unwrap();
        assert_eq!(guarded.len(), bytes.len());
        assert_eq!(validation(&guarded), validation(bytes));
        sites
    }

    #[test]
    fn the_fourteen_byte_input_is_rewritten_to_the_same_refusal() {
        let bytes = b"\0asm\x01\0\0\0\x01\xff\xff\xff\xff\x0f";
        assert_eq!(guarded_like_native(bytes), [9]);
        let guarded = guard(Cow::Borrowed(&bytes[..])).unwrap();
        assert_eq!(&guarded[9..], &CLAMPED);
        assert!(
            validation(&guarded)
                .unwrap_err()
                .contains("unexpected end-of-file")
        );
    }

    #[test]
    fn valid_modules_are_not_copied() {
        let bytes = wat::parse_str(
            r#"(module (memory 1) (func $f (result i32) i32.const 1)
                 (data (i32.const 0) "hello") (data "passive"))"#,
        )
        .unwrap();
        assert!(wrapping_lengths(&bytes).is_empty());
        assert!(matches!(guard(Cow::Borrowed(&bytes)), Ok(Cow::Borrowed(_))));
    }

    #[test]
    fn every_section_id_with_a_huge_size() {
        for id in 0..=12u8 {
            for size in [u32::MAX, LIMIT + 1, u32::MAX - 7] {
                let mut bytes = b"\0asm\x01\0\0\0".to_vec();
                bytes.push(id);
                bytes.extend_from_slice(&leb5(size));
                bytes.extend_from_slice(b"\0\0\0");
                assert_eq!(guarded_like_native(&bytes), [9], "id {id} size {size:#x}");
            }
        }
    }

    #[test]
    fn a_size_of_exactly_the_limit_is_left_alone() {
        let mut bytes = b"\0asm\x01\0\0\0\x01".to_vec();
        bytes.extend_from_slice(&leb5(LIMIT));
        assert!(guarded_like_native(&bytes).is_empty());
    }

    #[test]
    fn code_bodies_data_segments_and_names() {
        let mut code = vec![2];
        code.extend_from_slice(&leb5(2));
        code.extend_from_slice(&[0, 0x0b]);
        code.extend_from_slice(&leb5(u32::MAX - 3));
        let types = vec![1, 0x60, 0, 0];
        let functions = vec![2, 0, 0];
        let bytes = module(&[(1, types.clone()), (3, functions.clone()), (10, code)]);
        assert_eq!(guarded_like_native(&bytes).len(), 1);

        for flags in [&[0u8, 0x41, 0, 0x0b][..], &[1], &[2, 0, 0x41, 0, 0x0b]] {
            let mut segment = vec![1];
            segment.extend_from_slice(flags);
            segment.extend_from_slice(&leb5(0xffff_fff0));
            segment.extend_from_slice(b"abc");
            let bytes = module(&[(5, vec![1, 0, 1]), (11, segment)]);
            assert_eq!(guarded_like_native(&bytes).len(), 1, "{flags:?}");
        }
    }

    /// A module with one function whose `name` section names it and then a
    /// second index with a name of `len` bytes.
    fn named(len: u32) -> Vec<u8> {
        let mut map = vec![2, 0, 1, b'f', 1];
        map.extend_from_slice(&leb5(len));
        map.extend_from_slice(b"g");
        let mut name = vec![4];
        name.extend_from_slice(b"name");
        name.push(1);
        name.extend_from_slice(&leb5(map.len() as u32));
        name.extend_from_slice(&map);
        module(&[
            (1, vec![1, 0x60, 0, 0]),
            (3, vec![1, 0]),
            (10, vec![1, 2, 0, 0x0b]),
            (0, name),
        ])
    }

    #[test]
    fn a_hostile_name_is_rewritten_and_the_module_stays_valid() {
        // Wasmtime reads names until the first error and compiles on: the
        // module is valid, and must stay so.
        let bytes = named(u32::MAX);
        assert_eq!(guarded_like_native(&bytes).len(), 1);
        assert_eq!(validation(&bytes), Ok(()));
        assert!(wrapping_lengths(&named(1)).is_empty());
    }

    #[test]
    fn nested_modules_in_components() {
        let inner = b"\0asm\x01\0\0\0\x01\xff\xff\xff\xff\x0f".to_vec();
        let mut bytes = b"\0asm\x0d\0\x01\0".to_vec();
        bytes.push(sections::COMPONENT_CORE_MODULE);
        bytes.extend_from_slice(&leb5(inner.len() as u32));
        bytes.extend_from_slice(&inner);
        assert_eq!(guarded_like_native(&bytes), [9 + 5 + 9]);
    }

    #[test]
    fn garbage_truncations_and_every_prefix() {
        let bytes = named(u32::MAX);
        for end in 0..bytes.len() {
            guarded_like_native(&bytes[..end]);
        }
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..2000 {
            let mut bytes = b"\0asm\x01\0\0\0".to_vec();
            for _ in 0..(state % 40) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                bytes.push(state as u8 | if state & 0x300 == 0 { 0x80 } else { 0 });
            }
            guarded_like_native(&bytes);
        }
    }
}
