//! `kiln inspect --check`: every table held against the others and the
//! code, stopping at the first kind of violation.
//!
//! In order:
//!
//! 1. functions (`.symtab`): inside `.text`, not overlapping;
//! 2. unwind (`.eh_frame`, native targets): every entry parses, every
//!    function (trampolines included) is covered by exactly one FDE whose
//!    range is the function's, no FDE covers anything else, and the CFA is
//!    a stack- or frame-pointer register plus an offset at every row;
//! 3. traps: sorted, unique, inside a function, on an instruction
//!    boundary, of a kind Wasmtime knows;
//! 4. stack maps: sorted, unique, inside a function (a safepoint is a
//!    return address, so it may be the function's end), on an instruction
//!    boundary, the frame size non-zero, 4-byte aligned and no larger than
//!    the frame the exception table records for that call, every live slot
//!    inside the frame;
//! 5. address map: offsets never go backwards, lie inside `.text`, and
//!    (given the input) every wasm offset of a function of the input's
//!    module `M` lies in module `M`'s code section (modules past the
//!    input's are Wasmtime's component adapters, whose offsets count in
//!    bytes Wasmtime generated, so they are not held to the input);
//! 6. exceptions: call sites sorted, unique and inside a function, handler
//!    ranges in order and in bounds, every handler inside its call site's
//!    function.
//!
//! Instruction boundaries come from the caller (the disassembler, through
//! [`code`](super::code)), so this file stays free of any architecture.
//!
//! # What the boundary check proves
//!
//! [`code`](super::code) decodes each function in runs from offsets known
//! to start an instruction: the function's start; on x86_64 every direct
//! branch target and the entries of each jump table Cranelift emits inline
//! (the `leaq`/`movslq`/`addq`/`jmpq` sequence whose table follows the
//! `jmpq`); the exception table's return addresses and handlers; and
//! except on x86_64 the address map's offsets. A site passes when it is
//! the first byte of an instruction some run decoded; on s390x also the
//! last byte of one, since Cranelift 0.135's s390x emitter records traps
//! there (`put_with_trap` in `isa/s390x/inst/emit.rs`: the CPU reports
//! the address after the instruction, and the trap is recorded one byte
//! before it). A site fails when it lies inside a decoded instruction or
//! inside a jump table, and on x86_64 also when it lies in bytes no run
//! reached (there, the constant pool after the last block: every block
//! is reached from the start, a branch or a table, so code nowhere else).
//!
//! It cannot prove more than the runs reach:
//!
//! - where bytes do not decode (an instruction the decoder lacks) or,
//!   outside x86_64, no run reached them, a site there passes unchecked;
//! - outside x86_64, data Cranelift puts inside a function (riscv64's
//!   constant pool after the last block, aarch64's and s390x's literals
//!   and jump tables) is decoded as if it were instructions, so a site in
//!   it passes if it falls on one of those pseudo-instructions' starts;
//! - the seeds are trusted in the order above: an exception-table or
//!   address-map offset that lands where no better-trusted run reached
//!   starts a run of its own, so a damaged entry there yields boundaries
//!   that may be false (one that lands inside a decoded instruction is
//!   ignored);
//! - it says nothing of whether a site is the *right* instruction (that a
//!   trap's code matches what the instruction can do), and with
//!   `--function` only the functions listed are decoded, the others
//!   passing unchecked.

use super::Artifact;
use super::functions::Function;
use std::fmt;
use std::ops::Range;

/// A table entry that breaks a check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The table: a section name such as `.wasmtime.traps`.
    pub table: &'static str,
    /// The entry, e.g. `entry 3 (offset 0x40)`.
    pub entry: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.table, self.entry, self.message)
    }
}

impl std::error::Error for Violation {}

