//! `kiln targets`: the supported target triples, one per line.

use clap::Args;
use std::process::ExitCode;

/// List the target triples Kiln compiles for, one per line.
#[derive(Args)]
pub struct TargetsCommand {}

impl TargetsCommand {
    pub fn execute(self) -> Result<ExitCode, host::Error> {
        for target in host::TARGETS {
            println!("{target}");
        }
        Ok(ExitCode::SUCCESS)
    }
}
