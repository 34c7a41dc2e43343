//! The DSSE envelope that carries a signed provenance statement.
//!
//! DSSE (Dead Simple Signing Envelope, v1) signs the payload together
//! with its type through the pre-authentication encoding ([`pae`]), so a
//! signature over one kind of document cannot be passed off as one over
//! another, and the verifier checks the signature over the exact bytes
//! it will then parse, never over a re-serialisation.
//!
//! [`open`] is the only way from envelope bytes to a [`Statement`], and
//! it parses no byte of the payload until a trusted key's signature over
//! it has verified: input from an artifact's neighbour file is untrusted,
//! and the payload parser should only ever see what a trusted signer
//! wrote.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signer as _, SigningKey};
use serde::{Deserialize, Serialize};

use super::error::ProvenanceError;
use super::keys::{TrustedKeys, key_id};
use super::statement::{PREDICATE_TYPE, STATEMENT_TYPE, Statement};

/// The `payloadType` of an envelope holding an in-toto statement.
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// The largest envelope [`open`] parses, in bytes (1 MiB): a statement
/// is a few kilobytes, and the limit keeps a hostile file from costing
/// more than that to refuse.
pub const MAX_STATEMENT_BYTES: usize = 1 << 20;

/// A DSSE envelope, as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// The signed payload, standard base64 with padding.
    pub payload: String,
    /// The payload's type: [`PAYLOAD_TYPE`].
    #[serde(rename = "payloadType")]
    pub payload_type: String,
    /// The signatures over [`pae`] of the type and decoded payload.
    pub signatures: Vec<Signature>,
}

/// One signature of an envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    /// The id of the signing key (see [`key_id`]).
    pub keyid: String,
    /// The Ed25519 signature, standard base64 with padding.
    pub sig: String,
}

impl Envelope {
    /// The envelope as the JSON text of a statement file (one line and a
    /// newline).
    pub fn to_json(&self) -> Result<Vec<u8>, ProvenanceError> {
        let mut json = serde_json::to_vec(self).map_err(|error| ProvenanceError::Encode {
            what: "envelope",
            detail: error.to_string(),
        })?;
        json.push(b'\n');
        Ok(json)
    }
}

/// DSSE v1's pre-authentication encoding of a payload of type
/// `payload_type`: `"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`,
/// where each LEN is the byte length in ASCII decimal.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let type_len = payload_type.len().to_string();
    let body_len = payload.len().to_string();
    let mut encoded = Vec::with_capacity(
        10 + type_len.len() + payload_type.len() + body_len.len() + payload.len(),
    );
    for part in [
        b"DSSEv1".as_slice(),
        type_len.as_bytes(),
        payload_type.as_bytes(),
        body_len.as_bytes(),
    ] {
        encoded.extend_from_slice(part);
        encoded.push(b' ');
    }
    encoded.extend_from_slice(payload);
    encoded
}

/// `statement` as JSON, signed by `key`, in an envelope.
pub fn sign(statement: &Statement, key: &SigningKey) -> Result<Envelope, ProvenanceError> {
    let payload = serde_json::to_vec(statement).map_err(|error| ProvenanceError::Encode {
        what: "statement",
        detail: error.to_string(),
    })?;
    Ok(seal(&payload, key))
}

/// An envelope of `payload`, of type [`PAYLOAD_TYPE`], signed by `key`.
pub(crate) fn seal(payload: &[u8], key: &SigningKey) -> Envelope {
    let signature = key.sign(&pae(PAYLOAD_TYPE, payload));
    Envelope {
        payload: STANDARD.encode(payload),
        payload_type: PAYLOAD_TYPE.to_owned(),
        signatures: vec![Signature {
            keyid: key_id(&key.verifying_key()),
            sig: STANDARD.encode(signature.to_bytes()),
        }],
    }
}

/// The type fields of a statement, read before the rest.
#[derive(Deserialize)]
struct Header {
    #[serde(rename = "_type")]
    statement_type: String,
    #[serde(rename = "predicateType")]
    predicate_type: String,
}

