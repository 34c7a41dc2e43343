//! The loader's check of an artifact against its provenance statement.
//!
//! A valid signature says only that a trusted machine made the statement;
//! the artifact is acceptable only if the statement is about these very
//! bytes (its SHA-256) and records the compile settings that the loading
//! engine uses: an artifact built for another target, other CPU flags or
//! other Wasmtime settings could misbehave when run, so it is refused
//! with the setting that differs named.

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use super::dsse::{MAX_STATEMENT_BYTES, open};
use super::error::ProvenanceError;
use super::keys::TrustedKeys;
use super::statement::{SHA256, Statement, sha256_hex};

/// The suffix of a statement file's name, after the artifact's full name.
pub const STATEMENT_SUFFIX: &str = ".intoto.json";

/// What the loading engine requires of an artifact's recorded settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expected {
    /// The target triple the engine runs.
    pub target: String,
    /// The engine's settings, as Wasmtime `--config` TOML; compared with
    /// the predicate's `settings.resolved` as text.
    pub resolved_settings: String,
    /// The Cranelift ISA flags that the engine has on; compared as a set.
    pub cpu_flags: Vec<String>,
    /// The SHA-256 of the artifact's `.wasmtime.engine` section, where the
    /// loader has read it; `None` leaves the predicate's `engine` unchecked.
    pub engine_sha256: Option<String>,
}

/// Where the statement of the artifact at `artifact` lives: beside it,
/// its name with [`STATEMENT_SUFFIX`] added (`app.cwasm.intoto.json`).
pub fn statement_path(artifact: &Path) -> PathBuf {
    let mut name = artifact.as_os_str().to_owned();
    name.push(STATEMENT_SUFFIX);
    PathBuf::from(name)
}

/// The bytes of the statement file `path`, for [`verify`]: no more than
/// [`MAX_STATEMENT_BYTES`] are read of a larger file, which is refused.
pub fn read_envelope(path: &Path) -> Result<Vec<u8>, ProvenanceError> {
    let io_error = |source: io::Error| {
        if source.kind() == io::ErrorKind::NotFound {
            ProvenanceError::Missing {
                path: path.to_owned(),
            }
        } else {
            ProvenanceError::Io {
                path: path.to_owned(),
                source,
            }
        }
    };
    let mut bytes = Vec::new();
    fs::File::open(path)
        .map_err(io_error)?
        .take(MAX_STATEMENT_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(io_error)?;
    if bytes.len() > MAX_STATEMENT_BYTES {
        return Err(ProvenanceError::Oversized {
            size: bytes.len(),
            limit: MAX_STATEMENT_BYTES,
        });
    }
    Ok(bytes)
}

/// The statement of `artifact`, from `envelope`, if the envelope is
/// validly signed by a key in `trust` (see [`open`]), its subject's
/// SHA-256 is that of `artifact`, and its predicate records the target,
/// resolved settings, CPU flags and (where given) engine of `expected`.
pub fn verify(
    artifact: &[u8],
    envelope: &[u8],
    trust: &TrustedKeys,
    expected: &Expected,
) -> Result<Statement, ProvenanceError> {
    let statement = open(envelope, trust)?;

    let [subject] = statement.subject.as_slice() else {
        return Err(ProvenanceError::Malformed {
            what: "statement subject",
            detail: format!("{} subjects, not one", statement.subject.len()),
        });
    };
    let recorded = subject
        .digest
        .get(SHA256)
        .ok_or_else(|| ProvenanceError::Malformed {
            what: "statement subject",
            detail: "no sha256 digest".into(),
        })?;
    let found = sha256_hex(artifact);
    if *recorded != found {
        return Err(ProvenanceError::DigestMismatch {
            expected: recorded.clone(),
            found,
        });
    }

    let predicate = &statement.predicate;
    let mismatch =
        |field: &'static str, recorded: &str, expected: &str| ProvenanceError::SettingsMismatch {
            field,
            recorded: recorded.to_owned(),
            expected: expected.to_owned(),
        };
    if predicate.target != expected.target {
        return Err(mismatch("target", &predicate.target, &expected.target));
    }
    if predicate.settings.resolved != expected.resolved_settings {
        return Err(mismatch(
            "settings.resolved",
            &predicate.settings.resolved,
            &expected.resolved_settings,
        ));
    }
    let recorded_flags = flag_set(&predicate.cpu_flags);
    let expected_flags = flag_set(&expected.cpu_flags);
    if recorded_flags != expected_flags {
        return Err(mismatch(
            "cpuFlags",
            &recorded_flags.join(","),
            &expected_flags.join(","),
        ));
    }
    if let Some(engine) = &expected.engine_sha256
        && predicate.engine.sha256 != *engine
    {
        return Err(mismatch("engine.sha256", &predicate.engine.sha256, engine));
    }
    Ok(statement)
}

