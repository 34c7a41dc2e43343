//! A catalogue of "compile bombs": small, valid WebAssembly modules whose
//! compilation with Wasmtime/Cranelift takes a long time, a lot of memory,
//! or both.
//!
//! Kiln's compile service must answer such an upload with a limit error
//! (time, memory or output size) and go on serving; the load test and the
//! tests feed it these modules. Each bomb is modelled on the shape of an
//! input reported in Wasmtime's (or Cranelift's, or regalloc2's) public
//! issue tracker and is named after that issue. The descriptions are our
//! own words; the numbers quoted (function sizes, counts) are facts from
//! the reports.
//!
//! Kiln pins Wasmtime 48 / Cranelift 0.135, and many of these bugs were
//! fixed long before that. Each entry says whether its original bug is
//! fixed in 48. Where it is, the bomb no longer relies on the bug: it is
//! scaled up until the (now roughly linear) cost of compiling that shape
//! still runs past a limit.
//!
//! Every builder takes a `scale`: `1` is the catalogue's size, chosen so
//! that one compile on one thread inside Kiln's sandbox takes several
//! seconds or needs more than a few hundred MiB; larger values multiply the
//! input (the cost may grow faster than the input); `scale` 0 counts as
//! `1`. Every module validates under Wasmtime's default features using only
//! WebAssembly 2.0 features (multi-value, bulk memory, reference types), and
//! is under 4 MiB at scale 1.
//!
//! The measurements quoted on the builders are CPU seconds and peak RSS of
//! `kiln compile --target x86_64-unknown-linux-gnu --jobs 1` (a debug build
//! of the host, the guest built with the `guest` profile, default 3 GiB
//! memory limit unless said) on a 2-core VM that was also running other
//! builds, so they are rough; "ran past 60 s" means the time limit stopped
//! it. Peak RSS includes the sandbox's own ~70 MiB.
//!
//! This file is included with `#[path]` from more than one place, so it
//! holds no tests; it uses nothing but `wasm_encoder`.

use wasm_encoder::{
    BlockType, CodeSection, ConstExpr, DataSection, ElementSection, Elements, EntityType,
    ExportKind, ExportSection, Function, FunctionSection, GlobalSection, GlobalType, HeapType,
    ImportSection, InstructionSink, MemorySection, MemoryType, Module, RefType, TableSection,
    TableType, TypeSection, ValType,
};

/// One compile bomb.
pub struct Bomb {
    /// Short name, e.g. "wasmtime-1234-deep-blocks".
    pub name: &'static str,
    /// The issue that reported the shape: URL.
    pub issue: &'static str,
    /// What the input is and why it is costly to compile, in plain words;
    /// whether the original bug is fixed in Wasmtime 48.
    pub what: &'static str,
    /// Builds the module; `scale` multiplies its size (1 = the catalogue's
    /// size, meant to take longer than ~2 s to compile with Cranelift on one
    /// core, or more than ~256 MiB of compiler memory).
    pub build: fn(scale: u32) -> Vec<u8>,
}

