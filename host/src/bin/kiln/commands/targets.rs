//! `kiln targets`: the supported target triples, one per line, each
//! followed by its CPU baselines.

use clap::Args;
use std::process::ExitCode;

/// List the target triples Kiln compiles for, one per line, each followed
/// by its named CPU baselines (for `--baseline`), lowest first.
#[derive(Args)]
pub struct TargetsCommand {}

impl TargetsCommand {
    pub fn execute(self) -> Result<ExitCode, host::Error> {
        for target in host::TARGETS {
            println!("{target}");
            for level in kiln_settings::baselines_for(target) {
                println!("  {:<10} {}", level.name, level.description);
            }
        }
        Ok(ExitCode::SUCCESS)
    }
}
