//! Which keys a loader trusts: the CLI's side of `host::artifact::keys`
//! (the key that signs is `host::artifact::signing_key`).

use clap::Args;
use host::artifact::{ProvenanceError, TrustedKeys, default_trust, parse_public_key};
use std::path::PathBuf;

/// Kiln's config directory, or a usage error saying how to name one.
fn config_dir() -> Result<PathBuf, host::Error> {
    host::user_dirs::config_dir().ok_or_else(|| host::Error::Usage {
        message: "no config directory for Kiln's keys: set KILN_CONFIG_DIR".to_string(),
    })
}

/// The keys a loader trusts.
#[derive(Args, Debug, Clone)]
pub struct TrustFlags {
    /// Also trust this public key (`ed25519:...`, as `kiln key generate`
    /// prints it); repeatable. The default key and the keys in the config
    /// directory's `trusted-keys` file are always trusted.
    #[arg(long = "trust", value_name = "PUBKEY")]
    pub keys: Vec<String>,
    /// Also trust every key in this file (one per line, `#` comments).
    #[arg(long = "trusted-keys", value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

impl TrustFlags {
    /// The default trust plus the keys given.
    pub fn trust(&self) -> Result<TrustedKeys, host::Error> {
        let key_error = |error| host::Error::Provenance(ProvenanceError::Key(error));
        let mut trust = default_trust(&config_dir()?).map_err(key_error)?;
        for text in &self.keys {
            trust.add(parse_public_key(text).map_err(|error| host::Error::Usage {
                message: format!("--trust {text}: {error}"),
            })?);
        }
        for file in &self.files {
            trust.add_file(file).map_err(key_error)?;
        }
        Ok(trust)
    }
}
