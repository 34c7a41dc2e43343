//! The build step that makes the threaded guest interruptible.
//!
//! Two instructions of the threaded guest are replaced by calls of host
//! imports with the same operands and results:
//! - `memory.atomic.wait32` becomes `i32.const <offset>` and a call of
//!   `kiln.wait32` (the import takes the instruction's static offset as a
//!   fourth operand, since optimised code folds address arithmetic into
//!   it): the instruction blocks its thread until a notify and cannot be
//!   interrupted, so a job that ends (deadline, failure) would leave
//!   waiting threads behind; the import waits in slices and gives up when
//!   the job is over;
//! - `memory.grow` becomes a call of `kiln.memory_grow`: a shared memory's
//!   growth never reaches a store's resource limiter, and the host must
//!   know when it refused growth at the memory cap; the host also keeps
//!   each job's own size of the memory, which it may reuse from an earlier
//!   job (`host/src/sandbox/threaded/memory_pool.rs`), so `memory.size`,
//!   which would see the whole memory, is refused;
//! - `memory.copy` and `memory.fill` become calls of two functions the
//!   rewrite adds (`short_copies.rs`), which do short ranges in the guest
//!   and hand long ones to `kiln.memory_copy` and `kiln.memory_fill`:
//!   Wasmtime carries the instructions out in host code, and at a job's
//!   deadline the host takes the job's memory away from it
//!   (`host/src/sandbox/guarded.rs`), which the host may only do while no
//!   host code is inside that memory; the host's own versions of the two
//!   say when they are.
//!
//! The guest declares every import itself (and keeps them referenced), and
//! the two added functions come after all others, so no function index
//! moves and nothing else in the module changes.

use crate::short_copies;
use std::collections::HashMap;
use wasm_encoder::Instruction;
use wasm_encoder::reencode::{self, Reencode};
use wasmparser::{Operator, Parser, Payload, TypeRef};

/// Rewrites `wasm` as described above.
pub fn rewrite(wasm: &[u8]) -> Result<Vec<u8>, String> {
    let (kiln_imports, functions) = functions(wasm)?;
    let import = |name: &str| {
        kiln_imports
            .get(name)
            .copied()
            .ok_or_else(|| format!("the threaded guest does not import kiln.{name}"))
    };
    let (wait32, _) = import("wait32")?;
    let (memory_grow, _) = import("memory_grow")?;
    let (host_copy, copy_type) = import("memory_copy")?;
    let (host_fill, fill_type) = import("memory_fill")?;
    let mut rewriter = Rewriter {
        wait32,
        memory_grow,
        memory_copy: functions,
        memory_fill: functions + 1,
        added: vec![
            (copy_type, short_copies::copy(host_copy)),
            (fill_type, short_copies::fill(host_fill)),
        ],
        replaced: 0,
    };
    let mut module = wasm_encoder::Module::new();
    rewriter
        .parse_core_module(&mut module, Parser::new(0), wasm)
        .map_err(|e| format!("rewriting the threaded guest: {e}"))?;
    if rewriter.replaced == 0 {
        return Err("the threaded guest has no memory.grow or wait to rewrite".to_string());
    }
    Ok(module.finish())
}

/// A function import's function index and type index.
type FuncImport = (u32, u32);

/// Each `kiln.<name>` function import, by name; and how many functions
/// the module has, imported and defined: the index the first added one
/// gets.
fn functions(wasm: &[u8]) -> Result<(HashMap<&str, FuncImport>, u32), String> {
    let mut kiln_imports = HashMap::new();
    let mut count = 0;
    for payload in Parser::new(0).parse_all(wasm) {
        match payload.map_err(|e| e.to_string())? {
            Payload::ImportSection(imports) => {
                for import in imports.into_imports() {
                    let import = import.map_err(|e| e.to_string())?;
                    if let TypeRef::Func(ty) = import.ty {
                        if import.module == "kiln" {
                            kiln_imports.insert(import.name, (count, ty));
                        }
                        count += 1;
                    }
                }
            }
            Payload::FunctionSection(functions) => count += functions.count(),
            _ => {}
        }
    }
    Ok((kiln_imports, count))
}

struct Rewriter {
    wait32: u32,
    memory_grow: u32,
    /// The added stand-ins for `memory.copy` and `memory.fill`.
    memory_copy: u32,
    memory_fill: u32,
    /// Their type indices and bodies, in index order.
    added: Vec<(u32, wasm_encoder::Function)>,
    replaced: usize,
}

impl Reencode for Rewriter {
    type Error = String;

    fn parse_function_section(
        &mut self,
        functions: &mut wasm_encoder::FunctionSection,
        section: wasmparser::FunctionSectionReader<'_>,
    ) -> Result<(), reencode::Error<Self::Error>> {
        reencode::utils::parse_function_section(self, functions, section)?;
        for (ty, _) in &self.added {
            functions.function(*ty);
        }
        Ok(())
    }

    fn parse_code_section(
        &mut self,
        code: &mut wasm_encoder::CodeSection,
        section: wasmparser::CodeSectionReader<'_>,
    ) -> Result<(), reencode::Error<Self::Error>> {
        reencode::utils::parse_code_section(self, code, section)?;
        for (_, body) in &self.added {
            code.function(body);
        }
        Ok(())
    }

    fn parse_function_body(
        &mut self,
        code: &mut wasm_encoder::CodeSection,
        func: wasmparser::FunctionBody<'_>,
    ) -> Result<(), reencode::Error<Self::Error>> {
        let mut function = self.new_function_with_parsed_locals(&func)?;
        let mut reader = func.get_operators_reader()?;
        while !reader.eof() {
            match reader.read()? {
                Operator::MemoryAtomicWait32 { memarg } if memarg.memory == 0 => {
                    let offset = u32::try_from(memarg.offset).map_err(|_| {
                        reencode::Error::UserError("a wait32 offset beyond 4 GiB".to_string())
                    })?;
                    function.instruction(&Instruction::I32Const(offset as i32));
                    function.instruction(&Instruction::Call(self.wait32));
                    self.replaced += 1;
                }
                op => {
                    function.instruction(&self.instruction(op)?);
                }
            }
        }
        code.function(&function);
        Ok(())
    }

    fn instruction<'a>(
        &mut self,
        op: Operator<'a>,
    ) -> Result<Instruction<'a>, reencode::Error<Self::Error>> {
        match op {
            Operator::MemoryAtomicWait32 { .. } => Err(reencode::Error::UserError(
                "memory.atomic.wait32 outside a function body".to_string(),
            )),
            Operator::MemoryAtomicWait64 { .. } => Err(reencode::Error::UserError(
                "memory.atomic.wait64 has no stand-in".to_string(),
            )),
            Operator::MemorySize { .. } => Err(reencode::Error::UserError(
                "memory.size: the host keeps each job's size of the memory, \
                 which only memory.grow reports"
                    .to_string(),
            )),
            Operator::MemoryGrow { mem: 0 } => {
                self.replaced += 1;
                Ok(Instruction::Call(self.memory_grow))
            }
            Operator::MemoryCopy {
                dst_mem: 0,
                src_mem: 0,
            } => {
                self.replaced += 1;
                Ok(Instruction::Call(self.memory_copy))
            }
            Operator::MemoryFill { mem: 0 } => {
                self.replaced += 1;
                Ok(Instruction::Call(self.memory_fill))
            }
            other => reencode::utils::instruction(self, other),
        }
    }
}
