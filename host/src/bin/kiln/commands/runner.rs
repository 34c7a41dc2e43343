//! `kiln runner REQUEST RESPONSE` (hidden): serves one runner request on
//! this machine, with the very code the cross-built `kiln-runner` runs
//! under emulation. `kiln check --emulate` runs its reference this way.

use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

/// Serve one runner request (used by `kiln check --emulate`).
#[derive(Args)]
pub struct RunnerCommand {
    /// The request file.
    request: PathBuf,
    /// Where to write the response.
    response: PathBuf,
}

impl RunnerCommand {
    pub fn execute(self) -> Result<ExitCode, host::Error> {
        kiln_runner::protocol::serve(&self.request, &self.response)?;
        Ok(ExitCode::SUCCESS)
    }
}
