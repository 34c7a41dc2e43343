//! What the verifier knows about the runtime structures compiled code may
//! touch: the VMContext layout of each core module, the fixed layouts of
//! the structures it points to, and the engine's memory settings, all read
//! from the artifact the way Wasmtime reads them when loading it.
//!
//! Wasmtime records the module (`.wasmtime.info`, postcard: the module's
//! `CompiledModuleInfo`, its function table and its types; for a
//! component, `ComponentArtifacts` with one `CompiledModuleInfo` per core
//! module) and the engine settings (`.wasmtime.engine`: the target, the
//! Cranelift flags, then `Tunables`). From the module, `VMOffsets` (the
//! pinned Wasmtime's own) lays out the VMContext:
//!
//! ```text
//! 0x00 magic          0x08 store context*   0x10 builtin functions*
//! 0x18 epoch counter* 0x20 GC heap data*    0x28 type ids*
//! 0x30 imported memories  {from*, vmctx*, index}          24 bytes each
//!      defined memories   {definition*}                    8
//!      owned memories     {base*, current_length}         16
//!      imported functions {array_call*, wasm_call*, type, vmctx*} 32
//!      imported tables    {from*, vmctx*, index}          24
//!      imported globals   {from*, vmctx*, kind}           24
//!      imported tags      {from*, vmctx*, index}          24
//!      defined tables     {base*, current_elements}       16
//!      defined globals    16 bytes of value each (16-aligned)
//!      defined tags, funcrefs {array_call*, wasm_call*, type, vmctx*},
//!      the start-up funcref, runtime data bases and lengths
//! ```
//!
//! [`Layout::field`] names what a load from any offset of any such
//! structure yields; the analysis gives it no other meaning.

use super::VerifyCodeError;
use crate::ArtifactKind;
use crate::artifact::inspect::Artifact;
use crate::artifact::inspect::record::FlagValue;
use object::{Object, ObjectSection};
use serde::Deserialize;
use wasmtime_environ::component::ComponentArtifacts;
use wasmtime_environ::{
    BuiltinFunctionIndex, CompiledFunctionsTable, CompiledModuleInfo, EngineOrModuleTypeIndex,
    GlobalIndex, Memory, MemoryIndex, MemoryKind, MemoryTunables, Module, ModuleTypes, PtrSize,
    TableIndex, Tunables, VMOffsets, WasmHeapTopType, WasmValType,
};

/// The most of anything a module may declare before the verifier calls
/// its records implausible (Wasmtime's own limits are far lower), so that
/// no layout arithmetic can overflow.
const MAX_ENTITIES: usize = 1 << 20;

/// A linear memory or the GC heap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HeapId {
    /// Memory `memory` of core module `module`.
    Memory {
        /// The core module.
        module: u32,
        /// The memory index (imports counted).
        memory: u32,
    },
    /// The store's GC heap.
    Gc,
}

/// A table of a core module.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TableId {
    /// The core module.
    pub module: u32,
    /// The table index (imports counted).
    pub table: u32,
}

/// A runtime structure compiled code holds a pointer to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Region {
    /// A VMContext: of core module `Some(m)`, or one of which only the
    /// fixed header is known (builtins, trampolines shared by modules).
    VmCtx(Option<u32>),
    /// The store's `VMStoreContext`.
    StoreCtx,
    /// The builtin functions array.
    Builtins,
    /// A module's type-ids array.
    TypeIds(u32),
    /// The epoch counter.
    Epoch,
    /// The collector's heap data.
    GcHeapData,
    /// A memory's `VMMemoryDefinition`.
    MemDef(HeapId),
    /// A table's `VMTableDefinition`.
    TableDef(TableId),
    /// A global's `VMGlobalDefinition`.
    GlobalDef {
        /// The core module.
        module: u32,
        /// The global index.
        global: u32,
    },
    /// A tag's definition.
    TagDef,
    /// A `VMFuncRef`.
    FuncRef,
    /// A host function's `VMArrayCallHostFuncContext`.
    HostFuncCtx,
    /// A passive segment's bytes (`memory.init`'s source), `bytes` long
    /// as declared: read only, and the bytes stay mapped after a
    /// `data.drop` sets the runtime length to zero.
    RuntimeData {
        /// Its declared size.
        bytes: u32,
    },
    /// The value array of an array-call trampoline, `bytes` long.
    Values {
        /// Its size.
        bytes: u32,
    },
}

