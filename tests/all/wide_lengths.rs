//! The compiler runs on 32 bits in the sandbox and on 64 natively; a
//! declared length near 2^32 must mean the same to both. Each input here
//! goes to the sandboxed compiler and to the native build of the same code,
//! and the two must agree: the same artifact bytes or the same refusal
//! (`fuzz_props::same_as_native`). `fuzz/fuzz_targets/wide_lengths.rs` is
//! the open-ended form.
//!
//! `KILN_WIDE_LENGTHS_ALL=1` runs every structured input on every guest
//! path (the component, the threaded guest on one and four threads)
//! instead of alternating between them.

#[path = "../support/wide_lengths.rs"]
mod generator;

use crate::fuzz::props::{Agreement, options, same_as_native};
use crate::{GuestPath, compile, fixture};
use host::{CompileError, Error, Limits};
use std::collections::BTreeMap;

/// The 14 bytes that once made the sandboxed compiler panic: a header and
/// a type section declaring 0xffff_ffff bytes.
const FOURTEEN_BYTES: &[u8] = b"\0asm\x01\0\0\0\x01\xff\xff\xff\xff\x0f";

#[test]
fn the_fourteen_byte_input_is_invalid_input_with_an_offset() {
    for path in GuestPath::ALL {
        match path.compile(FOURTEEN_BYTES, &options(), &Limits::default()) {
            Err(Error::Compile(CompileError::InvalidInput { message, offset })) => {
                assert!(message.contains("unexpected end"), "{path:?}: {message}");
                assert_eq!(offset, Some(14), "{path:?}");
            }
            other => panic!("{path:?}: {other:?}"),
        }
        assert_eq!(
            same_as_native(
                || path.compile(FOURTEEN_BYTES, &options(), &Limits::default()),
                FOURTEEN_BYTES,
                &options()
            ),
            Ok(Agreement::Refused)
        );
    }
}

#[test]
fn the_templates_are_valid_and_compile() {
    // A hostile value must meet the parser where its slot stands: the
    // unmodified templates have to get that far, all the way to an artifact.
    for template in [
        generator::module(true),
        generator::module(false),
        generator::component(),
    ] {
        let (bytes, _) = generator::write(&template, None);
        kiln_guest::compile(&bytes, &options()).unwrap_or_else(|e| panic!("{e}"));
        assert!(generator::slots(&template) > 20);
    }
}

#[test]
fn structured_hostile_lengths_agree_with_native() {
    let every_path = std::env::var_os("KILN_WIDE_LENGTHS_ALL").is_some();
    let mut tally: BTreeMap<String, usize> = BTreeMap::new();
    let mut divergences = Vec::new();
    let mut case = 0usize;
    for template in [generator::module(true), generator::component()] {
        for input in generator::hostile_binaries(&template) {
            let paths: Vec<GuestPath> = if every_path {
                GuestPath::ALL.to_vec()
            } else {
                vec![GuestPath::ALL[case % GuestPath::ALL.len()]]
            };
            case += 1;
            for path in paths {
                match same_as_native(
                    || path.compile(&input, &options(), &Limits::default()),
                    &input,
                    &options(),
                ) {
                    Ok(agreement) => *tally.entry(format!("{agreement:?}")).or_default() += 1,
                    Err(divergence) => {
                        divergences.push(format!("{path:?} {input:02x?}: {divergence}"))
                    }
                }
            }
        }
    }
    println!("{case} structured inputs: {tally:?}");
    assert!(case > 500, "only {case} inputs");
    assert!(
        divergences.is_empty(),
        "{} divergences, the first: {:#?}",
        divergences.len(),
        &divergences[..divergences.len().min(5)]
    );
    // The generator must reach past the outer sizes: a hostile name in the
    // `name` section still compiles (Wasmtime reads names until the first
    // error), so some inputs end in artifacts.
    assert!(tally.get("Artifact").copied().unwrap_or(0) > 0, "{tally:?}");
}

/// Deterministic bytes for a seed (xorshift).
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn mutated_real_modules_agree_with_native() {
    let cases: u64 = std::env::var("KILN_WIDE_LENGTHS_MUTATIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1500);
    let originals: Vec<Vec<u8>> = ["math.wat", "primes.wat", "hello.wat"]
        .iter()
        .map(|name| wat::parse_bytes(&fixture(name)).unwrap().into_owned())
        .collect();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut tally: BTreeMap<String, usize> = BTreeMap::new();
    for case in 0..cases {
        let mut input = originals[case as usize % originals.len()].clone();
        // One to three edits: a byte flipped, or a 5-byte LEB of a value
        // near 2^32 written over what was there.
        for _ in 0..=(next(&mut state) % 3) {
            let at = 8 + (next(&mut state) as usize % (input.len() - 8));
            if next(&mut state).is_multiple_of(2) {
                input[at] ^= 1 << (next(&mut state) % 8);
            } else {
                let value = u32::MAX - (next(&mut state) % 64) as u32;
                let leb = [
                    (value & 0x7f) as u8 | 0x80,
                    ((value >> 7) & 0x7f) as u8 | 0x80,
                    ((value >> 14) & 0x7f) as u8 | 0x80,
                    ((value >> 21) & 0x7f) as u8 | 0x80,
                    (value >> 28) as u8,
                ];
                let end = (at + 5).min(input.len());
                input.splice(at..end, leb);
            }
        }
        let path = GuestPath::ALL[case as usize % GuestPath::ALL.len()];
        match same_as_native(
            || path.compile(&input, &options(), &Limits::default()),
            &input,
            &options(),
        ) {
            Ok(agreement) => *tally.entry(format!("{agreement:?}")).or_default() += 1,
            Err(divergence) => panic!("case {case} on {path:?}, {input:02x?}: {divergence}"),
        }
    }
    println!("{cases} mutated modules: {tally:?}");
}

#[test]
fn the_sandbox_keeps_serving_after_hostile_lengths() {
    let _ = compile(FOURTEEN_BYTES, &options());
    let wasm = wat::parse_bytes(&fixture("math.wat")).unwrap().into_owned();
    compile(&wasm, &options()).expect("a valid module compiles after a hostile one");
}

#[test]
fn kiln_compile_exits_1_for_the_fourteen_bytes_naming_the_offset() {
    use crate::cli::{kiln, path_str, stderr, temp_dir};
    let dir = temp_dir();
    let input = dir.path().join("fourteen.wasm");
    std::fs::write(&input, FOURTEEN_BYTES).unwrap();
    let output = kiln(&[
        "compile",
        path_str(&input),
        "--target",
        "x86_64-unknown-linux-gnu",
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(message.contains("invalid input"), "{message}");
    assert!(message.contains("offset 0xe"), "{message}");
    assert!(!message.contains("internal"), "{message}");
    assert!(!dir.path().join("fourteen.cwasm").exists());
}
