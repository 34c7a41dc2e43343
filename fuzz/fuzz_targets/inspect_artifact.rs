//! `kiln inspect`'s reader on arbitrary bytes: seed it with real artifacts
//! (`kiln compile ... -o fuzz/corpus/inspect_artifact/NAME.cwasm`) and
//! libFuzzer mutates them. Reading, checking and disassembling must give a
//! result or a typed error, never a panic or an allocation out of bounds.

#![no_main]

use host::artifact::inspect::{self, CheckInput, code};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let Ok(artifact) = inspect::read(bytes) else {
        return;
    };
    let _ = inspect::report::tables_text(&artifact);
    let Ok(code) = code::decode(&artifact, bytes, &|_| true) else {
        return;
    };
    let boundary = |offset| code.is_boundary(offset);
    let trap_site = |offset| code.is_trap_site(offset);
    let _ = inspect::check(
        &artifact,
        &CheckInput {
            code_sections: Vec::new(),
            instruction_start: Some(&boundary),
            trap_site: Some(&trap_site),
        },
    );
});
