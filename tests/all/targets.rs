//! Every target: the sandboxed artifact is byte-identical to the native
//! compile, and the targets that run here (x86_64, Pulley) give the right
//! answers.

use crate::{compile, fixture, sandbox};
use host::load;
use host::run::{Outcome, RunConfig, run};
use host::verify::check;
use host::{ArtifactKind, Options, TARGETS};

/// Compiles `input` in the sandbox for `target` and calls `export`.
fn invoke(
    input: &[u8],
    target: &str,
    export: &str,
    args: &[&str],
) -> Result<Vec<String>, host::Error> {
    let options = Options::for_target(target);
    let artifact = compile(input, &options)?;
    let engine = load::engine(&options)?;
    // SAFETY: produced by the sandbox from a test fixture.
    let loaded = unsafe { load::deserialize(&engine, &artifact.bytes, artifact.kind) }?;
    let config = RunConfig {
        invoke: Some(export.to_string()),
        invoke_args: args.iter().map(|a| a.to_string()).collect(),
        ..RunConfig::default()
    };
    match run(&engine, &loaded, &config)? {
        Outcome::Returned(values) => Ok(values),
        Outcome::Exited(status) => panic!("{export} exited with {status}"),
    }
}

#[test]
fn every_target_is_byte_identical_to_native() {
    let input = fixture("math.wat");
    for target in TARGETS {
        let report = check(sandbox(), &input, &Options::for_target(target));
        assert!(report.ok, "{target}: {report:?}");
        assert!(report.identical, "{target}");
        assert!(report.artifact_bytes > 0, "{target}");
        let expected_loaded = load::can_run_here(target).then_some(true);
        assert_eq!(report.loaded, expected_loaded, "{target}");
    }
}

#[test]
fn artifacts_differ_per_target() {
    let input = fixture("math.wat");
    let mut seen = Vec::new();
    for target in TARGETS {
        let artifact = compile(&input, &Options::for_target(target)).unwrap();
        assert!(
            !seen.contains(&artifact.bytes),
            "{target} repeats another target's bytes"
        );
        seen.push(artifact.bytes);
    }
}

#[test]
fn native_and_pulley_artifacts_compute_correct_results() {
    let math = fixture("math.wat");
    let primes = fixture("primes.wat");
    for target in ["x86_64-unknown-linux-gnu", "pulley64"] {
        assert_eq!(
            invoke(&math, target, "fib", &["20"]).unwrap(),
            ["6765"],
            "{target}"
        );
        assert_eq!(
            invoke(&math, target, "hypot", &["3", "4"]).unwrap(),
            ["5"],
            "{target}"
        );
        assert_eq!(
            invoke(&math, target, "div", &["-7", "2"]).unwrap(),
            ["-3"],
            "{target}"
        );
        assert_eq!(
            invoke(&primes, target, "count_primes", &["100000"]).unwrap(),
            ["9592"],
            "{target}"
        );
        let trap = invoke(&math, target, "div", &["1", "0"]).unwrap_err();
        assert!(
            trap.to_string().contains("divide by zero"),
            "{target}: {trap}"
        );
    }
}

#[test]
fn component_input_compiles_and_runs() {
    let adder = fixture("adder.wat");
    for target in ["x86_64-unknown-linux-gnu", "pulley64"] {
        let report = check(sandbox(), &adder, &Options::for_target(target));
        assert!(report.ok && report.identical, "{target}: {report:?}");
        let artifact = compile(&adder, &Options::for_target(target)).unwrap();
        assert_eq!(artifact.kind, ArtifactKind::Component);
        assert_eq!(
            invoke(&adder, target, "add", &["2", "40"]).unwrap(),
            ["42"],
            "{target}"
        );
    }
}

#[test]
fn artifact_facts_describe_the_input() {
    let artifact = compile(
        &fixture("math.wat"),
        &Options::for_target("x86_64-unknown-linux-gnu"),
    )
    .unwrap();
    assert_eq!(artifact.kind, ArtifactKind::Module);
    assert_eq!(artifact.function_count, 3);
    assert!(artifact.code_bytes > 0 && artifact.code_bytes < artifact.bytes.len() as u64);
    let component = compile(
        &fixture("adder.wat"),
        &Options::for_target("x86_64-unknown-linux-gnu"),
    )
    .unwrap();
    assert_eq!(component.function_count, 1);
}

/// `base` with Wasmtime's `flags`.
fn flags(base: &Options, flags: &[&str]) -> Options {
    Options {
        wasmtime: host::WasmtimeOptions::from_args(flags.iter().copied())
            .unwrap()
            .0,
        ..base.clone()
    }
}

#[test]
fn options_change_the_artifact_and_stay_identical_to_native() {
    let input = fixture("primes.wat");
    let base = Options::for_target("x86_64-unknown-linux-gnu");
    let baseline = compile(&input, &base).unwrap().bytes;
    let variants = [
        Options {
            cpu_features: vec!["x86-64-v3".to_string()],
            ..base.clone()
        },
        flags(&base, &["-W", "fuel=1"]),
        flags(&base, &["-W", "epoch-interruption=y"]),
        flags(&base, &["-O", "opt-level=0"]),
        flags(&base, &["-C", "collector=drc"]),
        flags(&base, &["-W", "concurrency-support=n"]),
    ];
    for options in variants {
        let sandboxed = compile(&input, &options).unwrap().bytes;
        let native = kiln_guest::compile(&input, &options).unwrap().bytes;
        assert_eq!(sandboxed, native, "{options:?}");
        assert_ne!(sandboxed, baseline, "{options:?} made no difference");
    }
}

