//! `kiln inspect`: every table of real artifacts read and checked for
//! every target, and each check shown failing on an artifact damaged to
//! break exactly that check; damaged files give typed errors, never a
//! panic.

use crate::fixture;
use crate::noise::noise;
use host::artifact::inspect::{self, Artifact, CheckInput, Violation, code};
use host::{Options, TARGETS};
use object::{Object, ObjectSection};
use std::ops::Range;
use std::process::Command;

const X86: &str = "x86_64-unknown-linux-gnu";

/// A module with many trap sites and address-map entries (more than one
/// block of each), a call out, and a data segment.
fn many_stores() -> Vec<u8> {
    let stores: String = (0..200)
        .map(|i| {
            format!(
                "(i32.store (i32.const {}) (i32.add (local.get 0) (i32.const {i})))\n",
                i * 4
            )
        })
        .collect();
    wat::parse_str(format!(
        r#"(module
             (import "env" "f" (func $f (param i32)))
             (memory 1)
             (data (i32.const 8) "hello")
             (func $stores (export "stores") (param i32) {stores} (call $f (local.get 0)))
             (func $div (export "div") (param i32) (result i32)
               (i32.div_s (local.get 0) (i32.const 3))))"#
    ))
    .unwrap()
}

/// A module that holds GC references across calls: stack maps.
fn gc_module() -> Vec<u8> {
    wat::parse_str(
        r#"(module
             (import "env" "g" (func $g))
             (func (export "f") (param externref externref) (result externref externref)
               (call $g) (local.get 0) (call $g) (drop) (call $g) (local.get 0) (local.get 1)))"#,
    )
    .unwrap()
}

fn compile(wasm: &[u8], target: &str) -> Vec<u8> {
    kiln_guest::compile(wasm, &Options::for_target(target))
        .unwrap()
        .bytes
}

/// Reads and checks `bytes` in-process, with the disassembler's
/// boundaries.
fn check(bytes: &[u8]) -> Result<(), Violation> {
    check_with(bytes, Vec::new())
}

fn check_with(bytes: &[u8], code_sections: Vec<Range<u64>>) -> Result<(), Violation> {
    let artifact = inspect::read(bytes).expect("the damaged artifact still reads");
    let code = code::decode(&artifact, bytes, &|_| true).unwrap();
    let boundary = |offset| code.is_boundary(offset);
    let trap_site = |offset| code.is_trap_site(offset);
    inspect::check(
        &artifact,
        &CheckInput {
            code_sections,
            instruction_start: Some(&boundary),
            trap_site: Some(&trap_site),
        },
    )
}

fn section(bytes: &[u8], name: &str) -> Range<usize> {
    let file = object::File::parse(bytes).unwrap();
    let (offset, size) = file.section_by_name(name).unwrap().file_range().unwrap();
    offset as usize..(offset + size) as usize
}

fn get_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap())
}

fn put_u32(bytes: &mut [u8], at: usize, value: u32) {
    bytes[at..at + 4].copy_from_slice(&value.to_le_bytes());
}

fn read(bytes: &[u8]) -> Artifact {
    inspect::read(bytes).unwrap()
}

/// `check` fails on `bytes` in `table`, with `words` in its message.
fn assert_violation(bytes: &[u8], table: &str, words: &str) {
    match check(bytes) {
        Err(v) => {
            assert_eq!(v.table, table, "{v}");
            assert!(v.to_string().contains(words), "{v}");
        }
        Ok(()) => panic!("the damage to {table} went unnoticed"),
    }
}

#[test]
fn undamaged_artifacts_pass_on_every_target() {
    for target in TARGETS {
        for (name, wasm) in [
            ("stores", many_stores()),
            ("gc", gc_module()),
            ("adder", fixture("adder.wat")),
        ] {
            let bytes = compile(&wasm, target);
            let artifact = read(&bytes);
            assert!(!artifact.functions.is_empty(), "{name} on {target}");
            assert_eq!(
                artifact.unwind.is_some(),
                !target.starts_with("pulley"),
                "{name} on {target}"
            );
            let sections = if name == "adder" {
                Vec::new()
            } else {
                inspect::check::code_sections(&wasm).unwrap()
            };
            if let Err(v) = check_with(&bytes, sections) {
                panic!("{name} on {target}: {v}");
            }
        }
    }
}

