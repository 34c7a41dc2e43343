//! The machine code, function by function, through
//! [`disasm`](crate::artifact::disasm): the instruction boundaries
//! `--check` holds trap sites and safepoints to, and `--disasm`'s listing.
//!
//! A function's bytes are not all code: on x86_64 Cranelift puts each
//! jump table right after the indirect jump that uses it, and on x86_64
//! and riscv64 a pool of float and vector constants after the last block
//! (see [`flow`](super::flow)). One linear decode from the function's
//! start would lose its place in the first table. So each function is
//! decoded in runs, each from an offset known to start an instruction,
//! trusted in this order:
//!
//! 1. the function's start (its symbol), and on x86_64 every target a
//!    decoded instruction names: direct branch targets and the entries of
//!    a recognised jump table;
//! 2. the exception table's call-site return addresses and handlers;
//! 3. except on x86_64, the address map's offsets (Cranelift records one
//!    where an instruction's wasm position changes, so each is an
//!    instruction start; the last, though, marks where the code ends, and
//!    data may follow). On x86_64 the runs of 1 reach every block, so
//!    this would add nothing but that last entry.
//!
//! A run ends at the first offset already decoded (where it joins an
//! earlier run), at bytes that do not decode, at the function's end, or on
//! x86_64 after an instruction that never falls through (`jmp`, `ret`,
//! `ud2`), since data may follow it. A seed that lies inside an
//! instruction or a jump table already decoded is ignored: the earlier,
//! better-trusted run wins. Instructions from every run are exact
//! (assuming the decoder is); what no run reaches is left undecoded and
//! is listed as such.

use super::functions::Function;
use super::{Artifact, InspectError, elf, flow};
use crate::artifact::disasm::{self, Arch, DisasmError, Instruction};
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

/// Bytes decoded at a time on x86_64, where a run stops at the first
/// jump, so that a seed does not decode the rest of its function each
/// time. More than any instruction's length (15 bytes).
const WINDOW: u64 = 256;

/// What lies in bytes of a function that are no decoded instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GapKind {
    /// A jump table, with the target of each entry.
    JumpTable(Vec<u64>),
    /// A run reached these bytes and they did not decode.
    NotDecodable(String),
    /// No run reached them (on x86_64: the constant pool).
    NotReached,
}

/// Bytes of a function that are no decoded instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gap {
    /// Where they lie in `.text`.
    pub range: Range<u64>,
    /// What they are.
    pub kind: GapKind,
}

/// One function's decoded code.
pub struct FunctionCode<'a> {
    /// The function.
    pub function: &'a Function,
    /// Its instructions, in order.
    pub instructions: Vec<Instruction>,
    /// The bytes between them, in order.
    pub gaps: Vec<Gap>,
}

/// Where an offset lies in the decoded code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// At an instruction's first byte.
    Start,
    /// Inside an instruction or a jump table.
    Inside,
    /// In bytes no run reached.
    NotReached,
    /// Where nothing is known: bytes that did not decode, or outside every
    /// decoded function.
    Unknown,
}

/// The decoded code of an artifact.
pub struct Code<'a> {
    /// One entry per function, in `.text` order.
    pub functions: Vec<FunctionCode<'a>>,
    arch: Arch,
    text: &'a [u8],
}

