//! The sandboxed (wasm32) compiler against the native (x86_64) build of the
//! same code: every input must get the same artifact bytes or the same
//! refusal from both (`fuzz_props::same_as_native`).
//!
//! The first byte of an input picks what the rest is:
//! - 0: a structured hostile length (`tests/support/wide_lengths.rs`): a
//!   template, one of its slots, and the value put there;
//! - 1: a wasm-smith module, every proposal Kiln compiles on;
//! - anything else: the bytes themselves, so that libFuzzer's mutations of
//!   real modules (seed the corpus with `scripts/fuzz-wide-lengths.sh`)
//!   reach the compiler as they are.

#![no_main]

#[allow(dead_code)]
#[path = "../../tests/support/wide_lengths.rs"]
mod generator;
#[allow(dead_code)]
#[path = "../../tests/support/fuzz_props.rs"]
mod props;

use arbitrary::Unstructured;
use host::{CompileRequest, Limits, Sandbox};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn structured(u: &mut Unstructured<'_>) -> arbitrary::Result<Vec<u8>> {
    let template = match u.int_in_range(0..=2)? {
        0 => generator::module(true),
        1 => generator::module(false),
        _ => generator::component(),
    };
    let slot = u.int_in_range(0..=generator::slots(&template) - 1)?;
    let value = if u.arbitrary()? {
        *u.choose(generator::HOSTILE)?
    } else {
        u.arbitrary()?
    };
    Ok(generator::write(&template, Some((slot, value))).0)
}

fn smith(u: &mut Unstructured<'_>) -> arbitrary::Result<Vec<u8>> {
    let mut config: wasm_smith::Config = u.arbitrary()?;
    // What Wasmtime 48 does not compile is refused alike on both sides;
    // keep the generator on what it does, so that most inputs compile.
    config.exceptions_enabled = false;
    config.shared_everything_threads_enabled = false;
    config.max_funcs = config.max_funcs.min(50);
    Ok(wasm_smith::Module::new(config, u)?.to_bytes())
}

static SANDBOX: OnceLock<Sandbox> = OnceLock::new();

fn sandbox() -> &'static Sandbox {
    SANDBOX.get_or_init(|| Sandbox::new(Limits::default()).expect("the sandbox starts"))
}

fuzz_target!(
    // The first start compiles the compiler natively (no cached entry for
    // this build yet): done before the first input, outside its timeout.
    init: {
        sandbox();
    },
    |data: &[u8]| {
    let sandbox = sandbox();
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut u = Unstructured::new(rest);
    let input = match mode {
        0 => structured(&mut u),
        1 => smith(&mut u),
        _ => Ok(rest.to_vec()),
    };
    let Ok(input) = input else {
        return;
    };
    let options = props::options();
    let compile = || {
        sandbox
            .compile(&CompileRequest::new(&input, &options))
            .map(|compiled| compiled.artifact)
    };
    if let Err(divergence) = props::same_as_native(compile, &input, &options) {
        panic!("{divergence}");
    }
});
