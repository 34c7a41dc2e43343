//! Ed25519 keys for signing provenance statements, and the set of keys a
//! loader trusts.
//!
//! Every `kiln compile` signs its statement, so a machine needs a signing
//! key without any setup: [`default_key`] makes one in Kiln's config
//! directory on first use. A loader trusts that key plus the public keys
//! listed in the config directory's `trusted-keys` file
//! ([`default_trust`]), so that artifacts compiled elsewhere (by CI, say)
//! load only where their signer has been listed.
//!
//! Formats, all text:
//! - a public key is `ed25519:` and the standard base64 of its 32 bytes;
//! - a key id is the first 16 hex digits of the SHA-256 of those bytes;
//! - a private key file is the line [`PRIVATE_KEY_HEADER`] and then a line
//!   with the standard base64 of the 32-byte seed. It is written with mode
//!   0600 from its creation, to a temporary file that is then renamed into
//!   place, so that no reader ever sees a partial key;
//! - a trusted-keys file holds one public key per line, optionally
//!   followed by whitespace and a label; blank lines and lines starting
//!   with `#` are ignored.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Read};
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
pub use ed25519_dalek::{SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use super::error::KeyError;
use super::statement::hex;
use crate::user_dirs;

/// The first line of a Kiln private key file.
pub const PRIVATE_KEY_HEADER: &str = "kiln-ed25519-private-key";

/// The prefix of a public key's text form.
pub const PUBLIC_KEY_PREFIX: &str = "ed25519:";

/// The name of the default signing key's file in the config directory.
pub const SIGNING_KEY_FILE: &str = "signing-key";

/// The name of the trusted-keys file in the config directory.
pub const TRUSTED_KEYS_FILE: &str = "trusted-keys";

/// The most bytes read of a key file: far more than any valid one needs.
const MAX_KEY_FILE_BYTES: u64 = 1 << 20;

/// A new signing key from the operating system's random source.
pub fn generate() -> Result<SigningKey, KeyError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|error| KeyError::Random {
        detail: error.to_string(),
    })?;
    let key = SigningKey::from_bytes(&seed);
    seed.fill(0);
    Ok(key)
}

/// The id of `key`: the first 16 hex digits of the SHA-256 of its bytes.
pub fn key_id(key: &VerifyingKey) -> String {
    let mut id = hex(&Sha256::digest(key.as_bytes()));
    id.truncate(16);
    id
}

/// `key` as text: `ed25519:` and the standard base64 of its bytes.
pub fn public_key_text(key: &VerifyingKey) -> String {
    format!("{PUBLIC_KEY_PREFIX}{}", STANDARD.encode(key.as_bytes()))
}

/// The public key that `text` (as [`public_key_text`] writes it, with
/// surrounding whitespace allowed) stands for.
pub fn parse_public_key(text: &str) -> Result<VerifyingKey, KeyError> {
    let text = text.trim();
    let invalid = |detail: String| KeyError::InvalidPublicKey { detail };
    let encoded = text.strip_prefix(PUBLIC_KEY_PREFIX).ok_or_else(|| {
        invalid(format!(
            "does not start with {PUBLIC_KEY_PREFIX:?} (starts with {:?})",
            text.chars().take(12).collect::<String>()
        ))
    })?;
    let bytes = STANDARD
        .decode(encoded)
        .map_err(|error| invalid(format!("bad base64: {error}")))?;
    let bytes: [u8; 32] = bytes
        .try_into()
        .map_err(|bytes: Vec<u8>| invalid(format!("{} bytes, not 32", bytes.len())))?;
    VerifyingKey::from_bytes(&bytes)
        .map_err(|error| invalid(format!("not a point of Ed25519: {error}")))
}

/// Writes `key` to the private key file `path`, replacing any file there.
///
/// The file is made with mode 0600 in `path`'s directory under a
/// temporary name, synced, and renamed to `path`.
pub fn write_private_key(path: &Path, key: &SigningKey) -> Result<(), KeyError> {
    user_dirs::write_private(path, private_key_text(key).as_bytes()).map_err(|source| {
        KeyError::Io {
            path: path.to_owned(),
            source,
        }
    })
}

