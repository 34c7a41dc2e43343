//! `kiln compile` of several inputs and directories into `--out-dir`: the
//! artifacts are the single compiles' bytes, each with its statement; a
//! failed input is reported and the rest written; the exit status is the
//! most serious failure's; `--json` lines parse; usage errors exit 2.

use crate::cli::{fixture_path, kiln, path_str, stderr, stdout, temp_dir};
use crate::limits::slow_module;
use serde_json::Value;
use std::path::{Path, PathBuf};

const TARGET: &str = "x86_64-unknown-linux-gnu";

/// A tree of fixtures: `tree/adder.wat`, `tree/a/math.wat`,
/// `tree/b/math.wat` (two of one name), `tree/a/notes.txt` (not an input).
fn fixture_tree(root: &Path) -> PathBuf {
    let tree = root.join("tree");
    for (dir, name) in [("", "adder.wat"), ("a", "math.wat"), ("b", "math.wat")] {
        std::fs::create_dir_all(tree.join(dir)).unwrap();
        std::fs::copy(fixture_path(name), tree.join(dir).join(name)).unwrap();
    }
    std::fs::write(tree.join("a/notes.txt"), "not wasm").unwrap();
    tree
}

/// The artifact a single `kiln compile INPUT -o` writes.
fn single_compile(input: &str, out: &Path) -> Vec<u8> {
    let output = kiln(&["compile", input, "--target", TARGET, "-o", path_str(out)]);
    assert!(output.status.success(), "{}", stderr(&output));
    std::fs::read(out).unwrap()
}

/// `--json` output: the per-input lines and the summary.
fn json_lines(output: &std::process::Output) -> (Vec<Value>, Value) {
    let mut lines: Vec<Value> = stdout(output)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    let summary = lines.pop().expect("a summary line");
    (lines, summary)
}