/// Every bomb in the catalogue.
pub fn catalogue() -> Vec<Bomb> {
    vec![
        Bomb {
            name: "wasmtime-4923-block-chain",
            issue: "https://github.com/bytecodealliance/wasmtime/issues/4923",
            what: "One function made of a long run of sibling `block`s, each of which \
                   reads a local, adds one and writes it back. The report (15,000 blocks, \
                   2.4 s) found that every local read walked back through the whole chain \
                   of single-predecessor blocks while building SSA, which is quadratic. \
                   That walk was fixed in 2022 (PR #4939, Wasmtime 2.0), yet in Wasmtime \
                   48 the shape is still clearly superlinear (doubling the blocks roughly \
                   triples the time), although the whole body folds to a few \
                   instructions: some later pass still scales badly on long chains of \
                   blocks. Scale 1 is 35,000 blocks.",
            build: block_chain,
        },
        Bomb {
            name: "wasmtime-3441-empty-loops",
            issue: "https://github.com/bytecodealliance/wasmtime/issues/3441",
            what: "One function that is nothing but a long sequence of empty `loop ... end` \
                   pairs. The fuzz case (about 20,000 loops) spent its time in register \
                   allocation and code emission, growing faster than the loop count. The \
                   issue is closed (its allocator was replaced by regalloc2 in 2022) and \
                   Wasmtime 48 is fast on it, but every loop header is still a block and a \
                   loop that every pass keeps records for: compiler memory grows by about \
                   1.7 KiB per 3-byte loop, so a 3 MB module needs more than 3 GiB. A \
                   memory bomb, by size.",
            build: empty_loops,
        },
        Bomb {
            name: "wasmtime-4060-deep-loop-nest",
            issue: "https://github.com/bytecodealliance/wasmtime/issues/4060",
            what: "One function whose body is a single nest of loops thousands deep (the \
                   fuzz case had about 11,000 levels, made worse by epoch-interruption \
                   checks at every loop head); every level decrements a local and branches \
                   back to its own header, so every level is a real loop with a phi for the \
                   local. Closed without a fix: the maintainers judged such outliers \
                   expected and tuned the fuzzers instead. In Wasmtime 48 the cost grows \
                   about with the cube of the depth: 2,400 levels (29 KB) take about 17 s, \
                   5,000 levels (60 KB) more than a minute. The smallest input per second \
                   of compile in the catalogue.",
            build: deep_loop_nest,
        },
        Bomb {
            name: "wasmtime-3414-deep-blocks",
            issue: "https://github.com/bytecodealliance/wasmtime/issues/3414",
            what: "One function whose body is a single nest of `block`s tens of thousands \
                   deep with little branching: after each `end` the code bumps a local and \
                   conditionally leaves the enclosing block, so every join point carries a \
                   phi. The report found deeply nested blocks compiled slowly for their \
                   size. No fix was made (in 2022 such inputs were called expected \
                   outliers, see #4060); in Wasmtime 48 the cost grows faster than the \
                   depth (doubling it triples the time). Scale 1 is 40,000 levels.",
            build: deep_blocks,
        },
        Bomb {
            name: "wasmtime-4291-alternating-call-args",
            issue: "https://github.com/bytecodealliance/wasmtime/issues/4291",
            what: "One function that calls an imported two-argument function 650,000 \
                   times, passing the same value first as argument 0, then as argument 1, \
                   then 0 again, and so on, so the register allocator must split that one \
                   value at every call to meet alternating fixed-register constraints. With \
                   the then-new regalloc2 the reported function needed 6.5 GB instead of \
                   200 MB, because each split cost time and memory in proportion to the \
                   value's whole live range. Fixed in regalloc2 in mid-2022 (a cap on \
                   splits per value, then one split into minimal pieces; the cap is in the \
                   regalloc2 0.15 that Wasmtime 48 uses). The cost is now linear, about \
                   2 KiB of compiler memory per call, so the bomb works by size.",
            build: alternating_call_args,
        },
        Bomb {
            name: "wasmtime-4045-many-calls",
            issue: "https://github.com/bytecodealliance/wasmtime/issues/4045",
            what: "One function with tens of thousands of calls to an imported function, \
                   while two dozen 64-bit values stay live across every call, so each call \
                   clobbers every caller-saved register and the live values must be \
                   spilled and reloaded around it. The fuzz case (12,442 calls) used \
                   excessive memory in regalloc2, which split physical-register ranges at \
                   every call. Closed as an expected outlier; call clobbers became cheaper \
                   in mid-2022, but in Wasmtime 48 the cost still grows faster than the \
                   call count (doubling it triples the time). Scale 1 is 120,000 calls.",
            build: many_calls,
        },
        Bomb {
            name: "wasmtime-3415-many-rem-s",
            issue: "https://github.com/bytecodealliance/wasmtime/issues/3415",
            what: "One function that is a long dependent chain of `i64.rem_s` on values \
                   that cannot be folded. Signed remainder needs a divide-by-zero trap and \
                   a special case for a divisor of -1, so each one becomes a small \
                   multi-instruction sequence with fixed-register constraints (rdx:rax on \
                   x86-64) and about 37 bytes of machine code. The fuzz report found many \
                   of these compiled slowly. Closed as an expected outlier; in Wasmtime 48 \
                   the cost is about linear, so the bomb works by size (300,000 \
                   remainders).",
            build: many_rem_s,
        },
        Bomb {
            name: "wasmtime-14260-huge-elem-segment",
            issue: "https://github.com/bytecodealliance/wasmtime/issues/14260",
            what: "A module with no code at all, only one passive element segment holding \
                   a million `ref.null func` expressions. Wasmtime 48 compiles a \
                   module's initialisation (globals, element and data segments) into one \
                   generated startup function, and it unrolls this segment into a store \
                   per element, so the input becomes a single function of millions of IR \
                   instructions. Open upstream when catalogued; the unrolling is in \
                   Wasmtime 48's source, and the cost is about linear in the elements.",
            build: huge_elem_segment,
        },
        Bomb {
            name: "wasmtime-14260-active-elems-dynamic-offset",
            issue: "https://github.com/bytecodealliance/wasmtime/issues/14260",
            what: "A sibling of the previous bomb, derived by us from Wasmtime 48's startup \
                   code rather than taken from the issue: one active element segment of a \
                   million function references (one byte each) placed at an offset read \
                   from an imported global. The dynamic offset stops Wasmtime from \
                   precomputing the table, so the startup function gets one bounds-checked \
                   `table.set` per element: a 1 MB input needs more than 3 GiB of compiler \
                   memory. Same mechanism as #14260, present in 48.",
            build: active_elems_dynamic_offset,
        },
        Bomb {
            name: "wasmtime-14260-data-segments",
            issue: "https://github.com/bytecodealliance/wasmtime/issues/14260",
            what: "A sibling of the #14260 bombs, derived by us from Wasmtime 48's startup \
                   code: the most data segments the format allows (100,000), each a single \
                   byte at an offset read from an imported global, so no static memory \
                   image can be built and the startup function gets a bounds check and a \
                   copy per segment (0.6 MB of input, about 0.8 GiB of compiler memory). \
                   Larger scales add globals initialised from the import, each another \
                   piece of startup code. Same mechanism as #14260, present in 48.",
            build: data_segments,
        },
        Bomb {
            name: "wasmtime-14210-many-globals",
            issue: "https://github.com/bytecodealliance/wasmtime/issues/14210",
            what: "Functions that each read and write 50,000 distinct mutable globals. In \
                   Wasmtime 48 every global gets its own alias region, and alias analysis \
                   over a function's regions costs about the square of their number. The \
                   report (modules of many GC-allocating global initialisers, 8.6 s at \
                   1,000 and 51 s at 2,000 on Wasmtime 48) was fixed by hashing alias \
                   regions down to 256 (PR #14253, September 2026, also fixing #14221), \
                   but Wasmtime 48.0.8 does not have that fix (its alias-region keys are \
                   still one per global). Our shape needs no GC: plain `i32` globals, \
                   kept under 65,536 per function, because past that Cranelift 0.135 \
                   panics (MemFlagsSetOverflow) rather than compiling slowly. Larger \
                   scale 1 has two such functions, and each scale adds two more.",
            build: many_globals,
        },
        Bomb {
            name: "wasmtime-13068-isub-rewrites",
            issue: "https://github.com/bytecodealliance/wasmtime/issues/13068",
            what: "One function that is a long dependent chain of differences of sums \
                   and differences sharing an operand, `(x + y) - (x + b)` and \
                   `(y - x) - (b - x)`, the inputs of the egraph rewrites that cancel a \
                   shared operand. When those rewrites were added (#12926) a fuzz input's \
                   optimisation went from 0.07 s to about 10 s; they were reverted \
                   (#13081) and the blow-up analysed (#13204). Cranelift 0.135 in Wasmtime \
                   48 has such rewrites again, under the egraph's bounds on rewrite depth \
                   and e-class size, and the cost is linear, so the bomb works by size \
                   (150,000 steps).",
            build: isub_rewrites,
        },
        Bomb {
            name: "cranelift-1243-br-table-nest",
            issue: "https://github.com/bytecodealliance/cranelift/issues/1243",
            what: "One function with a nest of about 370 blocks where, at every level, a \
                   `br_table` can jump to the end of any enclosing block, and a local \
                   changes between levels, so every block end is a join with hundreds of \
                   incoming jump-table edges that carry a phi argument. The table entries \
                   grow with the square of the depth, and the compile time in Wasmtime 48 \
                   with about the square of the entries. The report (in Cranelift's old \
                   repository: the spec test's wide br_tables) was about compiling tables \
                   without jump tables, quadratic in the rows; Wasmtime 48 uses jump \
                   tables, so that bug is gone, but the edges still cost.",
            build: br_table_nest,
        },
    ]
}

