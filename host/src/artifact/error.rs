//! The errors of provenance: why a statement was refused, or why a key
//! could not be read or made.
//!
//! A loader that refuses an artifact has to say which check failed, both
//! to a person (the [`Display`](fmt::Display) text names the check and
//! what it found) and to a program reading `kiln`'s JSON output (the
//! stable [`ProvenanceError::kind`] names). Each check therefore has its
//! own variant, carrying what was recorded and what was expected, rather
//! than one catch-all string.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Why a provenance statement was refused, or could not be made.
#[derive(Debug)]
#[non_exhaustive]
pub enum ProvenanceError {
    /// The envelope is larger than the limit, so it was not parsed at all.
    Oversized {
        /// The size of the input, in bytes (at least `limit + 1`).
        size: usize,
        /// The largest envelope accepted, in bytes.
        limit: usize,
    },
    /// Some part of the envelope or statement does not parse, or lacks a
    /// field it must have.
    Malformed {
        /// Which part: `"envelope JSON"`, `"payload base64"`, ...
        what: &'static str,
        /// The parser's own account of the fault.
        detail: String,
    },
    /// The envelope's `payloadType` is not the in-toto JSON type.
    WrongPayloadType {
        /// The `payloadType` the envelope gives.
        found: String,
    },
    /// None of the envelope's signatures is by a trusted key.
    NoTrustedSignature {
        /// The key ids of the signatures the envelope has (maybe none).
        keyids: Vec<String>,
    },
    /// A signature by a trusted key does not verify over the payload.
    BadSignature {
        /// The key id of the signature that failed.
        keyid: String,
    },
    /// The signed payload is not a Kiln compile provenance statement.
    WrongStatementType {
        /// Which field is wrong: `"_type"` or `"predicateType"`.
        field: &'static str,
        /// The value the statement gives for it.
        found: String,
    },
    /// The artifact's SHA-256 is not the one the statement records.
    DigestMismatch {
        /// The digest recorded in the statement's subject.
        expected: String,
        /// The digest of the artifact bytes at hand.
        found: String,
    },
    /// The statement records a compile setting other than the one the
    /// loading engine uses.
    SettingsMismatch {
        /// The predicate field that differs, as named in the JSON.
        field: &'static str,
        /// The value in the statement.
        recorded: String,
        /// The value the loading engine expects.
        expected: String,
    },
    /// There is no statement file for the artifact.
    Missing {
        /// Where the statement was looked for.
        path: PathBuf,
    },
    /// The statement file exists but could not be read or written.
    Io {
        /// The statement file.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// A statement or envelope could not be encoded as JSON.
    Encode {
        /// Which value: `"statement"` or `"envelope"`.
        what: &'static str,
        /// The encoder's account of the fault.
        detail: String,
    },
    /// A key, or the file holding it, could not be read or made.
    Key(KeyError),
}

impl ProvenanceError {
    /// A stable `snake_case` name of the variant, for JSON output and for
    /// scripts that branch on why an artifact was refused.
    pub fn kind(&self) -> &'static str {
        match self {
            ProvenanceError::Oversized { .. } => "oversized",
            ProvenanceError::Malformed { .. } => "malformed",
            ProvenanceError::WrongPayloadType { .. } => "wrong_payload_type",
            ProvenanceError::NoTrustedSignature { .. } => "no_trusted_signature",
            ProvenanceError::BadSignature { .. } => "bad_signature",
            ProvenanceError::WrongStatementType { .. } => "wrong_statement_type",
            ProvenanceError::DigestMismatch { .. } => "digest_mismatch",
            ProvenanceError::SettingsMismatch { .. } => "settings_mismatch",
            ProvenanceError::Missing { .. } => "missing",
            ProvenanceError::Io { .. } => "io",
            ProvenanceError::Encode { .. } => "encode",
            ProvenanceError::Key(error) => error.kind(),
        }
    }

    /// A [`Malformed`](ProvenanceError::Malformed) error for `what`.
    pub(crate) fn malformed(what: &'static str, detail: impl fmt::Display) -> Self {
        ProvenanceError::Malformed {
            what,
            detail: detail.to_string(),
        }
    }
}

