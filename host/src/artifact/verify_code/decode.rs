//! Decoding one x86_64 instruction of a function, with `iced-x86`, from
//! an offset the analysis has proved is an instruction start, and what
//! `iced-x86` says about its operands.
//!
//! Offsets are `.text` offsets throughout: each instruction is decoded
//! with its instruction pointer set to its `.text` offset, so branch
//! targets and RIP-relative addresses come out as `.text` offsets too.

use iced_x86::{
    Decoder, DecoderOptions, Instruction, InstructionInfoFactory, OpAccess, Register, UsedMemory,
};

/// Decodes the instruction at `offset` of `text`, which must end by `end`
/// (the function's end).
///
/// # Errors
///
/// A description when the bytes do not decode or the instruction would
/// cross `end`.
pub fn at(text: &[u8], offset: u64, end: u64) -> Result<Instruction, String> {
    let (Ok(start), Ok(stop)) = (usize::try_from(offset), usize::try_from(end)) else {
        return Err("offset out of range".to_string());
    };
    let Some(bytes) = text.get(start..stop.min(text.len())) else {
        return Err("outside .text".to_string());
    };
    if bytes.is_empty() {
        return Err("control reaches the function's end".to_string());
    }
    let mut decoder = Decoder::with_ip(64, bytes, offset, DecoderOptions::NONE);
    let instruction = decoder.decode();
    if instruction.is_invalid() {
        let shown: Vec<String> = bytes.iter().take(8).map(|b| format!("{b:02x}")).collect();
        return Err(format!(
            "bytes {} do not decode ({:?})",
            shown.join(" "),
            decoder.last_error()
        ));
    }
    Ok(instruction)
}

/// The instructions of one function decoded so far, each with what
/// `iced-x86`'s instruction info says of it, worked out once when it is
/// first decoded: the fixed point walks most blocks more than once, and
/// the info costs as much as the decode. Operand lists are kept in two
/// shared vectors rather than two small vectors per instruction, which
/// would cost two allocations each.
pub struct Decoded {
    insns: Vec<Entry>,
    memory: Vec<UsedMemory>,
    written: Vec<Register>,
    info: InstructionInfoFactory,
}

/// One instruction; its operand lists end where these say and start where
/// the previous instruction's end.
struct Entry {
    insn: Instruction,
    memory_end: usize,
    written_end: usize,
}

/// One decoded instruction and its operand lists.
pub struct Operands<'a> {
    /// The instruction.
    pub insn: &'a Instruction,
    /// Every memory operand, explicit or implicit, as `iced-x86` lists
    /// them.
    pub memory: &'a [UsedMemory],
    /// The registers it writes (or may write), in `iced-x86`'s order.
    pub written: &'a [Register],
    /// Whether the analysis steps it for the first time (set by the
    /// walk, which knows).
    pub first: bool,
}

impl Decoded {
    /// None yet.
    pub fn new() -> Decoded {
        Decoded {
            insns: Vec::new(),
            memory: Vec::new(),
            written: Vec::new(),
            info: InstructionInfoFactory::new(),
        }
    }

    /// Adds `insn`; returns its index.
    pub fn push(&mut self, insn: Instruction) -> usize {
        let used = self.info.info(&insn);
        self.memory.extend_from_slice(used.used_memory());
        self.written.extend(
            used.used_registers()
                .iter()
                .filter(|u| {
                    matches!(
                        u.access(),
                        OpAccess::Write
                            | OpAccess::CondWrite
                            | OpAccess::ReadWrite
                            | OpAccess::ReadCondWrite
                    )
                })
                .map(|u| u.register()),
        );
        self.insns.push(Entry {
            insn,
            memory_end: self.memory.len(),
            written_end: self.written.len(),
        });
        self.insns.len() - 1
    }

    /// How many there are.
    pub fn len(&self) -> usize {
        self.insns.len()
    }

    /// The instruction at `index`, with its operand lists.
    pub fn get(&self, index: usize) -> Operands<'_> {
        let (memory_start, written_start) = match index.checked_sub(1) {
            Some(previous) => (
                self.insns[previous].memory_end,
                self.insns[previous].written_end,
            ),
            None => (0, 0),
        };
        let entry = &self.insns[index];
        Operands {
            insn: &entry.insn,
            memory: &self.memory[memory_start..entry.memory_end],
            written: &self.written[written_start..entry.written_end],
            first: false,
        }
    }

    /// Every instruction, in the order decoded.
    pub fn iter(&self) -> impl Iterator<Item = &Instruction> {
        self.insns.iter().map(|e| &e.insn)
    }
}
