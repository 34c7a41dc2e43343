//! The provenance statement: an in-toto Statement v1 whose subject is a
//! compiled artifact and whose predicate records how Kiln made it.
//!
//! A `.cwasm` file is native code that a loader maps and runs, so it must
//! not be trusted for what it claims about itself. The statement says,
//! under a signature (see [`super::dsse`]), which artifact it covers (by
//! SHA-256), which input module it was compiled from and with which
//! target, CPU flags and Wasmtime settings, so that a loader can refuse an
//! artifact made for other settings than its own (see [`mod@super::verify`]).
//!
//! The JSON field names follow the in-toto Statement v1 layout (`_type`,
//! `subject`, `predicateType`, `predicate`); the predicate's own fields
//! are camelCase, as is usual for in-toto predicates.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The `_type` of every in-toto Statement v1.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";

/// The `predicateType` of Kiln's compile provenance.
pub const PREDICATE_TYPE: &str = "https://kiln.dev/provenance/compile/v1";

/// The key of a subject's digest map under which its SHA-256 is recorded.
pub const SHA256: &str = "sha256";

/// An in-toto Statement v1 about one compiled artifact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Statement {
    /// Always [`STATEMENT_TYPE`].
    #[serde(rename = "_type")]
    pub statement_type: String,
    /// The artifacts the statement is about: one, for Kiln.
    pub subject: Vec<Subject>,
    /// Always [`PREDICATE_TYPE`].
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    /// How the artifact was made.
    pub predicate: Predicate,
}

impl Statement {
    /// The statement that `artifact_bytes`, named `artifact_name`, was made
    /// as `predicate` says; the subject's digest is computed here.
    pub fn new(
        artifact_name: impl Into<String>,
        artifact_bytes: &[u8],
        predicate: Predicate,
    ) -> Self {
        let digest = BTreeMap::from([(SHA256.to_owned(), sha256_hex(artifact_bytes))]);
        Statement {
            statement_type: STATEMENT_TYPE.to_owned(),
            subject: vec![Subject {
                name: artifact_name.into(),
                digest,
            }],
            predicate_type: PREDICATE_TYPE.to_owned(),
            predicate,
        }
    }
}

/// One artifact a statement is about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subject {
    /// The artifact's file name.
    pub name: String,
    /// Its digests by algorithm: `"sha256"` to lowercase hex.
    pub digest: BTreeMap<String, String>,
}

/// How an artifact was compiled: the predicate of Kiln's statement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Predicate {
    /// The input WebAssembly module.
    pub input: InputRecord,
    /// The target triple compiled for.
    pub target: String,
    /// The Cranelift ISA flags that were on.
    pub cpu_flags: Vec<String>,
    /// The named CPU baseline the flags came from, if one was asked for.
    pub baseline: Option<String>,
    /// The compile settings, as asked for and as resolved.
    pub settings: SettingsRecord,
    /// The version of Kiln that compiled.
    pub kiln_version: String,
    /// The version of Wasmtime that compiled.
    pub wasmtime_version: String,
    /// The engine the artifact was made for.
    pub engine: EngineRecord,
    /// The limits the compile ran under.
    pub limits: LimitsRecord,
    /// When the compile started, RFC 3339 UTC (see [`rfc3339_utc`]).
    pub started_on: String,
    /// When the compile finished, RFC 3339 UTC.
    pub finished_on: String,
    /// The tenant the compile was made for, if any; left out when none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// What the machine-code verifier made of the artifact before it was
    /// signed. Every compile records it; left out only by statements made
    /// before the verifier existed, which still parse (as `None`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_verification: Option<CodeVerificationRecord>,
}

/// The machine-code verifier's outcome on a compiled artifact, as the
/// statement records it. A failing artifact is never signed, so there is
/// no failed outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CodeVerificationOutcome {
    /// Every rule held in every function.
    Passed,
    /// The compile was asked not to verify (`kiln compile --no-verify-code`).
    Skipped,
    /// The verifier does not read the artifact's target yet.
    UnsupportedTarget,
    /// The verifier does not describe the code of the compiler that
    /// produced it (Winch) yet.
    UnsupportedCompiler,
}

