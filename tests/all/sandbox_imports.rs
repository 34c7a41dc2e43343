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
    let imports = sandbox().guest_imports();
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
            "kiln.memory_grow",
            "kiln.panic_message",
            "kiln.spawn",
            "kiln.wait32"
        ]
    );
}
