//! A bounded walk over the section headers of a wasm binary, module or
//! component, that cannot overrun whatever the bytes say.
//!
//! Two callers read untrusted input this way before any parser sees it:
//! the host, natively, to size a compile's thread pool by its code bytes
//! ([`code_bytes`]), and the guest, inside the sandbox, to find the
//! declared lengths that would wrap a 32-bit parser's arithmetic
//! (`length_guard.rs`). Neither may trust a declared size, so every offset
//! here is computed with checked arithmetic and every byte is read through
//! `get`: a size near 2^32 is just a section that does not fit.
//!
//! The reading rules mirror wasmparser 0.254's, byte for byte, where they
//! decide where a section starts and ends: a section is an id byte (high
//! bit clear), a `u32` LEB128 size (at most 5 bytes, the unused bits of
//! the fifth zero) and that many bytes; a module or component starts with
//! an 8-byte header; a component's sections 1 (core module) and 4
//! (component) hold a whole nested binary each.

/// The first 8 bytes of a binary: magic, then version and layer.
pub const HEADER_LEN: usize = 8;

/// A component's section that holds a nested core module.
pub const COMPONENT_CORE_MODULE: u8 = 1;

/// A component's section that holds a nested component.
pub const COMPONENT_COMPONENT: u8 = 4;

/// A module's code section.
pub const MODULE_CODE: u8 = 10;

/// Reads a `u32` LEB128 at `at`, as wasmparser's `read_var_u32` does:
/// `(value, offset after it)`, or `None` where wasmparser would fail
/// (no bytes left, more than 5 bytes, unused bits set in the fifth).
pub fn read_u32(bytes: &[u8], at: usize) -> Option<(u32, usize)> {
    let mut value = 0u32;
    for index in 0..5 {
        let byte = *bytes.get(at.checked_add(index)?)?;
        if index == 4 && byte >> 4 != 0 {
            return None;
        }
        value |= u32::from(byte & 0x7f) << (7 * index);
        if byte & 0x80 == 0 {
            return Some((value, at + index + 1));
        }
    }
    None
}

/// Whether `bytes` starts like a component (version 0x0d, layer 1) rather
/// than a core module.
pub fn is_component(bytes: &[u8]) -> bool {
    bytes.get(..HEADER_LEN) == Some(b"\0asm\x0d\0\x01\0")
}

/// One section header, and where its contents lie.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Section {
    /// The section id.
    pub id: u8,
    /// Offset of the size's LEB128 in the input.
    pub size_at: usize,
    /// The size as declared.
    pub size: u32,
    /// Offset of the first content byte.
    pub start: usize,
}

impl Section {
    /// Offset one past the last content byte (may lie past the enclosing
    /// binary when the section is oversized: see [`Walk::next`]).
    pub fn end(&self) -> u64 {
        self.start as u64 + u64::from(self.size)
    }
}

/// How a walk stopped before the end of its binary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// A section's declared size runs past the binary that holds it.
    Oversized(Section),
    /// The bytes at this offset are no section header.
    Malformed(usize),
}

/// The sections of one binary (not descending into nested ones), from
/// `start` (just after the header) up to `end`.
///
/// Yields each section that fits; then, if the walk did not end exactly at
/// `end`, one `Err` saying why, and nothing more.
pub struct Walk<'a> {
    bytes: &'a [u8],
    at: usize,
    end: usize,
    done: bool,
}

impl<'a> Walk<'a> {
    /// The sections of the binary that fills `bytes[start..end]` after its
    /// header; `end` is clamped to `bytes.len()`.
    pub fn new(bytes: &'a [u8], start: usize, end: usize) -> Self {
        Walk {
            bytes,
            at: start,
            end: end.min(bytes.len()),
            done: false,
        }
    }
}

