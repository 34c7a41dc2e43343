//! Running artifacts natively: a WASI command (a preview1 core module or a
//! `wasi:cli` component), or one export called with plain values.
//!
//! Modules get WASI preview1 plus no-op `bench.start`/`bench.end` (the
//! Sightglass benchmark markers); any other import traps if called. Guests
//! see only what the caller grants: their arguments and the directories
//! given as preopens.

mod stand_ins;
mod values;

use crate::RunError;
use crate::load::Loaded;
use std::path::PathBuf;
use wasmtime::component::types::{ComponentFunc, ComponentItem};
use wasmtime::component::{ResourceTable, Val as CVal};
use wasmtime::{Engine, Store};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::{FsPerms, I32Exit, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

/// A host directory made visible to the guest.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Preopen {
    /// The directory on the host.
    pub host: PathBuf,
    /// The name the guest sees it under.
    pub guest: String,
}

impl Preopen {
    /// Parses `HOST` (seen by the guest under the same name) or
    /// `HOST::GUEST`.
    pub fn parse(text: &str) -> Self {
        match text.split_once("::") {
            Some((host, guest)) => Self {
                host: host.into(),
                guest: guest.to_string(),
            },
            None => Self {
                host: text.into(),
                guest: text.to_string(),
            },
        }
    }
}

/// What to run and with what.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct RunConfig {
    /// The guest's `argv`, program name first.
    pub args: Vec<String>,
    /// Directories the guest may use.
    pub preopens: Vec<Preopen>,
    /// Call this export instead of running the command.
    pub invoke: Option<String>,
    /// Arguments for `invoke`, parsed by the export's parameter types.
    pub invoke_args: Vec<String>,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Outcome {
    /// A command ran to its end with this exit status.
    Exited(i32),
    /// An invoked export returned these values, printed.
    Returned(Vec<String>),
}

/// Runs `loaded` in `engine` (which must be the engine it was loaded into).
///
/// # Errors
///
/// [`RunError::Run`] for a missing export, bad arguments, a failed
/// instantiation, or a trap (with Wasmtime's backtrace).
pub fn run(engine: &Engine, loaded: &Loaded, config: &RunConfig) -> Result<Outcome, RunError> {
    let wasi = wasi_builder(config)?;
    match loaded {
        Loaded::Module(module) => run_module(engine, module, wasi, config),
        Loaded::Component(component) => run_component(engine, component, wasi, config),
    }
}

/// Instantiates `loaded` with the same imports [`run`] provides, a WASI
/// context that grants nothing, and a stand-in for every other import of a
/// core module (memories, tables, globals and tags too, made from their
/// declared types: `stand_ins.rs`), without running anything. A failure
/// therefore means the artifact is at fault, not the embedder it lacks.
///
/// # Errors
///
/// [`RunError::Run`] when instantiation fails (a start function that traps
/// included).
pub fn instantiate(engine: &Engine, loaded: &Loaded) -> Result<(), RunError> {
    let mut wasi = WasiCtxBuilder::new();
    match loaded {
        Loaded::Module(module) => {
            let mut linker = module_linker(engine, module)?;
            let mut store = Store::new(engine, wasi.build_p1());
            stand_ins::define_stand_ins(&mut linker, &mut store, module)?;
            linker
                .instantiate(&mut store, module)
                .map_err(RunError::run)?;
        }
        Loaded::Component(component) => {
            let linker = component_linker(engine, component)?;
            let mut store = Store::new(engine, ComponentState::new(wasi.build()));
            linker
                .instantiate(&mut store, component)
                .map_err(RunError::run)?;
        }
    }
    Ok(())
}

fn wasi_builder(config: &RunConfig) -> Result<WasiCtxBuilder, RunError> {
    let mut wasi = WasiCtxBuilder::new();
    wasi.inherit_stdio().args(&config.args);
    for dir in &config.preopens {
        wasi.preopened_dir(&dir.host, &dir.guest, FsPerms::ReadWrite)
            .map_err(|e| RunError::run(format!("cannot preopen {}: {e:#}", dir.host.display())))?;
    }
    Ok(wasi)
}

fn run_module(
    engine: &Engine,
    module: &wasmtime::Module,
    mut wasi: WasiCtxBuilder,
    config: &RunConfig,
) -> Result<Outcome, RunError> {
    let mut store = Store::new(engine, wasi.build_p1());
    let linker = module_linker(engine, module)?;
    let instance = linker
        .instantiate(&mut store, module)
        .map_err(RunError::run)?;
    match &config.invoke {
        Some(name) => {
            let func = instance
                .get_func(&mut store, name)
                .ok_or_else(|| RunError::run(format!("no exported function `{name}`")))?;
            values::call_core(&mut store, &func, &config.invoke_args).map(Outcome::Returned)
        }
        None => {
            let start = instance
                .get_typed_func::<(), ()>(&mut store, "_start")
                .map_err(|_| {
                    RunError::run("not a WASI command (no `_start` export); use --invoke NAME")
                })?;
            exit_status(start.call(&mut store, ()))
        }
    }
}