/// Reads the private key file `path`, as [`write_private_key`] writes it.
pub fn read_private_key(path: &Path) -> Result<SigningKey, KeyError> {
    let text = read_key_file(path)?;
    let mut lines = text.lines();
    if lines.next().map(str::trim_end) != Some(PRIVATE_KEY_HEADER) {
        return Err(KeyError::UnknownFormat {
            path: path.to_owned(),
        });
    }
    let malformed = |line: usize, detail: String| KeyError::Malformed {
        path: path.to_owned(),
        line,
        detail,
    };
    let encoded = lines
        .next()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .ok_or_else(|| malformed(2, "no key after the header line".into()))?;
    let mut seed: [u8; 32] = STANDARD
        .decode(encoded)
        .map_err(|error| malformed(2, format!("bad base64: {error}")))?
        .try_into()
        .map_err(|bytes: Vec<u8>| malformed(2, format!("{} bytes, not 32", bytes.len())))?;
    if let Some(extra) = lines.position(|line| !line.trim().is_empty()) {
        seed.fill(0);
        return Err(malformed(3 + extra, "unexpected text after the key".into()));
    }
    let key = SigningKey::from_bytes(&seed);
    seed.fill(0);
    Ok(key)
}

/// The public keys whose signatures a loader accepts, by key id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedKeys {
    keys: BTreeMap<String, VerifyingKey>,
}

impl TrustedKeys {
    /// An empty set: it trusts nothing.
    pub fn new() -> Self {
        TrustedKeys::default()
    }

    /// Trusts `key`; returns its key id.
    pub fn add(&mut self, key: VerifyingKey) -> String {
        let id = key_id(&key);
        self.keys.insert(id.clone(), key);
        id
    }

    /// The keys listed in the trusted-keys file `path` (format in the
    /// module doc).
    pub fn from_file(path: &Path) -> Result<Self, KeyError> {
        let mut trust = TrustedKeys::new();
        trust.add_file(path)?;
        Ok(trust)
    }

    /// Trusts, in addition, the keys listed in the trusted-keys file `path`.
    pub fn add_file(&mut self, path: &Path) -> Result<(), KeyError> {
        let text = read_key_file(path)?;
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let key_text = line.split_whitespace().next().unwrap_or(line);
            let key = parse_public_key(key_text).map_err(|error| KeyError::Malformed {
                path: path.to_owned(),
                line: index + 1,
                detail: match error {
                    KeyError::InvalidPublicKey { detail } => detail,
                    other => other.to_string(),
                },
            })?;
            self.add(key);
        }
        Ok(())
    }

    /// Whether the key with id `keyid` is trusted.
    pub fn contains(&self, keyid: &str) -> bool {
        self.keys.contains_key(keyid)
    }

    /// The trusted key with id `keyid`, if there is one.
    pub fn get(&self, keyid: &str) -> Option<&VerifyingKey> {
        self.keys.get(keyid)
    }

    /// The ids of the trusted keys, in order.
    pub fn key_ids(&self) -> impl Iterator<Item = &str> {
        self.keys.keys().map(String::as_str)
    }

    /// How many keys are trusted.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no key is trusted.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// The machine's signing key, `config_dir/signing-key`, made on first use.
