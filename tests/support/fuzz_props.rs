//! The fuzzing properties of the sandbox boundary, shared by the bounded
//! `cargo test` (`tests/all/fuzz.rs`) and the cargo-fuzz targets (`fuzz/`).
//!
//! - The sandbox answers with an artifact or a typed error (a compile
//!   error, or a limit), never a panic, a hang past its deadline, a sandbox
//!   failure or an internal compiler error.
//! - An artifact is byte-identical to the native compile.
//! - For a module made to terminate, every export called with default
//!   arguments gives the same results or the same trap through Kiln's
//!   artifact as through Wasmtime's own in-process compile (fuel-bounded).

use arbitrary::Unstructured;
use host::{CompileError, CompileRequest, Compiled, Error, Options, Sandbox};
use wasmtime::{Engine, Instance, Module, Store, Val};

/// Fuel for each store that runs generated code.
const FUEL: u64 = 100_000;

/// The options every fuzz case compiles with: fuel (to bound runs) and,
/// beyond the defaults, the proposals wasm-smith can generate that are off
/// by default.
pub fn options() -> Options {
    Options::with_wasmtime_flags(
        "x86_64-unknown-linux-gnu",
        ["-W", "fuel=1,custom-page-sizes=y,wide-arithmetic=y"],
    )
    .expect("Wasmtime takes these flags")
}

/// The engine that runs fuzz cases: [`options`], and shared memories
/// allowed (the threads proposal).
pub fn engine() -> Engine {
    host::load::engine_configured(&options(), |config| {
        config.shared_memory(true);
    })
    .expect("the fuzz engine builds")
}

/// A wasm-smith module built from `data`, with every proposal Kiln enables,
/// a fuel counter that makes every export terminate, and no imports, so it
/// instantiates on its own.
pub fn terminating_module(data: &[u8]) -> Option<Vec<u8>> {
    let mut u = Unstructured::new(data);
    let config = wasm_smith::Config {
        max_imports: 0,
        max_funcs: 20,
        max_memories: 2,
        export_everything: true,
        canonicalize_nans: true,
        threads_enabled: true,
        custom_page_sizes_enabled: true,
        wide_arithmetic_enabled: true,
        extended_const_enabled: true,
        ..wasm_smith::Config::default()
    };
    let mut module = wasm_smith::Module::new(config, &mut u).ok()?;
    module.ensure_termination(1_000).ok()?;
    Some(module.to_bytes())
}

/// What the sandbox made of an input, when it kept the properties.
pub enum Answer {
    /// An artifact, identical to the native compile.
    Artifact(Vec<u8>),
    /// A typed refusal or a limit.
    Refused,
}

/// Compiles `input` in the sandbox and checks the answer's properties.
///
/// # Errors
///
/// A description of the violated property.
pub fn compile_checked(
    sandbox: &Sandbox,
    input: &[u8],
    options: &Options,
) -> Result<Answer, String> {
    match sandbox.compile(&CompileRequest::new(input, options)) {
        Ok(Compiled { artifact, .. }) => {
            let native = kiln_guest::compile(input, options).map_err(|e| {
                format!("the sandbox compiled it but the native compile failed: {e}")
            })?;
            if artifact.bytes != native.bytes {
                return Err("the sandboxed artifact differs from the native one".to_string());
            }
            Ok(Answer::Artifact(artifact.bytes))
        }
        Err(Error::Compile(CompileError::Internal { message })) => {
            Err(format!("internal compiler error: {message}"))
        }
        Err(Error::Compile(_) | Error::Limit(_)) => Ok(Answer::Refused),
        Err(other) => Err(format!("the sandbox failed instead of answering: {other}")),
    }
}

/// Runs every export of Kiln's artifact and of Wasmtime's own compile of
/// `wasm`, and compares what happened.
///
/// # Errors
///
/// A description of the first difference.
pub fn same_behaviour(engine: &Engine, wasm: &[u8], artifact: &[u8]) -> Result<(), String> {
    // SAFETY: the artifact came from the sandbox and was shown identical to
    // the native compile by `compile_checked`.
    let kiln = unsafe { Module::deserialize(engine, artifact) }
        .map_err(|e| format!("artifact does not load: {e:#}"))?;
    let reference =
        Module::new(engine, wasm).map_err(|e| format!("reference compile failed: {e:#}"))?;
    let (kiln, reference) = (
        call_exports(engine, &kiln),
        call_exports(engine, &reference),
    );
    if kiln == reference {
        Ok(())
    } else {
        Err(format!(
            "behaviour differs:\n  kiln:      {kiln:?}\n  reference: {reference:?}"
        ))
    }
}