/// The statement in the envelope `envelope`, once a trusted key's
/// signature over it has verified.
///
/// In order: the size limit, the envelope JSON, its payload type, the
/// payload's base64, a signature whose key id is in `trust`, that
/// signature (strict Ed25519 verification over [`pae`]), and only then
/// the payload as a statement of Kiln's type. The first signature by a
/// trusted key that verifies suffices; where trusted keys signed but none
/// verified, the error names the first of them.
pub fn open(envelope: &[u8], trust: &TrustedKeys) -> Result<Statement, ProvenanceError> {
    if envelope.len() > MAX_STATEMENT_BYTES {
        return Err(ProvenanceError::Oversized {
            size: envelope.len(),
            limit: MAX_STATEMENT_BYTES,
        });
    }
    let envelope: Envelope = serde_json::from_slice(envelope)
        .map_err(|error| ProvenanceError::malformed("envelope JSON", error))?;
    if envelope.payload_type != PAYLOAD_TYPE {
        return Err(ProvenanceError::WrongPayloadType {
            found: envelope.payload_type,
        });
    }
    let payload = STANDARD
        .decode(&envelope.payload)
        .map_err(|error| ProvenanceError::malformed("payload base64", error))?;
    let signed = pae(&envelope.payload_type, &payload);

    let mut failed: Option<ProvenanceError> = None;
    let mut verified = false;
    for signature in &envelope.signatures {
        let Some(key) = trust.get(&signature.keyid) else {
            continue;
        };
        let checked = STANDARD
            .decode(&signature.sig)
            .map_err(|error| ProvenanceError::malformed("signature base64", error))
            .and_then(|bytes| {
                ed25519_dalek::Signature::from_slice(&bytes)
                    .map_err(|error| ProvenanceError::malformed("signature bytes", error))
            })
            .and_then(|sig| {
                key.verify_strict(&signed, &sig)
                    .map_err(|_| ProvenanceError::BadSignature {
                        keyid: signature.keyid.clone(),
                    })
            });
        match checked {
            Ok(()) => {
                verified = true;
                break;
            }
            Err(error) => {
                failed.get_or_insert(error);
            }
        }
    }
    if !verified {
        return Err(
            failed.unwrap_or_else(|| ProvenanceError::NoTrustedSignature {
                keyids: envelope
                    .signatures
                    .iter()
                    .map(|signature| signature.keyid.clone())
                    .collect(),
            }),
        );
    }

    // Signed by a trusted key: now the payload may be parsed. Its type
    // fields first, so that a statement of another kind is named as such
    // rather than as a predicate that does not parse.
    let header: Header = serde_json::from_slice(&payload)
        .map_err(|error| ProvenanceError::malformed("statement JSON", error))?;
    if header.statement_type != STATEMENT_TYPE {
        return Err(ProvenanceError::WrongStatementType {
            field: "_type",
            found: header.statement_type,
        });
    }
    if header.predicate_type != PREDICATE_TYPE {
        return Err(ProvenanceError::WrongStatementType {
            field: "predicateType",
            found: header.predicate_type,
        });
    }
    serde_json::from_slice(&payload)
        .map_err(|error| ProvenanceError::malformed("statement fields", error))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::keys::generate;
    use super::super::statement::tests::sample_predicate;
    use super::*;

    /// A signing key, the trust holding it, a statement, and its envelope.
    pub(crate) fn signed() -> (SigningKey, TrustedKeys, Statement, Envelope) {
        let key = generate().unwrap();
        let mut trust = TrustedKeys::new();
        trust.add(key.verifying_key());
        let statement = Statement::new("app.cwasm", b"artifact bytes", sample_predicate());
        let envelope = sign(&statement, &key).unwrap();
        (key, trust, statement, envelope)
    }

    fn kind(result: Result<Statement, ProvenanceError>) -> &'static str {
        match result {
            Ok(_) => "ok",
            Err(error) => error.kind(),
        }
    }

    /// `text` with the character at `index` swapped for another of the
    /// base64 alphabet.
    fn swap_char(text: &str, index: usize) -> String {
        let mut bytes = text.as_bytes().to_vec();
        bytes[index] = match bytes[index] {
            b'A' => b'B',
            b'=' => b'A',
            _ => b'A',
        };
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn pae_hand_computed() {
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
        );
        assert_eq!(pae("", b""), b"DSSEv1 0  0 ");
        assert_eq!(
            pae(PAYLOAD_TYPE, b"{}"),
            b"DSSEv1 28 application/vnd.in-toto+json 2 {}"
        );
        // Lengths are of bytes, not characters.
        assert_eq!(pae("t", "é".as_bytes()), "DSSEv1 1 t 2 é".as_bytes());
    }

    #[test]
    fn round_trip() {
        let (key, trust, statement, envelope) = signed();
        assert_eq!(envelope.payload_type, "application/vnd.in-toto+json");
        assert_eq!(envelope.signatures.len(), 1);
        assert_eq!(envelope.signatures[0].keyid, key_id(&key.verifying_key()));
        let json = envelope.to_json().unwrap();
        assert_eq!(open(&json, &trust).unwrap(), statement);
        // The payload is the statement's JSON, in standard base64.
        let payload = STANDARD.decode(&envelope.payload).unwrap();
        let back: Statement = serde_json::from_slice(&payload).unwrap();
        assert_eq!(back, statement);
    }

    #[test]
    fn untrusted_signer_is_refused() {
        let (_, _, _, envelope) = signed();
        let mut other = TrustedKeys::new();
        other.add(generate().unwrap().verifying_key());
        let refused = open(&envelope.to_json().unwrap(), &other);
        match refused {
            Err(ProvenanceError::NoTrustedSignature { keyids }) => {
                assert_eq!(keyids, [envelope.signatures[0].keyid.clone()]);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            kind(open(&envelope.to_json().unwrap(), &TrustedKeys::new())),
            "no_trusted_signature"
        );
    }

    #[test]
    fn unsigned_envelope_is_refused() {
        let (_, trust, _, mut envelope) = signed();
        envelope.signatures.clear();
        assert!(matches!(
            open(&envelope.to_json().unwrap(), &trust),
            Err(ProvenanceError::NoTrustedSignature { keyids }) if keyids.is_empty()
        ));
    }

    #[test]
    fn payload_is_not_parsed_before_the_signature_verifies() {
        // A garbage payload signed by an untrusted key must be refused for
        // its signer, not for its contents.
        let untrusted = generate().unwrap();
        let (_, trust, _, _) = signed();
        let envelope = seal(b"\xff not json", &untrusted);
        assert_eq!(
            kind(open(&envelope.to_json().unwrap(), &trust)),
            "no_trusted_signature"
        );
    }

    #[test]
    fn changed_statement_under_old_signature_is_refused() {
        let (_, trust, statement, envelope) = signed();
        let mut forged = statement.clone();
        forged.predicate.target = "aarch64-unknown-linux-gnu".into();
        let mut envelope = envelope;
        envelope.payload = STANDARD.encode(serde_json::to_vec(&forged).unwrap());
        assert!(matches!(
            open(&envelope.to_json().unwrap(), &trust),
            Err(ProvenanceError::BadSignature { keyid }) if keyid == envelope.signatures[0].keyid
        ));
    }

    #[test]
    fn signature_is_over_the_payload_type_too() {
        // A signature over the bare payload (not its PAE) does not verify.
        let (key, trust, _, mut envelope) = signed();
        let payload = STANDARD.decode(&envelope.payload).unwrap();
        envelope.signatures[0].sig = STANDARD.encode(key.sign(&payload).to_bytes());
        assert_eq!(
            kind(open(&envelope.to_json().unwrap(), &trust)),
            "bad_signature"
        );
    }

    #[test]
    fn flipped_payload_characters_are_refused() {
        let (_, trust, _, envelope) = signed();
        let len = envelope.payload.len();
        let positions = (0..len).step_by(13).chain(len.saturating_sub(4)..len);
        for index in positions {
            let mut changed = envelope.clone();
            changed.payload = swap_char(&envelope.payload, index);
            let got = open(&changed.to_json().unwrap(), &trust);
            if STANDARD.decode(&changed.payload).is_ok() {
                assert!(
                    matches!(got, Err(ProvenanceError::BadSignature { .. })),
                    "payload char {index}: {got:?}"
                );
            } else {
                assert!(
                    matches!(
                        got,
                        Err(ProvenanceError::Malformed {
                            what: "payload base64",
                            ..
                        })
                    ),
                    "payload char {index}: {got:?}"
                );
            }
        }
    }

    #[test]
    fn flipped_signature_characters_are_refused() {
        let (_, trust, _, envelope) = signed();
        let sig = &envelope.signatures[0].sig;
        assert_eq!(sig.len(), 88);
        for index in 0..sig.len() {
            let mut changed = envelope.clone();
            changed.signatures[0].sig = swap_char(sig, index);
            let got = kind(open(&changed.to_json().unwrap(), &trust));
            // A changed padding character may decode, to 65 bytes.
            let decoded = STANDARD.decode(&changed.signatures[0].sig);
            let want = match decoded {
                Ok(bytes) if bytes.len() == 64 => "bad_signature",
                _ => "malformed",
            };
            assert_eq!(got, want, "sig char {index}");
        }
        // A signature of the wrong length.
        let mut short = envelope.clone();
        short.signatures[0].sig = STANDARD.encode([0u8; 63]);
        assert!(matches!(
            open(&short.to_json().unwrap(), &trust),
            Err(ProvenanceError::Malformed {
                what: "signature bytes",
                ..
            })
        ));
    }

    #[test]
    fn flipped_envelope_bytes_never_open() {
        // Every byte of the envelope file, each with its low bit flipped:
        // refused with some typed error, never accepted, never a panic.
        let (_, trust, _, envelope) = signed();
        let json = envelope.to_json().unwrap();
        for index in 0..json.len() {
            let mut changed = json.clone();
            changed[index] ^= 1;
            let got = open(&changed, &trust);
            assert!(got.is_err(), "byte {index} flipped was accepted");
        }
    }

    #[test]
    fn a_good_trusted_signature_among_others_suffices() {
        let (key, trust, statement, mut envelope) = signed();
        let stranger = generate().unwrap();
        let foreign = seal(b"other", &stranger);
        envelope.signatures.insert(0, foreign.signatures[0].clone());
        assert_eq!(
            open(&envelope.to_json().unwrap(), &trust).unwrap(),
            statement
        );
        // A bad signature claiming the trusted key id, before the good one.
        envelope.signatures.insert(
            0,
            Signature {
                keyid: key_id(&key.verifying_key()),
                sig: STANDARD.encode([0u8; 64]),
            },
        );
        assert_eq!(
            open(&envelope.to_json().unwrap(), &trust).unwrap(),
            statement
        );
    }

    #[test]
    fn wrong_payload_type_is_refused() {
        let (_, trust, _, mut envelope) = signed();
        envelope.payload_type = "application/json".into();
        assert!(matches!(
            open(&envelope.to_json().unwrap(), &trust),
            Err(ProvenanceError::WrongPayloadType { found }) if found == "application/json"
        ));
    }

    #[test]
    fn wrong_statement_types_are_refused() {
        let (key, trust, statement, _) = signed();
        let mut json = serde_json::to_value(&statement).unwrap();
        json["_type"] = "https://in-toto.io/Statement/v0.1".into();
        let envelope = seal(&serde_json::to_vec(&json).unwrap(), &key);
        assert!(matches!(
            open(&envelope.to_json().unwrap(), &trust),
            Err(ProvenanceError::WrongStatementType { field: "_type", .. })
        ));

        let mut json = serde_json::to_value(&statement).unwrap();
        json["predicateType"] = "https://slsa.dev/provenance/v1".into();
        json["predicate"] = serde_json::json!({"buildDefinition": {}});
        let envelope = seal(&serde_json::to_vec(&json).unwrap(), &key);
        assert!(matches!(
            open(&envelope.to_json().unwrap(), &trust),
            Err(ProvenanceError::WrongStatementType {
                field: "predicateType",
                found,
            }) if found == "https://slsa.dev/provenance/v1"
        ));
    }

    #[test]
    fn signed_statement_of_bad_shape_is_malformed() {
        let (key, trust, statement, _) = signed();
        let mut json = serde_json::to_value(&statement).unwrap();
        json["predicate"]
            .as_object_mut()
            .unwrap()
            .remove("kilnVersion");
        for payload in [
            serde_json::to_vec(&json).unwrap(),
            b"not json".to_vec(),
            b"{\"_type\": 1}".to_vec(),
            Vec::new(),
        ] {
            let envelope = seal(&payload, &key);
            assert_eq!(
                kind(open(&envelope.to_json().unwrap(), &trust)),
                "malformed",
                "{}",
                String::from_utf8_lossy(&payload)
            );
        }
    }

    #[test]
    fn garbage_and_empty_input() {
        let (_, trust, _, _) = signed();
        let inputs: [&[u8]; 8] = [
            b"",
            b"\0\0\0\0",
            b"\xff\xfe garbage",
            b"   ",
            b"null",
            b"[]",
            b"\"envelope\"",
            b"{\"payload\": 5, \"payloadType\": [], \"signatures\": {}}",
        ];
        for input in inputs {
            assert!(
                matches!(
                    open(input, &trust),
                    Err(ProvenanceError::Malformed {
                        what: "envelope JSON",
                        ..
                    })
                ),
                "{input:?}"
            );
        }
        let missing_field = br#"{"payload": "", "payloadType": "application/vnd.in-toto+json"}"#;
        assert_eq!(kind(open(missing_field, &trust)), "malformed");
        let bad_base64 =
            br#"{"payload": "@@@", "payloadType": "application/vnd.in-toto+json", "signatures": []}"#;
        assert!(matches!(
            open(bad_base64, &trust),
            Err(ProvenanceError::Malformed {
                what: "payload base64",
                ..
            })
        ));
    }

    #[test]
    fn truncated_envelopes_are_malformed() {
        let (_, trust, _, envelope) = signed();
        let json = envelope.to_json().unwrap();
        // The last byte is the newline, and the one before the closing
        // brace: every shorter prefix is incomplete JSON.
        let whole = json.len() - 1;
        let lengths = (0..whole).step_by(7).chain(whole.saturating_sub(40)..whole);
        for len in lengths {
            assert!(
                matches!(
                    open(&json[..len], &trust),
                    Err(ProvenanceError::Malformed {
                        what: "envelope JSON",
                        ..
                    })
                ),
                "prefix of {len} bytes"
            );
        }
        assert!(open(&json[..whole], &trust).is_ok());
    }

    #[test]
    fn oversized_input_is_refused_before_parsing() {
        let (_, trust, statement, envelope) = signed();
        // A valid envelope padded with JSON whitespace: it would open, but
        // for its size.
        let mut json = envelope.to_json().unwrap();
        json.resize(MAX_STATEMENT_BYTES, b' ');
        assert_eq!(open(&json, &trust).unwrap(), statement);
        json.push(b' ');
        assert!(matches!(
            open(&json, &trust),
            Err(ProvenanceError::Oversized {
                size: 1_048_577,
                limit: 1_048_576
            })
        ));
        let garbage = vec![0xa5u8; MAX_STATEMENT_BYTES + 1];
        assert_eq!(kind(open(&garbage, &trust)), "oversized");
    }
}
