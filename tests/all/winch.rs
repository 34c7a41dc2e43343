//! Winch, Wasmtime's baseline compiler, inside the sandbox: `-C
//! compiler=winch` gives the bytes a native Winch compile gives, on every
//! compile path and on both of Winch's targets; the artifacts load and
//! compute what Cranelift's compute; and an input that needs a proposal
//! Winch lacks is refused as unsupported, naming the proposal.

use crate::{GuestPath, compile, fixture, sandbox};
use host::load;
use host::run::{Outcome, RunConfig, run};
use host::{CompileError, Compiler, Error, Limits, Options, WasmtimeOptions};

/// `triple` with `-C compiler=winch` and `flags` after it.
fn winch(triple: &str, flags: &[&str]) -> Options {
    let mut args = vec!["-C", "compiler=winch"];
    args.extend(flags);
    Options {
        wasmtime: WasmtimeOptions::from_args(args).unwrap().0,
        ..Options::for_target(triple)
    }
}

const X86_64: &str = "x86_64-unknown-linux-gnu";
const AARCH64: &str = "aarch64-unknown-linux-gnu";

#[test]
fn the_option_names_the_compiler() {
    assert_eq!(winch(X86_64, &[]).wasmtime.compiler(), Compiler::Winch);
    assert_eq!(
        Options::for_target(X86_64).wasmtime.compiler(),
        Compiler::Cranelift
    );
    let cranelift = WasmtimeOptions::from_args(["-C", "compiler=cranelift"]).unwrap();
    assert_eq!(cranelift.0.compiler(), Compiler::Cranelift);
    assert!(WasmtimeOptions::from_args(["-C", "compiler=liftoff"]).is_err());
}

#[test]
fn every_compile_path_gives_the_native_winch_bytes() {
    for (input, triple) in [
        (fixture("math.wat"), X86_64),
        (fixture("primes.wat"), X86_64),
        (fixture("math.wat"), AARCH64),
        (fixture("hello.wat"), AARCH64),
    ] {
        let options = winch(triple, &[]);
        let native = kiln_guest::compile(&input, &options).unwrap().bytes;
        let cranelift = kiln_guest::compile(&input, &Options::for_target(triple))
            .unwrap()
            .bytes;
        assert_ne!(native, cranelift, "{triple}: Winch gave Cranelift's bytes");
        assert!(
            host::artifact::verify_code::layout::compiled_by_winch(&native).unwrap(),
            "{triple}: the artifact does not record Winch's calling convention"
        );
        for path in GuestPath::ALL {
            let sandboxed = path.compile(&input, &options, &Limits::default()).unwrap();
            assert_eq!(sandboxed.bytes, native, "{triple} {path:?}");
        }
    }
}

#[test]
fn winch_settings_combine_with_other_options() {
    let input = fixture("primes.wat");
    let plain = compile(&input, &winch(X86_64, &[])).unwrap().bytes;
    for flags in [
        &["-W", "fuel=1"][..],
        &["-W", "epoch-interruption=y"],
        &["-O", "memory-reservation=0"],
    ] {
        let options = winch(X86_64, flags);
        let sandboxed = compile(&input, &options).unwrap().bytes;
        let native = kiln_guest::compile(&input, &options).unwrap().bytes;
        assert_eq!(sandboxed, native, "{flags:?}");
        assert_ne!(sandboxed, plain, "{flags:?} made no difference");
    }
}

/// Calls `export` of `input` compiled with `options`, loaded and run here.
fn invoke(input: &[u8], options: &Options, export: &str, args: &[&str]) -> Vec<String> {
    let artifact = compile(input, options).unwrap();
    let engine = load::engine(options).unwrap();
    // SAFETY: produced by the sandbox from a test fixture.
    let loaded = unsafe { load::deserialize(&engine, &artifact.bytes, artifact.kind) }.unwrap();
    let config = RunConfig {
        invoke: Some(export.to_string()),
        invoke_args: args.iter().map(|a| a.to_string()).collect(),
        ..RunConfig::default()
    };
    match run(&engine, &loaded, &config).unwrap() {
        Outcome::Returned(values) => values,
        Outcome::Exited(status) => panic!("{export} exited with {status}"),
    }
}

#[test]
fn winch_artifacts_compute_what_cranelift_artifacts_compute() {
    let input = fixture("math.wat");
    let cranelift = Options::for_target(X86_64);
    let winch = winch(X86_64, &[]);
    for (export, args) in [
        ("fib", &["30"][..]),
        ("hypot", &["3", "4"]),
        ("div", &["-7", "2"]),
    ] {
        let by_winch = invoke(&input, &winch, export, args);
        assert_eq!(
            by_winch,
            invoke(&input, &cranelift, export, args),
            "{export}"
        );
        assert!(!by_winch.is_empty(), "{export} returned nothing");
    }
    assert_eq!(invoke(&input, &winch, "fib", &["30"]), ["832040"]);
}

