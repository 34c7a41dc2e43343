//! The wasm stand-ins for `memory.copy` and `memory.fill` that the build
//! adds to the threaded guest (`host/build/short_copies.rs`), run in real
//! Wasmtime against `copy_within` and `fill` on every length around their
//! step widths and threshold, every small overlap in both directions, and
//! long ranges, which must reach the host import untouched.

#[path = "../../host/build/short_copies.rs"]
#[allow(dead_code)]
mod short_copies;

use short_copies::SHORT;
use wasm_encoder::{
    CodeSection, ExportKind, ExportSection, Function, FunctionSection, GlobalSection, GlobalType,
    Instruction, MemorySection, MemoryType, Module, TypeSection, ValType,
};
use wasmtime::{Engine, Instance, Store, TypedFunc};

const MEMORY_BYTES: usize = 1 << 16;

/// A module with the two stand-ins (exported as `copy` and `fill`) whose
/// "host" functions are the real instructions, each also counting its
/// calls in the exported global `host_calls`.
fn module() -> Vec<u8> {
    let mut types = TypeSection::new();
    types.ty().function([ValType::I32; 3], []);
    let mut functions = FunctionSection::new();
    let mut code = CodeSection::new();
    let counted = |instruction: Instruction<'static>| {
        let mut f = Function::new([]);
        f.instructions()
            .global_get(0)
            .i32_const(1)
            .i32_add()
            .global_set(0)
            .local_get(0)
            .local_get(1)
            .local_get(2);
        f.instruction(&instruction);
        f.instructions().end();
        f
    };
    let bodies = [
        counted(Instruction::MemoryCopy {
            src_mem: 0,
            dst_mem: 0,
        }),
        counted(Instruction::MemoryFill(0)),
        short_copies::copy(0),
        short_copies::fill(1),
    ];
    for body in &bodies {
        functions.function(0);
        code.function(body);
    }
    let mut memories = MemorySection::new();
    memories.memory(MemoryType {
        minimum: 1,
        maximum: Some(1),
        memory64: false,
        shared: false,
        page_size_log2: None,
    });
    let mut globals = GlobalSection::new();
    globals.global(
        GlobalType {
            val_type: ValType::I32,
            mutable: true,
            shared: false,
        },
        &wasm_encoder::ConstExpr::i32_const(0),
    );
    let mut exports = ExportSection::new();
    exports
        .export("copy", ExportKind::Func, 2)
        .export("fill", ExportKind::Func, 3)
        .export("memory", ExportKind::Memory, 0)
        .export("host_calls", ExportKind::Global, 0);
    let mut module = Module::new();
    module
        .section(&types)
        .section(&functions)
        .section(&memories)
        .section(&globals)
        .section(&exports)
        .section(&code);
    module.finish()
}

struct Harness {
    store: Store<()>,
    instance: Instance,
    copy: TypedFunc<(u32, u32, u32), ()>,
    fill: TypedFunc<(u32, i32, u32), ()>,
}

impl Harness {
    fn new() -> Self {
        let engine = Engine::default();
        let module = wasmtime::Module::new(&engine, module()).expect("the stand-ins validate");
        let mut store = Store::new(&engine, ());
        let instance = Instance::new(&mut store, &module, &[]).expect("instantiates");
        let copy = instance.get_typed_func(&mut store, "copy").unwrap();
        let fill = instance.get_typed_func(&mut store, "fill").unwrap();
        Harness {
            store,
            instance,
            copy,
            fill,
        }
    }

    /// Fills the memory with a pattern that differs at every byte nearby
    /// and returns the same bytes.
    fn reset(&mut self) -> Vec<u8> {
        let expected: Vec<u8> = (0..MEMORY_BYTES).map(|i| (i * 7 + i / 251) as u8).collect();
        let memory = self.instance.get_memory(&mut self.store, "memory").unwrap();
        memory.data_mut(&mut self.store).copy_from_slice(&expected);
        expected
    }

    fn memory(&mut self) -> Vec<u8> {
        let memory = self.instance.get_memory(&mut self.store, "memory").unwrap();
        memory.data(&self.store).to_vec()
    }

    fn host_calls(&mut self) -> i32 {
        let global = self
            .instance
            .get_global(&mut self.store, "host_calls")
            .unwrap();
        global.get(&mut self.store).unwrap_i32()
    }
}

/// Lengths around every step width (16, 8, 1) and around the threshold.
fn lengths() -> Vec<u32> {
    let short = SHORT as u32;
    let mut lengths: Vec<u32> = (0..=40).collect();
    lengths.extend([63, 64, 65, 127, 128, 129, 255, 256, 257]);
    lengths.extend([short - 1, short, short + 1, 3000]);
    lengths
}

#[test]
fn copies_match_copy_within_for_every_overlap() {
    let mut harness = Harness::new();
    let base = 20_000u32;
    for len in lengths() {
        // Distances 0..=40 both ways cover overlaps shorter and longer than
        // each step width; ±5000 are disjoint.
        let distances = (-40i64..=40).chain([-5000, 5000]);
        for distance in distances {
            let from = base;
            let to = (i64::from(base) + distance) as u32;
            let mut expected = harness.reset();
            expected.copy_within(from as usize..(from + len) as usize, to as usize);
            let calls = harness.host_calls();
            harness
                .copy
                .call(&mut harness.store, (to, from, len))
                .unwrap();
            assert!(
                harness.memory() == expected,
                "copy of {len} bytes from {from} to {to} differs from copy_within"
            );
            let went_to_host = harness.host_calls() > calls;
            assert_eq!(went_to_host, len > SHORT as u32, "copy of {len} bytes");
        }
    }
}

#[test]
fn fills_match_slice_fill() {
    let mut harness = Harness::new();
    for len in lengths() {
        for (to, byte) in [(100u32, 0i32), (101, 0xab), (4099, 0x1ff), (7, -1)] {
            let mut expected = harness.reset();
            expected[to as usize..(to + len) as usize].fill(byte as u8);
            let calls = harness.host_calls();
            harness
                .fill
                .call(&mut harness.store, (to, byte, len))
                .unwrap();
            assert!(
                harness.memory() == expected,
                "fill of {len} bytes of {byte:#x} at {to} differs from slice fill"
            );
            let went_to_host = harness.host_calls() > calls;
            assert_eq!(went_to_host, len > SHORT as u32, "fill of {len} bytes");
        }
    }
}

#[test]
fn out_of_bounds_traps() {
    let mut harness = Harness::new();
    let end = MEMORY_BYTES as u32;
    for len in [1u32, 8, 16, SHORT as u32, SHORT as u32 + 1] {
        assert!(
            harness
                .copy
                .call(&mut harness.store, (end - len + 1, 0, len))
                .is_err()
        );
        assert!(
            harness
                .copy
                .call(&mut harness.store, (0, end - len + 1, len))
                .is_err()
        );
        assert!(
            harness
                .fill
                .call(&mut harness.store, (end - len + 1, 0, len))
                .is_err()
        );
    }
}
