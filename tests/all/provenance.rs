//! Signed provenance: an artifact loads through the library's safe path
//! and through `kiln run` only with a statement that a trusted key signed,
//! about these bytes and these settings. Every way of swapping or damaging
//! either is refused with its own typed error, before a byte is mapped.

use crate::cli::{config_dir, fixture_path, kiln, path_str, stderr, stdout, temp_dir};
use crate::{compile, fixture};
use host::artifact::{
    CompileFacts, ProvenanceError, SigningKey, TrustedKeys, generate, load_verified,
    signed_statement,
};
use host::{Error, GivenOptions, Limits, Options};
use object::{Object, ObjectSection};
use std::path::Path;
use std::time::SystemTime;

const X86: &str = "x86_64-unknown-linux-gnu";

/// A compiled fixture, its statement signed by `key`, and a trust of `key`.
struct Signed {
    artifact: Vec<u8>,
    envelope: Vec<u8>,
    options: Options,
}

fn signed(wat: &str, options: Options, key: &SigningKey) -> Signed {
    let input = fixture(wat);
    let artifact = compile(&input, &options).unwrap().bytes;
    let facts = CompileFacts {
        input_name: wat,
        input: &input,
        options: &options,
        given: &GivenOptions::default(),
        limits: &Limits::default(),
        started: SystemTime::now(),
        finished: SystemTime::now(),
        tenant: None,
        code_verification: None,
    };
    let envelope = signed_statement(&facts, "app.cwasm", &artifact, key).unwrap();
    Signed {
        artifact,
        envelope,
        options,
    }
}

fn trusting(key: &SigningKey) -> TrustedKeys {
    let mut trust = TrustedKeys::new();
    trust.add(key.verifying_key());
    trust
}

/// The provenance error that refused `artifact` + `envelope`, failing the
/// test if anything loaded.
fn refusal(artifact: &[u8], envelope: &[u8], trust: &TrustedKeys, options: &Options) -> String {
    match load_verified(artifact, envelope, trust, options) {
        Ok(_) => panic!("a damaged or swapped artifact loaded"),
        Err(Error::Provenance(error)) => error.kind().to_string(),
        Err(other) => panic!("refused, but not for its provenance: {other}"),
    }
}

/// `artifact` with its `.text` overwritten by `int3` instructions.
fn with_int3_code(artifact: &[u8]) -> Vec<u8> {
    let mut damaged = artifact.to_vec();
    let (start, size) = object::File::parse(artifact)
        .unwrap()
        .section_by_name(".text")
        .unwrap()
        .file_range()
        .unwrap();
    damaged[start as usize..(start + size) as usize].fill(0xcc);
    damaged
}

#[test]
fn a_signed_artifact_loads_and_runs() {
    let key = generate().unwrap();
    let signed = signed("math.wat", Options::for_target(X86), &key);
    let (engine, loaded, statement) = load_verified(
        &signed.artifact,
        &signed.envelope,
        &trusting(&key),
        &signed.options,
    )
    .unwrap();
    assert_eq!(statement.predicate.target, X86);
    assert_eq!(statement.subject[0].name, "app.cwasm");
    let config = host::run::RunConfig {
        invoke: Some("div".to_string()),
        invoke_args: vec!["6".to_string(), "3".to_string()],
        ..Default::default()
    };
    let outcome = host::run::run(&engine, &loaded, &config).unwrap();
    assert!(
        matches!(&outcome, host::run::Outcome::Returned(values) if values == &["2"]),
        "{outcome:?}"
    );
}

#[test]
fn one_flipped_byte_in_any_section_is_refused() {
    let key = generate().unwrap();
    let signed = signed("math.wat", Options::for_target(X86), &key);
    let trust = trusting(&key);
    let elf = object::File::parse(&*signed.artifact).unwrap();
    let mut flipped_sections = 0;
    for section in elf.sections() {
        let Some((start, size)) = section.file_range() else {
            continue;
        };
        if size == 0 {
            continue;
        }
        for offset in [start, start + size / 2, start + size - 1] {
            let mut damaged = signed.artifact.clone();
            damaged[offset as usize] ^= 0x01;
            let kind = refusal(&damaged, &signed.envelope, &trust, &signed.options);
            assert_eq!(kind, "digest_mismatch", "{:?}", section.name());
        }
        flipped_sections += 1;
    }
    assert!(flipped_sections >= 5, "only {flipped_sections} sections");
    // A truncated artifact, and the ELF header itself.
    let truncated = &signed.artifact[..signed.artifact.len() / 2];
    assert_eq!(
        refusal(truncated, &signed.envelope, &trust, &signed.options),
        "digest_mismatch"
    );
    let mut header = signed.artifact.clone();
    header[4] ^= 0xff;
    assert_eq!(
        refusal(&header, &signed.envelope, &trust, &signed.options),
        "digest_mismatch"
    );
}