///
/// A new key's directory is made with mode 0700 (where it does not exist)
/// and its file with mode 0600. When two compiles make the key at once,
/// both end up with the one that reached the file first.
pub fn default_key(config_dir: &Path) -> Result<SigningKey, KeyError> {
    let path = config_dir.join(SIGNING_KEY_FILE);
    match read_private_key(&path) {
        Err(KeyError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {}
        other => return other,
    }
    let key = generate()?;
    match user_dirs::create_private(&path, private_key_text(&key).as_bytes()) {
        Ok(()) => Ok(key),
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => read_private_key(&path),
        Err(source) => Err(KeyError::Io { path, source }),
    }
}

/// The keys a loader trusts by default: those in `config_dir/trusted-keys`
/// where that file exists, and the public half of [`default_key`].
pub fn default_trust(config_dir: &Path) -> Result<TrustedKeys, KeyError> {
    let mut trust = TrustedKeys::new();
    match trust.add_file(&config_dir.join(TRUSTED_KEYS_FILE)) {
        Err(KeyError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {}
        other => other?,
    }
    trust.add(default_key(config_dir)?.verifying_key());
    Ok(trust)
}

/// The text of `key`'s private key file.
fn private_key_text(key: &SigningKey) -> String {
    format!(
        "{PRIVATE_KEY_HEADER}\n{}\n",
        STANDARD.encode(key.as_bytes())
    )
}

/// Reads the key file `path` as UTF-8, up to [`MAX_KEY_FILE_BYTES`].
fn read_key_file(path: &Path) -> Result<String, KeyError> {
    let io_error = |source| KeyError::Io {
        path: path.to_owned(),
        source,
    };
    let mut bytes = Vec::new();
    fs::File::open(path)
        .map_err(io_error)?
        .take(MAX_KEY_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io_error)?;
    if bytes.len() as u64 > MAX_KEY_FILE_BYTES {
        return Err(KeyError::Malformed {
            path: path.to_owned(),
            line: 1,
            detail: format!("file is over {MAX_KEY_FILE_BYTES} bytes"),
        });
    }
    String::from_utf8(bytes).map_err(|error| KeyError::Malformed {
        path: path.to_owned(),
        line: 1 + error
            .as_bytes()
            .iter()
            .take(error.utf8_error().valid_up_to())
            .filter(|&&byte| byte == b'\n')
            .count(),
        detail: "not UTF-8 text".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    fn dir_entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn generate_makes_distinct_keys() {
        let a = generate().unwrap();
        let b = generate().unwrap();
        assert_ne!(a.to_bytes(), b.to_bytes());
    }

    #[test]
    fn key_id_is_16_hex_of_sha256() {
        let key = SigningKey::from_bytes(&[7; 32]).verifying_key();
        let id = key_id(&key);
        assert_eq!(id.len(), 16);
        assert_eq!(
            id,
            super::super::statement::sha256_hex(key.as_bytes())[..16]
        );
    }

    #[test]
    fn public_key_text_round_trip() {
        let key = generate().unwrap().verifying_key();
        let text = public_key_text(&key);
        assert!(text.starts_with("ed25519:"));
        assert_eq!(text.len(), "ed25519:".len() + 44);
        assert_eq!(parse_public_key(&text).unwrap(), key);
        assert_eq!(parse_public_key(&format!("  {text}\n")).unwrap(), key);
    }

    #[test]
    fn bad_public_key_text() {
        let key = generate().unwrap().verifying_key();
        let good = public_key_text(&key);
        let encoded = &good["ed25519:".len()..];
        for bad in [
            String::new(),
            encoded.to_owned(),
            format!("ssh-ed25519 {encoded}"),
            format!("ed25519:{}", &encoded[..40]),
            format!("ed25519:{encoded}AAAA"),
            "ed25519:!!!!".to_owned(),
            format!("ed25519:{}", STANDARD.encode([0u8; 31])),
        ] {
            assert!(
                matches!(
                    parse_public_key(&bad),
                    Err(KeyError::InvalidPublicKey { .. })
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn private_key_file_round_trip_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        let key = generate().unwrap();
        write_private_key(&path, &key).unwrap();
        assert_eq!(mode(&path), 0o600);
        assert_eq!(read_private_key(&path).unwrap().to_bytes(), key.to_bytes());
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("kiln-ed25519-private-key\n"), "{text}");
        // Only the key file is left: the temporary file was renamed.
        assert_eq!(dir_entries(dir.path()), ["key"]);

        // Writing again replaces the key, still 0600.
        let other = generate().unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        write_private_key(&path, &other).unwrap();
        assert_eq!(mode(&path), 0o600);
        assert_eq!(
            read_private_key(&path).unwrap().to_bytes(),
            other.to_bytes()
        );
        assert_eq!(dir_entries(dir.path()), ["key"]);
    }

    #[test]
    fn malformed_private_key_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        let seed = STANDARD.encode([1u8; 32]);
        let trailing = format!("kiln-ed25519-private-key\n{seed}\nmore\n");
        let no_newline = format!("kiln-ed25519-private-key\n{seed}");
        let cases: [(&[u8], &str); 9] = [
            (b"", "key_unknown_format"),
            (
                b"-----BEGIN PRIVATE KEY-----\nMC4CAQ==\n",
                "key_unknown_format",
            ),
            (b"kiln-ed25519-private-key\n", "key_malformed"),
            (b"kiln-ed25519-private-key\n\n", "key_malformed"),
            (b"kiln-ed25519-private-key\nnot base64!\n", "key_malformed"),
            (b"kiln-ed25519-private-key\nAAAA\n", "key_malformed"),
            (b"kiln-ed25519-private-key\n\xff\xfe\n", "key_malformed"),
            (trailing.as_bytes(), "key_malformed"),
            (no_newline.as_bytes(), "ok"),
        ];
        for (contents, kind) in cases {
            fs::write(&path, contents).unwrap();
            let got = match read_private_key(&path) {
                Ok(_) => "ok",
                Err(error) => error.kind(),
            };
            assert_eq!(got, kind, "{:?}", String::from_utf8_lossy(contents));
        }
        fs::write(&path, format!("kiln-ed25519-private-key\n{seed}\n\n x\n")).unwrap();
        assert!(matches!(
            read_private_key(&path),
            Err(KeyError::Malformed { line: 4, .. })
        ));
        assert!(matches!(
            read_private_key(&dir.path().join("absent")),
            Err(KeyError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound
        ));
    }

    #[test]
    fn trusted_keys_file_with_comments() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("trusted-keys");
        let a = generate().unwrap().verifying_key();
        let b = generate().unwrap().verifying_key();
        let c = generate().unwrap().verifying_key();
        fs::write(
            &path,
            format!(
                "# Kiln trusted keys\n\n{}\n   \n  # {}\n{}  ci signer\r\n",
                public_key_text(&a),
                public_key_text(&c),
                public_key_text(&b)
            ),
        )
        .unwrap();
        let trust = TrustedKeys::from_file(&path).unwrap();
        assert_eq!(trust.len(), 2);
        assert!(trust.contains(&key_id(&a)));
        assert!(trust.contains(&key_id(&b)));
        assert!(!trust.contains(&key_id(&c)), "commented-out key is trusted");
        assert_eq!(trust.get(&key_id(&a)), Some(&a));
        assert!(trust.get(&key_id(&c)).is_none());

        fs::write(
            &path,
            format!("# keys\n{}\ned25519:AAAA\n", public_key_text(&a)),
        )
        .unwrap();
        assert!(matches!(
            TrustedKeys::from_file(&path),
            Err(KeyError::Malformed { line: 3, .. })
        ));
    }

    #[test]
    fn trusted_keys_add_and_contains() {
        let mut trust = TrustedKeys::new();
        assert!(trust.is_empty());
        let key = generate().unwrap().verifying_key();
        let id = trust.add(key);
        assert_eq!(id, key_id(&key));
        assert!(trust.contains(&id));
        assert!(!trust.contains("0000000000000000"));
        assert_eq!(trust.key_ids().collect::<Vec<_>>(), [id.as_str()]);
    }

    #[test]
    fn default_key_is_made_once() {
        let home = tempfile::tempdir().unwrap();
        let config = home.path().join("config").join("kiln");
        let key = default_key(&config).unwrap();
        let path = config.join("signing-key");
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&config), 0o700);
        assert_eq!(mode(&home.path().join("config")), 0o700);
        assert_eq!(dir_entries(&config), ["signing-key"]);
        let again = default_key(&config).unwrap();
        assert_eq!(again.to_bytes(), key.to_bytes());
        assert_eq!(read_private_key(&path).unwrap().to_bytes(), key.to_bytes());

        // A damaged key is reported, not replaced.
        fs::write(&path, "garbage").unwrap();
        assert!(matches!(
            default_key(&config),
            Err(KeyError::UnknownFormat { .. })
        ));
        assert_eq!(fs::read_to_string(&path).unwrap(), "garbage");
    }

    #[test]
    fn default_trust_has_file_keys_and_default_key() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path();
        let trust = default_trust(config).unwrap();
        let own = default_key(config).unwrap().verifying_key();
        assert_eq!(trust.key_ids().collect::<Vec<_>>(), [key_id(&own)]);

        let ci = generate().unwrap().verifying_key();
        fs::write(
            config.join("trusted-keys"),
            format!("# CI\n{}\n", public_key_text(&ci)),
        )
        .unwrap();
        let trust = default_trust(config).unwrap();
        assert_eq!(trust.len(), 2);
        assert!(trust.contains(&key_id(&own)));
        assert!(trust.contains(&key_id(&ci)));

        fs::write(config.join("trusted-keys"), "nonsense\n").unwrap();
        assert!(matches!(
            default_trust(config),
            Err(KeyError::Malformed { line: 1, .. })
        ));
    }
}