/// Calls every exported function with default arguments and records what
/// happened, as text, in export order.
fn call_exports(engine: &Engine, module: &Module) -> Vec<String> {
    let mut store = Store::new(engine, ());
    if store.set_fuel(FUEL).is_err() {
        return vec!["engine without fuel".to_string()];
    }
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
            Ok(()) => {
                let values: Vec<String> = results.iter().map(val_text).collect();
                format!("{} -> {}", export.name(), values.join(", "))
            }
            Err(error) => format!("{} trapped: {}", export.name(), trap_text(&error)),
        };
        outcomes.push(outcome);
    }
    outcomes
}

fn val_text(val: &Val) -> String {
    let reference = |present: bool| if present { "some" } else { "null" };
    match val {
        Val::I32(v) => format!("i32 {v}"),
        Val::I64(v) => format!("i64 {v}"),
        Val::F32(v) => format!("f32 {v:#x}"),
        Val::F64(v) => format!("f64 {v:#x}"),
        Val::V128(v) => format!("v128 {:#x}", v.as_u128()),
        // References differ by address between two stores: compare kinds.
        Val::FuncRef(r) => format!("funcref {}", reference(r.is_some())),
        Val::ExternRef(r) => format!("externref {}", reference(r.is_some())),
        Val::AnyRef(r) => format!("anyref {}", reference(r.is_some())),
        Val::ExnRef(r) => format!("exnref {}", reference(r.is_some())),
        Val::ContRef(r) => format!("contref {}", reference(r.is_some())),
    }
}

fn trap_text(error: &wasmtime::Error) -> String {
    match error.downcast_ref::<wasmtime::Trap>() {
        Some(trap) => format!("trap {trap:?}"),
        None => "error".to_string(),
    }
}

/// What the sandbox and the native compile agreed on, for counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Agreement {
    /// The same artifact, byte for byte.
    Artifact,
    /// The same refusal (kind, message and offset).
    Refused,
    /// The sandbox hit one of its limits; the native compile has none, so
    /// there is nothing to compare.
    SandboxLimit,
}

/// The 32-bit build against the 64-bit one: `compile` runs the sandboxed
/// (wasm32) compiler, and its outcome must be the native (x86_64) build's:
/// the same artifact bytes, or the same [`CompileError`] (kind, message and
/// byte offset), never an internal error on either side.
///
/// # Errors
///
/// A description of the divergence.
pub fn same_as_native(
    compile: impl FnOnce() -> Result<host::Artifact, Error>,
    input: &[u8],
    options: &Options,
) -> Result<Agreement, String> {
    let sandboxed = compile();
    let native =
        std::panic::catch_unwind(|| kiln_guest::compile(input, options)).map_err(|panic| {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            format!("the native compile panicked: {message}")
        })?;
    match (sandboxed, native) {
        (Ok(sandboxed), Ok(native)) if sandboxed.bytes == native.bytes => Ok(Agreement::Artifact),
        (Ok(_), Ok(_)) => Err("the artifacts differ".to_string()),
        (Err(Error::Limit(_)), _) => Ok(Agreement::SandboxLimit),
        (Err(Error::Compile(CompileError::Internal { message })), _) => {
            Err(format!("internal compiler error in the sandbox: {message}"))
        }
        (_, Err(CompileError::Internal { message })) => {
            Err(format!("internal compiler error natively: {message}"))
        }
        (Err(Error::Compile(sandboxed)), Err(native)) if sandboxed == native => {
            Ok(Agreement::Refused)
        }
        (Err(Error::Compile(sandboxed)), Err(native)) => Err(format!(
            "different refusals:\n  sandbox: {sandboxed}\n  native:  {native}"
        )),
        (Err(Error::Compile(sandboxed)), Ok(_)) => Err(format!(
            "the sandbox refused what compiles natively: {sandboxed}"
        )),
        (Ok(_), Err(native)) => Err(format!(
            "the sandbox compiled what is refused natively: {native}"
        )),
        (Err(other), _) => Err(format!("the sandbox failed instead of answering: {other}")),
    }
}