#[test]
fn code_overwritten_with_int3_is_refused_not_run() {
    let key = generate().unwrap();
    let signed = signed("math.wat", Options::for_target(X86), &key);
    let damaged = with_int3_code(&signed.artifact);
    // Had it been mapped and called, this process would die of SIGTRAP.
    assert_eq!(
        refusal(&damaged, &signed.envelope, &trusting(&key), &signed.options),
        "digest_mismatch"
    );
}

#[test]
fn a_damaged_statement_is_refused() {
    let key = generate().unwrap();
    let signed = signed("math.wat", Options::for_target(X86), &key);
    let trust = trusting(&key);
    // Flip bytes across the whole envelope: each is refused, none loads.
    let step = (signed.envelope.len() / 97).max(1);
    let mut kinds = std::collections::BTreeSet::new();
    for offset in (0..signed.envelope.len()).step_by(step) {
        let mut damaged = signed.envelope.clone();
        damaged[offset] ^= 0x01;
        // A flip inside JSON whitespace or a key's case may leave a valid
        // envelope; it must then still verify as the same statement.
        match load_verified(&signed.artifact, &damaged, &trust, &signed.options) {
            Ok((_, _, statement)) => assert_eq!(statement.subject[0].name, "app.cwasm"),
            Err(Error::Provenance(error)) => {
                kinds.insert(error.kind());
            }
            Err(other) => panic!("{other}"),
        }
    }
    assert!(
        kinds.contains("bad_signature") || kinds.contains("malformed"),
        "{kinds:?}"
    );
    // Cut inside the JSON (a trailing newline is not part of it).
    let json_len = signed.envelope.trim_ascii_end().len();
    for cut in [0, 1, json_len / 3, json_len - 1] {
        assert_eq!(
            refusal(
                &signed.artifact,
                &signed.envelope[..cut],
                &trust,
                &signed.options
            ),
            "malformed"
        );
    }
    assert_eq!(
        refusal(
            &signed.artifact,
            b"\x00\xffgarbage",
            &trust,
            &signed.options
        ),
        "malformed"
    );
    assert_eq!(
        refusal(
            &signed.artifact,
            br#"{"payload": 3}"#,
            &trust,
            &signed.options
        ),
        "malformed"
    );
    let oversized = vec![b' '; (1 << 20) + 1];
    assert_eq!(
        refusal(&signed.artifact, &oversized, &trust, &signed.options),
        "oversized"
    );
}

#[test]
fn a_statement_for_another_artifact_or_by_another_key_is_refused() {
    let key = generate().unwrap();
    let math = signed("math.wat", Options::for_target(X86), &key);
    let primes = signed("primes.wat", Options::for_target(X86), &key);
    assert_eq!(
        refusal(
            &primes.artifact,
            &math.envelope,
            &trusting(&key),
            &math.options
        ),
        "digest_mismatch"
    );
    let stranger = generate().unwrap();
    assert_eq!(
        refusal(
            &math.artifact,
            &math.envelope,
            &trusting(&stranger),
            &math.options
        ),
        "no_trusted_signature"
    );
}

#[test]
fn an_artifact_compiled_with_other_settings_is_refused() {
    let key = generate().unwrap();
    let fuel = Options::with_wasmtime_flags(X86, ["-W", "fuel=1"]).unwrap();
    let signed = signed("math.wat", fuel, &key);
    let trust = trusting(&key);
    // Loaded with the settings it was made with: fine.
    assert!(load_verified(&signed.artifact, &signed.envelope, &trust, &signed.options).is_ok());
    // Loaded by an engine with Wasmtime's defaults: refused by name, before
    // Wasmtime's own check would see it.
    match load_verified(
        &signed.artifact,
        &signed.envelope,
        &trust,
        &Options::for_target(X86),
    ) {
        Err(Error::Provenance(ProvenanceError::SettingsMismatch { field, .. })) => {
            assert_eq!(field, "settings.resolved");
        }
        Err(other) => panic!("{other}"),
        Ok(_) => panic!("loaded with other settings"),
    }
    let other_cpu = Options {
        cpu_features: vec!["x86-64-v3".to_string()],
        ..signed.options.clone()
    };
    assert_eq!(
        refusal(&signed.artifact, &signed.envelope, &trust, &other_cpu),
        "settings_mismatch"
    );
}