/// What `--check` may use beyond the artifact.
#[derive(Default)]
pub struct CheckInput<'a> {
    /// The code section of each core module of the input wasm, in the
    /// order they appear in its file (Wasmtime's module indices), as byte
    /// ranges in that file; empty for a module without one. Empty when
    /// there is no input.
    pub code_sections: Vec<Range<u64>>,
    /// Whether a `.text` offset starts an instruction, when disassembly
    /// is available.
    pub instruction_start: Option<&'a dyn Fn(u64) -> bool>,
    /// Whether a `.text` offset is where a trap may be recorded (see
    /// [`Code::is_trap_site`](super::code::Code::is_trap_site)).
    pub trap_site: Option<&'a dyn Fn(u64) -> bool>,
}

/// The code section of each core module of `wasm`, a module or a
/// component (its nested modules, depth first, as Wasmtime numbers them),
/// as byte ranges in `wasm`; an empty range for a module without one.
///
/// # Errors
///
/// When the input does not parse as wasm.
pub fn code_sections(wasm: &[u8]) -> Result<Vec<Range<u64>>, wasmparser::BinaryReaderError> {
    let mut ranges = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        match payload? {
            wasmparser::Payload::Version {
                encoding: wasmparser::Encoding::Module,
                ..
            } => ranges.push(0..0),
            wasmparser::Payload::CodeSectionStart { range, .. } => {
                if let Some(last) = ranges.last_mut() {
                    *last = range.start as u64..range.end as u64;
                }
            }
            _ => {}
        }
    }
    Ok(ranges)
}

fn violation(table: &'static str, entry: String, message: impl Into<String>) -> Violation {
    Violation {
        table,
        entry,
        message: message.into(),
    }
}

/// Checks every table of `artifact`.
///
/// # Errors
///
/// The first [`Violation`] of the first check that fails.
pub fn check(artifact: &Artifact, input: &CheckInput<'_>) -> Result<(), Violation> {
    check_functions(artifact)?;
    check_unwind(artifact)?;
    check_traps(artifact, input)?;
    check_stack_maps(artifact, input)?;
    check_address_map(artifact, input)?;
    check_exceptions(artifact)?;
    Ok(())
}

fn check_functions(artifact: &Artifact) -> Result<(), Violation> {
    const TABLE: &str = ".symtab";
    let mut previous: Option<&Function> = None;
    for f in &artifact.functions {
        let entry = || format!("function {}", f.symbol);
        if f.start
            .checked_add(f.size)
            .is_none_or(|end| end > artifact.text.size)
        {
            return Err(violation(
                TABLE,
                entry(),
                format!(
                    "{:#x}..{:#x} runs past the end of .text ({:#x} bytes)",
                    f.start,
                    f.end(),
                    artifact.text.size
                ),
            ));
        }
        if let Some(p) = previous
            && p.end() > f.start
        {
            return Err(violation(
                TABLE,
                entry(),
                format!(
                    "{:#x}..{:#x} overlaps {} ({:#x}..{:#x})",
                    f.start,
                    f.end(),
                    p.symbol,
                    p.start,
                    p.end()
                ),
            ));
        }
        previous = Some(f);
    }
    Ok(())
}

fn check_unwind(artifact: &Artifact) -> Result<(), Violation> {
    const TABLE: &str = ".eh_frame";
    let Some(unwind) = &artifact.unwind else {
        if artifact.record.target.starts_with("pulley") {
            return Ok(());
        }
        return Err(violation(TABLE, "section".into(), "missing"));
    };
    if let Some(problem) = unwind.problems.first() {
        return Err(violation(
            TABLE,
            format!("entry at {:#x}", problem.offset),
            problem.message.clone(),
        ));
    }
    for fde in &unwind.fdes {
        let entry = || {
            format!(
                "FDE at {:#x} ({:#x}..{:#x})",
                fde.offset, fde.start, fde.end
            )
        };
        if let Some(row) = fde.rows.iter().find(|row| !row.computable) {
            return Err(violation(
                TABLE,
                entry(),
                format!(
                    "the CFA at {:#x} ({}) is not a stack- or frame-pointer register plus an offset",
                    row.start, row.cfa
                ),
            ));
        }
        let first = artifact.functions.partition_point(|f| f.start < fde.start);
        if !artifact.functions[first..]
            .iter()
            .take_while(|f| f.start == fde.start)
            .any(|f| f.end() == fde.end)
        {
            return Err(violation(TABLE, entry(), "covers no function exactly"));
        }
    }
    let mut fdes: Vec<&super::unwind::Fde> = unwind.fdes.iter().collect();
    fdes.sort_by_key(|fde| fde.start);
    for f in &artifact.functions {
        let first = fdes.partition_point(|fde| fde.end <= f.start);
        let covering: Vec<_> = fdes[first..]
            .iter()
            .take_while(|fde| fde.start < f.end())
            .collect();
        let entry = || format!("function {} ({:#x}..{:#x})", f.symbol, f.start, f.end());
        match covering.as_slice() {
            [fde] if fde.start == f.start && fde.end == f.end() => {}
            [] => return Err(violation(TABLE, entry(), "no FDE covers it")),
            [fde] => {
                return Err(violation(
                    TABLE,
                    entry(),
                    format!(
                        "its FDE at {:#x} covers {:#x}..{:#x} instead",
                        fde.offset, fde.start, fde.end
                    ),
                ));
            }
            _ => {
                return Err(violation(
                    TABLE,
                    entry(),
                    format!("{} FDEs cover it", covering.len()),
                ));
            }
        }
    }
    Ok(())
}