#[test]
fn tables_decode_from_real_artifacts() {
    let bytes = compile(&many_stores(), X86);
    let artifact = read(&bytes);
    assert!(artifact.traps.len() > 200, "{}", artifact.traps.len());
    assert!(artifact.address_map.len() > 128);
    assert!(
        artifact
            .functions
            .iter()
            .any(|f| f.name.as_deref() == Some("stores"))
    );
    assert!(!artifact.exceptions.handlers.is_empty());
    assert!(artifact.data_segment_bytes > 0);
    let gc = read(&compile(&gc_module(), X86));
    assert!(gc.stack_maps.entries.len() >= 2, "{:?}", gc.stack_maps);
    assert!(gc.stack_maps.live_slots(&gc.stack_maps.entries[0]).count() > 0);
}

#[test]
fn check_fails_on_overlapping_functions() {
    let mut bytes = compile(&many_stores(), X86);
    let symtab = section(&bytes, ".symtab");
    // Symbol 1, the first function: its st_size, at byte 16 of 24.
    let at = symtab.start + 24 + 16;
    let size = get_u32(&bytes, at);
    put_u32(&mut bytes, at, size + 0x20);
    assert_violation(&bytes, ".symtab", "overlaps");
}

#[test]
fn check_fails_on_a_shrunken_fde() {
    let mut bytes = compile(&many_stores(), X86);
    let fde = read(&bytes).unwrap_fde_offset();
    // length, CIE pointer, start (pc-relative sdata4), then the range.
    let at = section(&bytes, ".eh_frame").start + fde + 12;
    let range = get_u32(&bytes, at);
    put_u32(&mut bytes, at, range - 1);
    assert_violation(&bytes, ".eh_frame", "covers no function exactly");
}

trait FirstFde {
    fn unwrap_fde_offset(&self) -> usize;
}

impl FirstFde for Artifact {
    fn unwrap_fde_offset(&self) -> usize {
        self.unwind.as_ref().unwrap().fdes[0].offset as usize
    }
}

#[test]
fn check_fails_on_an_uncomputable_cfa() {
    let mut bytes = compile(&many_stores(), X86);
    let eh_frame = section(&bytes, ".eh_frame");
    // The CIE's DW_CFA_def_cfa rsp+8 becomes rbx+8.
    let at = bytes[eh_frame.clone()]
        .windows(3)
        .position(|w| w == [0x0c, 0x07, 0x08])
        .unwrap();
    bytes[eh_frame.start + at + 1] = 3;
    assert_violation(&bytes, ".eh_frame", "not a stack- or frame-pointer");
}

#[test]
fn check_fails_on_a_trap_past_its_function() {
    let mut bytes = compile(&many_stores(), X86);
    let text = read(&bytes).text;
    let traps = section(&bytes, ".wasmtime.traps");
    put_u32(&mut bytes, traps.start + 8, text.size as u32 - 1);
    assert_violation(&bytes, ".wasmtime.traps", "not inside any function");
}

#[test]
fn check_fails_on_unsorted_traps() {
    let mut bytes = compile(&many_stores(), X86);
    let traps = section(&bytes, ".wasmtime.traps");
    // The second block's first offset, before the first block's.
    put_u32(&mut bytes, traps.start + 16, 0);
    assert_violation(&bytes, ".wasmtime.traps", "sorted and unique");
}

#[test]
fn check_fails_on_a_trap_off_an_instruction_boundary() {
    let mut bytes = compile(&many_stores(), X86);
    let traps = section(&bytes, ".wasmtime.traps");
    let first = get_u32(&bytes, traps.start + 8);
    put_u32(&mut bytes, traps.start + 8, first + 1);
    assert_violation(&bytes, ".wasmtime.traps", "instruction boundary");
}

