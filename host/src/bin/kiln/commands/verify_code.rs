//! `kiln verify-code`: whether an artifact's machine code keeps to
//! Wasmtime's isolation, function by function
//! ([`host::artifact::verify_code`] says what is checked and how).

use clap::Args;
use host::artifact::verify_code::{self, Report};
use std::path::PathBuf;
use std::process::ExitCode;

/// Verify the machine code of a `.cwasm`: decode every instruction of every
/// function and hold it to the rules Wasmtime's isolation rests on (memory
/// accesses bounds-checked or inside the guard, branches and calls to
/// instruction starts and function entries, indirect calls through the
/// VMContext or checked funcrefs, the stack inside the frame, no privileged
/// instructions). Each violation is printed as `FUNCTION at .text+OFFSET:
/// RULE (detail)`. x86_64 artifacts only, for now.
#[derive(Args)]
#[command(
    after_help = "Exit status: 0 every rule holds; 1 not an artifact, damaged beyond reading, \
    or a target or compiler (Winch) the verifier does not support yet (named); 2 usage; 4 a rule broken (each \
    violation's function, offset and rule named).\n\nExample: kiln verify-code app.cwasm --json"
)]
pub struct VerifyCodeCommand {
    /// The artifact.
    artifact: PathBuf,
    /// Print the report as one JSON object (`verifier`, `target`,
    /// `functions`, `instructions`, `violations`, `unchecked`).
    #[arg(long)]
    json: bool,
}

impl VerifyCodeCommand {
    pub fn execute(self) -> Result<ExitCode, host::Error> {
        let bytes = crate::flags::read_input(&self.artifact)?;
        let report =
            verify_code::verify(&bytes).map_err(|error| host::Error::CodeUnverifiable {
                artifact: Some(self.artifact.clone()),
                error,
            })?;
        if self.json {
            println!(
                "{}",
                serde_json::to_string(&report).expect("a verifier report serializes")
            );
        } else {
            for violation in &report.violations {
                println!("{violation}");
            }
            println!("{}", summary(&self.artifact, &report));
        }
        if report.passed() {
            Ok(ExitCode::SUCCESS)
        } else {
            // Exit 4, the violations also named on stderr.
            Err(host::Error::CodeVerification {
                violations: report.violations,
            })
        }
    }
}

/// The closing line: what was checked, by which verifier, and the outcome.
fn summary(artifact: &std::path::Path, report: &Report) -> String {
    let outcome = if report.passed() {
        "every rule holds".to_string()
    } else {
        format!("{} violation(s)", report.violations.len())
    };
    // Grouped by reason, each group in the report's order.
    let mut unchecked = String::new();
    let mut reasons: Vec<_> = report.unchecked.iter().map(|u| u.reason).collect();
    reasons.sort();
    reasons.dedup();
    for reason in reasons {
        let names: Vec<&str> = report
            .unchecked
            .iter()
            .filter(|u| u.reason == reason)
            .map(|u| u.function.as_str())
            .collect();
        unchecked.push_str(&format!("; not checked ({reason}): {}", names.join(", ")));
    }
    format!(
        "{}: {outcome}: {} functions, {} instructions checked ({}, {}){unchecked}",
        artifact.display(),
        report.functions,
        report.instructions,
        report.target,
        report.verifier
    )
}
