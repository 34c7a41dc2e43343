//! Machine-code disassembly for every Kiln target.
//!
//! `kiln inspect --disasm` shows an artifact's code, and `kiln inspect
//! --check` checks that trap sites and stack-map PCs fall on instruction
//! boundaries. Both need the same thing from this module: the exact
//! instructions of a run of code, decoded linearly from its first byte.
//! [`disassemble`] gives them for one [`Arch`]; it never panics, whatever
//! the bytes, and it stops with [`DisasmError::Undecodable`] at the first
//! byte that does not decode, naming the offset and keeping everything
//! that decoded before it, rather than skipping ahead and guessing where
//! the next instruction starts (Capstone's "skip data" mode, which
//! `wasmtime objdump` turns on, is off here). An error, not an
//! undecodable-instruction marker, because nothing after that byte has a
//! known boundary.
//!
//! # Backends
//!
//! - x86_64, aarch64, riscv64, s390x: [Capstone](https://www.capstone-engine.org/)
//!   (the `capstone` crate, bundling Capstone 5.0), the decoder Wasmtime's
//!   own `wasmtime objdump` uses, in the same modes: x86_64 in 64-bit mode
//!   with AT&T syntax (as Wasmtime and Cranelift print x86), AArch64 in
//!   A64, riscv64 as RV64GC (the `C` extra mode is always on: whether a
//!   RISC-V instruction is 16 or 32 bits long is written in its low bits,
//!   so code without compressed instructions decodes the same), s390x in
//!   z/Architecture mode.
//! - pulley32, pulley64: Pulley bytecode has no Capstone decoder, so Pulley's
//!   own disassembler (`pulley-interpreter`'s `disas`, pinned to the
//!   Wasmtime version that writes the bytecode), one instruction at a time.
//!   `br_table32` is one instruction together with its table of 32-bit
//!   offsets; its operands list the absolute targets.
//!
//! # Instructions Capstone 5 has no tables for
//!
//! Capstone 5 knows RV64GC but none of the RISC-V extensions Cranelift
//! emits beyond it when they are enabled (V with `rv64gcv`; Zba, Zbb, Zbs,
//! Zicond, Zfa with `rva23u64`; Zcb's 16-bit forms with `has_zcb`), and
//! s390x up to z14 (Cranelift's minimum) but not the z15 and z17
//! additions (`--baseline z15`/`z17`). Both ISAs encode an instruction's
//! length in its first bits, so such an instruction's boundaries are still
//! exact: when Capstone fails on
//!
//! - riscv64: a 32-bit instruction in one of the major opcodes those
//!   extensions live in (OP-V, LOAD-FP, STORE-FP, OP, OP-IMM, OP-32,
//!   OP-IMM-32, OP-FP), or a 16-bit one in Zcb's space (quadrant 0 funct3
//!   `100`, quadrant 1 funct6 `100111`);
//! - s390x: an instruction whose first byte opens a family the newer
//!   facilities extend (`b9`, `e3`, `e6`, `e7`, `eb`, `ec`), or first byte
//!   `00`, the opcode never assigned, which is Cranelift's trap (`00 00`)
//!   and debug trap (`00 01`);
//!
//! it is reported with the mnemonic [`RAW_MNEMONIC`] (`.insn`) and the
//! instruction in hex as its operands (RISC-V: the little-endian word;
//! s390x: the bytes in order), and decoding goes on after it. Anything else
//! Capstone cannot decode is an error.
//!
//! # Whole text sections
//!
//! Disassemble an artifact's `.text` function by function, not as one run:
//! Wasmtime aligns each function's start and fills the gap before it with
//! zero bytes (Cranelift's `MachTextSectionBuilder`), which would be
//! decoded as bogus instructions (or fail) between functions. Wasmtime
//! writes an ELF symbol for every function it puts in `.text` (Wasm
//! functions, trampolines; value: offset in the section, size: the
//! function's length), so take the ranges from the symbol table and pass
//! each range with its address; what lies between them is that zero
//! padding. (The tests check, for every target, that the symbols tile
//! `.text` up to zero padding and that each function decodes to exactly
//! its size.)
//!
//! Cranelift can also put data inside a function's range:
//!
//! - x86_64 and riscv64 put float and vector literals in a pool after the
//!   function's last instruction. Decoding runs into it and either
//!   decodes a few bogus instructions from its bytes or fails: the result
//!   is [`DisasmError::Undecodable`], whose `decoded` holds every
//!   instruction before (real code, then possibly some bogus ones).
//! - aarch64's inline literals and jump tables are whole 32-bit words:
//!   most decode as something (often `udf`), so the boundaries after them
//!   stay exact, but some do not decode at all.
//! - s390x's jump tables and inline literals (32-bit words of small
//!   numbers) mostly decode as `00xx` `.insn` pairs; some do not decode.
//!
//! Where decoding stops on data, `kiln inspect` starts again from offsets
//! the artifact's tables say are instructions (`inspect/code.rs`).
//!
//! A caller that checks positions against instruction boundaries should
//! know that Cranelift records an s390x trap site at the *last byte* of
//! the trapping instruction (`put_with_trap` in its s390x emitter): for
//! a trap, one byte into `00 00`; for a conditional trap, three bytes into
//! a `brcl` whose middle two bytes are that `00 00`; for compare-and-trap
//! (`clgrtle`…), its last byte.