impl CodeVerificationOutcome {
    /// The outcome as the statement spells it: `passed`, `skipped`,
    /// `unsupported-target`, `unsupported-compiler`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Passed => "passed",
            Self::Skipped => "skipped",
            Self::UnsupportedTarget => "unsupported-target",
            Self::UnsupportedCompiler => "unsupported-compiler",
        }
    }
}

/// The machine-code verification of a compiled artifact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeVerificationRecord {
    /// What the verifier found.
    pub outcome: CodeVerificationOutcome,
    /// The version of the verifier this Kiln carries (the one that ran,
    /// or would have), e.g. `kiln-verify-code/1`.
    pub verifier: String,
    /// Functions whose code was checked (0 unless it passed).
    pub functions: u64,
    /// Instructions decoded and checked (0 unless it passed).
    pub instructions: u64,
    /// Functions the verifier left unchecked (a component's own
    /// trampolines and start-up code, whose calling convention it does
    /// not model yet, and the functions of a module that keeps values in
    /// the GC heap); left out when none.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unchecked: u64,
}

/// Whether `count` is zero: a count left out of the JSON.
fn is_zero(count: &u64) -> bool {
    *count == 0
}

/// The input module of a compile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputRecord {
    /// Its file name.
    pub name: String,
    /// Its SHA-256, lowercase hex.
    pub sha256: String,
    /// Its size in bytes.
    pub size: u64,
}

/// The settings of a compile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SettingsRecord {
    /// The settings as the user gave them.
    pub given: serde_json::Value,
    /// The settings Wasmtime compiled with, as Wasmtime `--config` TOML.
    pub resolved: String,
}

/// The engine an artifact was compiled for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineRecord {
    /// The SHA-256 of the artifact's `.wasmtime.engine` section, lowercase hex.
    pub sha256: String,
}

/// The limits a compile ran under.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LimitsRecord {
    /// The wall-clock limit, in milliseconds.
    pub timeout_ms: u64,
    /// The memory limit, in bytes.
    pub max_memory: u64,
    /// The artifact size limit, in bytes.
    pub max_output: u64,
}

/// The SHA-256 of `bytes`, as lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// `bytes` as lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0xf)]));
    }
    text
}

/// `time` as RFC 3339 in UTC to the second, e.g. `2026-12-02T17:20:00Z`
/// (fractions of a second are dropped, rounding toward the past).
///
/// Written here rather than taken from a date crate: it is the one date
/// operation provenance needs, and a few lines of integer arithmetic.
pub fn rfc3339_utc(time: SystemTime) -> String {
    let seconds: i64 = match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
        Err(before) => {
            let before = before.duration();
            let whole = i64::try_from(before.as_secs()).unwrap_or(i64::MAX);
            // Floor: 0.5 s before the epoch is in 1969-12-31T23:59:59.
            -whole - i64::from(before.subsec_nanos() > 0)
        }
    };
    let days = seconds.div_euclid(86_400);
    let of_day = seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60
    )
}

