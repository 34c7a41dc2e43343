//! The fuzzing properties (`tests/support/fuzz_props.rs`), bounded and
//! seeded so that they run in `cargo test`; `fuzz/` has the open-ended
//! cargo-fuzz targets.
//!
//! `KILN_FUZZ_SEED=N` reruns one case; `KILN_FUZZ_CASES` sets how many
//! (default 200).

#[path = "../support/fuzz_props.rs"]
pub mod props;

use crate::sandbox;
use props::{Answer, compile_checked, engine, options, same_behaviour, terminating_module};

/// Deterministic bytes for a seed (splitmix64).
pub(crate) fn bytes_for(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        out.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Checks one seed; `true` if it produced an artifact that was run.
fn check_seed(seed: u64, engine: &wasmtime::Engine) -> bool {
    let Some(wasm) = terminating_module(&bytes_for(seed, 8192)) else {
        return false;
    };
    match compile_checked(sandbox(), &wasm, &options()) {
        Ok(Answer::Artifact(artifact)) => {
            if let Err(difference) = same_behaviour(engine, &wasm, &artifact) {
                panic!("seed {seed}: {difference}");
            }
            true
        }
        Ok(Answer::Refused) => false,
        Err(violation) => panic!("seed {seed}: {violation}"),
    }
}

#[test]
fn generated_modules_keep_the_sandbox_properties() {
    let engine = engine();
    if let Some(seed) = std::env::var("KILN_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        assert!(
            check_seed(seed, &engine),
            "seed {seed} produced no artifact"
        );
        return;
    }
    let cases: u64 = std::env::var("KILN_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let compared = (0..cases).filter(|&seed| check_seed(seed, &engine)).count() as u64;
    // wasm-smith makes valid modules: nearly all must reach the comparison,
    // or this test is not testing what it says.
    assert!(
        compared * 10 >= cases * 9,
        "only {compared} of {cases} cases produced an artifact"
    );
}

#[test]
fn arbitrary_bytes_get_typed_answers() {
    for seed in 0..200 {
        let mut input = b"\0asm\x01\0\0\0".to_vec();
        input.extend(bytes_for(seed, 64 + (seed as usize % 512)));
        if let Err(violation) = compile_checked(sandbox(), &input, &options()) {
            panic!("seed {seed}: {violation}");
        }
    }
}
