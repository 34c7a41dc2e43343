//! wasm-smith modules through the sandbox: artifacts identical to the
//! native compile, and running their exports (fuel-bounded) behaves as
//! Wasmtime's own in-process compile does.

#![no_main]

#[path = "../../tests/support/fuzz_props.rs"]
mod props;

use host::{Limits, Sandbox};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fuzz_target!(|data: &[u8]| {
    static SANDBOX: OnceLock<(Sandbox, wasmtime::Engine)> = OnceLock::new();
    let options = props::options();
    let (sandbox, engine) = SANDBOX.get_or_init(|| {
        let sandbox = Sandbox::new(Limits::default()).expect("the sandbox starts");
        (sandbox, props::engine())
    });
    let Some(wasm) = props::terminating_module(data) else {
        return;
    };
    match props::compile_checked(sandbox, &wasm, &options) {
        Ok(props::Answer::Artifact(artifact)) => {
            if let Err(difference) = props::same_behaviour(engine, &wasm, &artifact) {
                panic!("{difference}");
            }
        }
        Ok(props::Answer::Refused) => {}
        Err(violation) => panic!("{violation}"),
    }
});
