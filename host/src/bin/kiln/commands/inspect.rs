//! `kiln inspect`: what an artifact records about itself.

use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

/// Show what a `.cwasm` records: module or component, target, the Wasmtime
/// version that made it, the CPU flags its code uses and the baseline they
/// are.
#[derive(Args)]
pub struct InspectCommand {
    /// The artifact.
    artifact: PathBuf,
    /// Print a JSON object.
    #[arg(long)]
    json: bool,
}

impl InspectCommand {
    pub fn execute(self) -> Result<ExitCode, host::Error> {
        let bytes = crate::flags::read_input(&self.artifact)?;
        let info = host::inspect::inspect(&bytes).map_err(|error| host::Error::Run {
            message: format!("{}: {error}", self.artifact.display()),
        })?;
        if self.json {
            println!("{}", serde_json::to_string(&info).expect("info serializes"));
            return Ok(ExitCode::SUCCESS);
        }
        println!("kind: {:?}", info.kind);
        println!("target: {}", info.target);
        println!("wasmtime: {}", info.wasmtime_version);
        println!(
            "baseline: {}",
            info.baseline
                .unwrap_or("(none: flags beyond a named baseline)")
        );
        let flags: Vec<&str> = info.cpu_flags.iter().map(String::as_str).collect();
        println!(
            "cpu flags: {}",
            if flags.is_empty() {
                "(none)".to_string()
            } else {
                flags.join(", ")
            }
        );
        Ok(ExitCode::SUCCESS)
    }
}