/// What a load from a structure yields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// Plain data.
    Data,
    /// A pointer to a structure.
    Ptr(Region),
    /// A function pointer fit to call.
    Code,
    /// A pointer to pass on, never to dereference.
    Opaque,
    /// A heap's base.
    HeapBase(HeapId),
    /// A heap's current length in bytes.
    HeapLen(HeapId),
    /// An integer at most this (a passive segment's runtime length, which
    /// only ever falls from its declared size).
    AtMost(u64),
    /// A table's base.
    TableBase(TableId),
    /// A table's current number of elements.
    TableLen(TableId),
    /// The stack limit.
    StackLimit,
    /// A funcref (or null) that needs no signature check (it is typed).
    FuncRef,
    /// An entry of the type-ids array: a type id to compare against.
    ExpectedType,
    /// A funcref's type id.
    FuncRefType,
    /// A funcref's function pointer: callable once the funcref is checked.
    FuncRefCode,
}

/// The memory settings the engine loads the artifact with.
#[derive(Debug, Clone, Copy)]
pub struct HeapSettings {
    /// Bytes reserved after a linear memory's base.
    pub reservation: u64,
    /// Guard bytes after the reservation (or after the current length).
    pub guard: u64,
    /// The same for the GC heap.
    pub gc_reservation: u64,
    /// The GC heap's guard.
    pub gc_guard: u64,
}

/// One core module's layout.
pub struct ModuleLayout {
    module: Module,
    offsets: VMOffsets<u8>,
    /// Bytes of each function's incoming stack arguments at most.
    arg_bytes: Vec<u32>,
    /// Bytes of each signature's values at most (array-call trampolines).
    signature_bytes: Vec<u32>,
    type_count: u32,
    /// Whether its code reads objects in the GC heap: it defines GC
    /// proposal types (structs, arrays) or exception tags.
    gc_objects: bool,
}

/// Everything the verifier knows about an artifact's runtime structures.
pub struct Layout {
    /// The memory settings.
    pub heaps: HeapSettings,
    modules: Vec<ModuleLayout>,
    /// The engine's settings, for Wasmtime's own rules on them.
    tunables: Tunables,
}

fn metadata(section: &'static str, message: impl ToString) -> VerifyCodeError {
    VerifyCodeError::Metadata {
        section,
        message: message.to_string(),
    }
}

/// The settings record, as far as the tunables.
#[derive(Deserialize)]
struct EngineRecord<'a> {
    _target: String,
    #[serde(borrow)]
    _shared_flags: Vec<(&'a str, FlagValue<'a>)>,
    #[serde(borrow)]
    _isa_flags: Vec<(&'a str, FlagValue<'a>)>,
    tunables: Tunables,
}

fn section<'a>(bytes: &'a [u8], name: &'static str) -> Result<&'a [u8], VerifyCodeError> {
    let file = object::File::parse(bytes).map_err(|e| metadata(name, e))?;
    let section = file
        .section_by_name(name)
        .ok_or_else(|| metadata(name, "missing"))?;
    section.data().map_err(|e| metadata(name, e))
}

fn tunables(bytes: &[u8]) -> Result<Tunables, VerifyCodeError> {
    const NAME: &str = ".wasmtime.engine";
    let data = section(bytes, NAME)?;
    let [0, length, rest @ ..] = data else {
        return Err(metadata(NAME, "unknown record version"));
    };
    let encoded = rest
        .get(usize::from(*length)..)
        .ok_or_else(|| metadata(NAME, "truncated version"))?;
    let (record, _) =
        postcard::take_from_bytes::<EngineRecord<'_>>(encoded).map_err(|e| metadata(NAME, e))?;
    Ok(record.tunables)
}

/// Whether the engine settings in `bytes` say its code was compiled by
/// Winch (Wasmtime records Winch's calling convention in its tunables).
///
/// # Errors
///
/// [`VerifyCodeError::Metadata`] when the settings do not decode.
pub fn compiled_by_winch(bytes: &[u8]) -> Result<bool, VerifyCodeError> {
    Ok(tunables(bytes)?.winch_callable)
}

/// Bytes a signature's values take at most, 16 per value.
fn value_bytes(params: &[WasmValType], results: &[WasmValType]) -> u32 {
    let count = params.len().max(results.len()).min(MAX_ENTITIES);
    u32::try_from(count * 16).unwrap_or(u32::MAX)
}

