//! `kiln check` loads modules whatever they import: memories (shared or
//! not), tables, globals and tags get stand-ins from their declared types,
//! so that "does not load" means the artifact is at fault.

use crate::sandbox;
use host::Options;
use host::verify::check;

/// Compiles `wat` for this machine and returns whether it loaded, with the
/// report's error.
fn loads(wat: &str) -> (Option<bool>, Option<String>) {
    let report = check(
        sandbox(),
        wat.as_bytes(),
        &Options::for_target(host::host_triple().unwrap()),
    );
    assert!(report.identical, "{report:?}");
    (report.loaded, report.error.clone())
}

#[test]
fn every_import_kind_gets_a_stand_in() {
    let (loaded, error) = loads(
        r#"(module
            (import "env" "memory" (memory 2 16384 shared))
            (import "env" "__indirect_function_table" (table 4 funcref))
            (import "env" "refs" (table 1 10 externref))
            (import "env" "__memory_base" (global i32))
            (import "env" "__stack_pointer" (global (mut i32)))
            (import "env" "wide" (global i64))
            (import "env" "ratio" (global (mut f64)))
            (import "env" "v" (global v128))
            (import "env" "anything" (global (mut externref)))
            (import "env" "callback" (global funcref))
            (import "env" "oops" (tag (param i32)))
            (import "env" "f" (func (param i32) (result i32)))
            (func (export "load") (result i32)
                global.get 0
                i32.load)
            (data (global.get 0) "\2a"))"#,
    );
    assert_eq!(loaded, Some(true), "{error:?}");
}

#[test]
fn an_unshared_memory_and_a_64_bit_one_load() {
    for wat in [
        r#"(module (import "env" "memory" (memory 1)) (data (i32.const 0) "x"))"#,
        r#"(module (import "env" "memory" (memory i64 1 2)))"#,
        r#"(module (import "a" "m0" (memory 1)) (import "b" "m1" (memory 0 1)))"#,
    ] {
        let (loaded, error) = loads(wat);
        assert_eq!(loaded, Some(true), "{wat}: {error:?}");
    }
}

#[test]
fn a_module_that_really_fails_to_instantiate_still_does_not_load() {
    // A data segment beyond the imported memory's declared size: a stand-in
    // of that size is too small, as any real one would be.
    let (loaded, error) =
        loads(r#"(module (import "env" "memory" (memory 1 1)) (data (i32.const 70000) "x"))"#);
    assert_eq!(loaded, Some(false));
    assert!(error.is_some_and(|e| e.contains("does not load")));
}