/// A `br_table` (an inline jump table on x86_64) and a vector constant (a
/// constant pool after the last block on x86_64), with loads that trap.
fn switch_module() -> Vec<u8> {
    wat::parse_str(
        r#"(module
             (memory 1)
             (func (export "f") (param i32 i32) (result f64)
               (block $d (block $c (block $b (block $a
                 (br_table $a $b $c $d (local.get 0)))
                 (return (f64.load (local.get 1))))
                 (return (f64x2.extract_lane 1
                   (f64x2.add (v128.load offset=8 (local.get 1)) (v128.const f64x2 1.5 2.5)))))
                 (return (f64.const 2.5)))
               (f64.const 3.5)))"#,
    )
    .unwrap()
}

/// The x86_64 jump table and constant pool of [`switch_module`], and its
/// artifact.
fn switch_data() -> (Vec<u8>, code::Gap, code::Gap) {
    let bytes = compile(&switch_module(), X86);
    let artifact = read(&bytes);
    let code = code::decode(&artifact, &bytes, &|_| true).unwrap();
    let f = &code.functions[0];
    assert_eq!(f.function.symbol, "wasm[0]::function[0]");
    let gap = |table: bool| {
        f.gaps
            .iter()
            .find(|g| matches!(g.kind, code::GapKind::JumpTable(_)) == table)
            .cloned()
            .unwrap()
    };
    let (table, pool) = (gap(true), gap(false));
    assert!(table.range.end < pool.range.start, "{table:?} {pool:?}");
    // Decoding resumed after the table, and neither is code.
    assert!(code.is_boundary(table.range.end));
    for offset in [table.range.start, pool.range.start] {
        assert!(!code.is_boundary(offset) && !code.is_trap_site(offset));
    }
    (bytes, table, pool)
}

/// Moves the first block of trap sites so that the first lies at `at`.
fn move_first_trap(bytes: &mut [u8], at: u64) {
    let first_trap = u64::from(read(bytes).traps[0].offset);
    let traps = section(bytes, ".wasmtime.traps");
    let first = get_u32(bytes, traps.start + 8);
    put_u32(
        bytes,
        traps.start + 8,
        (i64::from(first) + at as i64 - first_trap as i64) as u32,
    );
}

#[test]
fn check_passes_across_x86_64_jump_tables_and_constant_pools() {
    let (bytes, table, _) = switch_data();
    check(&bytes).unwrap();
    let code::GapKind::JumpTable(targets) = &table.kind else {
        unreachable!()
    };
    // Three targets, then the default.
    assert_eq!(targets.len(), 4, "{table:?}");
    assert_eq!(table.range.end - table.range.start, 16);
}

#[test]
fn check_fails_on_a_trap_inside_a_jump_table() {
    let (mut bytes, table, _) = switch_data();
    move_first_trap(&mut bytes, table.range.start + 4);
    assert_violation(&bytes, ".wasmtime.traps", "instruction boundary");
}

#[test]
fn check_fails_on_a_trap_inside_a_constant_pool() {
    let (mut bytes, _, pool) = switch_data();
    move_first_trap(&mut bytes, pool.range.start);
    assert_violation(&bytes, ".wasmtime.traps", "instruction boundary");
}

#[test]
fn check_fails_on_an_unknown_trap_code() {
    let mut bytes = compile(&many_stores(), X86);
    let traps = section(&bytes, ".wasmtime.traps");
    let blocks = get_u32(&bytes, traps.start + 4) as usize;
    bytes[traps.start + 8 + 8 * blocks] = 0x80;
    assert_violation(&bytes, ".wasmtime.traps", "unknown trap code");
}

#[test]
fn check_fails_on_swapped_stack_map_pcs() {
    let mut bytes = compile(&gc_module(), X86);
    let maps = section(&bytes, ".wasmtime.stackmap");
    let (a, b) = (
        get_u32(&bytes, maps.start + 4),
        get_u32(&bytes, maps.start + 8),
    );
    put_u32(&mut bytes, maps.start + 4, b);
    put_u32(&mut bytes, maps.start + 8, a);
    assert_violation(&bytes, ".wasmtime.stackmap", "sorted and unique");
}