/// `flags` sorted, without repeats.
fn flag_set(flags: &[String]) -> Vec<&str> {
    let mut set: Vec<&str> = flags.iter().map(String::as_str).collect();
    set.sort_unstable();
    set.dedup();
    set
}

#[cfg(test)]
mod tests {
    use super::super::dsse::sign;
    use super::super::dsse::tests::signed;
    use super::super::keys::generate;
    use super::*;

    const ARTIFACT: &[u8] = b"artifact bytes";

    fn expected_for(statement: &Statement) -> Expected {
        let predicate = &statement.predicate;
        Expected {
            target: predicate.target.clone(),
            resolved_settings: predicate.settings.resolved.clone(),
            cpu_flags: predicate.cpu_flags.clone(),
            engine_sha256: Some(predicate.engine.sha256.clone()),
        }
    }

    fn setup() -> (TrustedKeys, Statement, Vec<u8>, Expected) {
        let (_, trust, statement, envelope) = signed();
        let expected = expected_for(&statement);
        (trust, statement, envelope.to_json().unwrap(), expected)
    }

    #[test]
    fn round_trip() {
        let (trust, statement, envelope, expected) = setup();
        assert_eq!(
            verify(ARTIFACT, &envelope, &trust, &expected).unwrap(),
            statement
        );
        // CPU flags are a set: order and repeats do not matter.
        let mut reordered = expected.clone();
        reordered.cpu_flags.reverse();
        reordered.cpu_flags.push(reordered.cpu_flags[0].clone());
        assert!(verify(ARTIFACT, &envelope, &trust, &reordered).is_ok());
        // With no engine digest to hand, the engine is not checked.
        let mut no_engine = expected.clone();
        no_engine.engine_sha256 = None;
        assert!(verify(ARTIFACT, &envelope, &trust, &no_engine).is_ok());
    }