impl Iterator for Walk<'_> {
    type Item = Result<Section, Stop>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.at >= self.end {
            return None;
        }
        let within = &self.bytes[..self.end];
        let header = self.at;
        let section = within.get(header).and_then(|&id| {
            if id & 0x80 != 0 {
                return None;
            }
            let size_at = header + 1;
            let (size, start) = read_u32(within, size_at)?;
            Some(Section {
                id,
                size_at,
                size,
                start,
            })
        });
        let Some(section) = section else {
            self.done = true;
            return Some(Err(Stop::Malformed(header)));
        };
        if section.end() > self.end as u64 {
            self.done = true;
            return Some(Err(Stop::Oversized(section)));
        }
        // Fits: `end()` is at most `self.end`, a `usize`.
        self.at = section.end() as usize;
        Some(Ok(section))
    }
}

/// The sections of `input` and of every binary nested in it (a
/// component's core modules and components, at any depth), each with
/// whether the binary that holds it is a component.
///
/// Each binary's sections end as its [`Walk`] does, at its first `Err`; the
/// other binaries are walked all the same. A binary too short for its
/// header is one `Err(Stop::Malformed(its start))`. Nesting is kept on an
/// explicit stack, so a deeply nested component costs memory in proportion
/// to its depth, never native stack.
pub fn nested_sections(input: &[u8]) -> NestedSections<'_> {
    NestedSections {
        input,
        pending: vec![(0, input.len())],
        current: None,
    }
}

/// The iterator [`nested_sections`] returns.
pub struct NestedSections<'a> {
    input: &'a [u8],
    /// Binaries still to walk, as `(start, end)` offsets in `input`.
    pending: Vec<(usize, usize)>,
    /// The binary being walked: whether it is a component, and its walk.
    current: Option<(bool, Walk<'a>)>,
}

impl Iterator for NestedSections<'_> {
    type Item = (bool, Result<Section, Stop>);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some((component, walk)) = &mut self.current {
                let component = *component;
                if let Some(item) = walk.next() {
                    if let Ok(section) = item
                        && component
                        && matches!(section.id, COMPONENT_CORE_MODULE | COMPONENT_COMPONENT)
                    {
                        // Fits (the walk said so): its end is a `usize`.
                        self.pending.push((section.start, section.end() as usize));
                    }
                    return Some((component, item));
                }
            }
            let (start, end) = self.pending.pop()?;
            if end - start < HEADER_LEN {
                self.current = None;
                return Some((false, Err(Stop::Malformed(start))));
            }
            let component = is_component(&self.input[start..]);
            self.current = Some((component, Walk::new(self.input, start + HEADER_LEN, end)));
        }
    }
}