use serde::Serialize;
use std::cell::RefCell;
use std::fmt;

/// The mnemonic of an instruction whose length the ISA's encoding gives
/// but that Capstone has no tables for (see the module docs); its operands
/// are the instruction word in hex.
pub const RAW_MNEMONIC: &str = ".insn";

/// How many bytes at a failing offset an error shows.
const ERROR_BYTES: usize = 16;

/// A target's instruction set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Arch {
    /// x86_64 (`x86_64-unknown-linux-gnu`).
    X86_64,
    /// AArch64 (`aarch64-unknown-linux-gnu`).
    Aarch64,
    /// RV64GC and the extensions Cranelift can emit (`riscv64gc-unknown-linux-gnu`).
    Riscv64,
    /// z/Architecture (`s390x-unknown-linux-gnu`).
    S390x,
    /// Pulley bytecode, 32-bit pointers (`pulley32`).
    Pulley32,
    /// Pulley bytecode, 64-bit pointers (`pulley64`).
    Pulley64,
}

impl Arch {
    /// The instruction set of one of Kiln's target triples; `None` for any
    /// other string.
    pub fn from_triple(triple: &str) -> Option<Arch> {
        match triple {
            "x86_64-unknown-linux-gnu" => Some(Arch::X86_64),
            "aarch64-unknown-linux-gnu" => Some(Arch::Aarch64),
            "riscv64gc-unknown-linux-gnu" => Some(Arch::Riscv64),
            "s390x-unknown-linux-gnu" => Some(Arch::S390x),
            "pulley32" => Some(Arch::Pulley32),
            "pulley64" => Some(Arch::Pulley64),
            _ => None,
        }
    }

    /// A short name, as in messages.
    pub fn name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
            Arch::Riscv64 => "riscv64",
            Arch::S390x => "s390x",
            Arch::Pulley32 => "pulley32",
            Arch::Pulley64 => "pulley64",
        }
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One decoded instruction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Instruction {
    /// Its address: the `address` given to [`disassemble`] plus its
    /// position in the code.
    pub offset: u64,
    /// Its length in bytes.
    pub len: u32,
    /// The mnemonic (`movq`, `ldr`, `br_table32`, or [`RAW_MNEMONIC`]).
    pub mnemonic: String,
    /// The operands as the backend prints them; empty if none.
    pub operands: String,
}

/// Why code could not be disassembled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DisasmError {
    /// The disassembler for `arch` could not be set up.
    Setup {
        /// The instruction set.
        arch: Arch,
        /// What the backend said.
        message: String,
    },
    /// `address` plus the code's length does not fit in 64 bits.
    AddressOverflow {
        /// The address asked for.
        address: u64,
        /// The code's length.
        len: usize,
    },
    /// The bytes at `offset` are no instruction (or one cut off by the
    /// end of the code).
    Undecodable {
        /// The instruction set.
        arch: Arch,
        /// The address of the first byte that does not decode.
        offset: u64,
        /// Up to 16 bytes from there.
        bytes: Vec<u8>,
        /// Why, where the backend says more than "invalid".
        reason: Option<String>,
        /// Everything that decoded before `offset`, in order.
        decoded: Vec<Instruction>,
    },
}