/// The proleptic Gregorian date `days` after 1970-01-01.
///
/// Counts in 400-year eras of 146 097 days, each taken to start on
/// 1 March so that the leap day falls at the end of a year.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    // Days from 0000-03-01 to 1970-01-01.
    let shifted = days.saturating_add(719_468);
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097); // 0..=146_096
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    // Months counted from March: 0 = March, ..., 11 = February.
    let march_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * march_month + 2) / 5 + 1;
    let month = if march_month < 10 {
        march_month + 3
    } else {
        march_month - 9
    };
    let year = era * 400 + year_of_era + i64::from(month <= 2);
    // Both fit: day is 1..=31 and month 1..=12.
    (year, month as u32, day as u32)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::time::Duration;

    /// A predicate as `kiln compile` might record it.
    pub(crate) fn sample_predicate() -> Predicate {
        Predicate {
            input: InputRecord {
                name: "app.wasm".into(),
                sha256: sha256_hex(b"\0asm\x01\0\0\0"),
                size: 8,
            },
            target: "x86_64-unknown-linux-gnu".into(),
            cpu_flags: vec!["has_sse41".into(), "has_avx2".into()],
            baseline: Some("x86-64-v3".into()),
            settings: SettingsRecord {
                given: serde_json::json!({"opt-level": "speed", "simd": true}),
                resolved: "[optimize]\nopt-level = 2\n".into(),
            },
            kiln_version: "0.1.0".into(),
            wasmtime_version: "48.0.8".into(),
            engine: EngineRecord {
                sha256: sha256_hex(b"engine section"),
            },
            limits: LimitsRecord {
                timeout_ms: 60_000,
                max_memory: 1 << 30,
                max_output: 256 << 20,
            },
            started_on: "2026-12-02T17:20:00Z".into(),
            finished_on: "2026-12-02T17:20:03Z".into(),
            tenant: None,
            code_verification: Some(CodeVerificationRecord {
                outcome: CodeVerificationOutcome::Passed,
                verifier: "kiln-verify-code/1".into(),
                functions: 3,
                instructions: 120,
                unchecked: 0,
            }),
        }
    }

    #[test]
    fn new_records_the_artifact_sha256() {
        let statement = Statement::new("app.cwasm", b"abc", sample_predicate());
        assert_eq!(statement.subject.len(), 1);
        assert_eq!(statement.subject[0].name, "app.cwasm");
        assert_eq!(
            statement.subject[0]
                .digest
                .get("sha256")
                .map(String::as_str),
            Some("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        );
        assert_eq!(statement.statement_type, STATEMENT_TYPE);
        assert_eq!(statement.predicate_type, PREDICATE_TYPE);
    }

    #[test]
    fn json_field_names() {
        let statement = Statement::new("app.cwasm", b"abc", sample_predicate());
        let json = serde_json::to_value(&statement).unwrap();
        assert_eq!(json["_type"], "https://in-toto.io/Statement/v1");
        assert_eq!(
            json["predicateType"],
            "https://kiln.dev/provenance/compile/v1"
        );
        assert_eq!(json["subject"][0]["name"], "app.cwasm");
        assert!(json["subject"][0]["digest"]["sha256"].is_string());
        let predicate = &json["predicate"];
        for field in [
            "input",
            "target",
            "cpuFlags",
            "baseline",
            "settings",
            "kilnVersion",
            "wasmtimeVersion",
            "engine",
            "limits",
            "startedOn",
            "finishedOn",
        ] {
            assert!(predicate.get(field).is_some(), "no {field} in {predicate}");
        }
        assert_eq!(predicate["input"]["size"], 8);
        assert_eq!(predicate["limits"]["timeoutMs"], 60_000);
        assert_eq!(predicate["limits"]["maxMemory"], 1 << 30);
        assert_eq!(predicate["limits"]["maxOutput"], 256 << 20);
        assert!(predicate["settings"]["resolved"].is_string());
        assert!(predicate["engine"]["sha256"].is_string());
        assert!(predicate.get("tenant").is_none(), "tenant None is left out");
        assert_eq!(predicate["codeVerification"]["outcome"], "passed");
        assert_eq!(
            predicate["codeVerification"]["verifier"],
            "kiln-verify-code/1"
        );
        assert_eq!(predicate["codeVerification"]["functions"], 3);
        assert_eq!(predicate["codeVerification"]["instructions"], 120);
        assert!(predicate["codeVerification"].get("unchecked").is_none());

        let mut with_tenant = statement.clone();
        with_tenant.predicate.tenant = Some("acme".into());
        let json = serde_json::to_value(&with_tenant).unwrap();
        assert_eq!(json["predicate"]["tenant"], "acme");
    }

    #[test]
    fn json_round_trip() {
        let mut statement = Statement::new("app.cwasm", b"abc", sample_predicate());
        let back: Statement =
            serde_json::from_slice(&serde_json::to_vec(&statement).unwrap()).unwrap();
        assert_eq!(back, statement);
        statement.predicate.tenant = Some("acme".into());
        statement.predicate.baseline = None;
        let back: Statement =
            serde_json::from_slice(&serde_json::to_vec(&statement).unwrap()).unwrap();
        assert_eq!(back, statement);
    }

    #[test]
    fn outcomes_are_spelled_as_recorded() {
        for outcome in [
            CodeVerificationOutcome::Passed,
            CodeVerificationOutcome::Skipped,
            CodeVerificationOutcome::UnsupportedTarget,
            CodeVerificationOutcome::UnsupportedCompiler,
        ] {
            assert_eq!(
                serde_json::to_value(outcome).unwrap(),
                serde_json::Value::from(outcome.name())
            );
        }
        assert_eq!(
            CodeVerificationOutcome::UnsupportedTarget.name(),
            "unsupported-target"
        );
        assert_eq!(
            CodeVerificationOutcome::UnsupportedCompiler.name(),
            "unsupported-compiler"
        );
    }

    /// A statement from before the verifier (no `codeVerification`) still
    /// parses, and says nothing about the code.
    #[test]
    fn statements_without_code_verification_still_parse() {
        let mut json =
            serde_json::to_value(Statement::new("app.cwasm", b"abc", sample_predicate())).unwrap();
        let removed = json["predicate"]
            .as_object_mut()
            .unwrap()
            .remove("codeVerification");
        assert!(removed.is_some());
        let old: Statement = serde_json::from_value(json).unwrap();
        assert_eq!(old.predicate.code_verification, None);
        let again = serde_json::to_value(&old).unwrap();
        assert!(again["predicate"].get("codeVerification").is_none());
    }

    #[test]
    fn hex_is_lowercase() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa0, 0xff]), "000fa0ff");
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    fn at(seconds: i64) -> SystemTime {
        if seconds >= 0 {
            UNIX_EPOCH + Duration::from_secs(seconds.unsigned_abs())
        } else {
            UNIX_EPOCH - Duration::from_secs(seconds.unsigned_abs())
        }
    }

    #[test]
    fn rfc3339_known_times() {
        assert_eq!(rfc3339_utc(at(0)), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_utc(at(1_796_232_000)), "2026-12-02T17:20:00Z");
        assert_eq!(rfc3339_utc(at(951_868_799)), "2000-02-29T23:59:59Z");
        assert_eq!(rfc3339_utc(at(4_107_542_400)), "2100-03-01T00:00:00Z");
        assert_eq!(rfc3339_utc(at(-1)), "1969-12-31T23:59:59Z");
        assert_eq!(rfc3339_utc(at(-86_400 * 365)), "1969-01-01T00:00:00Z");
        assert_eq!(
            rfc3339_utc(UNIX_EPOCH - Duration::from_millis(500)),
            "1969-12-31T23:59:59Z"
        );
        assert_eq!(
            rfc3339_utc(UNIX_EPOCH + Duration::from_millis(1_999)),
            "1970-01-01T00:00:01Z"
        );
    }

    #[test]
    fn rfc3339_every_day_follows_the_last() {
        // Walk 1600-01-01 .. 2400-12-31 day by day, checking that each
        // date is the day after the one before.
        let days_in = |year: i64, month: u32| match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
            _ => 28,
        };
        let mut expect = (1600, 1, 1);
        let start = -135_140; // 1600-01-01 as days from 1970-01-01
        for days in start..start + 292_560 {
            assert_eq!(civil_from_days(days), expect, "day {days}");
            let (year, month, day) = expect;
            expect = if day < days_in(year, month) {
                (year, month, day + 1)
            } else if month < 12 {
                (year, month + 1, 1)
            } else {
                (year + 1, 1, 1)
            };
        }
        assert_eq!(expect, (2401, 1, 1));
    }
}
