//! `kiln key generate`: a new Ed25519 signing key for provenance statements.

use clap::{Args, Subcommand};
use host::artifact::{ProvenanceError, generate, key_id, public_key_text, write_private_key};
use std::path::PathBuf;
use std::process::ExitCode;

/// Manage the keys that sign artifacts' provenance statements.
#[derive(Args)]
pub struct KeyCommand {
    #[command(subcommand)]
    action: KeyAction,
}

#[derive(Subcommand)]
enum KeyAction {
    /// Make a new signing key: the private key is written (mode 0600),
    /// the public key printed, for `--trust` or a `trusted-keys` file.
    Generate {
        /// Where to write the private key (default: `signing-key` in
        /// Kiln's config directory, if there is none yet).
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

impl KeyCommand {
    pub fn execute(self) -> Result<ExitCode, host::Error> {
        let KeyAction::Generate { output } = self.action;
        let path = match output {
            Some(path) => path,
            None => {
                let dir = host::user_dirs::config_dir().ok_or_else(|| host::Error::Usage {
                    message: "no config directory: give -o FILE or set KILN_CONFIG_DIR".to_string(),
                })?;
                let path = dir.join(host::artifact::keys::SIGNING_KEY_FILE);
                if path.exists() {
                    return Err(host::Error::Usage {
                        message: format!(
                            "{} exists: it signs your artifacts; give -o FILE for another key",
                            path.display()
                        ),
                    });
                }
                path
            }
        };
        let key_error = |error| host::Error::Provenance(ProvenanceError::Key(error));
        let key = generate().map_err(key_error)?;
        write_private_key(&path, &key).map_err(key_error)?;
        eprintln!(
            "wrote the private key {} (key id {})",
            path.display(),
            key_id(&key.verifying_key())
        );
        println!("{}", public_key_text(&key.verifying_key()));
        Ok(ExitCode::SUCCESS)
    }
}
