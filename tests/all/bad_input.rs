//! Bad input gets a typed error naming the problem, and the same sandbox
//! goes on compiling good input afterwards.

use crate::{compile, fixture};
use host::{CompileError, Error, Options};

const X86: &str = "x86_64-unknown-linux-gnu";

fn rejected(input: &[u8], options: &Options) -> CompileError {
    match compile(input, options) {
        Err(Error::Compile(error)) => error,
        other => panic!("expected a compile error, got {other:?}"),
    }
}

fn binary(wat: &str) -> Vec<u8> {
    wat::parse_str(wat).unwrap()
}

fn assert_serves_good_input() {
    let artifact = compile(&fixture("math.wat"), &Options::for_target(X86));
    assert!(
        artifact.is_ok(),
        "the sandbox stopped serving: {artifact:?}"
    );
}

#[test]
fn empty_input() {
    let error = rejected(b"", &Options::for_target(X86));
    assert!(
        matches!(&error, CompileError::InvalidInput { message, offset: Some(0) } if message.contains("empty")),
        "{error}"
    );
    assert_serves_good_input();
}

#[test]
fn random_input() {
    for seed in [1, 2, 3, 0xdead_beef] {
        let error = rejected(&crate::noise::noise(seed, 4096), &Options::for_target(X86));
        assert!(
            matches!(error, CompileError::InvalidInput { .. }),
            "seed {seed}: {error}"
        );
    }
    // Random bytes behind a valid header reach the validator, which names an offset.
    let mut input = b"\0asm\x01\0\0\0".to_vec();
    input.extend(crate::noise::noise(7, 4096));
    let error = rejected(&input, &Options::for_target(X86));
    assert!(
        matches!(error, CompileError::InvalidInput { offset: Some(o), .. } if o >= 8),
        "{error}"
    );
    assert_serves_good_input();
}

#[test]
fn truncated_module() {
    let whole = binary(std::str::from_utf8(&fixture("math.wat")).unwrap());
    let cut = &whole[..whole.len() / 2];
    let error = rejected(cut, &Options::for_target(X86));
    match &error {
        CompileError::InvalidInput {
            offset: Some(offset),
            ..
        } => assert!(*offset <= cut.len() as u64),
        other => panic!("expected an invalid-input error with an offset, got {other}"),
    }
    assert!(error.to_string().contains("at offset"), "{error}");
    assert_serves_good_input();
}

#[test]
fn invalid_function_body() {
    let input = binary("(module (func (result i32) i64.const 1))");
    let error = rejected(&input, &Options::for_target(X86));
    match &error {
        CompileError::InvalidInput {
            message,
            offset: Some(offset),
        } => {
            assert!(message.contains("type mismatch"), "{message}");
            assert!(*offset > 8 && *offset < input.len() as u64, "{offset}");
        }
        other => panic!("expected invalid input, got {other}"),
    }
    assert_serves_good_input();
}

#[test]
fn malformed_text() {
    let error = rejected(
        b"(module (func $f (param i32) (unknown-instruction)))",
        &Options::for_target(X86),
    );
    assert!(
        matches!(&error, CompileError::InvalidInput { message, .. } if message.contains("unknown")),
        "{error}"
    );
    assert_serves_good_input();
}

#[test]
fn unknown_triple() {
    let error = rejected(
        &fixture("math.wat"),
        &Options::for_target("mips-unknown-linux-gnu"),
    );
    assert_eq!(
        error,
        CompileError::UnsupportedTarget {
            triple: "mips-unknown-linux-gnu".to_string()
        }
    );
    assert_serves_good_input();
}

#[test]
fn unknown_cpu_feature() {
    let options = Options {
        cpu_features: vec!["has_warp_drive".to_string()],
        ..Options::for_target(X86)
    };
    let error = rejected(&fixture("math.wat"), &options);
    assert!(
        matches!(&error, CompileError::UnsupportedFeature { message } if message.contains("has_warp_drive")),
        "{error}"
    );
    // A real feature of another architecture is unknown here too.
    let options = Options {
        cpu_features: vec!["has_lse".to_string()],
        ..Options::for_target(X86)
    };
    assert!(matches!(
        rejected(&fixture("math.wat"), &options),
        CompileError::UnsupportedFeature { .. }
    ));
    assert_serves_good_input();
}

#[test]
fn unknown_and_disabled_wasm_features() {
    // Wasmtime's own parser names an unknown option before any compile.
    let error = host::WasmtimeOptions::from_args(["-W", "teleportation=y"]).unwrap_err();
    assert!(error.to_string().contains("teleportation"), "{error}");
    // So does the guest for the WIT contract's TOML.
    let error = host::WasmtimeOptions::from_toml("[wasm]\nteleportation = true\n").unwrap_err();
    assert!(error.to_string().contains("teleportation"), "{error}");

    let simd = binary("(module (func (result v128) v128.const i64x2 1 2))");
    let options = Options::with_wasmtime_flags(X86, ["-W", "simd=n,relaxed-simd=n"]).unwrap();
    let error = rejected(&simd, &options);
    assert!(
        matches!(&error, CompileError::UnsupportedFeature { message } if message.contains("SIMD")),
        "{error}"
    );
    // With the default features the same module compiles.
    assert!(compile(&simd, &Options::for_target(X86)).is_ok());
    assert_serves_good_input();
}
