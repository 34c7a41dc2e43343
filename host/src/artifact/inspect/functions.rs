//! The function layout: every piece of compiled code in `.text`, from the
//! ELF symbol table Wasmtime writes beside it.
//!
//! Wasmtime 48 names each symbol after what it compiles:
//! `wasm[M]::function[N]` (with `::NAME` appended when the input's name
//! section names the function) for function `N` of core module `M`
//! (imports counted), and other names for trampolines
//! (`wasm[M]::array_to_wasm_trampoline[N]`,
//! `signatures[T]::wasm_to_array_trampoline`, component trampolines),
//! builtins and module start-up code. Symbols are the only place the
//! function names appear: `.wasmtime.info` holds the same layout, but only
//! Wasmtime's own decoder reads it, and that decoder reserves memory for
//! whatever counts it finds, so Kiln reads the symbols instead.

use super::error::InspectError;
use object::{Object, ObjectSection, ObjectSymbol, SymbolKind};
use serde::Serialize;

/// What a function is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FunctionKind {
    /// A function of the input.
    Wasm,
    /// A trampoline between calling conventions.
    Trampoline,
    /// Other generated code: builtins, module start-up.
    Other,
}

/// One piece of compiled code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Function {
    /// The symbol's full name.
    pub symbol: String,
    /// What it is.
    pub kind: FunctionKind,
    /// For wasm functions, the core module (in a component, its index).
    pub module: Option<u32>,
    /// For wasm functions, the function index in its module.
    pub index: Option<u32>,
    /// For wasm functions, the name the input gave it.
    pub name: Option<String>,
    /// Offset in `.text`.
    pub start: u64,
    /// Size in bytes.
    pub size: u64,
}

impl Function {
    /// One past its last byte (saturating, for damaged sizes).
    pub fn end(&self) -> u64 {
        self.start.saturating_add(self.size)
    }

    /// Whether `offset` lies inside it.
    pub fn contains(&self, offset: u64) -> bool {
        self.start <= offset && offset < self.end()
    }
}

/// Splits `wasm[M]::function[N]` and `wasm[M]::function[N]::NAME`.
fn wasm_function(symbol: &str) -> Option<(u32, u32, Option<String>)> {
    let rest = symbol.strip_prefix("wasm[")?;
    let (module, rest) = rest.split_once("]::function[")?;
    let (index, rest) = rest.split_once(']')?;
    let name = match rest {
        "" => None,
        _ => Some(rest.strip_prefix("::")?.to_string()),
    };
    Some((module.parse().ok()?, index.parse().ok()?, name))
}

/// Every function symbol in `.text`, sorted by start.
///
/// # Errors
///
/// [`InspectError::Malformed`] naming `.symtab` when a symbol's name cannot
/// be read.
pub fn parse(file: &object::File<'_>) -> Result<Vec<Function>, InspectError> {
    let Some(text) = file.section_by_name(".text") else {
        return Ok(Vec::new());
    };
    let mut functions = Vec::new();
    for symbol in file.symbols() {
        if symbol.kind() != SymbolKind::Text || symbol.section_index() != Some(text.index()) {
            continue;
        }
        let name = symbol.name().map_err(|e| {
            InspectError::malformed(
                ".symtab",
                0,
                format!("symbol {}'s name: {e}", symbol.index().0),
            )
        })?;
        let (kind, module, index, wasm_name) = match wasm_function(name) {
            Some((module, index, wasm_name)) => {
                (FunctionKind::Wasm, Some(module), Some(index), wasm_name)
            }
            None if name.contains("trampoline") => (FunctionKind::Trampoline, None, None, None),
            None => (FunctionKind::Other, None, None, None),
        };
        functions.push(Function {
            symbol: name.to_string(),
            kind,
            module,
            index,
            name: wasm_name,
            start: symbol.address(),
            size: symbol.size(),
        });
    }
    functions.sort_by_key(|f| (f.start, f.size));
    Ok(functions)
}
