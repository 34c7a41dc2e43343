//! The `kiln` binary, run as other tools run it: arguments in, exit code,
//! stdout and files out.

use crate::{cache_dir, limits::slow_module};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn kiln(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kiln"))
        .args(args)
        .env("KILN_CACHE_DIR", cache_dir())
        .env("KILN_CONFIG_DIR", config_dir())
        .output()
        .expect("kiln starts")
}

/// The config directory (signing key) the CLI tests share.
pub fn config_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("kiln-config")
}

pub fn fixture_path(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures")
        .join(name);
    path.to_str().unwrap().to_string()
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap()
}

pub fn path_str(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn targets_lists_one_triple_per_line_with_its_baselines() {
    let output = kiln(&["targets"]);
    assert!(output.status.success());
    let text = stdout(&output);
    let triples: Vec<&str> = text.lines().filter(|l| !l.starts_with(' ')).collect();
    assert_eq!(triples, host::TARGETS);
    let baselines: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("  ")?.split_whitespace().next())
        .collect();
    let expected: Vec<&str> = kiln_settings::BASELINES.iter().map(|b| b.name).collect();
    assert_eq!(baselines, expected);
}

#[test]
fn compile_records_the_baseline_and_inspect_reads_it_back() {
    let dir = temp_dir();
    let out = dir.path().join("v2.cwasm");
    let output = kiln(&[
        "compile",
        &fixture_path("cross.wat"),
        "--target",
        "x86_64-unknown-linux-gnu",
        "--baseline",
        "x86-64-v2",
        "-o",
        path_str(&out),
        "--json",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let line: serde_json::Value = serde_json::from_str(stdout(&output).trim()).unwrap();
    assert_eq!(line["baseline"], "x86-64-v2");
    let output = kiln(&["inspect", path_str(&out), "--json"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let info: serde_json::Value = serde_json::from_str(stdout(&output).trim()).unwrap();
    assert_eq!(info["baseline"], "x86-64-v2");
    assert_eq!(info["target"], "x86_64-unknown-linux-gnu");
    assert!(
        info["cpu_flags"]
            .as_array()
            .unwrap()
            .contains(&"has_sse42".into())
    );

    // Garbage, a wasm module and a truncated artifact: a plain-words error, exit 1.
    let artifact = std::fs::read(&out).unwrap();
    let truncated = dir.path().join("truncated.cwasm");
    for bytes in [
        &b"garbage"[..],
        b"\0asm\x01\0\0\0",
        &artifact[..artifact.len() / 2],
    ] {
        std::fs::write(&truncated, bytes).unwrap();
        let output = kiln(&["inspect", path_str(&truncated)]);
        assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
        assert!(
            stderr(&output).contains("not a Wasmtime precompiled module or component")
                || stderr(&output).contains("unreadable .wasmtime.engine section"),
            "{}",
            stderr(&output)
        );
    }

    let output = kiln(&[
        "compile",
        &fixture_path("cross.wat"),
        "--target",
        "s390x-unknown-linux-gnu",
        "--baseline",
        "x86-64-v2",
        "-o",
        path_str(&out),
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("baselines: z14, z15, z17"),
        "{}",
        stderr(&output)
    );
}

/// `check --emulate` agrees where the aarch64 runner is built, and exits 6
/// naming what is missing where it is not.
#[test]
fn check_emulate_agrees_or_says_what_is_missing() {
    let output = kiln(&[
        "check",
        &fixture_path("cross.wat"),
        "--target",
        "aarch64-unknown-linux-gnu",
        "--emulate",
        "--json",
    ]);
    match host::emulate::Runner::emulated("aarch64-unknown-linux-gnu") {
        Ok(_) => {
            assert!(output.status.success(), "{}", stderr(&output));
            let report: serde_json::Value = serde_json::from_str(stdout(&output).trim()).unwrap();
            assert_eq!(report["identical"], true);
            assert_eq!(report["ran_emulated"], true);
            assert_eq!(report["agrees"], true, "{report}");
        }
        Err(missing) => {
            eprintln!("SKIPPED the emulated half: {missing}");
            assert_eq!(output.status.code(), Some(6), "{}", stderr(&output));
            assert!(
                stderr(&output).contains("scripts/build-runners.sh"),
                "{}",
                stderr(&output)
            );
        }
    }
}

#[test]
fn compile_writes_an_artifact_that_runs() {
    let dir = temp_dir();
    let out = dir.path().join("math.cwasm");
    let output = kiln(&[
        "compile",
        &fixture_path("math.wat"),
        "--target",
        "x86_64-unknown-linux-gnu",
        "-o",
        path_str(&out),
        "--json",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let json: serde_json::Value = serde_json::from_str(stdout(&output).trim()).unwrap();
    assert_eq!(json["kind"], "module");
    assert_eq!(json["function_count"], 3);
    assert_eq!(
        json["artifact_bytes"],
        std::fs::metadata(&out).unwrap().len()
    );

    let output = kiln(&["run", path_str(&out), "--invoke", "fib", "--", "20"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output), "6765\n");
}

#[test]
fn compile_defaults_output_beside_the_input() {
    let dir = temp_dir();
    let input = dir.path().join("adder.wat");
    std::fs::copy(fixture_path("adder.wat"), &input).unwrap();
    let output = kiln(&["compile", path_str(&input), "--target", "pulley64"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let artifact = dir.path().join("adder.cwasm");
    assert!(artifact.is_file());
    let output = kiln(&[
        "run",
        path_str(&artifact),
        "--invoke",
        "add",
        "--",
        "40",
        "2",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output), "42\n");
}

#[test]
fn check_json_reports_each_target() {
    let output = kiln(&[
        "check",
        &fixture_path("primes.wat"),
        "--target",
        "x86_64-unknown-linux-gnu",
        "--target",
        "aarch64-unknown-linux-gnu",
        "--json",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let reports: Vec<serde_json::Value> = stdout(&output)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(reports.len(), 2);
    for report in &reports {
        for field in [
            "target",
            "ok",
            "identical",
            "loaded",
            "artifact_bytes",
            "sandbox_ms",
            "native_ms",
            "error",
        ] {
            assert!(report.get(field).is_some(), "missing {field}: {report}");
        }
        assert_eq!(report["ok"], true);
        assert_eq!(report["identical"], true);
        assert!(report["error"].is_null());
    }
    assert_eq!(reports[0]["loaded"], true);
    assert!(reports[1]["loaded"].is_null());
}

#[test]
fn run_wasi_command_prints_and_exits_with_its_status() {
    let output = kiln(&["run", &fixture_path("hello.wat")]);
    assert_eq!(stdout(&output), "hello from kiln\n");
    assert_eq!(output.status.code(), Some(7));
}

#[test]
fn bad_input_exits_1_and_writes_nothing() {
    let dir = temp_dir();
    let garbage = dir.path().join("garbage.wasm");
    std::fs::write(&garbage, b"\0asm\x01\0\0\0\x01\xff\xff\xff").unwrap();
    let out = dir.path().join("out.cwasm");
    let output = kiln(&[
        "compile",
        path_str(&garbage),
        "--target",
        "x86_64-unknown-linux-gnu",
        "-o",
        path_str(&out),
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("invalid input"),
        "{}",
        stderr(&output)
    );
    assert!(!out.exists());

    // An existing output survives a failed compile untouched.
    std::fs::write(&out, b"previous artifact").unwrap();
    let output = kiln(&[
        "compile",
        path_str(&garbage),
        "--target",
        "x86_64-unknown-linux-gnu",
        "-o",
        path_str(&out),
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(std::fs::read(&out).unwrap(), b"previous artifact");
    // No temporary files are left behind either.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

#[test]
fn unknown_target_and_feature_exit_1() {
    let output = kiln(&[
        "compile",
        &fixture_path("math.wat"),
        "--target",
        "vax-dec-vms",
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("unsupported target `vax-dec-vms`"),
        "{}",
        stderr(&output)
    );
    let output = kiln(&[
        "compile",
        &fixture_path("math.wat"),
        "--target",
        "x86_64-unknown-linux-gnu",
        "--cpu-feature",
        "has_nothing",
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("has_nothing"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn missing_input_exits_1_and_usage_errors_exit_2() {
    let output = kiln(&["compile", "/nonexistent/input.wasm", "--target", "pulley64"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("/nonexistent/input.wasm"));
    let output = kiln(&[
        "compile",
        &fixture_path("math.wat"),
        "-W",
        "teleportation=y",
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("teleportation"),
        "{}",
        stderr(&output)
    );
    let output = kiln(&[
        "compile",
        &fixture_path("math.wat"),
        "--target",
        "pulley64",
        "--max-memory",
        "lots",
    ]);
    assert_eq!(output.status.code(), Some(2));
    // A time limit that is no limit (NaN, zero, negative) or too large
    // for the clocks (it panicked before) is a usage error that says so,
    // in `kiln compile` and in `kiln bench` alike.
    for (command, timeout, says) in [
        ("compile", "nan", "more than 0"),
        ("compile", "0", "more than 0"),
        ("compile", "-5", "more than 0"),
        ("compile", "1e30", "a week"),
        ("compile", "inf", "a week"),
        ("compile", "soon", "not a number"),
        ("bench", "1e30", "a week"),
    ] {
        let flag = format!("--timeout={timeout}");
        let output = kiln(&[command, &fixture_path("math.wat"), &flag]);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{timeout}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains(says),
            "{timeout}: {}",
            stderr(&output)
        );
    }
}

#[test]
fn timeout_exits_3() {
    let dir = temp_dir();
    let slow = dir.path().join("slow.wat");
    std::fs::write(&slow, slow_module()).unwrap();
    let output = kiln(&[
        "compile",
        path_str(&slow),
        "--target",
        "x86_64-unknown-linux-gnu",
        "--timeout",
        "0.2",
    ]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert!(stderr(&output).contains("--timeout"), "{}", stderr(&output));
    assert!(!dir.path().join("slow.cwasm").exists());
}

#[test]
fn memory_cap_exits_3() {
    let dir = temp_dir();
    let out = dir.path().join("math.cwasm");
    let output = kiln(&[
        "compile",
        &fixture_path("math.wat"),
        "--target",
        "x86_64-unknown-linux-gnu",
        "--max-memory",
        "1MiB",
        "-o",
        path_str(&out),
    ]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert!(stderr(&output).contains("--max-memory"));
    assert!(!out.exists());
}

#[test]
fn wast_reports_a_bad_script_and_goes_on_with_the_next() {
    let dir = temp_dir();
    let garbage = dir.path().join("garbage.wast");
    std::fs::write(&garbage, b"(module (func $f (unknown-instruction))) ((((").unwrap();
    let good = dir.path().join("good.wast");
    std::fs::write(
        &good,
        "(module (func (export \"one\") (result i32) i32.const 1))\n(assert_return (invoke \"one\") (i32.const 1))\n",
    )
    .unwrap();
    let output = kiln(&[
        "wast",
        path_str(&garbage),
        path_str(&good),
        "--target",
        "pulley64",
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("garbage.wast"),
        "{}",
        stderr(&output)
    );
    assert!(
        stdout(&output).contains("kiln 2/0/0 (passed/failed/skipped), reference 2/0"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn compile_with_a_cache_reuses_functions_on_the_second_run() {
    let dir = temp_dir();
    let cache = dir.path().join("cache");
    let input = dir.path().join("slow.wat");
    std::fs::write(&input, slow_module()).unwrap();
    let out = dir.path().join("slow.cwasm");
    let run = || {
        let output = kiln(&[
            "compile",
            path_str(&input),
            "--target",
            "x86_64-unknown-linux-gnu",
            "-o",
            path_str(&out),
            "--cache",
            path_str(&cache),
            "--tenant",
            "ci",
            "--json",
        ]);
        assert!(output.status.success(), "{}", stderr(&output));
        let line: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
        (
            line["cache_hits"].as_u64().unwrap(),
            line["cache_misses"].as_u64().unwrap(),
        )
    };
    // The 300 functions of this module are alike: one compile each of the
    // distinct function and of the trampolines.
    let (hits, cold_misses) = run();
    assert_eq!(hits, 0);
    assert!(cold_misses >= 2, "{cold_misses}");
    let first = std::fs::read(&out).unwrap();
    // A function's cache key is its Cranelift IR, and the first function a
    // compile thread compiles can come out numbered differently from the
    // rest, so a key or two may differ from one run to the next.
    let (hits, misses) = run();
    assert!(
        hits >= cold_misses - 2 && misses <= 2,
        "{hits} hits, {misses} misses"
    );
    assert_eq!(std::fs::read(&out).unwrap(), first);
    // A tenant without a cache is a usage error.
    let output = kiln(&[
        "compile",
        path_str(&input),
        "--target",
        "pulley64",
        "--tenant",
        "x",
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
}

/// The names a component exports at its top level.
fn component_exports(bytes: &[u8]) -> Vec<String> {
    let mut names = Vec::new();
    let mut depth = 0;
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        match payload.unwrap() {
            wasmparser::Payload::ModuleSection { .. }
            | wasmparser::Payload::ComponentSection { .. } => depth += 1,
            wasmparser::Payload::End(_) => depth -= 1,
            wasmparser::Payload::ComponentExportSection(exports) if depth == 0 => {
                for export in exports {
                    names.push(export.unwrap().name.name.to_string());
                }
            }
            _ => {}
        }
    }
    names
}

#[test]
fn component_writes_each_embedded_build_with_its_own_export() {
    let dir = temp_dir();
    for (flag, embedded, export) in [
        (
            None,
            host::guest::GUEST_COMPONENT,
            "kiln:compiler/compiler@0.1.0",
        ),
        (
            Some("--http"),
            host::guest::HTTP_COMPONENT,
            "wasi:http/incoming-handler@0.2.4",
        ),
    ] {
        let out = dir.path().join("component.wasm");
        let mut args = vec!["component", "--json", "-o", path_str(&out)];
        args.extend(flag);
        let output = kiln(&args);
        assert!(output.status.success(), "{}", stderr(&output));
        let written = std::fs::read(&out).unwrap();
        assert!(
            written == embedded,
            "{flag:?}: the bytes differ from the embedded build"
        );
        assert_eq!(component_exports(&written), [export], "{flag:?}");
        let facts: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
        assert_eq!(facts["bytes"], written.len());
    }
    // No output path is a usage error.
    assert_eq!(kiln(&["component"]).status.code(), Some(2));
}