#[test]
fn check_fails_on_a_live_slot_outside_the_frame() {
    let mut bytes = compile(&gc_module(), X86);
    let maps = section(&bytes, ".wasmtime.stackmap");
    let count = get_u32(&bytes, maps.start) as usize;
    let data = maps.start + 4 + 8 * count;
    let index = get_u32(&bytes, maps.start + 4 + 4 * count) as usize;
    // The first map's frame shrinks to one slot, below its live slots.
    put_u32(&mut bytes, data + 4 * index, 4);
    let slots: Vec<u64> = {
        let artifact = read(&bytes);
        artifact
            .stack_maps
            .live_slots(&artifact.stack_maps.entries[0])
            .collect()
    };
    assert!(slots.iter().any(|&s| s >= 4), "{slots:?}");
    assert_violation(&bytes, ".wasmtime.stackmap", "outside the 0x4-byte frame");
}

#[test]
fn check_fails_on_a_zero_frame_size() {
    let mut bytes = compile(&gc_module(), X86);
    let maps = section(&bytes, ".wasmtime.stackmap");
    let count = get_u32(&bytes, maps.start) as usize;
    let data = maps.start + 4 + 8 * count;
    let index = get_u32(&bytes, maps.start + 4 + 4 * count) as usize;
    put_u32(&mut bytes, data + 4 * index, 0);
    assert_violation(&bytes, ".wasmtime.stackmap", "non-zero multiple of 4");
}

#[test]
fn check_fails_on_an_address_map_going_backwards() {
    let mut bytes = compile(&many_stores(), X86);
    let map = section(&bytes, ".wasmtime.addrmap");
    put_u32(&mut bytes, map.start + 16, 0);
    assert_violation(&bytes, ".wasmtime.addrmap", "goes backwards");
}

#[test]
fn check_fails_on_a_wasm_offset_outside_the_input_code() {
    let wasm = many_stores();
    let bytes = compile(&wasm, X86);
    check_with(&bytes, inspect::check::code_sections(&wasm).unwrap()).unwrap();
    // The same artifact held to a code section elsewhere in the input.
    let elsewhere = std::iter::once(0..8).collect();
    let v = check_with(&bytes, elsewhere).unwrap_err();
    assert_eq!(v.table, ".wasmtime.addrmap", "{v}");
    assert!(
        v.message.contains("outside the code section of module 0"),
        "{v}"
    );
}

#[test]
fn check_fails_on_a_handler_outside_its_function() {
    let mut bytes = compile(&many_stores(), X86);
    let ex = section(&bytes, ".wasmtime.exceptions");
    let sites = get_u32(&bytes, ex.start) as usize;
    let handlers = get_u32(&bytes, ex.start + 4) as usize;
    assert!(handlers > 0);
    let first_handler = ex.start + 8 + 12 * sites + 8 * handlers;
    put_u32(&mut bytes, first_handler, 0);
    assert_violation(&bytes, ".wasmtime.exceptions", "lies outside");
}

#[test]
fn cli_exits_4_naming_the_table_and_0_when_all_hold() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.cwasm");
    let bad = dir.path().join("bad.cwasm");
    let mut bytes = compile(&many_stores(), X86);
    std::fs::write(&good, &bytes).unwrap();
    let traps = section(&bytes, ".wasmtime.traps");
    put_u32(&mut bytes, traps.start + 16, 0);
    std::fs::write(&bad, &bytes).unwrap();
    let kiln = |path: &std::path::Path, extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_kiln"))
            .arg("inspect")
            .arg(path)
            .args(extra)
            .output()
            .unwrap()
    };
    let ok = kiln(&good, &["--check", "--disasm"]);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let stdout = String::from_utf8_lossy(&ok.stdout);
    assert!(
        stdout.starts_with("kind: Module\ntarget: x86_64-unknown-linux-gnu\n"),
        "{stdout}"
    );
    assert!(stdout.contains("trap: MemoryOutOfBounds"), "{stdout}");
    let failed = kiln(&bad, &["--check"]);
    assert_eq!(failed.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&failed.stderr).contains(".wasmtime.traps entry 128"));
    let json = kiln(&good, &["--json"]);
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(value["target"], X86);
    std::fs::write(&bad, &bytes[..100]).unwrap();
    assert_eq!(kiln(&bad, &[]).status.code(), Some(1));
}