impl ModuleLayout {
    fn new(module: Module, types: &ModuleTypes) -> Result<Self, VerifyCodeError> {
        const NAME: &str = ".wasmtime.info";
        let counts = [
            module.functions.len(),
            module.tables.len(),
            module.memories.len(),
            module.globals.len(),
            module.tags.len(),
            module.num_escaped_funcs,
            module.runtime_data.len(),
        ];
        if counts.iter().any(|&n| n > MAX_ENTITIES) {
            return Err(metadata(NAME, "implausible entity counts"));
        }
        let signature = |ty: EngineOrModuleTypeIndex| match ty {
            EngineOrModuleTypeIndex::Module(index) => types
                .get(index)
                .and_then(|t| t.as_func().map(|f| value_bytes(f.params(), f.results()))),
            _ => None,
        };
        let arg_bytes = module
            .functions
            .values()
            .map(|f| signature(f.signature).unwrap_or(0))
            .collect();
        let signature_bytes = types
            .wasm_types()
            .map(|(_, t)| {
                t.as_func()
                    .map_or(0, |f| value_bytes(f.params(), f.results()))
            })
            .collect();
        let type_count = u32::try_from(types.len_types().min(MAX_ENTITIES)).unwrap_or(0);
        // A module whose only GC references are `externref`s (tables and
        // values of them, as wasm-bindgen's output has) keeps them in the
        // GC heap but its code never reads an object there: only one with
        // types of its own that are not functions, or with tags, does.
        let gc_objects = module.needs_gc_heap
            && (!module.tags.is_empty()
                || module.types.values().any(|ty| match *ty {
                    EngineOrModuleTypeIndex::Module(index) => {
                        types.get(index).is_none_or(|t| t.as_func().is_none())
                    }
                    _ => true,
                }));
        // `VMOffsets` asserts what a damaged record can break; its panic
        // is turned into the typed error here, never let through.
        let offsets = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            VMOffsets::new(8u8, &module)
        }))
        .map_err(|_| metadata(NAME, "inconsistent module record"))?;
        Ok(Self {
            module,
            offsets,
            arg_bytes,
            signature_bytes,
            type_count,
            gc_objects,
        })
    }
}

impl Layout {
    /// Reads the layout recorded in `bytes`, the artifact `artifact` was
    /// read from.
    ///
    /// # Errors
    ///
    /// [`VerifyCodeError::Metadata`] when Wasmtime's records do not decode
    /// or declare implausible counts.
    pub fn read(bytes: &[u8], artifact: &Artifact) -> Result<Self, VerifyCodeError> {
        const NAME: &str = ".wasmtime.info";
        let tunables = tunables(bytes)?;
        let info = section(bytes, NAME)?;
        let modules = match artifact.record.kind {
            ArtifactKind::Module => {
                let (info, _, types): (CompiledModuleInfo, CompiledFunctionsTable, ModuleTypes) =
                    postcard::from_bytes(info).map_err(|e| metadata(NAME, e))?;
                vec![ModuleLayout::new(info.module, &types)?]
            }
            ArtifactKind::Component => {
                let artifacts: ComponentArtifacts =
                    postcard::from_bytes(info).map_err(|e| metadata(NAME, e))?;
                if artifacts.static_modules.len() > MAX_ENTITIES {
                    return Err(metadata(NAME, "implausible module count"));
                }
                let types = artifacts.types.module_types();
                artifacts
                    .static_modules
                    .into_iter()
                    .map(|(_, info)| ModuleLayout::new(info.module, types))
                    .collect::<Result<_, _>>()?
            }
        };
        Ok(Self {
            heaps: HeapSettings {
                reservation: tunables.memory_reservation,
                guard: tunables.memory_guard_size,
                gc_reservation: tunables.gc_heap_reservation,
                gc_guard: tunables.gc_heap_guard_size,
            },
            modules,
            tunables,
        })
    }

    /// Core module `module`'s layout, if it exists.
    fn module(&self, module: u32) -> Option<&ModuleLayout> {
        self.modules.get(usize::try_from(module).ok()?)
    }

    /// Whether the artifact has core module `module`.
    pub fn has_module(&self, module: u32) -> bool {
        self.module(module).is_some()
    }

    /// Bytes of incoming stack arguments function `index` of `module` may
    /// read.
    pub fn arg_bytes(&self, module: u32, index: u32) -> u32 {
        self.module(module)
            .and_then(|m| m.arg_bytes.get(usize::try_from(index).ok()?).copied())
            .unwrap_or(0)
    }

