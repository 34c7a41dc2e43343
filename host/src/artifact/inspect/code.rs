//! The machine code, function by function, through
//! [`disasm`](crate::artifact::disasm): the instruction boundaries
//! `--check` holds trap sites and safepoints to, and `--disasm`'s listing.
//!
//! Each function is decoded on its own from its symbol's range (the gaps
//! between functions are alignment padding). Where a decoder stops inside
//! a function (data such as a jump table or a constant pool after the
//! last instruction), the boundaries before that point are still exact
//! and nothing is claimed about the bytes after it.

use super::functions::Function;
use super::{Artifact, InspectError, elf};
use crate::artifact::disasm::{self, Arch, Instruction};
use std::collections::BTreeSet;

/// One function's decoded code.
pub struct FunctionCode<'a> {
    /// The function.
    pub function: &'a Function,
    /// Its instructions, up to where decoding stopped.
    pub instructions: Vec<Instruction>,
    /// Where decoding stopped short of the function's end, and why.
    pub stopped: Option<(u64, String)>,
}

/// The decoded code of an artifact.
pub struct Code<'a> {
    /// One entry per function, in `.text` order.
    pub functions: Vec<FunctionCode<'a>>,
    starts: BTreeSet<u64>,
    arch: Arch,
    text: &'a [u8],
}

impl Code<'_> {
    /// Whether `offset` is where Wasmtime records a trap: an instruction's
    /// start. On s390x also the last byte of an instruction, or of the two
    /// zero bytes (an invalid opcode) that Cranelift's trap branches jump
    /// into: for a trap instruction the CPU reports the address after it,
    /// and Wasmtime records that address less one (a memory fault, though,
    /// is recorded at the instruction's start).
    pub fn is_trap_site(&self, offset: u64) -> bool {
        if self.is_boundary(offset) {
            return true;
        }
        if self.arch != Arch::S390x {
            return false;
        }
        let Some(next) = offset.checked_add(1) else {
            return false;
        };
        let invalid_opcode = usize::try_from(offset)
            .ok()
            .and_then(|o| self.text.get(o.checked_sub(1)?..=o))
            == Some(&[0, 0][..]);
        invalid_opcode
            || self.is_boundary(next)
            || self.functions.iter().any(|f| f.function.end() == next)
    }

    /// Whether `offset` starts an instruction, or lies where decoding
    /// could not reach (so nothing is known against it).
    pub fn is_boundary(&self, offset: u64) -> bool {
        if self.starts.contains(&offset) {
            return true;
        }
        self.functions.iter().any(|f| {
            f.function.contains(offset) && f.stopped.as_ref().is_some_and(|(at, _)| offset >= *at)
        })
    }
}

/// Decodes every function of `artifact` (read from `bytes`); `only`
/// restricts it to the functions it accepts.
///
/// # Errors
///
/// [`InspectError::Malformed`] naming `.text` when its bytes are not in the
/// file or a function lies outside it, or the target has no disassembler.
pub fn decode<'a>(
    artifact: &'a Artifact,
    bytes: &'a [u8],
    only: &dyn Fn(&Function) -> bool,
) -> Result<Code<'a>, InspectError> {
    let target = &artifact.record.target;
    let arch = Arch::from_triple(target)
        .or_else(|| Arch::from_triple(target.split('-').next().unwrap_or("")))
        .ok_or_else(|| {
            InspectError::malformed(
                ".text",
                artifact.text.file_offset,
                format!("no disassembler for target {}", artifact.record.target),
            )
        })?;
    let file = elf::parse(bytes)?;
    let (text, text_offset) = elf::section_data(&file, ".text")?
        .ok_or_else(|| InspectError::malformed("ELF", 0, "no .text section"))?;
    let mut functions = Vec::new();
    let mut starts = BTreeSet::new();
    for function in artifact.functions.iter().filter(|f| only(f)) {
        let code = usize::try_from(function.start)
            .ok()
            .zip(usize::try_from(function.size).ok())
            .and_then(|(start, size)| text.get(start..)?.get(..size))
            .ok_or_else(|| {
                InspectError::malformed(
                    ".text",
                    text_offset,
                    format!("function {} lies outside .text", function.symbol),
                )
            })?;
        let (instructions, stopped) = match disasm::disassemble(arch, code, function.start) {
            Ok(instructions) => (instructions, None),
            Err(disasm::DisasmError::Undecodable {
                offset, decoded, ..
            }) => (decoded, Some((offset, "not decodable".to_string()))),
            Err(e) => (Vec::new(), Some((function.start, e.to_string()))),
        };
        starts.extend(instructions.iter().map(|i| i.offset));
        functions.push(FunctionCode {
            function,
            instructions,
            stopped,
        });
    }
    Ok(Code {
        functions,
        starts,
        arch,
        text,
    })
}