#[test]
fn files_and_a_directory_tree_compile_to_the_single_compiles_bytes() {
    let dir = temp_dir();
    let tree = fixture_tree(dir.path());
    let out = dir.path().join("out");
    let output = kiln(&[
        "compile",
        &fixture_path("primes.wat"),
        &fixture_path("hello.wat"),
        path_str(&tree),
        "--out-dir",
        path_str(&out),
        "--target",
        TARGET,
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let status = stderr(&output);
    assert!(status.contains("   Compiling "), "{status}");
    assert!(status.contains("    Finished 5 artifacts in "), "{status}");
    let single = dir.path().join("single.cwasm");
    for (input, artifact) in [
        (fixture_path("primes.wat"), out.join("primes.cwasm")),
        (fixture_path("hello.wat"), out.join("hello.cwasm")),
        (fixture_path("adder.wat"), out.join("adder.cwasm")),
        (fixture_path("math.wat"), out.join("a/math.cwasm")),
        (fixture_path("math.wat"), out.join("b/math.cwasm")),
    ] {
        let batch =
            std::fs::read(&artifact).unwrap_or_else(|e| panic!("{}: {e}", artifact.display()));
        assert!(
            batch == single_compile(&input, &single),
            "{} differs from a single compile",
            artifact.display()
        );
        // The statement beside it vouches for it.
        let verify = kiln(&["verify", path_str(&artifact), "--target", TARGET]);
        assert!(verify.status.success(), "{}", stderr(&verify));
    }
    // Nothing but the artifacts and their statements.
    assert!(!out.join("a/notes.cwasm").exists());
}

#[test]
fn a_bad_input_is_reported_and_the_rest_are_written() {
    let dir = temp_dir();
    let garbage = dir.path().join("garbage.wasm");
    std::fs::write(&garbage, b"\0asm\x01\0\0\0\x01\xff\xff\xff").unwrap();
    let artifact = std::fs::read(fixture_path("adder.wat")).unwrap();
    let truncated = dir.path().join("truncated.wat");
    std::fs::write(&truncated, &artifact[..artifact.len() / 2]).unwrap();
    let missing = dir.path().join("missing.wasm");
    let out = dir.path().join("out");
    let output = kiln(&[
        "compile",
        &fixture_path("adder.wat"),
        path_str(&garbage),
        path_str(&truncated),
        path_str(&missing),
        &fixture_path("math.wat"),
        "--out-dir",
        path_str(&out),
        "--target",
        TARGET,
        "--json",
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let status = stderr(&output);
    assert!(
        status.contains(&format!("error: {}: invalid input", garbage.display())),
        "{status}"
    );
    assert!(
        status.contains(&format!("error: {}: failed to read", missing.display())),
        "{status}"
    );
    assert!(status.contains("error: 3 of 5 inputs failed"), "{status}");
    assert!(out.join("adder.cwasm").is_file());
    assert!(out.join("math.cwasm").is_file());
    assert!(out.join("math.cwasm.intoto.json").is_file());
    for failed in ["garbage", "truncated", "missing"] {
        assert!(!out.join(format!("{failed}.cwasm")).exists(), "{failed}");
    }

    let (lines, summary) = json_lines(&output);
    assert_eq!(lines.len(), 5);
    let line = |name: &str| {
        lines
            .iter()
            .find(|line| line["input"].as_str().unwrap().ends_with(name))
            .unwrap_or_else(|| panic!("no line for {name}"))
    };
    for good in ["adder.wat", "math.wat"] {
        let line = line(good);
        assert_eq!(line["ok"], true, "{line}");
        assert!(line["artifact_bytes"].as_u64().unwrap() > 0, "{line}");
        assert!(line["ms"].as_f64().is_some(), "{line}");
        assert_eq!(line["code_verification"]["outcome"], "passed", "{line}");
        let written = std::fs::metadata(line["output"].as_str().unwrap()).unwrap();
        assert_eq!(written.len(), line["artifact_bytes"].as_u64().unwrap());
    }
    for (bad, kind) in [
        ("garbage.wasm", "invalid-input"),
        ("truncated.wat", "invalid-input"),
        ("missing.wasm", "read"),
    ] {
        let line = line(bad);
        assert_eq!(line["ok"], false, "{line}");
        assert_eq!(line["error"], kind, "{line}");
        assert_eq!(line["exit_code"], 1, "{line}");
        assert!(line["message"].as_str().is_some(), "{line}");
    }
    assert_eq!(summary["inputs"], 5, "{summary}");
    assert_eq!(summary["written"], 2, "{summary}");
    assert_eq!(summary["failed"], 3, "{summary}");
    assert_eq!(summary["exit_code"], 1, "{summary}");
}

/// A limit hit (3) outranks an input rejected (1).
#[test]
fn the_exit_status_is_the_most_serious_failures() {
    let dir = temp_dir();
    let garbage = dir.path().join("garbage.wasm");
    std::fs::write(&garbage, b"garbage").unwrap();
    let slow = dir.path().join("slow.wat");
    std::fs::write(&slow, slow_module()).unwrap();
    let out = dir.path().join("out");
    let output = kiln(&[
        "compile",
        path_str(&garbage),
        path_str(&slow),
        "--out-dir",
        path_str(&out),
        "--target",
        TARGET,
        "--timeout",
        "0.2",
        "--json",
    ]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let (lines, summary) = json_lines(&output);
    let kinds: Vec<&str> = lines.iter().map(|l| l["error"].as_str().unwrap()).collect();
    assert!(
        kinds.contains(&"time-limit") && kinds.contains(&"invalid-input"),
        "{kinds:?}"
    );
    assert_eq!(summary["exit_code"], 3);
}

#[test]
fn usage_errors_exit_2_before_anything_is_compiled() {
    let dir = temp_dir();
    let out = dir.path().join("out");
    let two = [fixture_path("adder.wat"), fixture_path("math.wat")];

    // -o names one artifact: it points at --out-dir.
    let output = kiln(&["compile", &two[0], &two[1], "-o", path_str(&out)]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("--out-dir"), "{}", stderr(&output));
    // Several inputs, or a directory, with neither.
    let output = kiln(&["compile", &two[0], &two[1]]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("--out-dir"), "{}", stderr(&output));
    let tree = fixture_tree(dir.path());
    let output = kiln(&["compile", path_str(&tree)]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));

    // Two inputs for one artifact: both named, nothing written.
    let output = kiln(&[
        "compile",
        path_str(&tree.join("a/math.wat")),
        path_str(&tree.join("b/math.wat")),
        "--out-dir",
        path_str(&out),
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let text = stderr(&output);
    assert!(
        text.contains("a/math.wat") && text.contains("b/math.wat"),
        "{text}"
    );
    assert!(text.contains("math.cwasm"), "{text}");
    assert!(!out.exists());

    // An empty directory alone is nothing to compile; beside an input, a
    // warning.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let output = kiln(&["compile", path_str(&empty), "--out-dir", path_str(&out)]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("nothing to compile"),
        "{}",
        stderr(&output)
    );
    let output = kiln(&[
        "compile",
        path_str(&empty),
        &two[0],
        "--out-dir",
        path_str(&out),
        "--target",
        TARGET,
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("holds no .wasm or .wat file"),
        "{}",
        stderr(&output)
    );
    assert!(out.join("adder.cwasm").is_file());

    // Standard input cannot be one of several.
    let output = kiln(&["compile", "-", &two[0], "--out-dir", path_str(&out)]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
}

/// One file and `--out-dir`: a batch of one, its artifact where the
/// directory says.
#[test]
fn one_input_with_out_dir_is_a_batch_of_one() {
    let dir = temp_dir();
    let out = dir.path().join("nested/out");
    let output = kiln(&[
        "compile",
        &fixture_path("adder.wat"),
        "--out-dir",
        path_str(&out),
        "--target",
        TARGET,
        "--json",
        "--no-verify-code",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let (lines, summary) = json_lines(&output);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["code_verification"]["outcome"], "skipped");
    assert_eq!(summary["written"], 1);
    assert!(out.join("adder.cwasm").is_file());
    assert!(out.join("adder.cwasm.intoto.json").is_file());
}