    /// Bytes of the value array for signature `index` of `module`.
    pub fn signature_bytes(&self, module: u32, index: u32) -> u32 {
        self.module(module)
            .and_then(|m| m.signature_bytes.get(usize::try_from(index).ok()?).copied())
            .unwrap_or(0)
    }

    /// The size of a structure, in bytes.
    pub fn size(&self, region: Region) -> u64 {
        let p = 8u8;
        match region {
            Region::VmCtx(Some(m)) => self
                .module(m)
                .map_or(0, |m| u64::from(m.offsets.size_of_vmctx())),
            Region::VmCtx(None) => u64::from(p.vmctx_dynamic_data_start()),
            Region::StoreCtx => u64::from(p.vm_store_context().size()),
            Region::Builtins => u64::from(BuiltinFunctionIndex::len()) * 8,
            Region::TypeIds(m) => self.module(m).map_or(0, |m| u64::from(m.type_count) * 4),
            Region::Epoch => 8,
            Region::GcHeapData => 16,
            Region::MemDef(_) => u64::from(p.vm_memory_definition().size()),
            Region::TableDef(_) => u64::from(p.vm_table_definition().size()),
            Region::GlobalDef { .. } => 16,
            Region::TagDef => u64::from(p.vm_tag_definition().size()),
            Region::FuncRef => u64::from(p.vm_func_ref().size()),
            Region::HostFuncCtx => {
                u64::from(p.vmarray_call_host_func_context_func_ref())
                    + u64::from(p.vm_func_ref().size())
            }
            Region::Values { bytes } | Region::RuntimeData { bytes } => u64::from(bytes),
        }
    }

    /// Whether compiled code may store to `size` bytes at `offset` of
    /// `region` (already known to lie inside it).
    pub fn writable(&self, region: Region, offset: u64, size: u64) -> bool {
        let p = 8u8;
        let overlaps = |field: u8, len: u64| {
            offset < u64::from(field) + len && u64::from(field) < offset + size
        };
        match region {
            Region::StoreCtx => {
                let store = p.vm_store_context();
                !overlaps(store.stack_limit(), 8) && !overlaps(store.gc_heap(), 16)
            }
            Region::VmCtx(Some(m)) => self.module(m).is_some_and(|m| {
                // Defined globals, and the runtime lengths of passive
                // segments (`data.drop` and `elem.drop` zero them).
                let o = &m.offsets;
                let within = |begin: u32, end: u32| {
                    offset >= u64::from(begin) && offset + size <= u64::from(end)
                };
                within(o.vmctx_globals_begin(), o.vmctx_tags_begin())
                    || within(o.vmctx_runtime_data_lengths_begin(), o.size_of_vmctx())
            }),
            Region::GlobalDef { .. } | Region::GcHeapData | Region::Values { .. } => true,
            Region::VmCtx(None)
            | Region::Builtins
            | Region::TypeIds(_)
            | Region::Epoch
            | Region::MemDef(_)
            | Region::TableDef(_)
            | Region::TagDef
            | Region::FuncRef
            | Region::HostFuncCtx
            | Region::RuntimeData { .. } => false,
        }
    }

    /// What an 8-byte (pointer-sized) load at `offset` of `region` yields;
    /// any other load yields plain data.
    pub fn field(&self, region: Region, offset: u64) -> Field {
        let p = 8u8;
        match region {
            Region::VmCtx(module) => self.vmctx_field(module, offset),
            Region::StoreCtx => {
                let store = p.vm_store_context();
                if offset == u64::from(store.stack_limit()) {
                    Field::StackLimit
                } else if offset == u64::from(store.gc_heap_base()) {
                    Field::HeapBase(HeapId::Gc)
                } else if offset == u64::from(store.gc_heap_current_length()) {
                    Field::HeapLen(HeapId::Gc)
                } else {
                    Field::Data
                }
            }
            Region::Builtins => Field::Code,
            Region::TypeIds(_) => Field::ExpectedType,
            Region::MemDef(heap) => {
                if offset == u64::from(p.vm_memory_definition().base()) {
                    Field::HeapBase(heap)
                } else {
                    Field::HeapLen(heap)
                }
            }
            Region::TableDef(table) => {
                if offset == u64::from(p.vm_table_definition().base()) {
                    Field::TableBase(table)
                } else {
                    Field::TableLen(table)
                }
            }
            Region::GlobalDef { module, global } => self.global_field(module, global),
            Region::FuncRef => Self::func_ref_field(offset),
            Region::HostFuncCtx => {
                let start = u64::from(p.vmarray_call_host_func_context_func_ref());
                match offset.checked_sub(start) {
                    Some(o) if o == u64::from(p.vm_func_ref().array_call()) => Field::Code,
                    _ => Field::Data,
                }
            }
            Region::Epoch
            | Region::GcHeapData
            | Region::TagDef
            | Region::Values { .. }
            | Region::RuntimeData { .. } => Field::Data,
        }
    }

