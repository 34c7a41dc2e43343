//! The threaded guest's `memory.copy` and `memory.fill`, written in wasm for
//! short lengths.
//!
//! The build's rewrite (`rewrite.rs`) takes both instructions out of the
//! threaded guest, because Wasmtime carries them out in host code the
//! deadline cannot see. Sending each one to a host import instead costs a
//! call out of the sandbox every time, and a compiler copies in small
//! pieces: one compile of the Sightglass `sqlite3` module on one thread
//! made 5.4 million copies and 1.8 million fills; 96% of the copies and
//! 81% of the fills were of 512 bytes or less. For those the call
//! (trampoline, the host's accounting of threads inside the memory, bounds
//! checks) cost more than the copy.
//!
//! So the rewrite calls the two functions built here, which the build adds
//! to the module. Up to [`SHORT`] bytes they copy or fill in the guest,
//! sixteen bytes at a time, then eight, then byte by byte; longer ranges go
//! to the host imports as before, 0.6 million calls instead of 7.2 million
//! for that compile. (Its CPU time, 20 alternating runs of each build on
//! two noisy cores: median 2.09 s before, 1.87 s after; `pulldown-cmark`
//! 0.365 s, 0.320 s.) They run as ordinary guest code, so the deadline's
//! revocation of the memory stops them like any other guest code.
//!
//! One difference from the instructions: a range that leaves the memory
//! traps after the bytes before the boundary were written, not before any
//! byte is. A trap ends the job and its memory is thrown away with it, so
//! nothing can observe those bytes.

use wasm_encoder::{BlockType, Function, InstructionSink, MemArg, ValType};

/// The longest range copied or filled inside the guest, in bytes.
pub const SHORT: i32 = 512;

// The functions' parameters and locals.
/// Parameter: the destination address.
const TO: u32 = 0;
/// Parameter: the source address (copy).
const FROM: u32 = 1;
/// Parameter: the byte to store (fill).
const BYTE: u32 = 1;
/// Parameter: the length in bytes.
const LEN: u32 = 2;
/// Local i32: bytes done (forwards) or left to do (backwards).
const AT: u32 = 3;
/// Local i64 (fill): the byte in all eight lanes.
const PATTERN: u32 = 4;
/// Local v128 (fill): the byte in all sixteen lanes.
const WIDE_PATTERN: u32 = 5;

/// A step width: what moves `bytes` at a time.
#[derive(Clone, Copy)]
enum Width {
    V128,
    I64,
    U8,
}

impl Width {
    const ALL: [Width; 3] = [Width::V128, Width::I64, Width::U8];

    fn bytes(self) -> i32 {
        match self {
            Width::V128 => 16,
            Width::I64 => 8,
            Width::U8 => 1,
        }
    }

    fn load(self, sink: &mut InstructionSink<'_>) {
        match self {
            Width::V128 => sink.v128_load(UNALIGNED),
            Width::I64 => sink.i64_load(UNALIGNED),
            Width::U8 => sink.i32_load8_u(UNALIGNED),
        };
    }

    fn store(self, sink: &mut InstructionSink<'_>) {
        match self {
            Width::V128 => sink.v128_store(UNALIGNED),
            Width::I64 => sink.i64_store(UNALIGNED),
            Width::U8 => sink.i32_store8(UNALIGNED),
        };
    }

    /// The local holding the fill value at this width.
    fn pattern(self) -> u32 {
        match self {
            Width::V128 => WIDE_PATTERN,
            Width::I64 => PATTERN,
            Width::U8 => BYTE,
        }
    }
}

const UNALIGNED: MemArg = MemArg {
    offset: 0,
    align: 0,
    memory_index: 0,
};

/// `if len > SHORT { host(to, from_or_byte, len); return }`
fn long_to_host(sink: &mut InstructionSink<'_>, host: u32) {
    sink.local_get(LEN)
        .i32_const(SHORT)
        .i32_gt_u()
        .if_(BlockType::Empty)
        .local_get(TO)
        .local_get(FROM)
        .local_get(LEN)
        .call(host)
        .return_()
        .end();
}

/// Pushes `base + at`.
fn address(sink: &mut InstructionSink<'_>, base: u32) {
    sink.local_get(base).local_get(AT).i32_add();
}

/// `while len - at >= width { step(at); at += width }`
fn forwards(sink: &mut InstructionSink<'_>, width: Width, step: impl Fn(&mut InstructionSink<'_>)) {
    sink.block(BlockType::Empty)
        .loop_(BlockType::Empty)
        .local_get(LEN)
        .local_get(AT)
        .i32_sub()
        .i32_const(width.bytes())
        .i32_lt_u()
        .br_if(1);
    step(sink);
    sink.local_get(AT)
        .i32_const(width.bytes())
        .i32_add()
        .local_set(AT)
        .br(0)
        .end()
        .end();
}

/// `while at >= width { at -= width; step(at) }`
fn backwards(
    sink: &mut InstructionSink<'_>,
    width: Width,
    step: impl Fn(&mut InstructionSink<'_>),
) {
    sink.block(BlockType::Empty)
        .loop_(BlockType::Empty)
        .local_get(AT)
        .i32_const(width.bytes())
        .i32_lt_u()
        .br_if(1)
        .local_get(AT)
        .i32_const(width.bytes())
        .i32_sub()
        .local_set(AT);
    step(sink);
    sink.br(0).end().end();
}

/// Copies `width` bytes at `at` from `from` to `to`: the load comes before
/// the store, so a step reads its source before overwriting any of it.
fn copy_step(width: Width) -> impl Fn(&mut InstructionSink<'_>) {
    move |sink| {
        address(sink, TO);
        address(sink, FROM);
        width.load(sink);
        width.store(sink);
    }
}

/// `memory.copy` (`to`, `from`, `len`), forwards when `to <= from` and
/// backwards otherwise, so that overlapping ranges copy as through a
/// buffer: each step reads source bytes before any store can reach them.
pub fn copy(host: u32) -> Function {
    let mut f = Function::new([(1, ValType::I32)]);
    let sink = &mut f.instructions();
    long_to_host(sink, host);
    sink.local_get(TO)
        .local_get(FROM)
        .i32_le_u()
        .if_(BlockType::Empty);
    for width in Width::ALL {
        forwards(sink, width, copy_step(width));
    }
    sink.else_().local_get(LEN).local_set(AT);
    for width in Width::ALL {
        backwards(sink, width, copy_step(width));
    }
    sink.end().end();
    f
}

/// `memory.fill` (`to`, `byte`, `len`).
pub fn fill(host: u32) -> Function {
    let mut f = Function::new([(1, ValType::I32), (1, ValType::I64), (1, ValType::V128)]);
    let sink = &mut f.instructions();
    long_to_host(sink, host);
    sink.local_get(BYTE)
        .i32_const(0xff)
        .i32_and()
        .i64_extend_i32_u()
        .i64_const(0x0101_0101_0101_0101)
        .i64_mul()
        .local_set(PATTERN)
        .local_get(BYTE)
        .i8x16_splat()
        .local_set(WIDE_PATTERN);
    for width in Width::ALL {
        forwards(sink, width, |sink| {
            address(sink, TO);
            sink.local_get(width.pattern());
            width.store(sink);
        });
    }
    sink.end();
    f
}
