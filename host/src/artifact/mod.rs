//! Reading, checking and signing compiled artifacts.
//!
//! [`inspect`] reads and checks every table inside an artifact (`kiln
//! inspect`); the rest of this folder is signed provenance.
//!
//! # Signed provenance
//!
//! A `.cwasm` artifact is native code, and a loader cannot tell from the
//! file alone whether Kiln made it, from what, or for which engine. So
//! every `kiln compile` writes beside the artifact a provenance statement
//! (an in-toto Statement v1, [`statement`]) signed with the machine's
//! Ed25519 key ([`keys`]) in a DSSE envelope ([`dsse`]), and a loader
//! refuses an artifact unless [`verify`](verify::verify) finds the
//! statement signed by a trusted key, about these bytes, and made with
//! the settings the loading engine uses. [`error`] holds why not.
//!
//! Making a statement:
//!
//! ```ignore
//! let key = keys::default_key(&config_dir)?;
//! let statement = Statement::new("app.cwasm", &artifact, predicate);
//! let envelope = dsse::sign(&statement, &key)?;
//! std::fs::write(statement_path(&artifact_path), envelope.to_json()?)?;
//! ```
//!
//! Checking one:
//!
//! ```ignore
//! let trust = keys::default_trust(&config_dir)?;
//! let envelope = read_envelope(&statement_path(&artifact_path))?;
//! let statement = verify(&artifact, &envelope, &trust, &expected)?;
//! ```

pub mod disasm;
pub mod dsse;
pub mod error;
pub mod inspect;
pub mod keys;
pub mod signed;
pub mod statement;
pub mod verify;
pub mod verify_code;

pub use dsse::{Envelope, MAX_STATEMENT_BYTES, PAYLOAD_TYPE, open, pae, sign};
pub use error::{KeyError, ProvenanceError};
pub use keys::{
    SigningKey, TrustedKeys, VerifyingKey, default_key, default_trust, generate, key_id,
    parse_public_key, public_key_text, read_private_key, write_private_key,
};
pub use signed::{
    CompileFacts, expected, load_unverified, load_verified, signed_statement, signed_target,
    signing_key,
};
pub use statement::{
    EngineRecord, InputRecord, LimitsRecord, PREDICATE_TYPE, Predicate, STATEMENT_TYPE,
    SettingsRecord, Statement, Subject, rfc3339_utc, sha256_hex,
};
pub use verify::{Expected, read_envelope, statement_path, verify};