impl fmt::Display for ProvenanceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProvenanceError::Oversized { size, limit } => write!(
                f,
                "provenance statement is {size} bytes, over the limit of {limit} bytes"
            ),
            ProvenanceError::Malformed { what, detail } => {
                write!(f, "malformed provenance statement: {what}: {detail}")
            }
            ProvenanceError::WrongPayloadType { found } => write!(
                f,
                "provenance envelope has payload type {found:?}, not {:?}",
                super::dsse::PAYLOAD_TYPE
            ),
            ProvenanceError::NoTrustedSignature { keyids } if keyids.is_empty() => {
                write!(f, "provenance statement is not signed")
            }
            ProvenanceError::NoTrustedSignature { keyids } => write!(
                f,
                "provenance statement is signed only by untrusted keys ({})",
                keyids.join(", ")
            ),
            ProvenanceError::BadSignature { keyid } => write!(
                f,
                "provenance signature by trusted key {keyid} does not verify"
            ),
            ProvenanceError::WrongStatementType { field, found } => write!(
                f,
                "provenance statement has {field} {found:?}, not a Kiln compile statement"
            ),
            ProvenanceError::DigestMismatch { expected, found } => write!(
                f,
                "artifact sha256 is {found}, but its provenance statement records {expected}"
            ),
            ProvenanceError::SettingsMismatch {
                field,
                recorded,
                expected,
            } => write!(
                f,
                "artifact was compiled with {field} {recorded:?}, but this engine uses {expected:?}"
            ),
            ProvenanceError::Missing { path } => {
                write!(f, "no provenance statement at {}", path.display())
            }
            ProvenanceError::Io { path, source } => write!(
                f,
                "cannot access provenance statement {}: {source}",
                path.display()
            ),
            ProvenanceError::Encode { what, detail } => {
                write!(f, "cannot encode provenance {what} as JSON: {detail}")
            }
            ProvenanceError::Key(error) => error.fmt(f),
        }
    }
}

impl std::error::Error for ProvenanceError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ProvenanceError::Io { source, .. } => Some(source),
            ProvenanceError::Key(error) => Some(error),
            _ => None,
        }
    }
}

impl From<KeyError> for ProvenanceError {
    fn from(error: KeyError) -> Self {
        ProvenanceError::Key(error)
    }
}

/// Why a signing key or trusted-keys file could not be read or made.
#[derive(Debug)]
#[non_exhaustive]
pub enum KeyError {
    /// A key file or its directory could not be read, written or made.
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// A key file has the right format but a bad line.
    Malformed {
        /// The file.
        path: PathBuf,
        /// The line at fault, counting from 1.
        line: usize,
        /// What is wrong with it.
        detail: String,
    },
    /// A private key file does not start with Kiln's header line (it may
    /// be a key of another tool, such as a PEM or OpenSSH file).
    UnknownFormat {
        /// The file.
        path: PathBuf,
    },
    /// Public key text is not `ed25519:` and the base64 of a valid key.
    InvalidPublicKey {
        /// What is wrong with it.
        detail: String,
    },
    /// The operating system gave no random bytes for a new key.
    Random {
        /// The operating system's account of the fault.
        detail: String,
    },
}

impl KeyError {
    /// A stable `snake_case` name of the variant, for JSON output.
    pub fn kind(&self) -> &'static str {
        match self {
            KeyError::Io { .. } => "key_io",
            KeyError::Malformed { .. } => "key_malformed",
            KeyError::UnknownFormat { .. } => "key_unknown_format",
            KeyError::InvalidPublicKey { .. } => "invalid_public_key",
            KeyError::Random { .. } => "random_unavailable",
        }
    }
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::Io { path, source } => {
                write!(f, "cannot access key file {}: {source}", path.display())
            }
            KeyError::Malformed { path, line, detail } => write!(
                f,
                "malformed key file {}, line {line}: {detail}",
                path.display()
            ),
            KeyError::UnknownFormat { path } => write!(
                f,
                "{} is not a Kiln private key file (its first line is not {:?})",
                path.display(),
                super::keys::PRIVATE_KEY_HEADER
            ),
            KeyError::InvalidPublicKey { detail } => write!(f, "invalid public key: {detail}"),
            KeyError::Random { detail } => {
                write!(f, "cannot get random bytes for a new key: {detail}")
            }
        }
    }
}