/// `kiln compile` of a fixture into `dir`: the artifact and its statement.
fn compile_cli(dir: &Path, wat: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let out = dir.join("app.cwasm");
    let output = kiln(&[
        "compile",
        &fixture_path(wat),
        "--target",
        X86,
        "-o",
        path_str(&out),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let statement = dir.join("app.cwasm.intoto.json");
    assert!(statement.is_file());
    (out, statement)
}

#[test]
fn kiln_run_refuses_what_was_swapped_and_runs_what_was_signed() {
    let dir = temp_dir();
    let (out, statement) = compile_cli(dir.path(), "math.wat");
    let run = |extra: &[&str]| {
        let mut args = vec!["run", path_str(&out), "--invoke", "div"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--", "6", "3"]);
        kiln(&args)
    };
    let output = run(&[]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output).trim(), "2");

    // Its code overwritten with int3: refused (8), not executed (133).
    let original = std::fs::read(&out).unwrap();
    let damaged = with_int3_code(&original);
    std::fs::write(&out, &damaged).unwrap();
    let output = run(&[]);
    assert_eq!(output.status.code(), Some(8), "{}", stderr(&output));
    assert!(stderr(&output).contains("sha256"), "{}", stderr(&output));

    // Unsigned: refused (7); --allow-unsigned runs it with a warning.
    std::fs::write(&out, &original).unwrap();
    std::fs::remove_file(&statement).unwrap();
    let output = run(&[]);
    assert_eq!(output.status.code(), Some(7), "{}", stderr(&output));
    let output = run(&["--allow-unsigned"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stderr(&output).contains("warning"), "{}", stderr(&output));
}

#[test]
fn kiln_verify_names_each_failure_with_its_exit_code() {
    let dir = temp_dir();
    let (out, statement) = compile_cli(dir.path(), "math.wat");
    let verify = |extra: &[&str]| {
        let mut args = vec!["verify", path_str(&out), "--json"];
        args.extend_from_slice(extra);
        let output = kiln(&args);
        let line: serde_json::Value = serde_json::from_str(stdout(&output).trim())
            .unwrap_or_else(|e| panic!("{e}: {}", stdout(&output)));
        (output.status.code(), line)
    };
    let (code, line) = verify(&[]);
    assert_eq!(code, Some(0), "{line}");
    assert_eq!(line["ok"], true);

    // Other settings than the ones recorded.
    let (code, line) = verify(&["-W", "fuel=1"]);
    assert_eq!(
        (code, line["error"].as_str()),
        (Some(8), Some("settings_mismatch"))
    );

    // Signed by a key nobody trusts.
    let stranger = dir.path().join("stranger.key");
    let output = kiln(&["key", "generate", "-o", path_str(&stranger)]);
    assert!(output.status.success(), "{}", stderr(&output));
    let public = stdout(&output).trim().to_string();
    assert!(public.starts_with("ed25519:"), "{public}");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&stranger).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let output = kiln(&[
        "compile",
        &fixture_path("math.wat"),
        "--target",
        X86,
        "-o",
        path_str(&out),
        "--key",
        path_str(&stranger),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let (code, line) = verify(&[]);
    assert_eq!(
        (code, line["error"].as_str()),
        (Some(7), Some("no_trusted_signature"))
    );
    // Trusted once named.
    let (code, _) = verify(&["--trust", &public]);
    assert_eq!(code, Some(0));

    // A statement that is not one.
    std::fs::write(&statement, b"{ not json").unwrap();
    let (code, line) = verify(&[]);
    assert_eq!((code, line["error"].as_str()), (Some(7), Some("malformed")));
    std::fs::remove_file(&statement).unwrap();
    let (code, line) = verify(&[]);
    assert_eq!((code, line["error"].as_str()), (Some(7), Some("missing")));
    assert!(config_dir().join("signing-key").is_file());
}

#[test]
fn outputs_are_readable_as_a_compilers_are() {
    use std::os::unix::fs::PermissionsExt;
    let dir = temp_dir();
    let (out, statement) = compile_cli(dir.path(), "math.wat");
    // The test process's umask is the CI's (022 or 002): the files get
    // 0666 less it, as `cc` and `wasmtime compile` give.
    let umask = {
        let probe = dir.path().join("probe");
        std::fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(&probe)
            .unwrap();
        0o666 & !std::fs::metadata(&probe).unwrap().permissions().mode() & 0o777
    };
    for file in [&out, &statement] {
        let mode = std::fs::metadata(file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o666 & !umask, "{}", file.display());
        assert_ne!(mode, 0o600, "{}", file.display());
    }
}