/// Checks that `offsets` are sorted, unique, inside a function (up to
/// its end when `end_ok`), and on instruction boundaries.
fn check_sites(
    artifact: &Artifact,
    input: &CheckInput<'_>,
    table: &'static str,
    what: &str,
    offsets: impl Iterator<Item = u64>,
    end_ok: bool,
) -> Result<(), Violation> {
    let boundary = if end_ok {
        input.instruction_start
    } else {
        input.trap_site
    };
    let mut previous: Option<u64> = None;
    for (i, offset) in offsets.enumerate() {
        let entry = || format!("{what} {i} (offset {offset:#x})");
        if let Some(p) = previous
            && p >= offset
        {
            return Err(violation(
                table,
                entry(),
                format!(
                    "not after the previous entry ({p:#x}): the table must be sorted and unique"
                ),
            ));
        }
        previous = Some(offset);
        let function = artifact.function_at(offset).or_else(|| {
            end_ok
                .then(|| offset.checked_sub(1).and_then(|o| artifact.function_at(o)))
                .flatten()
        });
        let Some(function) = function else {
            return Err(violation(table, entry(), "not inside any function"));
        };
        if let Some(starts) = boundary
            && offset != function.end()
            && !starts(offset)
        {
            return Err(violation(
                table,
                entry(),
                format!("not on an instruction boundary in {}", function.symbol),
            ));
        }
    }
    Ok(())
}

fn check_traps(artifact: &Artifact, input: &CheckInput<'_>) -> Result<(), Violation> {
    const TABLE: &str = super::traps::SECTION;
    let offsets = artifact.traps.iter().map(|t| u64::from(t.offset));
    check_sites(artifact, input, TABLE, "entry", offsets, false)?;
    if let Some((i, t)) = artifact
        .traps
        .iter()
        .enumerate()
        .find(|(_, t)| t.kind.is_none())
    {
        return Err(violation(
            TABLE,
            format!("entry {i} (offset {:#x})", t.offset),
            format!("unknown trap code {:#04x}", t.code),
        ));
    }
    Ok(())
}

fn check_stack_maps(artifact: &Artifact, input: &CheckInput<'_>) -> Result<(), Violation> {
    const TABLE: &str = super::stack_maps::SECTION;
    let maps = &artifact.stack_maps;
    let pcs = maps.entries.iter().map(|e| u64::from(e.pc));
    check_sites(artifact, input, TABLE, "safepoint", pcs, true)?;
    for (i, map) in maps.entries.iter().enumerate() {
        let entry = || format!("safepoint {i} (offset {:#x})", map.pc);
        if map.frame_size == 0 || !map.frame_size.is_multiple_of(4) {
            return Err(violation(
                TABLE,
                entry(),
                format!(
                    "frame size {:#x} is not a non-zero multiple of 4",
                    map.frame_size
                ),
            ));
        }
        let sites = &artifact.exceptions.call_sites;
        let recorded = sites
            .get(sites.partition_point(|site| site.offset < map.pc))
            .filter(|site| site.offset == map.pc)
            .and_then(|site| site.frame_offset);
        if let Some(frame) = recorded
            && map.frame_size > frame
        {
            return Err(violation(
                TABLE,
                entry(),
                format!(
                    "frame size {:#x} exceeds the call's frame ({frame:#x}, from the exception table)",
                    map.frame_size
                ),
            ));
        }
        if let Some(slot) = maps
            .live_slots(map)
            .find(|&slot| slot + 4 > u64::from(map.frame_size))
        {
            return Err(violation(
                TABLE,
                entry(),
                format!(
                    "live slot at SP+{slot:#x} lies outside the {:#x}-byte frame",
                    map.frame_size
                ),
            ));
        }
    }
    Ok(())
}

