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

/// Decodes the instructions of one function with one decoder, moved to
/// each offset asked for: making a decoder costs about as much as
/// decoding an instruction with it (sqlite3: 95 of the 235 million
/// instructions spent decoding went to making 425,000 of them).
///
/// It gives what [`at`] gives for the same offset and end: the decoder
/// reads the same bytes, up to the function's end, with the instruction
/// pointer set to the offset. Offsets outside the function go to [`at`]
/// itself, with its errors.
pub struct Reader<'a> {
    text: &'a [u8],
    start: u64,
    end: u64,
    /// Over the function's bytes, when the function lies within `.text`.
    decoder: Option<Decoder<'a>>,
}

impl<'a> Reader<'a> {
    /// A reader of the function at `start..end` of `text`.
    pub fn new(text: &'a [u8], start: u64, end: u64) -> Reader<'a> {
        let bytes = usize::try_from(start)
            .ok()
            .zip(usize::try_from(end).ok())
            .and_then(|(start, end)| text.get(start..end.min(text.len())))
            .filter(|bytes| !bytes.is_empty());
        Reader {
            text,
            start,
            end,
            decoder: bytes.map(|bytes| Decoder::with_ip(64, bytes, start, DecoderOptions::NONE)),
        }
    }

    /// What [`at`] gives for `offset` and the function's end.
    ///
    /// # Errors
    ///
    /// As [`at`].
    pub fn at(&mut self, offset: u64) -> Result<Instruction, String> {
        let position = offset
            .checked_sub(self.start)
            .and_then(|p| usize::try_from(p).ok());
        let Some((decoder, position)) = self.decoder.as_mut().zip(position) else {
            return at(self.text, offset, self.end);
        };
        if position >= decoder.max_position() || decoder.set_position(position).is_err() {
            return at(self.text, offset, self.end);
        }
        decoder.set_ip(offset);
        let instruction = decoder.decode();
        if instruction.is_invalid() {
            // The message, from the same bytes.
            return at(self.text, offset, self.end);
        }
        Ok(instruction)
    }
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

#[cfg(test)]
mod tests {
    use super::{Reader, at};

    #[test]
    fn the_reader_decodes_as_a_fresh_decoder_does() {
        // Real instructions (push rbp; mov rbp, rsp; mov eax, [rdi+0x10];
        // a jmp rel32), an undecodable byte, and a mov cut short by the
        // function's end.
        let text = [
            0x90, 0x90, 0x55, 0x48, 0x89, 0xe5, 0x8b, 0x47, 0x10, 0xe9, 0x00, 0x01, 0x00, 0x00,
            0x0f, 0x0b, 0xff, 0xff, 0x48, 0x8b, 0x87, 0x00, 0x10, 0x00, 0x00, 0xc3,
        ];
        for (start, end) in [(2, 22), (0, text.len() as u64), (2, 100), (30, 40), (5, 5)] {
            let mut reader = Reader::new(&text, start, end);
            // Every offset, in and out of the function, in an order that
            // moves the decoder back and forth.
            let offsets = (0..text.len() as u64 + 3)
                .rev()
                .chain(0..text.len() as u64 + 3);
            for offset in offsets {
                let ours = reader.at(offset).map(|i| (i, i.len(), i.next_ip()));
                let fresh = at(&text, offset, end).map(|i| (i, i.len(), i.next_ip()));
                assert_eq!(ours, fresh, "offset {offset} of {start}..{end}");
            }
        }
    }
}