#[test]
fn a_winch_artifact_loads_only_into_an_engine_configured_for_winch() {
    let input = fixture("math.wat");
    let artifact = compile(&input, &winch(X86_64, &[])).unwrap();
    let cranelift_engine = load::engine(&Options::for_target(X86_64)).unwrap();
    // SAFETY: Wasmtime must refuse it before running anything.
    let refused =
        unsafe { load::deserialize(&cranelift_engine, &artifact.bytes, artifact.kind) }.err();
    let message = format!("{:#}", refused.expect("a Cranelift engine refuses it"));
    assert!(message.contains("Winch"), "{message}");
}

/// Wasm text needing one proposal each, and the name the refusal must give.
const NEEDS: &[(&str, &str)] = &[
    (
        "(module (func $f (result i32) i32.const 1) (func (export \"g\") (result i32) return_call $f))",
        "`tail-call`",
    ),
    (
        "(module (tag $e) (func (export \"t\") throw $e))",
        "`exceptions`",
    ),
    (
        "(module (type $s (struct (field i32))) (func (export \"n\") (result (ref $s)) i32.const 1 struct.new $s))",
        "`gc`",
    ),
    (
        "(module (func (export \"x\") (param externref) (result externref) local.get 0))",
        "`reference-types (externref)`",
    ),
    (
        "(module (func (export \"r\") (param v128 v128) (result v128) local.get 0 local.get 1 i8x16.relaxed_swizzle))",
        "`relaxed-simd`",
    ),
];

#[test]
fn proposals_winch_lacks_are_refused_by_name() {
    for path in GuestPath::ALL {
        for (text, proposal) in NEEDS {
            let input = wat::parse_str(text).unwrap();
            // Cranelift compiles it: the input is valid.
            compile(&input, &Options::for_target(X86_64)).unwrap();
            let error = path
                .compile(&input, &winch(X86_64, &[]), &Limits::default())
                .unwrap_err();
            let Error::Compile(CompileError::UnsupportedFeature { message }) = &error else {
                panic!("{proposal} {path:?}: not an unsupported feature: {error:?}");
            };
            assert!(message.contains(proposal), "{path:?}: {message}");
            assert!(message.contains("Winch"), "{message}");
        }
    }
}

#[test]
fn shared_memories_are_refused_for_aarch64_only() {
    let input = wat::parse_str(
        "(module (memory 1 1 shared) (func (export \"a\") (result i32) i32.const 0 i32.atomic.load))",
    )
    .unwrap();
    compile(&input, &winch(X86_64, &[])).unwrap();
    let error = compile(&input, &winch(AARCH64, &[])).unwrap_err();
    let Error::Compile(CompileError::UnsupportedFeature { message }) = &error else {
        panic!("not an unsupported feature: {error:?}");
    };
    assert!(
        message.contains("`threads`") && message.contains("aarch64"),
        "{message}"
    );
}

#[test]
fn invalid_input_stays_invalid_under_winch() {
    // Invalid with every proposal on: the refusal is about the input, not
    // about Winch.
    let garbage = [b"\0asm\x01\0\0\0".as_slice(), &[0x01, 0xff, 0xff]].concat();
    for input in [garbage, b"\0asm".to_vec(), Vec::new()] {
        let error = compile(&input, &winch(X86_64, &[])).unwrap_err();
        assert!(
            matches!(error, Error::Compile(CompileError::InvalidInput { .. })),
            "{error:?}"
        );
    }
    let (text, _) = NEEDS[0];
    let mut truncated = wat::parse_str(text).unwrap();
    truncated.truncate(truncated.len() - 3);
    let error = compile(&truncated, &winch(X86_64, &[])).unwrap_err();
    assert!(
        matches!(error, Error::Compile(CompileError::InvalidInput { .. })),
        "{error:?}"
    );
}

#[test]
fn the_code_verifier_says_it_does_not_read_winch_code() {
    let input = fixture("math.wat");
    let artifact = kiln_guest::compile(&input, &winch(X86_64, &[])).unwrap();
    let error = host::artifact::verify_code::verify(&artifact.bytes).unwrap_err();
    assert!(
        matches!(
            error,
            host::artifact::verify_code::VerifyCodeError::UnsupportedCompiler { compiler: "winch" }
        ),
        "{error:?}"
    );
    // A compile that verifies by default still succeeds, recording why it
    // did not verify.
    let compiled = sandbox()
        .compile(&host::CompileRequest::new(&input, &winch(X86_64, &[])).verify_code(true))
        .unwrap();
    assert_eq!(
        compiled.code_verification.outcome,
        host::artifact::statement::CodeVerificationOutcome::UnsupportedCompiler
    );
}