fn run_component(
    engine: &Engine,
    component: &wasmtime::component::Component,
    mut wasi: WasiCtxBuilder,
    config: &RunConfig,
) -> Result<Outcome, RunError> {
    let mut store = Store::new(engine, ComponentState::new(wasi.build()));
    let linker = component_linker(engine, component)?;
    match &config.invoke {
        Some(name) => {
            let instance = linker
                .instantiate(&mut store, component)
                .map_err(RunError::run)?;
            let func = instance
                .get_func(&mut store, name.as_str())
                .ok_or_else(|| RunError::run(format!("no exported function `{name}`")))?;
            values::call_component(&mut store, &func, &config.invoke_args).map(Outcome::Returned)
        }
        None => {
            let command = wasmtime_wasi::p2::bindings::sync::Command::instantiate(
                &mut store, component, &linker,
            )
            .map_err(|e| RunError::run(format!("not a wasi:cli command: {e:#}")))?;
            match command.wasi_cli_run().call_run(&mut store) {
                Ok(Ok(())) => Ok(Outcome::Exited(0)),
                Ok(Err(())) => Ok(Outcome::Exited(1)),
                Err(error) => exit_status(Err(error)),
            }
        }
    }
}

fn module_linker(
    engine: &Engine,
    module: &wasmtime::Module,
) -> Result<wasmtime::Linker<WasiP1Ctx>, RunError> {
    let mut linker = wasmtime::Linker::<WasiP1Ctx>::new(engine);
    wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |ctx| ctx).map_err(RunError::run)?;
    linker
        .func_wrap("bench", "start", || {})
        .map_err(RunError::run)?;
    linker
        .func_wrap("bench", "end", || {})
        .map_err(RunError::run)?;
    linker
        .define_unknown_imports_as_traps(module)
        .map_err(RunError::run)?;
    Ok(linker)
}

fn component_linker(
    engine: &Engine,
    component: &wasmtime::component::Component,
) -> Result<wasmtime::component::Linker<ComponentState>, RunError> {
    let mut linker = wasmtime::component::Linker::<ComponentState>::new(engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(RunError::run)?;
    // Stubs only for functions outside WASI. WASI imports are left to the
    // WASI definitions, which the linker matches by semver (an import of
    // `wasi:cli/run@0.2.6` is served by the newer 0.2 version here); a stub
    // under the exact name would shadow them.
    for (name, item) in component.component_type().imports(engine) {
        if name.starts_with("wasi:") {
            continue;
        }
        match item.ty {
            ComponentItem::ComponentFunc(_) => {
                linker
                    .root()
                    .func_new(name, stub(name, ""))
                    .map_err(RunError::run)?;
            }
            ComponentItem::ComponentInstance(instance) => {
                let mut definitions = linker.instance(name).map_err(RunError::run)?;
                for (function, item) in instance.exports(engine) {
                    if let ComponentItem::ComponentFunc(_) = item.ty {
                        definitions
                            .func_new(function, stub(name, function))
                            .map_err(RunError::run)?;
                    }
                }
            }
            // Types and resources outside WASI: instantiation names them.
            _ => {}
        }
    }
    Ok(linker)
}

/// A host function for an import nothing else provides: the Sightglass
/// markers (`bench#start`, `bench#end`) do nothing, anything else traps
/// when called, naming itself.
fn stub(
    import: &str,
    function: &str,
) -> impl Fn(
    wasmtime::StoreContextMut<'_, ComponentState>,
    ComponentFunc,
    &[CVal],
    &mut [CVal],
) -> wasmtime::Result<()>
+ Send
+ Sync
+ 'static {
    let full = if function.is_empty() {
        import.to_string()
    } else {
        format!("{import}#{function}")
    };
    let marker = matches!(full.as_str(), "bench#start" | "bench#end");
    move |_, _, _, _| {
        if marker {
            Ok(())
        } else {
            Err(wasmtime::format_err!(
                "called the unprovided import `{full}`"
            ))
        }
    }
}

/// A command's exit: normal return is status 0, `proc_exit(n)` is `n`,
/// anything else (a trap) is an error.
fn exit_status(result: wasmtime::Result<()>) -> Result<Outcome, RunError> {
    match result {
        Ok(()) => Ok(Outcome::Exited(0)),
        Err(error) => match error.downcast_ref::<I32Exit>() {
            Some(exit) => Ok(Outcome::Exited(exit.0)),
            None => Err(RunError::run(error)),
        },
    }
}

struct ComponentState {
    wasi: WasiCtx,
    table: ResourceTable,
}

impl ComponentState {
    fn new(wasi: WasiCtx) -> Self {
        Self {
            wasi,
            table: ResourceTable::new(),
        }
    }
}

impl WasiView for ComponentState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}