fn scaled(base: u64, scale: u32) -> u64 {
    base * u64::from(scale.max(1))
}

fn count(base: u64, scale: u32) -> u32 {
    u32::try_from(scaled(base, scale)).expect("scale too large")
}

/// Most repetitions of a pattern put in one function body: bodies stay
/// under wasmparser's limit of 7,654,321 bytes per function, so a large
/// `scale` spreads the work over several identical functions.
fn per_function(bytes_per_rep: u32) -> u32 {
    7_000_000 / bytes_per_rep
}

/// A module with `imports.len()` imported functions (`env.f0`, `env.f1`,
/// ...) and defined functions of one signature, the first exported as
/// `run`. `total` repetitions of a pattern are spread over as few functions
/// as `max_per_function` allows; `body(sink, reps)` writes one function's
/// body for `reps` of them (the final `end` is added here).
fn functions_of(
    imports: &[(&[ValType], &[ValType])],
    params: &[ValType],
    results: &[ValType],
    locals: &[(u32, ValType)],
    total: u32,
    max_per_function: u32,
    body: impl Fn(&mut InstructionSink<'_>, u32),
) -> Vec<u8> {
    let mut types = TypeSection::new();
    let mut import_section = ImportSection::new();
    for (i, (p, r)) in imports.iter().enumerate() {
        types.ty().function(p.iter().copied(), r.iter().copied());
        let ty = u32::try_from(i).unwrap();
        import_section.import("env", &format!("f{i}"), EntityType::Function(ty));
    }
    let run_type = u32::try_from(imports.len()).unwrap();
    types
        .ty()
        .function(params.iter().copied(), results.iter().copied());

    let mut functions = FunctionSection::new();
    let mut code = CodeSection::new();
    let mut left = total.max(1);
    while left > 0 {
        let reps = left.min(max_per_function.max(1));
        left -= reps;
        functions.function(run_type);
        let mut function = Function::new(locals.iter().copied());
        {
            let mut sink = function.instructions();
            body(&mut sink, reps);
            sink.end();
        }
        code.function(&function);
    }
    let mut exports = ExportSection::new();
    exports.export(
        "run",
        ExportKind::Func,
        u32::try_from(imports.len()).unwrap(),
    );

    let mut module = Module::new();
    module.section(&types);
    if !imports.is_empty() {
        module.section(&import_section);
    }
    module.section(&functions);
    module.section(&exports);
    module.section(&code);
    module.finish()
}

/// `(func (param i32) (result i32))` whose body is `n` sibling blocks, each
/// `block local.get 0 i32.const 1 i32.add local.set 0 end` (10 bytes), then
/// `local.get 0`. Scale 1: 35,000 blocks, 350 KB.
///
/// Measured in Kiln (see the module docs): 15,000 / 25,000 / 30,000 / 50,000
/// / 60,000 blocks took 3.5 / 6.5 to 8 / 10 / 24 / 35 s of CPU, and the
/// artifact is the same 13.6 KB for all of them.
fn block_chain(scale: u32) -> Vec<u8> {
    let n = count(35_000, scale);
    let per = per_function(10);
    functions_of(
        &[],
        &[ValType::I32],
        &[ValType::I32],
        &[],
        n,
        per,
        |f, n| {
            for _ in 0..n {
                f.block(BlockType::Empty)
                    .local_get(0)
                    .i32_const(1)
                    .i32_add()
                    .local_set(0)
                    .end();
            }
            f.local_get(0);
        },
    )
}

/// `(func)` whose body is `n` empty loops, `loop end` (3 bytes each).
/// Scale 1: 1,000,000 loops, 3 MB.
///
/// Measured in Kiln: 250,000 / 500,000 loops took 1.1 / 2.6 s and 480 / 920
/// MiB of peak RSS; 1,000,000 loops hit the default 3 GiB limit after about
/// 4 s (the 512 MiB limit after about 1 s).
fn empty_loops(scale: u32) -> Vec<u8> {
    let n = count(1_000_000, scale);
    functions_of(&[], &[], &[], &[], n, per_function(3), |f, n| {
        for _ in 0..n {
            f.loop_(BlockType::Empty).end();
        }
    })
}

/// `(func (param i32) (result i32))` whose body is `d` nested loops; each
/// level's body is the next level, then `local.get 0 i32.const 1 i32.sub
/// local.tee 0 br_if 0` (a back edge to its own header). 12 bytes a level.
/// Scale 1: 2,400 levels, 29 KB.
///
/// Measured in Kiln: 1,000 / 2,000 levels took 1.4 / 10.5 s of CPU at 72
/// MiB of peak RSS; 5,000 and 20,000 levels ran past 60 s.
fn deep_loop_nest(scale: u32) -> Vec<u8> {
    let d = count(2_400, scale);
    let per = per_function(12);
    functions_of(
        &[],
        &[ValType::I32],
        &[ValType::I32],
        &[],
        d,
        per,
        |f, d| {
            for _ in 0..d {
                f.loop_(BlockType::Empty);
            }
            for _ in 0..d {
                f.local_get(0)
                    .i32_const(1)
                    .i32_sub()
                    .local_tee(0)
                    .br_if(0)
                    .end();
            }
            f.local_get(0);
        },
    )
}

/// `(func (param i32) (result i32))` whose body is `d` nested blocks; after
/// each inner block's `end`: `local.get 0 i32.const 1 i32.add local.tee 0
/// br_if 0` (a conditional exit from the enclosing block). 12 bytes a level.
/// Scale 1: 40,000 levels, 480 KB.
///
/// Measured in Kiln: 20,000 / 40,000 levels took 5 to 6 / 15 s of CPU;
/// 100,000 levels ran past 60 s.
fn deep_blocks(scale: u32) -> Vec<u8> {
    let d = count(40_000, scale);
    let per = per_function(12);
    functions_of(
        &[],
        &[ValType::I32],
        &[ValType::I32],
        &[],
        d,
        per,
        |f, d| {
            for _ in 0..d {
                f.block(BlockType::Empty);
            }
            for level in 0..d {
                f.end();
                if level + 1 < d {
                    f.local_get(0).i32_const(1).i32_add().local_tee(0).br_if(0);
                }
            }
            f.local_get(0);
        },
    )
}

/// Imports `env.f0: (i32, i32) -> ()`; `(func (param i32))` calls it `n`
/// times with `(local.get 0, i32.const 0)` and `(i32.const 0, local.get 0)`
/// alternately (6 bytes a call). Scale 1: 650,000 calls, 3.9 MB.
///
/// Measured in Kiln: 500,000 / 1,000,000 calls took 5.8 / 10.9 s and 1.1 /
/// 2.2 GiB of peak RSS; the 512 MiB limit stops scale 1 after about 2 s.
fn alternating_call_args(scale: u32) -> Vec<u8> {
    let n = count(650_000, scale);
    let callee: &[ValType] = &[ValType::I32, ValType::I32];
    let imports: &[(&[ValType], &[ValType])] = &[(callee, &[])];
    functions_of(
        imports,
        &[ValType::I32],
        &[],
        &[],
        n,
        per_function(6),
        |f, n| {
            for i in 0..n {
                if i % 2 == 0 {
                    f.local_get(0).i32_const(0);
                } else {
                    f.i32_const(0).local_get(0);
                }
                f.call(0);
            }
        },
    )
}

/// Imports `env.f0: (i64) -> i64`; `(func (param i64) (result i64))` with
/// 24 `i64` locals seeded from the parameter, then `n` times `local.get a
/// call 0 local.get b i64.add local.set b` for locals `a`, `b` that cycle
/// through all 24 (9 bytes), then the sum of all 24. Scale 1: 120,000
/// calls, 1.1 MB.
///
/// Measured in Kiln: 60,000 / 120,000 calls took 5 / 16 s of CPU (270 / 490
/// MiB of peak RSS); 300,000 calls ran past 60 s.
fn many_calls(scale: u32) -> Vec<u8> {
    const LIVE: u32 = 24;
    let n = count(120_000, scale);
    let callee: &[ValType] = &[ValType::I64];
    let imports: &[(&[ValType], &[ValType])] = &[(callee, callee)];
    let locals = [(LIVE, ValType::I64)];
    let (params, results) = (&[ValType::I64], &[ValType::I64]);
    functions_of(
        imports,
        params,
        results,
        &locals,
        n,
        per_function(9),
        |f, n| {
            for j in 0..LIVE {
                f.local_get(0)
                    .i64_const(i64::from(j) * 0x9E37_79B9)
                    .i64_add()
                    .local_set(1 + j);
            }
            for i in 0..n {
                let a = 1 + i % LIVE;
                let b = 1 + (i.wrapping_mul(7) + 3) % LIVE;
                f.local_get(a).call(0).local_get(b).i64_add().local_set(b);
            }
            f.local_get(1);
            for j in 1..LIVE {
                f.local_get(1 + j).i64_add();
            }
        },
    )
}

/// `(func (param i64 i64) (result i64))` whose body is `n` times `local.get 0
/// local.get 1 i64.rem_s local.get 0 i64.add local.set 0` (10 bytes), then
/// `local.get 0`. Scale 1: 400,000 remainders, 4 MB.
///
/// Measured in Kiln: 200,000 / 300,000 / 400,000 remainders took 3.6 / 7.5 /
/// 9.8 s of CPU and 490 / 720 / 900 MiB of peak RSS; the artifact is about
/// 3.7 times the input.
fn many_rem_s(scale: u32) -> Vec<u8> {
    let n = count(400_000, scale);
    let (params, results) = (&[ValType::I64, ValType::I64], &[ValType::I64]);
    functions_of(&[], params, results, &[], n, per_function(10), |f, n| {
        for _ in 0..n {
            f.local_get(0)
                .local_get(1)
                .i64_rem_s()
                .local_get(0)
                .i64_add()
                .local_set(0);
        }
        f.local_get(0);
    })
}

/// No functions; one passive `funcref` element segment of `n` `ref.null
/// func` expressions (3 bytes each). Scale 1: 1,000,000 elements, 3 MB.
///
/// Measured in Kiln: 500,000 / 1,300,000 elements took 5.5 / 17 s of CPU
/// and 390 MiB / 1 GiB of peak RSS.
fn huge_elem_segment(scale: u32) -> Vec<u8> {
    let n = scaled(1_000_000, scale);
    let exprs = vec![ConstExpr::ref_null(HeapType::FUNC); usize::try_from(n).unwrap()];
    let mut elements = ElementSection::new();
    elements.passive(Elements::Expressions(RefType::FUNCREF, exprs.into()));
    let mut module = Module::new();
    module.section(&elements);
    module.finish()
}

/// Imports an immutable `i32` global `env.base`; defines one empty function
/// and as many `funcref` tables of `PER_TABLE` entries as `n` needs, each
/// filled by one active element segment of references to that function at
/// offset `global.get 0` (1 byte an element). Scale 1: 1,000,000 elements
/// in one table, 1 MB.
///
/// Measured in Kiln: scale 1 hits the default 3 GiB limit after about 5 s,
/// the 512 MiB limit after about 1 s.
fn active_elems_dynamic_offset(scale: u32) -> Vec<u8> {
    const PER_TABLE: u64 = 2_000_000;
    let n = scaled(1_000_000, scale);

    let mut types = TypeSection::new();
    types.ty().function([], []);
    let mut imports = ImportSection::new();
    imports.import(
        "env",
        "base",
        EntityType::Global(GlobalType {
            val_type: ValType::I32,
            mutable: false,
            shared: false,
        }),
    );
    let mut functions = FunctionSection::new();
    functions.function(0);
    let mut tables = TableSection::new();
    let mut elements = ElementSection::new();
    let offset = ConstExpr::global_get(0);
    let mut left = n;
    let mut table = 0u32;
    while left > 0 {
        let here = left.min(PER_TABLE);
        tables.table(TableType {
            element_type: RefType::FUNCREF,
            table64: false,
            minimum: here,
            maximum: None,
            shared: false,
        });
        let funcs = vec![0u32; usize::try_from(here).unwrap()];
        elements.active(Some(table), &offset, Elements::Functions(funcs.into()));
        left -= here;
        table += 1;
    }
    let mut code = CodeSection::new();
    let mut empty = Function::new([]);
    empty.instructions().end();
    code.function(&empty);

    let mut module = Module::new();
    module.section(&types);
    module.section(&imports);
    module.section(&functions);
    module.section(&tables);
    module.section(&elements);
    module.section(&code);
    module.finish()
}

/// Imports an immutable `i32` global `env.base`; one memory of one page;
/// 100,000 active data segments of one byte each at offset `global.get 0`
/// (6 bytes each, 600 KB). Since the format allows no more data segments,
/// each scale above 1 adds 400,000 `ref.null func` expressions (3 bytes
/// each) to one passive element segment instead, more startup work of the
/// same kind. (Not globals initialised from the import: one startup function
/// touching more than 65,535 of them makes Cranelift 0.135 panic, see
/// `many_globals`.)
///
/// Measured in Kiln: scale 1 took 6 to 8 s of CPU and 890 MiB of peak RSS;
/// the 512 MiB limit stops it after about 1 s.
fn data_segments(scale: u32) -> Vec<u8> {
    const SEGMENTS: u32 = 100_000;
    let extra_elements = u64::from(scale.max(1) - 1) * 400_000;

    let base = GlobalType {
        val_type: ValType::I32,
        mutable: false,
        shared: false,
    };
    let mut imports = ImportSection::new();
    imports.import("env", "base", EntityType::Global(base));
    let mut memories = MemorySection::new();
    memories.memory(MemoryType {
        minimum: 1,
        maximum: None,
        memory64: false,
        shared: false,
        page_size_log2: None,
    });
    let mut elements = ElementSection::new();
    if extra_elements > 0 {
        let null = ConstExpr::ref_null(HeapType::FUNC);
        let exprs = vec![null; usize::try_from(extra_elements).unwrap()];
        elements.passive(Elements::Expressions(RefType::FUNCREF, exprs.into()));
    }
    let from_base = ConstExpr::global_get(0);
    let mut data = DataSection::new();
    for i in 0..SEGMENTS {
        data.active(0, &from_base, [(i % 251) as u8]);
    }

    let mut module = Module::new();
    module.section(&imports);
    module.section(&memories);
    if extra_elements > 0 {
        module.section(&elements);
    }
    module.section(&data);
    module.finish()
}

/// `G` mutable `i32` globals (constant initialiser 0) and `2 * s` (`s` the
/// scale) functions `(func)`; function `k` walks a window of `WINDOW` =
/// 50,000 distinct globals, `global.get w_j global.set w_j+1` for each (about 12
/// bytes a step), window `k` starting at global `k * WINDOW` (mod `G`), `G`
/// = `WINDOW * 2 * s` up to 950,000. Scale 1: 100,000 globals in two
/// functions, 1.3 MB.
///
/// The window stays below 65,536 on purpose: in Wasmtime 48 every global
/// gets its own alias region, a function's memory-flag sets are numbered
/// with 16 bits, and a function touching more than 65,535 distinct globals
/// makes Cranelift panic (`MemFlagsSetOverflow`) instead of compiling
/// slowly. Measured in Kiln: 30,000 / 50,000 / 60,000 globals in one
/// function took 2.7 / 7.2 / 9.6 s of CPU at under 100 MiB of peak RSS;
/// 70,000 panicked within a second.
fn many_globals(scale: u32) -> Vec<u8> {
    const WINDOW: u32 = 50_000;
    let functions_count = scale.max(1).saturating_mul(2);
    let globals_count = WINDOW.saturating_mul(functions_count).min(950_000);
    global_windows(functions_count, WINDOW, globals_count)
}

/// `functions_count` functions, each moving values through `window`
/// consecutive globals of `globals_count` (see `many_globals`).
fn global_windows(functions_count: u32, window: u32, globals_count: u32) -> Vec<u8> {
    let mut types = TypeSection::new();
    types.ty().function([], []);
    let mut functions = FunctionSection::new();
    let mut globals = GlobalSection::new();
    let zero = ConstExpr::i32_const(0);
    let global = GlobalType {
        val_type: ValType::I32,
        mutable: true,
        shared: false,
    };
    for _ in 0..globals_count {
        globals.global(global, &zero);
    }
    let mut code = CodeSection::new();
    for k in 0..functions_count {
        functions.function(0);
        let start = u64::from(k) * u64::from(window);
        let at = |j: u32| u32::try_from((start + u64::from(j)) % u64::from(globals_count)).unwrap();
        let mut function = Function::new([]);
        {
            let mut f = function.instructions();
            for j in 0..window {
                f.global_get(at(j)).global_set(at((j + 1) % window));
            }
            f.end();
        }
        code.function(&function);
    }
    let mut exports = ExportSection::new();
    exports.export("run", ExportKind::Func, 0);

    let mut module = Module::new();
    module.section(&types);
    module.section(&functions);
    module.section(&globals);
    module.section(&exports);
    module.section(&code);
    module.finish()
}

/// `(func (param i64 i64) (result i64) (local i64 i64 i64))`: `x` starts
/// as parameter 0 and `y` as parameter 1, then `n` times
/// `x' = (x + y) - (x + b)` and `y' = (y - x) - (b - x)` (with `b` parameter 1; `x` and `x'`
/// alternate between locals 2 and 4; 26 bytes a step), then the sum of the
/// three locals. Scale 1: 150,000 steps, 3.9 MB.
///
/// Measured in Kiln: 150,000 steps took 5.4 s of CPU and 640 MiB of peak
/// RSS; the same steps on `i32` took 4.9 s, and 300,000 of them 10.9 s and
/// 1.2 GiB (linear).
fn isub_rewrites(scale: u32) -> Vec<u8> {
    let n = count(150_000, scale);
    let (params, results) = (&[ValType::I64, ValType::I64], &[ValType::I64]);
    let locals = [(3, ValType::I64)];
    functions_of(
        &[],
        params,
        results,
        &locals,
        n,
        per_function(26),
        |f, n| {
            f.local_get(0).local_set(2).local_get(1).local_set(3);
            for step in 0..n {
                let (x, next) = if step % 2 == 0 { (2, 4) } else { (4, 2) };
                // x' = (x + y) - (x + b)
                f.local_get(x).local_get(3).i64_add();
                f.local_get(x).local_get(1).i64_add();
                f.i64_sub().local_set(next);
                // y' = (y - x) - (b - x)
                f.local_get(3).local_get(x).i64_sub();
                f.local_get(1).local_get(x).i64_sub();
                f.i64_sub().local_set(3);
            }
            f.local_get(2).local_get(3).i64_add().local_get(4).i64_add();
        },
    )
}

/// `(func (param i32 i32) (result i32) (local i32))`: `d` nested blocks. At
/// level `i` (0-based), before opening the next level: `local.get 2
/// i32.const i i32.add local.set 2`, then `block local.get 1 br_if 0
/// local.get 0 br_table 1 2 .. i+1 0 end`, a table that can leave any of
/// the `i + 1` enclosing blocks; after each level's `end`, `local.get 2
/// i32.const 1 i32.xor local.set 2`. About `d * d / 2` table entries. Scale
/// 1: `d` = 374 (70,000 entries, 112 KB); scale `s` multiplies the entries by
/// about `s` (`d` by the square root of `s`, in one function up to `d` =
/// 2,000, then in several).
///
/// Measured in Kiln: 25,000 / 50,000 / 100,000 entries took 2.4 / 6 to 8 /
/// 32 s of CPU at about 100 MiB of peak RSS; 500,000 ran past 60 s.
fn br_table_nest(scale: u32) -> Vec<u8> {
    let entries = scaled(70_000, scale) as f64;
    let d = (2.0 * entries).sqrt() as u32;
    let (params, results) = (&[ValType::I32, ValType::I32], &[ValType::I32]);
    let locals = [(1, ValType::I32)];
    functions_of(&[], params, results, &locals, d, 2_000, |f, d| {
        for i in 0..d {
            f.block(BlockType::Empty);
            f.local_get(2).i32_const(i as i32).i32_add().local_set(2);
            f.block(BlockType::Empty).local_get(1).br_if(0).local_get(0);
            // Inside the guard block, label 0 is the guard and labels
            // 1..=i+1 are the level blocks opened so far.
            f.br_table(1..i + 2, 0);
            f.end();
        }
        for _ in 0..d {
            f.end();
            f.local_get(2).i32_const(1).i32_xor().local_set(2);
        }
        f.local_get(2);
    })
}

/// Not a slow compile but a crash: one function that reads and writes
/// 70,000 distinct mutable globals makes Cranelift 0.135.8 (Wasmtime
/// 48.0.8) panic on a valid module (`MemFlagsSetOverflow`, more than 65,535
/// distinct memory-access flag sets in one function). Found while building
/// this catalogue; Kiln's sandbox contains the panic and answers an
/// internal error, where a native compile would take its process down.
pub fn memflags_overflow() -> Vec<u8> {
    global_windows(1, 70_000, 70_000)
}