fn check_address_map(artifact: &Artifact, input: &CheckInput<'_>) -> Result<(), Violation> {
    const TABLE: &str = super::address_map::SECTION;
    let mut previous = 0u32;
    for (i, a) in artifact.address_map.iter().enumerate() {
        let entry = || format!("entry {i} (offset {:#x})", a.offset);
        if a.offset < previous {
            return Err(violation(
                TABLE,
                entry(),
                format!("goes backwards from {previous:#x}"),
            ));
        }
        previous = a.offset;
        if u64::from(a.offset) > artifact.text.size {
            return Err(violation(TABLE, entry(), "lies past the end of .text"));
        }
        let Some(position) = a.wasm_offset.map(u64::from) else {
            continue;
        };
        let inside = |r: &Range<u64>| r.start <= position && position <= r.end;
        let sections = &input.code_sections;
        let module = artifact
            .function_at(u64::from(a.offset))
            .and_then(|f| f.module)
            .and_then(|m| usize::try_from(m).ok());
        match module {
            _ if sections.is_empty() => {}
            // A function of the input's module `m`: inside its code.
            Some(m) if m < sections.len() => {
                if !inside(&sections[m]) {
                    return Err(violation(
                        TABLE,
                        entry(),
                        format!(
                            "wasm offset {position:#x} lies outside the code section of module {m} \
                             ({:#x}..{:#x})",
                            sections[m].start, sections[m].end
                        ),
                    ));
                }
            }
            // A module past the input's: one Wasmtime generates for a
            // component's adapters, its offsets in its own bytes.
            Some(_) => {}
            None => {
                if !sections.iter().any(inside) {
                    return Err(violation(
                        TABLE,
                        entry(),
                        format!("wasm offset {position:#x} lies outside the input's code sections"),
                    ));
                }
            }
        }
    }
    Ok(())
}

fn check_exceptions(artifact: &Artifact) -> Result<(), Violation> {
    const TABLE: &str = super::exceptions::SECTION;
    let exceptions = &artifact.exceptions;
    let no_boundaries = CheckInput::default();
    let sites = exceptions.call_sites.iter().map(|s| u64::from(s.offset));
    check_sites(artifact, &no_boundaries, TABLE, "call site", sites, true)?;
    let mut start = 0usize;
    for (i, site) in exceptions.call_sites.iter().enumerate() {
        let entry = || format!("call site {i} (offset {:#x})", site.offset);
        let end = site.handler_end as usize;
        if end < start || end > exceptions.handlers.len() {
            return Err(violation(
                TABLE,
                entry(),
                format!(
                    "handler range {start}..{end} is out of order or past the {} handlers",
                    exceptions.handlers.len()
                ),
            ));
        }
        let offset = u64::from(site.offset);
        let function = artifact
            .function_at(offset)
            .or_else(|| offset.checked_sub(1).and_then(|o| artifact.function_at(o)));
        for handler in &exceptions.handlers[start..end] {
            if !function.is_some_and(|f| f.contains(u64::from(handler.offset))) {
                return Err(violation(
                    TABLE,
                    entry(),
                    format!(
                        "handler at {:#x} lies outside {}",
                        handler.offset,
                        function.map_or("any function", |f| f.symbol.as_str())
                    ),
                ));
            }
        }
        start = end;
    }
    Ok(())
}
