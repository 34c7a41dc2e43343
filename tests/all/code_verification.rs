//! Machine-code verification as its users meet it: `kiln verify-code` on
//! real artifacts and on files that are none, and the verification every
//! compile runs before it writes and signs, recorded in the statement and
//! in the library's answer. (The verifier's own rules are tested where
//! they are written, on artifacts that break them.)

use crate::cli::{config_dir, fixture_path, kiln, path_str, stderr, stdout, temp_dir};
use crate::{fixture, sandbox};
use host::artifact::statement::{CodeVerificationOutcome, CodeVerificationRecord};
use host::artifact::verify_code::VERIFIER_VERSION;
use host::artifact::{Statement, TrustedKeys, default_key, open, statement_path};
use host::{CompileRequest, Options};
use std::path::{Path, PathBuf};

const X86: &str = "x86_64-unknown-linux-gnu";
const AARCH64: &str = "aarch64-unknown-linux-gnu";

/// `kiln compile` of fixture `wat` for `target` into `dir`, with `extra`
/// flags: the artifact's path and the `--json` line.
fn compile(dir: &Path, wat: &str, target: &str, extra: &[&str]) -> (PathBuf, serde_json::Value) {
    let out = dir.join(format!("{target}.cwasm"));
    let mut args = vec![
        "compile",
        &fixture_path(wat),
        "--target",
        target,
        "-o",
        path_str(&out),
        "--json",
    ]
    .into_iter()
    .map(str::to_string)
    .collect::<Vec<_>>();
    args.extend(extra.iter().map(|a| a.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = kiln(&args);
    assert!(output.status.success(), "{}", stderr(&output));
    let line = serde_json::from_str(stdout(&output).trim())
        .unwrap_or_else(|e| panic!("{e}: {}", stdout(&output)));
    (out, line)
}

/// The statement beside `artifact`, opened with the CLI tests' own key.
fn statement(artifact: &Path) -> Statement {
    let envelope = std::fs::read(statement_path(artifact)).unwrap();
    let mut trust = TrustedKeys::new();
    trust.add(default_key(&config_dir()).unwrap().verifying_key());
    open(&envelope, &trust).expect("the CLI's key signed the statement")
}

fn recorded(artifact: &Path) -> CodeVerificationRecord {
    statement(artifact)
        .predicate
        .code_verification
        .expect("every compile records its code verification")
}

#[test]
fn compile_verifies_and_verify_code_agrees() {
    let dir = temp_dir();
    let (out, line) = compile(dir.path(), "math.wat", X86, &[]);
    assert_eq!(line["code_verification"]["outcome"], "passed", "{line}");
    assert!(line["verify_code_ms"].as_f64().is_some(), "{line}");

    // The statement records the outcome and the verifier's version.
    let record = recorded(&out);
    assert_eq!(record.outcome, CodeVerificationOutcome::Passed);
    assert_eq!(record.verifier, VERIFIER_VERSION);

    // `kiln verify` shows the signed record.
    let output = kiln(&["verify", path_str(&out), "--json"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let verified: serde_json::Value = serde_json::from_str(stdout(&output).trim()).unwrap();
    assert_eq!(verified["code_verification"]["outcome"], "passed");
    assert_eq!(verified["code_verification"]["verifier"], VERIFIER_VERSION);

    // `kiln verify-code` on the written artifact: every rule holds, and
    // it counts what the compile's verification counted.
    let output = kiln(&["verify-code", path_str(&out)]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.contains("every rule holds"), "{text}");
    assert!(text.contains(VERIFIER_VERSION), "{text}");
    assert!(
        text.contains(&format!(
            "{} functions, {} instructions",
            record.functions, record.instructions
        )),
        "{text}"
    );

    let output = kiln(&["verify-code", path_str(&out), "--json"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let report: serde_json::Value = serde_json::from_str(stdout(&output).trim())
        .unwrap_or_else(|e| panic!("{e}: {}", stdout(&output)));
    assert_eq!(report["verifier"], VERIFIER_VERSION);
    assert_eq!(report["target"], X86);
    assert_eq!(report["violations"], serde_json::json!([]));
    assert_eq!(report["functions"], record.functions);
    assert_eq!(report["instructions"], record.instructions);
    assert_eq!(
        report["unchecked"].as_array().map(Vec::len),
        Some(record.unchecked as usize)
    );
}

#[test]
fn no_verify_code_is_recorded_as_skipped() {
    let dir = temp_dir();
    let (out, line) = compile(dir.path(), "math.wat", X86, &["--no-verify-code"]);
    assert_eq!(line["code_verification"]["outcome"], "skipped", "{line}");
    assert_eq!(line["verify_code_ms"], 0.0, "{line}");
    let record = recorded(&out);
    assert_eq!(record.outcome, CodeVerificationOutcome::Skipped);
    assert_eq!(record.verifier, VERIFIER_VERSION);
    assert_eq!((record.functions, record.instructions), (0, 0));
    // The artifact is still a good one.
    let output = kiln(&["verify-code", path_str(&out)]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
}

#[test]
fn verify_code_exits_1_for_what_is_no_readable_artifact() {
    let dir = temp_dir();
    let (out, _) = compile(dir.path(), "math.wat", X86, &["--no-verify-code"]);
    let artifact = std::fs::read(&out).unwrap();
    let bad = dir.path().join("bad.cwasm");
    for bytes in [
        &b"garbage"[..],
        b"\0asm\x01\0\0\0",
        &artifact[..artifact.len() / 2],
        &[][..],
    ] {
        std::fs::write(&bad, bytes).unwrap();
        for json in [false, true] {
            let mut args = vec!["verify-code", path_str(&bad)];
            if json {
                args.push("--json");
            }
            let output = kiln(&args);
            assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
            assert!(
                stderr(&output).contains(&format!("cannot verify {}", bad.display())),
                "{}",
                stderr(&output)
            );
            assert!(stdout(&output).is_empty(), "{}", stdout(&output));
        }
    }
    let missing = dir.path().join("missing.cwasm");
    let output = kiln(&["verify-code", path_str(&missing)]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("missing.cwasm"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn another_target_compiles_as_unsupported_and_verify_code_names_it() {
    let dir = temp_dir();
    let (out, line) = compile(dir.path(), "math.wat", AARCH64, &[]);
    assert_eq!(
        line["code_verification"]["outcome"], "unsupported-target",
        "{line}"
    );
    let record = recorded(&out);
    assert_eq!(record.outcome, CodeVerificationOutcome::UnsupportedTarget);
    assert_eq!(record.verifier, VERIFIER_VERSION);

    let output = kiln(&["verify-code", path_str(&out)]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(stderr(&output).contains(AARCH64), "{}", stderr(&output));
    assert!(stdout(&output).is_empty(), "{}", stdout(&output));
}

/// The library's answer carries the same record, whichever path compiled;
/// the library verifies when asked (as `kiln compile` always asks).
#[test]
fn every_sandboxed_compile_asked_to_is_verified() {
    let input = fixture("math.wat");
    let x86 = Options::for_target(X86);
    let request = CompileRequest::new(&input, &x86).verify_code(true);
    let compiled = sandbox().compile(&request).unwrap();
    assert_eq!(
        compiled.code_verification.outcome,
        CodeVerificationOutcome::Passed
    );
    assert_eq!(compiled.code_verification.verifier, VERIFIER_VERSION);
    assert!(compiled.statement.is_none());

    let skipped = sandbox().compile(&request.verify_code(false)).unwrap();
    assert_eq!(
        skipped.code_verification.outcome,
        CodeVerificationOutcome::Skipped
    );
    assert_eq!(skipped.verify_code_duration, std::time::Duration::ZERO);
    assert_eq!(skipped.artifact.bytes, compiled.artifact.bytes);

    let aarch64 = Options::for_target(AARCH64);
    let other = sandbox()
        .compile(&CompileRequest::new(&input, &aarch64).verify_code(true))
        .unwrap();
    assert_eq!(
        other.code_verification.outcome,
        CodeVerificationOutcome::UnsupportedTarget
    );
}