impl std::error::Error for KeyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            KeyError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn all_provenance_errors() -> Vec<ProvenanceError> {
        vec![
            ProvenanceError::Oversized {
                size: 1_048_577,
                limit: 1_048_576,
            },
            ProvenanceError::Malformed {
                what: "envelope JSON",
                detail: "EOF while parsing".into(),
            },
            ProvenanceError::WrongPayloadType {
                found: "text/plain".into(),
            },
            ProvenanceError::NoTrustedSignature {
                keyids: vec!["0123456789abcdef".into()],
            },
            ProvenanceError::BadSignature {
                keyid: "fedcba9876543210".into(),
            },
            ProvenanceError::WrongStatementType {
                field: "_type",
                found: "https://example.org/other".into(),
            },
            ProvenanceError::DigestMismatch {
                expected: "aa".into(),
                found: "bb".into(),
            },
            ProvenanceError::SettingsMismatch {
                field: "target",
                recorded: "x86_64-unknown-linux-gnu".into(),
                expected: "aarch64-unknown-linux-gnu".into(),
            },
            ProvenanceError::Missing {
                path: "a.cwasm.intoto.json".into(),
            },
            ProvenanceError::Io {
                path: "a.cwasm.intoto.json".into(),
                source: io::Error::other("disk on fire"),
            },
            ProvenanceError::Encode {
                what: "statement",
                detail: "no".into(),
            },
            ProvenanceError::Key(KeyError::Io {
                path: "k".into(),
                source: io::Error::other("gone"),
            }),
            ProvenanceError::Key(KeyError::Malformed {
                path: "k".into(),
                line: 2,
                detail: "bad base64".into(),
            }),
            ProvenanceError::Key(KeyError::UnknownFormat { path: "k".into() }),
            ProvenanceError::Key(KeyError::InvalidPublicKey {
                detail: "short".into(),
            }),
            ProvenanceError::Key(KeyError::Random {
                detail: "none".into(),
            }),
        ]
    }

    #[test]
    fn kinds_are_distinct_snake_case() {
        let errors = all_provenance_errors();
        let kinds: BTreeSet<&str> = errors.iter().map(ProvenanceError::kind).collect();
        assert_eq!(kinds.len(), errors.len(), "{kinds:?}");
        for kind in kinds {
            assert!(
                kind.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{kind}"
            );
        }
    }

    #[test]
    fn display_names_what_failed() {
        let texts: Vec<String> = all_provenance_errors()
            .iter()
            .map(ToString::to_string)
            .collect();
        let expect = [
            "1048577",
            "envelope JSON",
            "text/plain",
            "0123456789abcdef",
            "fedcba9876543210",
            "_type",
            "bb",
            "target",
            "a.cwasm.intoto.json",
            "disk on fire",
            "statement",
            "gone",
            "line 2",
            "kiln-ed25519-private-key",
            "short",
            "random",
        ];
        for (text, word) in texts.iter().zip(expect) {
            assert!(text.contains(word), "{text:?} lacks {word:?}");
        }
        let unsigned = ProvenanceError::NoTrustedSignature { keyids: vec![] };
        assert_eq!(unsigned.to_string(), "provenance statement is not signed");
    }

    #[test]
    fn sources_are_chained() {
        use std::error::Error as _;
        let io = ProvenanceError::Io {
            path: "p".into(),
            source: io::Error::other("x"),
        };
        assert!(io.source().is_some());
        let key = ProvenanceError::from(KeyError::UnknownFormat { path: "k".into() });
        assert!(key.source().is_some());
        assert!(
            ProvenanceError::Missing { path: "p".into() }
                .source()
                .is_none()
        );
    }
}
