//! The build step that makes the threaded guest interruptible.
//!
//! Two instructions of the threaded guest are replaced by calls of host
//! imports with the same operands and results:
//! - `memory.atomic.wait32` becomes a call of `kiln.wait32`: the
//!   instruction blocks its thread until a notify and cannot be
//!   interrupted, so a job that ends (deadline, failure) would leave
//!   waiting threads behind; the import waits in slices and gives up when
//!   the job is over;
//! - `memory.grow` becomes a call of `kiln.memory_grow`: a shared memory's
//!   growth never reaches a store's resource limiter, and the host must
//!   know when it refused growth at the memory cap.
//!
//! The guest declares both imports itself (and keeps them referenced), so
//! no function index moves and nothing else in the module changes.

use wasm_encoder::Instruction;
use wasm_encoder::reencode::{self, Reencode};
use wasmparser::{Operator, Parser, Payload, TypeRef};

/// Rewrites `wasm` as described above.
pub fn rewrite(wasm: &[u8]) -> Result<Vec<u8>, String> {
    let wait32 = import_index(wasm, "wait32")?;
    let memory_grow = import_index(wasm, "memory_grow")?;
    let mut rewriter = Rewriter {
        wait32,
        memory_grow,
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

/// The function index of the import `kiln.<name>`.
fn import_index(wasm: &[u8], name: &str) -> Result<u32, String> {
    let mut index = 0;
    for payload in Parser::new(0).parse_all(wasm) {
        if let Payload::ImportSection(imports) = payload.map_err(|e| e.to_string())? {
            for import in imports.into_imports() {
                let import = import.map_err(|e| e.to_string())?;
                if let TypeRef::Func(_) = import.ty {
                    if import.module == "kiln" && import.name == name {
                        return Ok(index);
                    }
                    index += 1;
                }
            }
        }
    }
    Err(format!("the threaded guest does not import kiln.{name}"))
}

struct Rewriter {
    wait32: u32,
    memory_grow: u32,
    replaced: usize,
}

impl Reencode for Rewriter {
    type Error = String;

    fn instruction<'a>(
        &mut self,
        op: Operator<'a>,
    ) -> Result<Instruction<'a>, reencode::Error<Self::Error>> {
        match op {
            Operator::MemoryAtomicWait32 { memarg } if memarg.memory == 0 => {
                if memarg.offset != 0 {
                    return Err(reencode::Error::UserError(
                        "memory.atomic.wait32 with an offset".to_string(),
                    ));
                }
                self.replaced += 1;
                Ok(Instruction::Call(self.wait32))
            }
            Operator::MemoryAtomicWait64 { .. } => Err(reencode::Error::UserError(
                "memory.atomic.wait64 has no stand-in".to_string(),
            )),
            Operator::MemoryGrow { mem: 0 } => {
                self.replaced += 1;
                Ok(Instruction::Call(self.memory_grow))
            }
            other => reencode::utils::instruction(self, other),
        }
    }
}