impl fmt::Display for DisasmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DisasmError::Setup { arch, message } => {
                write!(f, "could not set up the {arch} disassembler: {message}")
            }
            DisasmError::AddressOverflow { address, len } => write!(
                f,
                "{len} bytes of code at address {address:#x} would run past the end of the address space"
            ),
            DisasmError::Undecodable {
                arch,
                offset,
                bytes,
                reason,
                ..
            } => {
                write!(f, "no {arch} instruction decodes at {offset:#x}")?;
                if bytes.is_empty() {
                    write!(f, " (no bytes left)")?;
                } else {
                    write!(f, " (bytes")?;
                    for byte in bytes {
                        write!(f, " {byte:02x}")?;
                    }
                    write!(f, ")")?;
                }
                if let Some(reason) = reason {
                    write!(f, ": {reason}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for DisasmError {}

/// Disassembles `code`, which starts at `address`, linearly from its first
/// byte to its last.
///
/// Empty code gives no instructions. Every instruction returned lies
/// inside `code`, and together they cover it without gaps.
///
/// # Errors
///
/// [`DisasmError::Undecodable`] at the first bytes that are no instruction
/// (including an instruction cut off by the end of `code`);
/// [`DisasmError::Setup`] if Capstone cannot open a decoder;
/// [`DisasmError::AddressOverflow`] if `address + code.len()` overflows.
pub fn disassemble(arch: Arch, code: &[u8], address: u64) -> Result<Vec<Instruction>, DisasmError> {
    let fits = u64::try_from(code.len())
        .ok()
        .and_then(|len| address.checked_add(len))
        .is_some();
    if !fits {
        return Err(DisasmError::AddressOverflow {
            address,
            len: code.len(),
        });
    }
    if code.is_empty() {
        return Ok(Vec::new());
    }
    match arch {
        Arch::X86_64 | Arch::Aarch64 | Arch::Riscv64 | Arch::S390x => {
            with_capstone(arch, |cs| disassemble_capstone(cs, arch, code, address))?
        }
        Arch::Pulley32 | Arch::Pulley64 => disassemble_pulley(arch, code, address),
    }
}

/// `address + position`; callers have checked that the end of the code fits.
fn at(address: u64, position: usize) -> u64 {
    address.wrapping_add(position as u64)
}

fn undecodable(
    arch: Arch,
    code: &[u8],
    address: u64,
    position: usize,
    reason: Option<String>,
    decoded: Vec<Instruction>,
) -> DisasmError {
    let rest = code.get(position..).unwrap_or_default();
    DisasmError::Undecodable {
        arch,
        offset: at(address, position),
        bytes: rest[..rest.len().min(ERROR_BYTES)].to_vec(),
        reason,
        decoded,
    }
}

// Capstone: one decoder per instruction set and thread, opened on first use.
thread_local! {
    static DECODERS: RefCell<Vec<(Arch, capstone::Capstone)>> = const { RefCell::new(Vec::new()) };
}

fn open_capstone(arch: Arch) -> Result<capstone::Capstone, capstone::Error> {
    use capstone::Capstone;
    use capstone::arch::{self, BuildsCapstone, BuildsCapstoneExtraMode, BuildsCapstoneSyntax};
    match arch {
        Arch::X86_64 => Capstone::new()
            .x86()
            .mode(arch::x86::ArchMode::Mode64)
            .syntax(arch::x86::ArchSyntax::Att)
            .build(),
        Arch::Aarch64 => Capstone::new()
            .arm64()
            .mode(arch::arm64::ArchMode::Arm)
            .build(),
        Arch::Riscv64 => Capstone::new()
            .riscv()
            .mode(arch::riscv::ArchMode::RiscV64)
            .extra_mode([arch::riscv::ArchExtraMode::RiscVC].into_iter())
            .build(),
        Arch::S390x => Capstone::new()
            .sysz()
            .mode(arch::sysz::ArchMode::Default)
            .build(),
        Arch::Pulley32 | Arch::Pulley64 => Err(capstone::Error::UnsupportedArch),
    }
}

fn with_capstone<T>(
    arch: Arch,
    f: impl FnOnce(&capstone::Capstone) -> T,
) -> Result<T, DisasmError> {
    DECODERS.with(|decoders| {
        let mut decoders = decoders.borrow_mut();
        let index = match decoders.iter().position(|(a, _)| *a == arch) {
            Some(index) => index,
            None => {
                let cs = open_capstone(arch).map_err(|e| DisasmError::Setup {
                    arch,
                    message: e.to_string(),
                })?;
                decoders.push((arch, cs));
                decoders.len() - 1
            }
        };
        Ok(f(&decoders[index].1))
    })
}

fn disassemble_capstone(
    cs: &capstone::Capstone,
    arch: Arch,
    code: &[u8],
    address: u64,
) -> Result<Vec<Instruction>, DisasmError> {
    let mut out = Vec::new();
    let mut position = 0;
    while position < code.len() {
        // Capstone decodes until the end or the first invalid instruction.
        let insns = match cs.disasm_all(&code[position..], at(address, position)) {
            Ok(insns) => insns,
            Err(e) => {
                return Err(undecodable(
                    arch,
                    code,
                    address,
                    position,
                    Some(e.to_string()),
                    out,
                ));
            }
        };
        for insn in insns.iter() {
            let len = insn.len();
            // Capstone returns consecutive instructions; check rather than trust.
            if insn.address() != at(address, position) || len == 0 || len > code.len() - position {
                return Err(undecodable(
                    arch,
                    code,
                    address,
                    position,
                    Some("the decoder lost its place".to_string()),
                    out,
                ));
            }
            out.push(Instruction {
                offset: insn.address(),
                len: len as u32,
                mnemonic: insn.mnemonic().unwrap_or_default().to_string(),
                operands: insn.op_str().unwrap_or_default().to_string(),
            });
            position += len;
        }
        if position < code.len() {
            match raw_instruction(arch, &code[position..]) {
                Some((len, word)) => {
                    out.push(Instruction {
                        offset: at(address, position),
                        len: len as u32,
                        mnemonic: RAW_MNEMONIC.to_string(),
                        operands: word,
                    });
                    position += len;
                }
                None => return Err(undecodable(arch, code, address, position, None, out)),
            }
        }
    }
    Ok(out)
}

/// An instruction Capstone could not decode at the start of `rest` whose
/// length the ISA's encoding gives and that lies in an opcode space of an
/// extension Capstone 5 lacks (module docs): its length and its word in hex.
fn raw_instruction(arch: Arch, rest: &[u8]) -> Option<(usize, String)> {
    match arch {
        Arch::Riscv64 => {
            let half = u16::from_le_bytes(rest.get(..2)?.try_into().ok()?);
            if half & 0b11 != 0b11 {
                // Zcb's 16-bit forms: quadrant 0 with funct3 100 (c.lbu,
                // c.lhu, c.lh, c.sb, c.sh), quadrant 1 with funct6 100111
                // (c.zext.*, c.sext.*, c.not, c.mul).
                let zcb = (half & 0b11 == 0b00 && half >> 13 == 0b100)
                    || (half & 0b11 == 0b01 && half >> 10 == 0b100111);
                return zcb.then(|| (2, format!("{half:#06x}")));
            }
            let word = u32::from_le_bytes(rest.get(..4)?.try_into().ok()?);
            // A 32-bit instruction: low bits 11, and bits 4..2 not 111.
            if word & 0b11100 == 0b11100 {
                return None;
            }
            // OP-V, LOAD-FP, STORE-FP, OP, OP-IMM, OP-32, OP-IMM-32, OP-FP.
            let extended = matches!(
                word & 0x7f,
                0x57 | 0x07 | 0x27 | 0x33 | 0x13 | 0x3b | 0x1b | 0x53
            );
            extended.then(|| (4, format!("{word:#010x}")))
        }
        Arch::S390x => {
            let first = *rest.first()?;
            // The two top bits of the first byte give the length.
            let len = match first >> 6 {
                0 => 2,
                1 | 2 => 4,
                _ => 6,
            };
            let bytes = rest.get(..len)?;
            // 00: the opcode never assigned, Cranelift's trap (`00 00`) and
            // debug trap (`00 01`); the others: families z15 and z17 extend.
            if !matches!(first, 0x00 | 0xb9 | 0xe3 | 0xe6 | 0xe7 | 0xeb | 0xec) {
                return None;
            }
            let mut word = String::from("0x");
            for byte in bytes {
                word.push_str(&format!("{byte:02x}"));
            }
            Some((len, word))
        }
        _ => None,
    }
}

fn disassemble_pulley(
    arch: Arch,
    code: &[u8],
    address: u64,
) -> Result<Vec<Instruction>, DisasmError> {
    use pulley_interpreter::decode::{Decoder, DecodingError, OpVisitor};
    use pulley_interpreter::disas::Disassembler;
    use pulley_interpreter::opcode::Opcode;

    let Ok(start) = usize::try_from(address) else {
        return Err(DisasmError::AddressOverflow {
            address,
            len: code.len(),
        });
    };
    if start.checked_add(code.len()).is_none() {
        return Err(DisasmError::AddressOverflow {
            address,
            len: code.len(),
        });
    }
    let mut disas = Disassembler::new(code);
    disas
        .offsets(false)
        .hexdump(false)
        .br_tables(false)
        .start_offset(start);
    let mut decoder = Decoder::new();
    let mut out = Vec::new();
    let mut text_len = 0;
    loop {
        let position = disas.bytecode().position();
        if position >= code.len() {
            break;
        }
        // `br_table32 idx, amt` is followed by `amt` 32-bit offsets, and the
        // disassembler visits each before it could notice that the code
        // ends: check first, so garbage cannot make it loop 2^32 times.
        let mut table = None;
        if code[position] == Opcode::BrTable32 as u8 {
            let amt = code
                .get(position + 2..position + 6)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize);
            let entries = position + 6;
            match amt {
                Some(amt) if amt <= (code.len() - entries) / 4 => table = Some((entries, amt)),
                _ => {
                    return Err(undecodable(
                        arch,
                        code,
                        address,
                        position,
                        Some("br_table32 runs past the end of the code".to_string()),
                        out,
                    ));
                }
            }
        }
        if let Err(e) = decoder.decode_one(&mut disas) {
            let reason = match e {
                DecodingError::UnexpectedEof { .. } => {
                    "the instruction runs past the end of the code".to_string()
                }
                DecodingError::InvalidOpcode { code, .. } => format!("no opcode {code:#04x}"),
                DecodingError::InvalidExtendedOpcode { code, .. } => {
                    format!("no extended opcode {code:#06x}")
                }
                DecodingError::InvalidReg { reg, .. } => format!("no register {reg}"),
            };
            return Err(undecodable(
                arch,
                code,
                address,
                position,
                Some(reason),
                out,
            ));
        }
        let end = disas.bytecode().position();
        let text = disas.disas().get(text_len..).unwrap_or_default();
        text_len = disas.disas().len();
        // The first line is the instruction; with `br_tables(false)` a
        // table only adds empty lines.
        let line = text.lines().next().unwrap_or_default().trim();
        let (mnemonic, operands) = line.split_once(' ').unwrap_or((line, ""));
        let mut operands = operands.trim().to_string();
        if let Some((entries, amt)) = table {
            operands.push_str(", [");
            for i in 0..amt {
                let entry = entries + 4 * i;
                let rel = i32::from_le_bytes([
                    code[entry],
                    code[entry + 1],
                    code[entry + 2],
                    code[entry + 3],
                ]);
                let target = at(address, entry).wrapping_add(i64::from(rel) as u64);
                if i > 0 {
                    operands.push_str(", ");
                }
                operands.push_str(&format!("{target:#x}"));
            }
            operands.push(']');
        }
        if end <= position || end > code.len() {
            return Err(undecodable(
                arch,
                code,
                address,
                position,
                Some("the decoder lost its place".to_string()),
                out,
            ));
        }
        out.push(Instruction {
            offset: at(address, position),
            len: (end - position) as u32,
            mnemonic: mnemonic.to_string(),
            operands,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_settings::Options;
    use object::{Object, ObjectSection, ObjectSymbol, SymbolKind};

    /// Every target Kiln compiles for.
    const TRIPLES: &[&str] = kiln_settings::TARGETS;

    /// Scalar code only: arithmetic, a loop, a call, a heap access (a trap
    /// site), a global; no `br_table` or float literals, which put data
    /// inside functions on some targets.
    const SCALAR: &str = r#"
        (module
          (memory 1)
          (global $g (mut i32) (i32.const 0))
          (func $add (export "add") (param i32 i32) (result i32)
            local.get 0
            local.get 1
            i32.add)
          (func (export "load") (param i32) (result i32)
            local.get 0
            i32.load offset=8)
          (func (export "fact") (param i64) (result i64)
            (local i64)
            i64.const 1
            local.set 1
            (block
              (loop
                local.get 0
                i64.eqz
                br_if 1
                local.get 1
                local.get 0
                i64.mul
                local.set 1
                local.get 0
                i64.const 1
                i64.sub
                local.set 0
                br 0))
            local.get 1)
          (func (export "call") (param i32) (result i32)
            local.get 0
            global.get $g
            call $add
            global.set $g
            global.get $g))
    "#;

    /// The functions of an artifact's `.text`: (offset in the section,
    /// address, bytes, name), from Wasmtime's symbols, in address order.
    struct Text {
        size: u64,
        bytes: Vec<u8>,
        functions: Vec<(u64, String, u64)>,
    }

    fn text_of(artifact: &[u8]) -> Text {
        let file = object::File::parse(artifact).unwrap();
        let text = file.section_by_name(".text").expect("a .text section");
        let bytes = text.data().unwrap().to_vec();
        let mut functions: Vec<(u64, String, u64)> = file
            .symbols()
            .filter(|s| s.kind() == SymbolKind::Text && s.section_index() == Some(text.index()))
            .map(|s| {
                (
                    s.address() - text.address(),
                    s.name().unwrap().to_string(),
                    s.size(),
                )
            })
            .collect();
        functions.sort();
        Text {
            size: text.size(),
            bytes,
            functions,
        }
    }

    fn compile(wat: &str, triple: &str, cpu_features: &[&str]) -> Vec<u8> {
        let options = Options {
            cpu_features: cpu_features.iter().map(|s| s.to_string()).collect(),
            ..Options::for_target(triple)
        };
        kiln_guest::compile(wat.as_bytes(), &options)
            .unwrap_or_else(|e| panic!("{triple}: {e}"))
            .bytes
    }

    /// Disassembles every function of `artifact` (by its symbol), checking
    /// that only zero padding lies between and after them and that each
    /// result tiles its function exactly; returns (name, result) per
    /// function.
    fn disassemble_functions(
        arch: Arch,
        artifact: &[u8],
    ) -> Vec<(String, Result<Vec<Instruction>, DisasmError>)> {
        let text = text_of(artifact);
        assert_eq!(text.bytes.len() as u64, text.size);
        assert!(!text.functions.is_empty(), "{arch}: no function symbols");
        let mut results = Vec::new();
        let mut end = 0;
        for (start, name, size) in &text.functions {
            assert!(*start >= end, "{arch}: {name} overlaps the one before");
            let gap = &text.bytes[end as usize..*start as usize];
            assert!(
                gap.iter().all(|b| *b == 0),
                "{arch}: non-zero bytes before {name}: {gap:02x?}"
            );
            let code = &text.bytes[*start as usize..(start + size) as usize];
            check_result(arch, code, *start);
            results.push((name.clone(), disassemble(arch, code, *start)));
            end = start + size;
        }
        let tail = &text.bytes[end as usize..];
        assert!(tail.iter().all(|b| *b == 0), "{arch}: non-zero tail");
        results
    }

    /// The return instruction as each backend prints it.
    fn is_return(arch: Arch, inst: &Instruction) -> bool {
        match arch {
            Arch::X86_64 => inst.mnemonic == "retq",
            Arch::S390x => inst.mnemonic == "br" && inst.operands == "%r14",
            Arch::Riscv64 => {
                inst.mnemonic == "ret" || (inst.mnemonic == "c.jr" && inst.operands == "ra")
            }
            _ => inst.mnemonic == "ret",
        }
    }

    #[test]
    fn triples() {
        let arches: Vec<Arch> = TRIPLES
            .iter()
            .map(|t| Arch::from_triple(t).unwrap())
            .collect();
        assert_eq!(
            arches,
            [
                Arch::X86_64,
                Arch::Aarch64,
                Arch::Riscv64,
                Arch::S390x,
                Arch::Pulley32,
                Arch::Pulley64
            ]
        );
        assert_eq!(Arch::from_triple("riscv64"), None);
        assert_eq!(Arch::from_triple(""), None);
    }

    #[test]
    fn every_target_disassembles_its_functions_exactly() {
        for triple in TRIPLES {
            let arch = Arch::from_triple(triple).unwrap();
            let artifact = compile(SCALAR, triple, &[]);
            let mut all = Vec::new();
            for (name, result) in disassemble_functions(arch, &artifact) {
                let insts = result.unwrap_or_else(|e| panic!("{triple}: {name}: {e}"));
                assert!(
                    insts.iter().any(|i| is_return(arch, i)) || name.contains("wasm_to_array"),
                    "{triple}: {name} has no return: {insts:?}"
                );
                all.extend(insts);
            }
            assert!(all.iter().all(|i| !i.mnemonic.is_empty()), "{triple}");
            match arch {
                // A wasm_to_array trampoline ends in Cranelift's trap, `00 00`.
                Arch::S390x => assert!(
                    all.iter()
                        .any(|i| i.mnemonic == RAW_MNEMONIC && i.operands == "0x0000")
                ),
                // A capstone-decodable baseline needs no raw words.
                _ => assert!(all.iter().all(|i| i.mnemonic != RAW_MNEMONIC), "{triple}"),
            }
            if matches!(arch, Arch::Pulley32 | Arch::Pulley64) {
                assert!(all.iter().any(|i| i.mnemonic == "push_frame"), "{triple}");
            }
        }
    }

    #[test]
    fn cut_off_instruction_is_an_error_at_its_start() {
        for triple in TRIPLES {
            let arch = Arch::from_triple(triple).unwrap();
            let artifact = compile(SCALAR, triple, &[]);
            let text = text_of(&artifact);
            let (start, _, size) = text.functions[1].clone();
            let code = &text.bytes[start as usize..(start + size) as usize];
            let insts = disassemble(arch, code, start).unwrap();
            let cut = insts.iter().position(|i| i.len >= 2).unwrap();
            let inst = &insts[cut];
            let end = (inst.offset - start) as usize + inst.len as usize - 1;
            match disassemble(arch, &code[..end], start) {
                Err(DisasmError::Undecodable {
                    offset, decoded, ..
                }) => {
                    assert_eq!(offset, inst.offset, "{triple}");
                    assert_eq!(decoded, insts[..cut], "{triple}");
                }
                other => panic!("{triple}: {other:?}"),
            }
        }
    }

    /// Everything scalar and vector Cranelift lowers differently per
    /// extension: bit manipulation, selects, float min/max and literals,
    /// SIMD, and a `br_table` (a jump table).
    const EXTENDED: &str = r#"
        (module
          (memory 1)
          (func (export "bits") (param i64 i64) (result i64)
            local.get 0 i64.clz
            local.get 1 i64.ctz
            i64.add
            local.get 0 i64.popcnt
            i64.add
            local.get 1 i64.const 13 i64.rotl
            i64.xor
            local.get 0 local.get 1 i64.const -1 i64.xor i64.and
            i64.or)
          (func (export "index") (param i32 i32) (result i32)
            local.get 0 i32.const 2 i32.shl local.get 1 i32.add
            i32.load)
          (func (export "pick") (param i32 i64 i64) (result i64)
            local.get 1 local.get 2 local.get 0 select)
          (func (export "fmin") (param f64 f64) (result f64)
            local.get 0 local.get 1 f64.min
            f64.const 1.5 f64.mul)
          (func (export "vec") (param i32) (result i32)
            local.get 0 v128.load
            v128.const i32x4 1 2 3 4
            i32x4.add
            local.get 0 v128.load offset=16
            f32x4.mul
            i8x16.popcnt
            local.get 0 i64.extend_i32_u i64x2.splat
            v128.xor
            i32x4.extract_lane 2)
          (func (export "table") (param i32) (result i32)
            (block (block (block (block
              local.get 0
              br_table 0 1 2 3)
              i32.const 10 return)
              i32.const 20 return)
              i32.const 30 return)
            i32.const 40))
    "#;

    /// What the extensions' code gives: Capstone 5 lacks RISC-V's V, Zb*, Zcb,
    /// Zicond and Zfa and s390x's z15/z17 additions (raw `.insn` words);
    /// x86_64 and riscv64 keep float and vector literals after the
    /// function's last instruction, where decoding stops with an error.
    #[test]
    fn extensions_and_literal_pools() {
        let cases: [(&str, &[&str]); 12] = [
            ("x86_64-unknown-linux-gnu", &[]),
            ("x86_64-unknown-linux-gnu", &["x86-64-v4"]),
            ("aarch64-unknown-linux-gnu", &[]),
            ("aarch64-unknown-linux-gnu", &["armv8.4"]),
            ("riscv64gc-unknown-linux-gnu", &[]),
            (
                "riscv64gc-unknown-linux-gnu",
                &["rv64gcv", "has_c", "has_zcb"],
            ),
            ("riscv64gc-unknown-linux-gnu", &["rva23u64"]),
            ("s390x-unknown-linux-gnu", &[]),
            ("s390x-unknown-linux-gnu", &["z15"]),
            ("s390x-unknown-linux-gnu", &["z17"]),
            ("pulley32", &[]),
            ("pulley64", &[]),
        ];
        for (triple, features) in cases {
            let arch = Arch::from_triple(triple).unwrap();
            let wat = if features.is_empty() && arch == Arch::Riscv64 {
                // Without V, Kiln refuses SIMD on riscv64: drop `vec`.
                let cut = EXTENDED.find("(func (export \"vec\")").unwrap();
                let rest = EXTENDED[cut..].find("(func (export \"table\")").unwrap();
                format!("{}{}", &EXTENDED[..cut], &EXTENDED[cut + rest..])
            } else {
                EXTENDED.to_string()
            };
            let artifact = compile(&wat, triple, features);
            let mut raw = 0;
            for (name, result) in disassemble_functions(arch, &artifact) {
                match result {
                    Ok(insts) => {
                        raw += insts.iter().filter(|i| i.mnemonic == RAW_MNEMONIC).count();
                    }
                    Err(DisasmError::Undecodable {
                        offset,
                        decoded,
                        bytes,
                        ..
                    }) => {
                        // Only in a literal pool after the code.
                        assert!(
                            matches!(arch, Arch::X86_64 | Arch::Riscv64),
                            "{triple} {features:?}: {name} at {offset:#x}"
                        );
                        assert!(
                            decoded.iter().any(|i| is_return(arch, i)),
                            "{triple} {features:?}: {name} at {offset:#x}: {bytes:02x?} {decoded:?}"
                        );
                        raw += decoded
                            .iter()
                            .filter(|i| i.mnemonic == RAW_MNEMONIC)
                            .count();
                    }
                    Err(e) => panic!("{triple}: {name}: {e}"),
                }
            }
            let extended = matches!(
                features.first(),
                Some(&"rv64gcv" | &"rva23u64" | &"z15" | &"z17")
            );
            if extended || arch == Arch::S390x {
                assert!(raw > 0, "{triple} {features:?}");
            } else {
                assert_eq!(raw, 0, "{triple} {features:?}");
            }
        }
    }

    const ARCHES: [Arch; 6] = [
        Arch::X86_64,
        Arch::Aarch64,
        Arch::Riscv64,
        Arch::S390x,
        Arch::Pulley32,
        Arch::Pulley64,
    ];

    /// SplitMix64: a small seeded generator, enough for bounded properties.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    /// What any result must satisfy: instructions in order, without gaps,
    /// inside `code`; an error inside `code` after what decoded.
    fn check_result(arch: Arch, code: &[u8], address: u64) {
        let end = address + code.len() as u64;
        let check_tiles = |insts: &[Instruction]| -> u64 {
            let mut at = address;
            for inst in insts {
                assert_eq!(inst.offset, at, "{arch} {code:02x?}");
                assert!(inst.len > 0, "{arch} {code:02x?}");
                at += u64::from(inst.len);
                assert!(at <= end, "{arch}: {inst:?} runs past {code:02x?}");
            }
            at
        };
        match disassemble(arch, code, address) {
            Ok(insts) => assert_eq!(check_tiles(&insts), end, "{arch} {code:02x?}"),
            Err(DisasmError::Undecodable {
                arch: a,
                offset,
                bytes,
                decoded,
                ..
            }) => {
                assert_eq!(a, arch);
                assert_eq!(check_tiles(&decoded), offset, "{arch} {code:02x?}");
                assert!(offset < end, "{arch} {code:02x?}");
                let position = (offset - address) as usize;
                let shown = &code[position..];
                assert_eq!(bytes, shown[..shown.len().min(ERROR_BYTES)]);
            }
            Err(e) => panic!("{arch}: {e}"),
        }
    }

    #[test]
    fn never_panics_on_random_bytes() {
        let mut rng = Rng(0x6b69_6c6e);
        for arch in ARCHES {
            for _ in 0..3000 {
                let len = rng.below(48) as usize;
                let code: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
                let address = rng.below(1 << 20);
                check_result(arch, &code, address);
            }
        }
    }

    #[test]
    fn empty_code_has_no_instructions() {
        for arch in ARCHES {
            assert_eq!(disassemble(arch, &[], 0x1000), Ok(Vec::new()));
        }
    }

    #[test]
    fn garbage_is_an_error_at_its_offset() {
        // Invalid in every one of these instruction sets.
        let cases: [(Arch, &[u8]); 6] = [
            (Arch::X86_64, &[0x90, 0x06]), // nop; push %es (invalid in 64-bit mode)
            (
                Arch::Aarch64,
                &[0xc0, 0x03, 0x5f, 0xd6, 0xff, 0xff, 0xff, 0xff],
            ), // ret; nothing
            (
                Arch::Riscv64,
                &[0x13, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff],
            ), // nop; a 48+-bit form
            (Arch::S390x, &[0x07, 0x07, 0x01, 0x00]), // nopr %r7; opcode 01 with no 01xx
            (Arch::Pulley32, &[0x00, 0xff]), // ret; no such opcode
            (Arch::Pulley64, &[0x00, 0xff]),
        ];
        for (arch, code) in cases {
            let err = disassemble(arch, code, 0x100).unwrap_err();
            let DisasmError::Undecodable {
                offset, decoded, ..
            } = &err
            else {
                panic!("{arch}: {err}")
            };
            assert_eq!(decoded.len(), 1, "{arch}: {decoded:?}");
            assert_eq!(*offset, 0x100 + u64::from(decoded[0].len), "{arch}: {err}");
            let message = err.to_string();
            assert!(message.contains(&format!("{offset:#x}")), "{message}");
            check_result(arch, code, 0x100);
        }
    }

    #[test]
    fn address_overflow_is_an_error() {
        for arch in ARCHES {
            assert!(matches!(
                disassemble(arch, &[0; 4], u64::MAX - 1),
                Err(DisasmError::AddressOverflow { .. })
            ));
        }
    }

    #[test]
    fn huge_br_table_is_an_error_not_a_loop() {
        use pulley_interpreter::opcode::Opcode;
        // br_table32 x0, 0xffffffff with no table after it.
        let code = [Opcode::BrTable32 as u8, 0, 0xff, 0xff, 0xff, 0xff];
        for arch in [Arch::Pulley32, Arch::Pulley64] {
            let err = disassemble(arch, &code, 0).unwrap_err();
            assert!(
                matches!(err, DisasmError::Undecodable { offset: 0, .. }),
                "{err}"
            );
        }
        // br_table32 x0, 2 with its table: one instruction, both targets.
        let code = [
            Opcode::BrTable32 as u8,
            0,
            2,
            0,
            0,
            0,
            8,
            0,
            0,
            0,
            0xfc,
            0xff,
            0xff,
            0xff,
        ];
        let insts = disassemble(Arch::Pulley64, &code, 0x40).unwrap();
        assert_eq!(insts.len(), 1, "{insts:?}");
        assert_eq!(insts[0].mnemonic, "br_table32");
        assert_eq!(insts[0].len, 14);
        assert!(insts[0].operands.ends_with("[0x4e, 0x46]"), "{insts:?}");
    }
}