impl Code<'_> {
    fn place(&self, offset: u64) -> Place {
        let after = self
            .functions
            .partition_point(|f| f.function.start <= offset);
        let Some(f) = self.functions[..after]
            .iter()
            .rev()
            .find(|f| f.function.contains(offset))
        else {
            return Place::Unknown;
        };
        let next = f.instructions.partition_point(|i| i.offset <= offset);
        if let Some(i) = next.checked_sub(1).map(|n| &f.instructions[n]) {
            if i.offset == offset {
                return Place::Start;
            }
            if offset - i.offset < u64::from(i.len) {
                return Place::Inside;
            }
        }
        match f.gaps.iter().find(|g| g.range.contains(&offset)) {
            Some(Gap {
                kind: GapKind::JumpTable(_),
                ..
            }) => Place::Inside,
            Some(Gap {
                kind: GapKind::NotReached,
                ..
            }) => Place::NotReached,
            _ => Place::Unknown,
        }
    }

    /// Whether `offset` starts an instruction, or lies where nothing is
    /// known against it: bytes that did not decode, a function not
    /// decoded, or (except on x86_64, where every block is reached from
    /// the function's start or a table) bytes no run reached.
    pub fn is_boundary(&self, offset: u64) -> bool {
        match self.place(offset) {
            Place::Start | Place::Unknown => true,
            Place::Inside => false,
            Place::NotReached => self.arch != Arch::X86_64,
        }
    }

    /// Whether `offset` is where Wasmtime records a trap: an instruction's
    /// start. On s390x also the last byte of an instruction, or of the two
    /// zero bytes (an invalid opcode) that Cranelift's trap branches jump
    /// into: Cranelift 0.135's s390x emitter records a trap at the end of
    /// the trapping instruction less one (`put_with_trap` in
    /// `isa/s390x/inst/emit.rs`), because the CPU reports a trap with the
    /// address after the instruction (a memory fault, though, is recorded
    /// at the instruction's start).
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
        let last_byte = self
            .functions
            .partition_point(|f| f.function.start <= offset)
            .checked_sub(1)
            .is_some_and(|f| self.functions[f].function.end() == next);
        invalid_opcode || last_byte || self.is_boundary(next)
    }
}

/// Offsets the tables say start an instruction, sorted: the exception
/// table's (trust level 2) and the address map's (level 3).
fn table_seeds(artifact: &Artifact) -> [Vec<u64>; 2] {
    let exceptions = &artifact.exceptions;
    let mut calls: Vec<u64> = exceptions
        .call_sites
        .iter()
        .map(|s| u64::from(s.offset))
        .chain(exceptions.handlers.iter().map(|h| u64::from(h.offset)))
        .collect();
    let mut map: Vec<u64> = artifact
        .address_map
        .iter()
        .map(|a| u64::from(a.offset))
        .collect();
    calls.sort_unstable();
    map.sort_unstable();
    [calls, map]
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
    let seeds = table_seeds(artifact);
    let mut functions = Vec::new();
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
        let mut walk = Walk::new(arch, code, function.start);
        walk.drain(BTreeSet::from([function.start]));
        // x86_64 reaches every block from the start: its address map
        // would only add its last entry, which marks where the code ends
        // and the constant pool begins.
        let levels = if arch == Arch::X86_64 { 1 } else { 2 };
        for level in &seeds[..levels] {
            let from = level.partition_point(|&s| s < function.start);
            let to = level.partition_point(|&s| s < function.end());
            walk.drain(level[from..to].iter().copied().collect());
        }
        let (instructions, gaps) = walk.finish();
        functions.push(FunctionCode {
            function,
            instructions,
            gaps,
        });
    }
    Ok(Code {
        functions,
        arch,
        text,
    })
}

/// One function's decoding in progress.
struct Walk<'t> {
    arch: Arch,
    code: &'t [u8],
    start: u64,
    end: u64,
    instructions: BTreeMap<u64, Instruction>,
    tables: BTreeMap<u64, flow::JumpTable>,
    failures: BTreeMap<u64, String>,
}

impl<'t> Walk<'t> {
    fn new(arch: Arch, code: &'t [u8], start: u64) -> Self {
        Walk {
            arch,
            code,
            start,
            end: start.saturating_add(code.len() as u64),
            instructions: BTreeMap::new(),
            tables: BTreeMap::new(),
            failures: BTreeMap::new(),
        }
    }

    /// Whether `offset` lies inside the function and outside everything
    /// decoded so far.
    fn is_free(&self, offset: u64) -> bool {
        if !(self.start..self.end).contains(&offset) {
            return false;
        }
        let inside_instruction = self
            .instructions
            .range(..=offset)
            .next_back()
            .is_some_and(|(at, i)| offset - at < u64::from(i.len));
        let inside_table = self
            .tables
            .range(..=offset)
            .next_back()
            .is_some_and(|(_, t)| t.range.contains(&offset));
        !inside_instruction && !inside_table
    }