    /// A `VMFuncRef`'s field at `offset`.
    fn func_ref_field(offset: u64) -> Field {
        let f = 8u8.vm_func_ref();
        if offset == u64::from(f.wasm_call()) || offset == u64::from(f.array_call()) {
            Field::FuncRefCode
        } else if offset == u64::from(f.type_index()) {
            Field::FuncRefType
        } else if offset == u64::from(f.vmctx()) {
            Field::Opaque
        } else {
            Field::Data
        }
    }

    fn global_field(&self, module: u32, global: u32) -> Field {
        let Some(m) = self.module(module) else {
            return Field::Data;
        };
        match m.module.globals.get(GlobalIndex::from_u32(global)) {
            Some(g) if is_func_ref(&g.wasm_ty) => Field::FuncRef,
            _ => Field::Data,
        }
    }

    fn vmctx_field(&self, module: Option<u32>, offset: u64) -> Field {
        let p = 8u8;
        let header = [
            (p.vmctx_store_context(), Field::Ptr(Region::StoreCtx)),
            (p.vmctx_builtin_functions(), Field::Ptr(Region::Builtins)),
            (p.vmctx_epoch_ptr(), Field::Ptr(Region::Epoch)),
            (p.vmctx_gc_heap_data(), Field::Ptr(Region::GcHeapData)),
        ];
        if let Some((_, field)) = header.iter().find(|(o, _)| u64::from(*o) == offset) {
            return *field;
        }
        let Some(index) = module else {
            return Field::Data;
        };
        if offset == u64::from(p.vmctx_type_ids_array()) {
            return Field::Ptr(Region::TypeIds(index));
        }
        let Some(m) = self.module(index) else {
            return Field::Data;
        };
        let Ok(offset) = u32::try_from(offset) else {
            return Field::Data;
        };
        module_field(m, index, offset)
    }
}

fn is_func_ref(ty: &WasmValType) -> bool {
    matches!(ty, WasmValType::Ref(r) if r.heap_type.top() == WasmHeapTopType::Func)
}

/// Which entry of a run of `count` entries of `size` bytes from `begin`
/// holds `offset`, and where in it.
fn entry(offset: u32, begin: u32, size: u8, count: u32) -> Option<(u32, u32)> {
    let rel = offset.checked_sub(begin)?;
    let size = u32::from(size);
    let index = rel / size;
    (index < count).then_some((index, rel % size))
}

/// A field of an import (`VMMemoryImport`, `VMTableImport`,
/// `VMGlobalImport`, `VMTagImport`): `from` points at the definition,
/// `vmctx` at the exporting instance; the rest is data.
fn import(at: u32, from: u8, vmctx: u8, definition: Field) -> Field {
    if at == u32::from(from) {
        definition
    } else if at == u32::from(vmctx) {
        Field::Opaque
    } else {
        Field::Data
    }
}

