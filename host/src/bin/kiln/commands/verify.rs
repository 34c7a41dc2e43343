//! `kiln verify`: is this artifact what a trusted Kiln compiled, for the
//! settings the loading engine will use?

use crate::flags::{CompileFlags, read_input};
use crate::keys::TrustFlags;
use clap::Args;
use host::artifact::{expected, read_envelope, signed_target, statement_path, verify};
use serde_json::json;
use std::path::PathBuf;
use std::process::ExitCode;

/// Check an artifact's signed provenance statement: the signature (by a
/// trusted key), the artifact's digest, and that the recorded target and
/// settings are those given here (Wasmtime's `-W/-C/-O/-D`, `--baseline`),
/// the ones the loading engine will use. Exits 0 when all hold, 7 when
/// there is no validly signed statement, 8 when it is about other bytes or
/// other settings.
#[derive(Args)]
pub struct VerifyCommand {
    /// The artifact (`.cwasm`).
    artifact: PathBuf,
    /// The statement (default: the artifact's name with `.intoto.json`).
    #[arg(long, value_name = "FILE")]
    statement: Option<PathBuf>,
    /// The loading engine's target (default: the one the artifact records).
    #[arg(long)]
    target: Option<String>,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    trust: TrustFlags,
    #[command(flatten)]
    options: CompileFlags,
}

impl VerifyCommand {
    pub fn execute(self) -> Result<ExitCode, host::Error> {
        let result = self.check();
        if self.json {
            let line = match &result {
                Ok(statement) => json!({
                    "artifact": self.artifact,
                    "ok": true,
                    "target": statement.predicate.target,
                    "input_sha256": statement.predicate.input.sha256,
                    "signed_on": statement.predicate.finished_on,
                    // `null` for a statement from before the code verifier.
                    "code_verification": statement.predicate.code_verification,
                }),
                Err(error) => json!({
                    "artifact": self.artifact,
                    "ok": false,
                    "error": match error {
                        host::Error::Provenance(error) => error.kind(),
                        _ => "other",
                    },
                    "message": error.to_string(),
                }),
            };
            println!("{line}");
        }
        match result {
            Ok(statement) => {
                if !self.json {
                    println!(
                        "{}: verified: {} from {} (sha256 {}), settings as given",
                        self.artifact.display(),
                        statement.predicate.target,
                        statement.predicate.input.name,
                        statement.predicate.input.sha256
                    );
                }
                Ok(ExitCode::SUCCESS)
            }
            Err(error) if self.json => Ok(ExitCode::from(error.exit_code())),
            Err(error) => Err(error),
        }
    }

    fn check(&self) -> Result<host::artifact::Statement, host::Error> {
        let artifact = read_input(&self.artifact)?;
        let statement_file = self
            .statement
            .clone()
            .unwrap_or_else(|| statement_path(&self.artifact));
        let envelope = read_envelope(&statement_file)?;
        let trust = self.trust.trust()?;
        let target = match &self.target {
            Some(target) => target.clone(),
            None => signed_target(&envelope, &trust)?,
        };
        let options = self.options.resolve()?.options(&target);
        Ok(verify(&artifact, &envelope, &trust, &expected(&options))?)
    }
}
