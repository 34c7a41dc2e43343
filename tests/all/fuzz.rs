//! The fuzzing properties of the sandbox boundary, bounded and seeded so
//! that they run in `cargo test` (the open-ended version is the cargo-fuzz
//! target in `fuzz/`).
//!
//! For every case:
//! - the sandbox answers with an artifact or a typed compile error, never a
//!   panic, a hang, a sandbox failure or an internal compiler error;
//! - an artifact is byte-identical to the native compile;
//! - for a module made to terminate, every export called with default
//!   arguments gives the same results or the same trap through Kiln's
//!   artifact as through Wasmtime's own in-process compile.
//!
//! Set `KILN_FUZZ_SEED=N` to rerun one case; `KILN_FUZZ_CASES` sets how
//! many (default 200).

use crate::sandbox;
use arbitrary::Unstructured;
use host::{CompileError, Error, Options, load};
use wasmtime::{Engine, Instance, Module, Store, Val};

const FUEL: u64 = 100_000;

/// Deterministic bytes for a seed (splitmix64).
fn bytes_for(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        out.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// A wasm-smith module for `seed`, with a fuel counter that makes every
/// export terminate, and no imports (so it instantiates on its own).
fn module_for(seed: u64) -> Option<Vec<u8>> {
    let data = bytes_for(seed, 8192);
    let mut u = Unstructured::new(&data);
    let config = wasm_smith::Config {
        max_imports: 0,
        max_funcs: 20,
        max_memories: 2,
        export_everything: true,
        canonicalize_nans: true,
        threads_enabled: false,
        ..wasm_smith::Config::default()
    };
    let mut module = wasm_smith::Module::new(config, &mut u).ok()?;
    module.ensure_termination(1_000).ok()?;
    Some(module.to_bytes())
}

/// Calls every exported function with default arguments and records what
/// happened, as text, in export order.
fn call_exports(engine: &Engine, module: &Module) -> Vec<String> {
    let mut store = Store::new(engine, ());
    store.set_fuel(FUEL).unwrap();
    let instance = match Instance::new(&mut store, module, &[]) {
        Ok(instance) => instance,
        Err(error) => return vec![format!("instantiation: {}", trap_text(&error))],
    };
    let mut outcomes = Vec::new();
    for export in module.exports() {
        let Some(func) = instance.get_func(&mut store, export.name()) else {
            continue;
        };
        let ty = func.ty(&store);
        let params: Vec<Val> = ty
            .params()
            .map(|p| Val::default_for_ty(&p).unwrap_or(Val::I32(0)))
            .collect();
        let mut results = vec![Val::I32(0); ty.results().len()];
        let outcome = match func.call(&mut store, &params, &mut results) {
            Ok(()) => format!(
                "{} -> {}",
                export.name(),
                results.iter().map(val_text).collect::<Vec<_>>().join(", ")
            ),
            Err(error) => format!("{} trapped: {}", export.name(), trap_text(&error)),
        };
        outcomes.push(outcome);
    }
    outcomes
}

fn val_text(val: &Val) -> String {
    match val {
        Val::I32(v) => format!("i32 {v}"),
        Val::I64(v) => format!("i64 {v}"),
        Val::F32(v) => format!("f32 {v:#x}"),
        Val::F64(v) => format!("f64 {v:#x}"),
        Val::V128(v) => format!("v128 {:#x}", v.as_u128()),
        // References differ by address between two stores: compare kinds.
        Val::FuncRef(f) => format!("funcref {}", if f.is_some() { "some" } else { "null" }),
        Val::ExternRef(r) => format!("externref {}", if r.is_some() { "some" } else { "null" }),
        Val::AnyRef(r) => format!("anyref {}", if r.is_some() { "some" } else { "null" }),
        Val::ExnRef(r) => format!("exnref {}", if r.is_some() { "some" } else { "null" }),
        Val::ContRef(r) => format!("contref {}", if r.is_some() { "some" } else { "null" }),
    }
}

fn trap_text(error: &wasmtime::Error) -> String {
    match error.downcast_ref::<wasmtime::Trap>() {
        Some(trap) => format!("trap {trap:?}"),
        None => "error".to_string(),
    }
}

/// Checks one case; `true` if it produced an artifact that was compared.
fn check_case(seed: u64, engine: &Engine, options: &Options) -> bool {
    let Some(wasm) = module_for(seed) else {
        return false;
    };
    let artifact = match sandbox().compile(&wasm, options) {
        Ok(artifact) => artifact,
        Err(Error::Compile(
            CompileError::InvalidInput { .. } | CompileError::UnsupportedFeature { .. },
        )) => {
            return false;
        }
        Err(other) => panic!("seed {seed}: the sandbox failed: {other}"),
    };
    let native = kiln_guest::compile(&wasm, options)
        .unwrap_or_else(|e| panic!("seed {seed}: native failed: {e}"));
    assert!(
        artifact.bytes == native.bytes,
        "seed {seed}: sandboxed artifact differs from native"
    );

    // SAFETY: produced by the sandbox and identical to the native compile.
    let kiln_module = unsafe { Module::deserialize(engine, &artifact.bytes) }.unwrap();
    let reference = Module::new(engine, &wasm).unwrap();
    assert_eq!(
        call_exports(engine, &kiln_module),
        call_exports(engine, &reference),
        "seed {seed}: Kiln's artifact behaves differently from Wasmtime's own compile"
    );
    true
}

#[test]
fn generated_modules_keep_the_sandbox_properties() {
    let options = Options {
        consume_fuel: true,
        ..Options::for_target("x86_64-unknown-linux-gnu")
    };
    let engine = load::engine(&options).unwrap();
    if let Some(seed) = std::env::var("KILN_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        assert!(
            check_case(seed, &engine, &options),
            "seed {seed} produced no artifact"
        );
        return;
    }
    let cases: u64 = std::env::var("KILN_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let compared = (0..cases)
        .filter(|&seed| check_case(seed, &engine, &options))
        .count() as u64;
    // wasm-smith makes valid modules: nearly all must reach the comparison,
    // or this test is not testing what it says.
    assert!(
        compared * 10 >= cases * 9,
        "only {compared} of {cases} cases produced an artifact"
    );
}
