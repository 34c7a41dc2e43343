//! What an x86_64 instruction does to the flow of decoding: where
//! [`code`](super::code) must stop a linear run (after an unconditional
//! transfer, before the data that may follow it) and which offsets it
//! learns are instruction starts (direct branch targets, jump-table
//! targets).
//!
//! x86_64 is the one target whose code Cranelift interleaves with data a
//! linear decoder cannot step over: its instructions have no fixed length,
//! and Cranelift 0.135's `JmpTableSeq` (`isa/x64/inst/emit.rs`) places the
//! jump table right after the indirect jump that uses it, with the
//! function's constant pool after the last block. The sequence is always
//!
//! ```text
//! leaq  T(%rip), %base          ; T: the table, right after the jmp
//! movslq (%base, %index, 4), %offset
//! addq  %offset, %base
//! jmpq  *%base
//! T:    .long target[0] - T     ; one signed 32-bit word per target,
//!       ...                     ; the default target last
//! ```
//!
//! and the table holds nothing else, so it ends where code resumes: at the
//! lowest target that lies after it, or earlier where an instruction start
//! is already known.

use crate::artifact::disasm::Instruction;
use std::ops::Range;

/// What a linear run does after an instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Flow {
    /// Goes on with the next instruction.
    Next,
    /// Goes on, and `target` also starts an instruction (a conditional
    /// branch).
    Branch(u64),
    /// Stops: nothing says the next byte is code (a return, a trap, an
    /// indirect jump).
    Stop,
    /// Stops, and `target` starts an instruction (an unconditional jump).
    Jump(u64),
    /// Stops before a jump table that starts at `table`.
    JumpTable(u64),
}

/// The flow after `insn`, the last of `run` (the instructions of the
/// current linear run, in order).
pub fn x86_64(run: &[Instruction], insn: &Instruction) -> Flow {
    let direct = parse_hex(&insn.operands);
    match insn.mnemonic.as_str() {
        "jmp" | "jmpq" => match direct {
            Some(target) => Flow::Jump(target),
            None => jump_table(run, insn).map_or(Flow::Stop, Flow::JumpTable),
        },
        "ret" | "retq" | "ud2" => Flow::Stop,
        m if m.starts_with('j') => direct.map_or(Flow::Next, Flow::Branch),
        _ => Flow::Next,
    }
}

/// The table's offset when `jmp`, the last of `run`, ends Cranelift's
/// jump-table sequence whose `leaq` points right after the `jmp`.
fn jump_table(run: &[Instruction], jmp: &Instruction) -> Option<u64> {
    if !jmp.operands.starts_with("*%") {
        return None;
    }
    let [.., lea, load, add, last] = run else {
        return None;
    };
    if last != jmp || lea.mnemonic != "leaq" || load.mnemonic != "movslq" || add.mnemonic != "addq"
    {
        return None;
    }
    let displacement = lea.operands.split_once("(%rip)")?.0;
    let (negative, magnitude) = match displacement.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, displacement),
    };
    let magnitude = parse_hex(magnitude).or_else(|| magnitude.parse().ok())?;
    let after_lea = lea.offset.checked_add(u64::from(lea.len))?;
    let table = if negative {
        after_lea.checked_sub(magnitude)?
    } else {
        after_lea.checked_add(magnitude)?
    };
    (table == jmp.offset.checked_add(u64::from(jmp.len))?).then_some(table)
}

/// `0x…` as a number.
fn parse_hex(text: &str) -> Option<u64> {
    u64::from_str_radix(text.strip_prefix("0x")?, 16).ok()
}

/// A jump table read from `code` (the function's bytes, the first at
/// offset `start`): its extent and its targets.
pub struct JumpTable {
    /// The bytes it covers.
    pub range: Range<u64>,
    /// Where each entry jumps, in order.
    pub targets: Vec<u64>,
}

/// Reads the table at `table`: 32-bit little-endian offsets from the
/// table's start, each to a target inside the function and outside the
/// table, up to the lowest such target after the table, `known_end` (the
/// next instruction start already known), or the function's end.
pub fn read_jump_table(code: &[u8], start: u64, table: u64, known_end: u64) -> JumpTable {
    let function_end = start.saturating_add(code.len() as u64);
    let mut end = known_end.min(function_end);
    let mut targets = Vec::new();
    let mut at = table;
    while at < end && end - at >= 4 {
        let Some(word) = usize::try_from(at - start)
            .ok()
            .and_then(|i| code.get(i..)?.get(..4))
        else {
            break;
        };
        let relative = i32::from_le_bytes([word[0], word[1], word[2], word[3]]);
        let Some(target) = table.checked_add_signed(i64::from(relative)) else {
            break;
        };
        let inside_table = (table..at + 4).contains(&target);
        if target < start || target >= function_end || inside_table {
            break;
        }
        if target > at {
            end = end.min(target);
        }
        targets.push(target);
        at += 4;
    }
    JumpTable {
        range: table..at,
        targets,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn insn(offset: u64, len: u32, mnemonic: &str, operands: &str) -> Instruction {
        Instruction {
            offset,
            len,
            mnemonic: mnemonic.into(),
            operands: operands.into(),
        }
    }

    #[test]
    fn recognises_cranelifts_jump_table_sequence() {
        let run = [
            insn(0x4e2, 7, "leaq", "9(%rip), %rdx"),
            insn(0x4e9, 4, "movslq", "(%rdx, %r9, 4), %rax"),
            insn(0x4ed, 3, "addq", "%rax, %rdx"),
            insn(0x4f0, 2, "jmpq", "*%rdx"),
        ];
        assert_eq!(x86_64(&run, &run[3]), Flow::JumpTable(0x4f2));
        // The lea pointing elsewhere: an indirect jump of unknown purpose.
        let mut other = run.clone();
        other[0].operands = "0x10(%rip), %rdx".into();
        assert_eq!(x86_64(&other, &other[3]), Flow::Stop);
        assert_eq!(x86_64(&run[..1], &run[0]), Flow::Next);
    }

    #[test]
    fn branches_and_stops() {
        let none: [Instruction; 0] = [];
        let jne = insn(0, 2, "jne", "0x40");
        let jmp = insn(0, 2, "jmp", "0x40");
        let ret = insn(0, 1, "retq", "");
        assert_eq!(x86_64(&none, &jne), Flow::Branch(0x40));
        assert_eq!(x86_64(&none, &jmp), Flow::Jump(0x40));
        assert_eq!(x86_64(&none, &ret), Flow::Stop);
        assert_eq!(x86_64(&none, &insn(0, 5, "callq", "0x900")), Flow::Next);
    }

    #[test]
    fn a_table_ends_at_its_lowest_target_after_it() {
        // Function at 0x100; table at 0x108 with three entries, the lowest
        // target after it at 0x114; the bytes from there are code.
        let mut code = vec![0x90u8; 8];
        for target in [0x120u32, 0x114, 0x100] {
            code.extend_from_slice(&(target as i32 - 0x108).to_le_bytes());
        }
        code.extend_from_slice(&[0xc3; 16]);
        let table = read_jump_table(&code, 0x100, 0x108, u64::MAX);
        assert_eq!(table.range, 0x108..0x114);
        assert_eq!(table.targets, [0x120, 0x114, 0x100]);
        // A word pointing outside the function ends it early.
        code[8..12].copy_from_slice(&0x7000_0000i32.to_le_bytes());
        let table = read_jump_table(&code, 0x100, 0x108, u64::MAX);
        assert_eq!(table.range, 0x108..0x108);
        assert!(table.targets.is_empty());
    }
}
