//! A one-function edit of a module, for the benchmark's recompile
//! measurement: the kind of change a developer makes between two builds.
//!
//! The first `i32.const` of the middle function body gets another value,
//! so exactly that function's Cranelift IR (and cache key) changes and
//! every other function stays as it was.

use wasm_encoder::Instruction;
use wasm_encoder::reencode::{self, Reencode};
use wasmparser::{Operator, Parser, Payload};

/// `module` with one function changed, different for each `salt`; `None`
/// for components and for modules with no function to change.
pub fn change_one_function(module: &[u8], salt: i32) -> Option<Vec<u8>> {
    if wasmparser::Parser::is_component(module) {
        return None;
    }
    let bodies = Parser::new(0)
        .parse_all(module)
        .filter(|payload| matches!(payload, Ok(Payload::CodeSectionEntry(_))))
        .count();
    let mut editor = Editor {
        target: bodies / 2,
        body: None,
        salt,
        changed: false,
    };
    let mut out = wasm_encoder::Module::new();
    editor
        .parse_core_module(&mut out, Parser::new(0), module)
        .ok()?;
    editor.changed.then(|| out.finish())
}

struct Editor {
    /// Which body to change, counting from 0.
    target: usize,
    /// The body being re-encoded.
    body: Option<usize>,
    salt: i32,
    changed: bool,
}

impl Reencode for Editor {
    type Error = std::convert::Infallible;

    fn new_function_with_parsed_locals(
        &mut self,
        func: &wasmparser::FunctionBody<'_>,
    ) -> Result<wasm_encoder::Function, reencode::Error<Self::Error>> {
        self.body = Some(self.body.map_or(0, |body| body + 1));
        reencode::utils::new_function_with_parsed_locals(self, func)
    }

    fn instruction<'a>(
        &mut self,
        op: Operator<'a>,
    ) -> Result<Instruction<'a>, reencode::Error<Self::Error>> {
        match op {
            Operator::I32Const { value } if !self.changed && self.body >= Some(self.target) => {
                self.changed = true;
                Ok(Instruction::I32Const(
                    value.wrapping_add(self.salt).wrapping_add(1),
                ))
            }
            other => reencode::utils::instruction(self, other),
        }
    }
}
