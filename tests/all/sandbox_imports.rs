//! The compiler component imports only WASI interfaces that the host serves
//! without granting any capability: no sockets, no HTTP, no preopened
//! directories (the filesystem interfaces are linked, with nothing in them).
//! The threaded guest imports no WASI at all: its memory and Kiln's own
//! functions.

use crate::sandbox;

/// Interfaces the guest may import, without their `@version`.
const CAPABILITY_FREE: &[&str] = &[
    "wasi:cli/environment",
    "wasi:cli/exit",
    "wasi:cli/stdin",
    "wasi:cli/stdout",
    "wasi:cli/stderr",
    "wasi:cli/terminal-input",
    "wasi:cli/terminal-output",
    "wasi:cli/terminal-stdin",
    "wasi:cli/terminal-stdout",
    "wasi:cli/terminal-stderr",
    "wasi:io/error",
    "wasi:io/poll",
    "wasi:io/streams",
    "wasi:clocks/monotonic-clock",
    "wasi:clocks/wall-clock",
    "wasi:random/random",
    "wasi:random/insecure",
    "wasi:random/insecure-seed",
    "wasi:filesystem/types",
    "wasi:filesystem/preopens",
];

#[test]
fn guest_imports_only_capability_free_wasi() {
    let imports = sandbox().guest_imports().unwrap();
    // The panic message reaches the host through stderr: that import must be there.
    assert!(
        imports.iter().any(|i| i.starts_with("wasi:cli/stderr@")),
        "{imports:?}"
    );
    for import in &imports {
        let name = import.split('@').next().unwrap();
        assert!(
            CAPABILITY_FREE.contains(&name),
            "the compiler component imports `{import}`, which is not on the capability-free list"
        );
    }
}

#[test]
fn threaded_guest_imports_only_its_memory_and_kiln_functions() {
    let mut imports = sandbox().threaded_imports();
    imports.sort();
    assert_eq!(
        imports,
        [
            "env.memory",
            "kiln.cache_get",
            "kiln.cache_insert",
            "kiln.cache_take",
            "kiln.memory_copy",
            "kiln.memory_fill",
            "kiln.memory_grow",
            "kiln.panic_message",
            "kiln.sha256_compress",
            "kiln.spawn",
            "kiln.wait32"
        ]
    );
}

/// The threaded guest's deadline takes its memory away, which is safe only
/// if no host code can be inside that memory unannounced, and its waits
/// must end with the job: so none of the instructions that Wasmtime carries
/// out in host code on the memory, or that block, is left in the module
/// (the build rewrites them into the `kiln` imports above).
#[test]
fn threaded_guest_keeps_no_instruction_that_touches_memory_from_host_code() {
    let mut bodies = 0;
    for payload in wasmparser::Parser::new(0).parse_all(host::guest::THREADED_MODULE) {
        let wasmparser::Payload::CodeSectionEntry(body) = payload.unwrap() else {
            continue;
        };
        bodies += 1;
        let mut reader = body.get_operators_reader().unwrap();
        while !reader.eof() {
            let op = reader.read().unwrap();
            assert!(
                !matches!(
                    op,
                    wasmparser::Operator::MemoryCopy { .. }
                        | wasmparser::Operator::MemoryFill { .. }
                        | wasmparser::Operator::MemoryGrow { .. }
                        | wasmparser::Operator::MemoryAtomicWait32 { .. }
                        | wasmparser::Operator::MemoryAtomicWait64 { .. }
                ),
                "{op:?} left in the threaded guest"
            );
        }
    }
    assert!(bodies > 1000, "{bodies} function bodies");
}
