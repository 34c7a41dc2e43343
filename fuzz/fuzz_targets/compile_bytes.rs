//! Arbitrary bytes into the sandboxed compiler: every input gets an
//! artifact identical to the native compile, or a typed error.

#![no_main]

#[allow(dead_code)]
#[path = "../../tests/support/fuzz_props.rs"]
mod props;

use host::{Limits, Sandbox};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fuzz_target!(|data: &[u8]| {
    static SANDBOX: OnceLock<Sandbox> = OnceLock::new();
    let sandbox =
        SANDBOX.get_or_init(|| Sandbox::new(Limits::default()).expect("the sandbox starts"));
    if let Err(violation) = props::compile_checked(sandbox, data, &props::options()) {
        panic!("{violation}");
    }
});