/// A field of module `m`'s own VMContext, past the header.
fn module_field(m: &ModuleLayout, index: u32, offset: u32) -> Field {
    let p = 8u8;
    let o = &m.offsets;
    let module = &m.module;
    let memory = |memory: u32| HeapId::Memory {
        module: index,
        memory,
    };
    let table = |table: u32| TableId {
        module: index,
        table,
    };
    let imported_memories = u32::try_from(module.num_imported_memories).unwrap_or(0);
    let imported_tables = u32::try_from(module.num_imported_tables).unwrap_or(0);
    let imported_globals = u32::try_from(module.num_imported_globals).unwrap_or(0);
    if let Some((i, at)) = entry(
        offset,
        o.vmctx_imported_memories_begin(),
        p.vm_memory_import().size(),
        o.num_imported_memories,
    ) {
        return import(
            at,
            p.vm_memory_import().from(),
            p.vm_memory_import().vmctx(),
            Field::Ptr(Region::MemDef(memory(i))),
        );
    }
    if let Some((i, _)) = entry(
        offset,
        o.vmctx_memories_begin(),
        p.size_of_vmmemory_pointer(),
        o.num_defined_memories,
    ) {
        return Field::Ptr(Region::MemDef(memory(imported_memories + i)));
    }
    if let Some((owned, at)) = entry(
        offset,
        o.vmctx_owned_memories_begin(),
        p.vm_memory_definition().size(),
        o.num_owned_memories,
    ) {
        let Some(defined) = owned_to_defined(module, owned) else {
            return Field::Data;
        };
        let heap = memory(imported_memories + defined);
        return if at == u32::from(p.vm_memory_definition().base()) {
            Field::HeapBase(heap)
        } else {
            Field::HeapLen(heap)
        };
    }
    if let Some((_, at)) = entry(
        offset,
        o.vmctx_imported_functions_begin(),
        p.vm_function_import().size(),
        o.num_imported_functions,
    ) {
        let f = p.vm_function_import();
        return if at == u32::from(f.wasm_call()) || at == u32::from(f.array_call()) {
            Field::Code
        } else if at == u32::from(f.vmctx()) {
            Field::Opaque
        } else {
            Field::Data
        };
    }
    if let Some((i, at)) = entry(
        offset,
        o.vmctx_imported_tables_begin(),
        p.vm_table_import().size(),
        o.num_imported_tables,
    ) {
        return import(
            at,
            p.vm_table_import().from(),
            p.vm_table_import().vmctx(),
            Field::Ptr(Region::TableDef(table(i))),
        );
    }
    if let Some((i, at)) = entry(
        offset,
        o.vmctx_imported_globals_begin(),
        p.vm_global_import().size(),
        o.num_imported_globals,
    ) {
        let global = Field::Ptr(Region::GlobalDef {
            module: index,
            global: i,
        });
        return import(
            at,
            p.vm_global_import().from(),
            p.vm_global_import().vmctx(),
            global,
        );
    }
    if let Some((_, at)) = entry(
        offset,
        o.vmctx_imported_tags_begin(),
        p.vm_tag_import().size(),
        o.num_imported_tags,
    ) {
        return import(
            at,
            p.vm_tag_import().from(),
            p.vm_tag_import().vmctx(),
            Field::Ptr(Region::TagDef),
        );
    }
    if let Some((i, at)) = entry(
        offset,
        o.vmctx_tables_begin(),
        p.vm_table_definition().size(),
        o.num_defined_tables,
    ) {
        let t = table(imported_tables + i);
        return if at == u32::from(p.vm_table_definition().base()) {
            Field::TableBase(t)
        } else {
            Field::TableLen(t)
        };
    }
    if let Some((i, _)) = entry(
        offset,
        o.vmctx_globals_begin(),
        p.vm_global_definition().size(),
        o.num_defined_globals,
    ) {
        let global = GlobalIndex::from_u32(imported_globals + i);
        return match module.globals.get(global) {
            Some(g) if is_func_ref(&g.wasm_ty) => Field::FuncRef,
            _ => Field::Data,
        };
    }
    let func_refs = o.num_escaped_funcs + u32::from(!module.startup.is_none());
    if let Some((_, at)) = entry(
        offset,
        o.vmctx_func_refs_begin(),
        p.vm_func_ref().size(),
        func_refs,
    ) {
        return Layout::func_ref_field(u64::from(at));
    }
    if let Some((i, 0)) = entry(
        offset,
        o.vmctx_runtime_data_bases_begin(),
        p.size(),
        o.num_runtime_data,
    ) {
        return Field::Ptr(Region::RuntimeData {
            bytes: runtime_data_bytes(module, i),
        });
    }
    if let Some((i, 0)) = entry(
        offset,
        o.vmctx_runtime_data_lengths_begin(),
        4,
        o.num_runtime_data,
    ) {
        return Field::AtMost(u64::from(runtime_data_bytes(module, i)));
    }
    Field::Data
}

/// The declared size of passive segment `i`.
fn runtime_data_bytes(module: &Module, i: u32) -> u32 {
    module
        .runtime_data
        .get(wasmtime_environ::RuntimeDataIndex::from_u32(i))
        .map_or(0, |range| range.end.saturating_sub(range.start))
}