#[test]
fn fuel_instrumented_artifact_loads_with_the_same_options_only() {
    let input = fixture("math.wat");
    let fuel = flags(
        &Options::for_target("x86_64-unknown-linux-gnu"),
        &["-W", "fuel=1"],
    );
    let artifact = compile(&input, &fuel).unwrap();
    let matching = load::engine(&fuel).unwrap();
    // SAFETY: produced by the sandbox from a test fixture.
    assert!(unsafe { load::deserialize(&matching, &artifact.bytes, artifact.kind) }.is_ok());
    let other = load::engine(&Options::for_target("x86_64-unknown-linux-gnu")).unwrap();
    // SAFETY: as above; Wasmtime must refuse it before running anything.
    assert!(unsafe { load::deserialize(&other, &artifact.bytes, artifact.kind) }.is_err());
}

/// Every named baseline compiles in the sandbox to the native bytes, and
/// the artifact's own record of its CPU flags names that baseline back.
#[test]
fn baselines_are_recorded_in_the_artifact() {
    let input = wat::parse_str(
        r#"(module (func (export "f") (param i64 i64) (result i64)
            (i64.popcnt (i64.mul (local.get 0) (local.get 1)))))"#,
    )
    .unwrap();
    for level in kiln_settings::BASELINES {
        let mut options = Options::for_target(level.triple);
        options.cpu_features = vec![level.name.to_string()];
        let report = host::verify::check(sandbox(), &input, &options);
        assert!(report.identical, "{}: {report:?}", level.name);
        // It loads here unless this CPU is below the level (other
        // architectures' artifacts are not loaded here at all).
        if Some(level.triple) != host::host_triple() || this_cpu_has(level.name) {
            assert!(report.ok, "{}: {report:?}", level.name);
        } else {
            assert_eq!(report.loaded, Some(false), "{}: {report:?}", level.name);
        }
        let artifact = compile(&input, &options).unwrap();
        let info = host::inspect::inspect(&artifact.bytes).unwrap();
        assert_eq!(info.target, level.triple);
        assert_eq!(info.baseline, Some(level.name), "{:?}", info.cpu_flags);
        assert!(
            kiln_settings::WASMTIME_VERSION.starts_with(&info.wasmtime_version),
            "{}",
            info.wasmtime_version
        );
    }
    // Flags beyond any baseline are recorded too, with no baseline named.
    let mut options = Options::for_target("x86_64-unknown-linux-gnu");
    options.cpu_features = vec!["x86-64-v2".to_string(), "has_avx".to_string()];
    let artifact = compile(&input, &options).unwrap();
    let info = host::inspect::inspect(&artifact.bytes).unwrap();
    assert!(info.cpu_flags.contains("has_avx"));
    assert_eq!(info.baseline, None);
    assert_eq!(
        host::inspect::inspect(b"\0asm\x01\0\0\0"),
        Err(host::inspect::InspectError::NotAnArtifact)
    );
}

/// Whether this machine's CPU has the x86-64 level `name` (other
/// architectures' levels do not run here at all).
fn this_cpu_has(name: &str) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::is_x86_feature_detected as has;
        let v2 = has!("sse4.2") && has!("popcnt") && has!("ssse3");
        let v3 = v2 && has!("avx2") && has!("bmi2") && has!("fma") && has!("lzcnt");
        let v4 = v3 && has!("avx512f") && has!("avx512vl") && has!("avx512dq");
        match name {
            "x86-64-v1" => true,
            "x86-64-v2" => v2,
            "x86-64-v3" => v3,
            "x86-64-v4" => v4,
            _ => false,
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = name;
        false
    }
}

/// riscv64 without the V extension cannot lower wasm SIMD: a SIMD module is
/// refused by name with the baseline that can, a scalar one still compiles,
/// and with `rv64gcv` the SIMD module compiles to the native bytes.
#[test]
fn riscv64_simd_needs_the_vector_baseline() {
    let simd = wat::parse_str(
        r#"(module (func (export "f") (param v128 v128) (result v128)
            (i32x4.add (local.get 0) (local.get 1))))"#,
    )
    .unwrap();
    let scalar =
        wat::parse_str(r#"(module (func (export "f") (result i32) (i32.const 1)))"#).unwrap();
    let rv64gc = Options::for_target("riscv64gc-unknown-linux-gnu");
    match compile(&simd, &rv64gc) {
        Err(host::Error::Compile(host::CompileError::UnsupportedFeature { message })) => {
            assert!(message.contains("--baseline rv64gcv"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    assert!(check(sandbox(), &scalar, &rv64gc).ok);
    let mut rv64gcv = rv64gc.clone();
    rv64gcv.cpu_features = vec!["rv64gcv".to_string()];
    let report = check(sandbox(), &simd, &rv64gcv);
    assert!(report.ok, "{report:?}");
}