    #[test]
    fn another_artifact_is_refused() {
        let (trust, statement, envelope, expected) = setup();
        let got = verify(b"other artifact", &envelope, &trust, &expected);
        match got {
            Err(ProvenanceError::DigestMismatch { expected, found }) => {
                assert_eq!(expected, statement.subject[0].digest["sha256"]);
                assert_eq!(found, sha256_hex(b"other artifact"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            verify(b"", &envelope, &trust, &expected_for(&statement))
                .unwrap_err()
                .kind(),
            "digest_mismatch"
        );
    }

    #[test]
    fn flipped_artifact_bytes_are_refused() {
        let (trust, _, envelope, expected) = setup();
        for index in 0..ARTIFACT.len() {
            for bit in [0x01, 0x80] {
                let mut artifact = ARTIFACT.to_vec();
                artifact[index] ^= bit;
                assert!(
                    matches!(
                        verify(&artifact, &envelope, &trust, &expected),
                        Err(ProvenanceError::DigestMismatch { .. })
                    ),
                    "byte {index}"
                );
            }
        }
        let mut longer = ARTIFACT.to_vec();
        longer.push(0);
        assert_eq!(
            verify(&longer, &envelope, &trust, &expected)
                .unwrap_err()
                .kind(),
            "digest_mismatch"
        );
    }

    #[test]
    fn settings_mismatches_name_the_field() {
        let (trust, statement, envelope, expected) = setup();
        type Change = fn(&mut Expected);
        let changes: [(&str, Change); 5] = [
            ("target", |e| e.target = "aarch64-unknown-linux-gnu".into()),
            ("settings.resolved", |e| {
                e.resolved_settings.push_str("[wasm]\nsimd = false\n")
            }),
            ("cpuFlags", |e| e.cpu_flags.push("has_avx512f".into())),
            ("cpuFlags", |e| {
                e.cpu_flags.pop();
            }),
            ("engine.sha256", |e| {
                e.engine_sha256 = Some(sha256_hex(b"another engine"))
            }),
        ];
        for (field, change) in changes {
            let mut wanted = expected.clone();
            change(&mut wanted);
            match verify(ARTIFACT, &envelope, &trust, &wanted) {
                Err(ProvenanceError::SettingsMismatch {
                    field: got,
                    recorded,
                    expected,
                }) => {
                    assert_eq!(got, field);
                    assert_ne!(recorded, expected);
                }
                other => panic!("{field}: {other:?}"),
            }
        }
        // The recorded value is reported as recorded.
        let mut wanted = expected.clone();
        wanted.target = "riscv64gc-unknown-linux-gnu".into();
        let error = verify(ARTIFACT, &envelope, &trust, &wanted).unwrap_err();
        assert!(matches!(
            &error,
            ProvenanceError::SettingsMismatch { recorded, .. }
                if *recorded == statement.predicate.target
        ));
        assert!(error.to_string().contains("riscv64gc"), "{error}");
    }

    #[test]
    fn signature_is_checked_before_the_artifact() {
        let (_, _, envelope, expected) = setup();
        let mut stranger = TrustedKeys::new();
        stranger.add(generate().unwrap().verifying_key());
        assert_eq!(
            verify(ARTIFACT, &envelope, &stranger, &expected)
                .unwrap_err()
                .kind(),
            "no_trusted_signature"
        );
    }

    #[test]
    fn subjects_other_than_one_are_malformed() {
        let key = generate().unwrap();
        let mut trust = TrustedKeys::new();
        trust.add(key.verifying_key());
        let (_, _, statement, _) = signed();
        let expected = expected_for(&statement);

        let mut none = statement.clone();
        none.subject.clear();
        let mut two = statement.clone();
        two.subject.push(two.subject[0].clone());
        let mut no_sha256 = statement.clone();
        no_sha256.subject[0].digest.clear();
        for bad in [none, two, no_sha256] {
            let envelope = sign(&bad, &key).unwrap().to_json().unwrap();
            assert!(matches!(
                verify(ARTIFACT, &envelope, &trust, &expected),
                Err(ProvenanceError::Malformed {
                    what: "statement subject",
                    ..
                })
            ));
        }
    }

    #[test]
    fn statement_files() {
        let dir = tempfile::tempdir().unwrap();
        let artifact = dir.path().join("app.cwasm");
        let path = statement_path(&artifact);
        assert_eq!(path, dir.path().join("app.cwasm.intoto.json"));
        assert!(matches!(
            read_envelope(&path),
            Err(ProvenanceError::Missing { path: p }) if p == path
        ));

        let (trust, _, envelope, expected) = setup();
        fs::write(&path, &envelope).unwrap();
        let read = read_envelope(&path).unwrap();
        assert!(verify(ARTIFACT, &read, &trust, &expected).is_ok());

        fs::write(&path, vec![b' '; MAX_STATEMENT_BYTES + 1]).unwrap();
        assert!(matches!(
            read_envelope(&path),
            Err(ProvenanceError::Oversized { .. })
        ));
        assert!(matches!(
            read_envelope(dir.path()),
            Err(ProvenanceError::Io { .. })
        ));
    }
}