/// The defined-memory index of owned memory `owned` (owned memories are
/// the defined ones that are not shared, in order).
fn owned_to_defined(module: &Module, owned: u32) -> Option<u32> {
    let (defined, _) = module
        .memories
        .iter()
        .skip(module.num_imported_memories)
        .enumerate()
        .filter(|(_, (_, m))| !m.shared)
        .nth(usize::try_from(owned).ok()?)?;
    u32::try_from(defined).ok()
}

impl Layout {
    /// The least number of elements table `table` ever has.
    pub fn table_min(&self, table: TableId) -> u64 {
        self.module(table.module)
            .and_then(|m| m.module.tables.get(TableIndex::from_u32(table.table)))
            .map_or(0, |t| t.limits.min)
    }

    /// Whether table `table` can never grow (its maximum is its minimum),
    /// so that its elements stay where its base first said.
    pub fn table_fixed(&self, table: TableId) -> bool {
        self.module(table.module)
            .and_then(|m| m.module.tables.get(TableIndex::from_u32(table.table)))
            .is_some_and(|t| t.limits.max == Some(t.limits.min))
    }

    /// Whether table `table` holds funcrefs (8-byte pointers) rather than
    /// GC references (4 bytes).
    pub fn table_holds_func_refs(&self, table: TableId) -> bool {
        self.module(table.module)
            .and_then(|m| m.module.tables.get(TableIndex::from_u32(table.table)))
            .is_some_and(|t| t.ref_type.heap_type.top() == WasmHeapTopType::Func)
    }

    /// The size in bytes of one element of table `table`.
    pub fn table_element_size(&self, table: TableId) -> u64 {
        if self.table_holds_func_refs(table) {
            8
        } else {
            4
        }
    }

    /// The bytes after a heap's base that the engine keeps reserved or
    /// guarded, and the guard after its current length.
    pub fn heap_bounds(&self, heap: HeapId) -> (u64, u64) {
        match heap {
            HeapId::Memory { .. } => (
                self.heaps.reservation.saturating_add(self.heaps.guard),
                self.heaps.guard,
            ),
            HeapId::Gc => (
                self.heaps
                    .gc_reservation
                    .saturating_add(self.heaps.gc_guard),
                self.heaps.gc_guard,
            ),
        }
    }

    /// The linear memory heap `heap` is, as the artifact records it.
    fn memory(&self, heap: HeapId) -> Option<&Memory> {
        match heap {
            HeapId::Memory { module, memory } => self
                .module(module)?
                .module
                .memories
                .get(MemoryIndex::from_u32(memory)),
            HeapId::Gc => None,
        }
    }

    /// Whether a heap's base may move while the code runs: when a call
    /// grows it past what its reservation holds. Wasmtime's own rule, from
    /// the memory's type and the engine's settings; an unknown memory may.
    pub fn heap_may_move(&self, heap: HeapId) -> bool {
        match heap {
            HeapId::Memory { .. } => self.memory(heap).is_none_or(|m| {
                m.memory_may_move(&MemoryTunables::new(
                    &self.tunables,
                    MemoryKind::LinearMemory,
                ))
            }),
            HeapId::Gc => self.tunables.gc_heap_may_move,
        }
    }

    /// The fewest bytes heap `heap` ever holds: its declared minimum (it
    /// never shrinks); 0 where nothing is known.
    pub fn heap_min_bytes(&self, heap: HeapId) -> u64 {
        self.memory(heap)
            .and_then(|m| m.limits.min.checked_mul(page_size(m)?))
            .unwrap_or(0)
    }

    /// A number every length heap `heap` can have is a multiple of: its
    /// page size, as it only ever grows by whole pages (1 where nothing is
    /// known).
    pub fn heap_page_size(&self, heap: HeapId) -> u64 {
        self.memory(heap).and_then(page_size).unwrap_or(1)
    }

    /// Whether core module `module` reads objects in the GC heap (GC
    /// proposal types, exceptions), accesses the verifier does not model
    /// yet. A module whose only GC references are `externref`s is
    /// checked.
    pub fn uses_gc(&self, module: u32) -> bool {
        self.module(module).is_some_and(|m| m.gc_objects)
    }
}

/// A memory's page size, read from the artifact's own record: any size
/// is accepted without arithmetic that could overflow (`None` past 2⁶³).
fn page_size(memory: &Memory) -> Option<u64> {
    1u64.checked_shl(u32::from(memory.page_size_log2))
}