/// Reads and checks `bytes` whatever they hold: it must not panic.
fn survive(bytes: &[u8]) -> bool {
    let Ok(artifact) = inspect::read(bytes) else {
        return false;
    };
    let _ = inspect::report::tables_text(&artifact);
    if let Ok(code) = code::decode(&artifact, bytes, &|_| true) {
        let boundary = |offset| code.is_boundary(offset);
        let _ = inspect::check(
            &artifact,
            &CheckInput {
                code_sections: Vec::new(),
                instruction_start: Some(&boundary),
                trap_site: None,
            },
        );
    }
    true
}

const TABLES: [&str; 6] = [
    ".text",
    ".eh_frame",
    ".wasmtime.addrmap",
    ".wasmtime.traps",
    ".wasmtime.exceptions",
    ".symtab",
];

#[test]
fn truncations_at_every_section_boundary_are_typed_errors() {
    for wasm in [many_stores(), gc_module()] {
        let bytes = compile(&wasm, X86);
        let file = object::File::parse(&*bytes).unwrap();
        for s in file.sections() {
            let Some((offset, size)) = s.file_range() else {
                continue;
            };
            for cut in [offset, offset + size / 2, offset + size] {
                let cut = cut as usize;
                if cut < bytes.len() {
                    let error = inspect::read(&bytes[..cut]).unwrap_err();
                    assert!(!error.to_string().is_empty());
                }
            }
        }
    }
}

#[test]
fn bit_flips_in_each_table_never_panic() {
    let gc = compile(&gc_module(), X86);
    let stores = compile(&many_stores(), X86);
    let mut typed = 0;
    for (bytes, name) in TABLES
        .iter()
        .map(|t| (&stores, *t))
        .chain([(&gc, ".wasmtime.stackmap")])
    {
        let range = section(bytes, name);
        for byte in range.clone().take(48) {
            for bit in 0..8 {
                let mut damaged = bytes.clone();
                damaged[byte] ^= 1 << bit;
                if !survive(&damaged) {
                    typed += 1;
                }
            }
        }
    }
    assert!(typed > 0);
}

#[test]
fn declared_counts_out_of_range_are_typed_errors() {
    let bytes = compile(&gc_module(), X86);
    for (name, at) in [
        (".wasmtime.traps", 0),
        (".wasmtime.traps", 4),
        (".wasmtime.addrmap", 4),
        (".wasmtime.stackmap", 0),
        (".wasmtime.exceptions", 0),
        (".wasmtime.exceptions", 4),
    ] {
        let mut damaged = bytes.clone();
        let range = section(&damaged, name);
        put_u32(&mut damaged, range.start + at, u32::MAX);
        match inspect::read(&damaged) {
            Err(inspect::InspectError::Malformed { table, .. }) => assert_eq!(table, name),
            other => panic!("{name}: {other:?}"),
        }
    }
}

/// A bounded slice of the `inspect_artifact` fuzz target: seeded
/// mutations of real artifacts for every target.
#[test]
fn mutated_artifacts_never_panic() {
    let originals: Vec<Vec<u8>> = TARGETS
        .iter()
        .map(|t| compile(&many_stores(), t))
        .chain([
            compile(&gc_module(), X86),
            compile(&fixture("adder.wat"), X86),
        ])
        .collect();
    for seed in 0..400u64 {
        let original = &originals[seed as usize % originals.len()];
        let mut bytes = original.clone();
        let r = noise(seed, 16);
        let file = object::File::parse(&**original).unwrap();
        let sections: Vec<(u64, u64)> = file.sections().filter_map(|s| s.file_range()).collect();
        let (offset, size) = sections[r[0] as usize % sections.len()];
        if size > 0 {
            for k in 0..(1 + r[1] % 8) as usize {
                let at = offset as usize + (r[2 + k] as usize * 7919 + k) % size as usize;
                bytes[at] = r[10 + k % 6];
            }
        }
        if r[15].is_multiple_of(8) {
            bytes.truncate(bytes.len() * usize::from(r[14]) / 256);
        }
        survive(&bytes);
    }
}