/// Bytes of function bodies in `input`: the sizes of the code sections of
/// every core module in it, nested ones included; `None` when it is not a
/// binary or a section header does not parse or fit (the compiler will say
/// why).
pub fn code_bytes(input: &[u8]) -> Option<u64> {
    if input.get(..4) != Some(b"\0asm") {
        return None;
    }
    let mut total = 0u64;
    for (component, section) in nested_sections(input) {
        let section = section.ok()?;
        if !component && section.id == MODULE_CODE {
            total += u64::from(section.size);
        }
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MODULE: &[u8] = b"\0asm\x01\0\0\0";

    fn module(sections: &[(u8, &[u8])]) -> Vec<u8> {
        let mut bytes = MODULE.to_vec();
        for (id, contents) in sections {
            bytes.push(*id);
            bytes.push(contents.len() as u8);
            bytes.extend_from_slice(contents);
        }
        bytes
    }

    #[test]
    fn leb_reads_as_wasmparser_does() {
        for bytes in [
            &[0x00][..],
            &[0x7f],
            &[0x80, 0x01],
            &[0xff, 0xff, 0xff, 0xff, 0x0f],
            &[0x80, 0x80, 0x80, 0x80, 0x00],
            &[0xff, 0xff, 0xff, 0xff, 0x1f],
            &[0xff, 0xff, 0xff, 0xff, 0x8f, 0x00],
            &[0x80, 0x80],
            &[],
        ] {
            let ours = read_u32(bytes, 0);
            let mut reader = wasmparser::BinaryReader::new(bytes, 0);
            let theirs = reader
                .read_var_u32()
                .ok()
                .map(|value| (value, reader.current_position()));
            assert_eq!(ours, theirs, "{bytes:x?}");
        }
    }

    #[test]
    fn walks_a_module_and_stops_at_an_oversized_section() {
        let mut bytes = module(&[(1, b"\x00"), (10, b"\x01\x02\x00\x0b")]);
        let sections: Vec<_> = Walk::new(&bytes, HEADER_LEN, bytes.len()).collect();
        assert_eq!(sections.len(), 2);
        assert_eq!(sections[1].unwrap().id, 10);
        assert_eq!(code_bytes(&bytes), Some(4));

        // A section that declares 0xffff_ffff bytes: the 14-byte input of
        // the 32-bit panic.
        bytes.extend_from_slice(&[1, 0xff, 0xff, 0xff, 0xff, 0x0f]);
        let last = Walk::new(&bytes, HEADER_LEN, bytes.len()).last().unwrap();
        match last {
            Err(Stop::Oversized(section)) => {
                assert_eq!(section.size, u32::MAX);
                assert_eq!(section.size_at, bytes.len() - 5);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(code_bytes(&bytes), None);
    }

    #[test]
    fn malformed_headers_stop_the_walk() {
        for tail in [
            &[0x80, 0x00][..],
            &[1],
            &[1, 0x80],
            &[1, 0xff, 0xff, 0xff, 0xff, 0x7f],
        ] {
            let mut bytes = MODULE.to_vec();
            bytes.extend_from_slice(tail);
            let walked: Vec<_> = Walk::new(&bytes, HEADER_LEN, bytes.len()).collect();
            assert_eq!(walked, [Err(Stop::Malformed(HEADER_LEN))], "{tail:x?}");
            assert_eq!(code_bytes(&bytes), None);
        }
    }

    #[test]
    fn code_bytes_counts_nested_modules_and_refuses_non_binaries() {
        let inner = module(&[(10, b"\x01\x02\x00\x0b")]);
        let mut component = b"\0asm\x0d\0\x01\0".to_vec();
        for _ in 0..2 {
            component.push(COMPONENT_CORE_MODULE);
            component.push(inner.len() as u8);
            component.extend_from_slice(&inner);
        }
        assert_eq!(code_bytes(&component), Some(8));
        assert_eq!(code_bytes(b"(module)"), None);
        assert_eq!(code_bytes(b"\0asm"), None);
        assert_eq!(code_bytes(b""), None);
        // A nested module too short for its own header.
        let mut short = b"\0asm\x0d\0\x01\0".to_vec();
        short.extend_from_slice(&[COMPONENT_CORE_MODULE, 2, 0, 0]);
        assert_eq!(code_bytes(&short), None);
    }

    fn leb(mut value: usize) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let byte = (value & 0x7f) as u8;
            value >>= 7;
            out.push(if value == 0 { byte } else { byte | 0x80 });
            if value == 0 {
                return out;
            }
        }
    }

    #[test]
    fn deep_nesting_uses_no_native_stack() {
        // 100,000 components, each the only section of the one around it,
        // the innermost holding a core module; written outside in.
        let inner = module(&[(10, b"\x01\x02\x00\x0b")]);
        let depth = 100_000;
        let mut sizes = vec![inner.len()];
        for _ in 0..depth {
            let last = *sizes.last().unwrap();
            sizes.push(HEADER_LEN + 1 + leb(last).len() + last);
        }
        let mut bytes = Vec::with_capacity(*sizes.last().unwrap());
        for level in (0..depth).rev() {
            bytes.extend_from_slice(b"\0asm\x0d\0\x01\0");
            bytes.push(if level == 0 {
                COMPONENT_CORE_MODULE
            } else {
                COMPONENT_COMPONENT
            });
            bytes.extend_from_slice(&leb(sizes[level]));
        }
        bytes.extend_from_slice(&inner);
        assert_eq!(bytes.len(), *sizes.last().unwrap());
        assert_eq!(code_bytes(&bytes), Some(4));
    }
}