    /// The first instruction or table after `offset`, or the function's end.
    fn next_known(&self, offset: u64) -> u64 {
        let after = offset.saturating_add(1);
        let instruction = self.instructions.range(after..).next().map(|(at, _)| *at);
        let table = self.tables.range(after..).next().map(|(at, _)| *at);
        [instruction, table]
            .into_iter()
            .flatten()
            .fold(self.end, u64::min)
    }

    fn bytes(&self, range: Range<u64>) -> &'t [u8] {
        let from = (range.start - self.start) as usize;
        let to = (range.end - self.start) as usize;
        &self.code[from..to]
    }

    /// Runs from each of `queue`, lowest first, and from every target the
    /// runs find.
    fn drain(&mut self, mut queue: BTreeSet<u64>) {
        while let Some(seed) = queue.pop_first() {
            if self.is_free(seed) {
                self.run(seed, &mut queue);
            }
        }
    }

    /// One linear run from `seed`, a free offset.
    fn run(&mut self, seed: u64, queue: &mut BTreeSet<u64>) {
        let limit = self.next_known(seed);
        let mut run: Vec<Instruction> = Vec::new();
        let mut position = seed;
        'run: while position < limit {
            let window_end = match self.arch {
                Arch::X86_64 => limit.min(position.saturating_add(WINDOW)),
                _ => limit,
            };
            let window = self.bytes(position..window_end);
            let (decoded, failure) = match disasm::disassemble(self.arch, window, position) {
                Ok(decoded) => (decoded, None),
                Err(DisasmError::Undecodable {
                    offset, decoded, ..
                }) => (decoded, Some((offset, "not decodable".to_string()))),
                Err(e) => (Vec::new(), Some((position, e.to_string()))),
            };
            for instruction in decoded {
                position = instruction.offset + u64::from(instruction.len);
                run.push(instruction);
                if self.arch != Arch::X86_64 {
                    continue;
                }
                let last = &run[run.len() - 1];
                match flow::x86_64(&run, last) {
                    flow::Flow::Next => {}
                    flow::Flow::Branch(target) => {
                        queue.insert(target);
                    }
                    flow::Flow::Jump(target) => {
                        queue.insert(target);
                        break 'run;
                    }
                    flow::Flow::Stop => break 'run,
                    flow::Flow::JumpTable(at) => {
                        let known_end = self.next_known(at.saturating_sub(1));
                        let table = flow::read_jump_table(self.code, self.start, at, known_end);
                        queue.extend(table.targets.iter().copied());
                        if !table.targets.is_empty() {
                            self.tables.insert(at, table);
                        }
                        break 'run;
                    }
                }
            }
            if let Some((offset, why)) = failure {
                // Cut off by the window rather than by the code: go on.
                if window_end < limit && window_end - offset < 16 {
                    position = offset;
                    continue;
                }
                self.failures.insert(offset, why);
                break;
            }
        }
        self.instructions
            .extend(run.into_iter().map(|i| (i.offset, i)));
    }

    /// The instructions in order, and the gaps between them.
    fn finish(self) -> (Vec<Instruction>, Vec<Gap>) {
        // Everything decoded, in order: instructions (no kind) and tables.
        let mut pieces: Vec<(Range<u64>, Option<GapKind>)> = self
            .instructions
            .values()
            .map(|i| (i.offset..i.offset + u64::from(i.len), None))
            .chain(
                self.tables
                    .into_values()
                    .map(|t| (t.range, Some(GapKind::JumpTable(t.targets)))),
            )
            .collect();
        pieces.sort_by_key(|(range, _)| range.start);
        pieces.push((self.end..self.end, None));
        let mut gaps = Vec::new();
        let mut at = self.start;
        for (range, table) in pieces {
            if at < range.start {
                let kind = match self.failures.range(at..range.start).next() {
                    Some((_, why)) => GapKind::NotDecodable(why.clone()),
                    None => GapKind::NotReached,
                };
                gaps.push(Gap {
                    range: at..range.start,
                    kind,
                });
            }
            at = at.max(range.end);
            if let Some(kind) = table {
                gaps.push(Gap { range, kind });
            }
        }
        (self.instructions.into_values().collect(), gaps)
    }
}
