//! Stand-ins for a core module's imports that nothing else provides, made
//! from each import's declared type, so that a module can be instantiated
//! to prove that its artifact loads without the embedder it was built for.
//!
//! Real modules import far more than functions: Emscripten's pthread builds
//! and `wasip1-threads` programs import a shared `env.memory`, dynamic
//! libraries import `env.__memory_base` and `env.__table_base` globals and
//! an `env.__indirect_function_table`, and exception-using code imports
//! tags. Each kind gets the plainest value of its type:
//!
//! | import   | stand-in                                                    |
//! |----------|-------------------------------------------------------------|
//! | function | a host function that traps, naming the import, if called    |
//! | memory   | a new memory of the declared minimum, maximum, page size and |
//! |          | sharedness (a `SharedMemory` when declared shared)          |
//! | table    | a new table of the declared element type and minimum, every |
//! |          | element null                                                |
//! | global   | a global of the declared type and mutability, zero or null  |
//! | tag      | a new tag of the declared type                              |
//!
//! A table of non-nullable references, or a global of one, has no plain
//! value; instantiation then fails naming the import, which is the truth:
//! only its embedder can provide it.

use crate::RunError;
use wasmtime::{
    Extern, ExternType, Global, Linker, Memory, Module, Ref, SharedMemory, Store, Table, Tag, Val,
};

/// Defines in `linker` a stand-in for every import of `module` that it does
/// not define yet.
///
/// # Errors
///
/// [`RunError::Run`] when a stand-in cannot be made (an import of a type
/// with no plain value, a memory larger than this host allows).
pub fn define_stand_ins<T: 'static>(
    linker: &mut Linker<T>,
    store: &mut Store<T>,
    module: &Module,
) -> Result<(), RunError> {
    for import in module.imports() {
        if linker
            .get(&mut *store, import.module(), import.name())
            .is_ok()
        {
            continue;
        }
        let name = format!("{}::{}", import.module(), import.name());
        let item: Extern = match import.ty() {
            // Functions are defined by `define_unknown_imports_as_traps`.
            ExternType::Func(_) => continue,
            ExternType::Memory(ty) if ty.is_shared() => SharedMemory::new(store.engine(), ty)
                .map_err(|e| stand_in_error(&name, e))?
                .into(),
            ExternType::Memory(ty) => Memory::new(&mut *store, ty)
                .map_err(|e| stand_in_error(&name, e))?
                .into(),
            ExternType::Table(ty) => {
                let null = Ref::null(ty.element().heap_type());
                Table::new(&mut *store, ty, null)
                    .map_err(|e| stand_in_error(&name, e))?
                    .into()
            }
            ExternType::Global(ty) => {
                let value = Val::default_for_ty(ty.content()).ok_or_else(|| {
                    stand_in_error(
                        &name,
                        "its type has no default value (a non-null reference)",
                    )
                })?;
                Global::new(&mut *store, ty, value)
                    .map_err(|e| stand_in_error(&name, e))?
                    .into()
            }
            ExternType::Tag(ty) => Tag::new(&mut *store, &ty)
                .map_err(|e| stand_in_error(&name, e))?
                .into(),
        };
        linker
            .define(&mut *store, import.module(), import.name(), item)
            .map_err(|e| stand_in_error(&name, e))?;
    }
    Ok(())
}

fn stand_in_error(import: &str, error: impl std::fmt::Display) -> RunError {
    RunError::run(format!("cannot stand in for import `{import}`: {error:#}"))
}
