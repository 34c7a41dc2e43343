//! `kiln check`: compile in the sandbox and verify against a native compile.

use crate::flags::{CompileFlags, LimitFlags, read_input};
use clap::Args;
use host::Sandbox;
use host::verify::{CheckReport, check};
use std::path::PathBuf;
use std::process::ExitCode;

/// Compile an input in the sandbox, compile it natively with the same
/// options, require byte-identical artifacts, and load and instantiate the
/// artifact where the target runs here (the host's own, and Pulley).
#[derive(Args)]
pub struct CheckCommand {
    /// The input: a `.wasm` binary or `.wat` text, module or component.
    input: PathBuf,
    /// A target triple; repeatable. By default every supported target.
    #[arg(long = "target")]
    targets: Vec<String>,
    /// Print one JSON object per target, one per line.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    options: CompileFlags,
    #[command(flatten)]
    limits: LimitFlags,
}

impl CheckCommand {
    pub fn execute(self) -> Result<ExitCode, host::Error> {
        let input = read_input(&self.input)?;
        let sandbox = Sandbox::new(self.limits.limits())?;
        let targets = if self.targets.is_empty() {
            host::TARGETS.iter().map(|t| t.to_string()).collect()
        } else {
            self.targets.clone()
        };
        let mut exit = 0;
        for target in &targets {
            let report = check(&sandbox, &input, &self.options.options(target));
            if exit == 0 {
                exit = report.exit_code;
            }
            print_report(&self.input.display().to_string(), &report, self.json);
        }
        Ok(ExitCode::from(exit))
    }
}

/// Prints one target's report: a JSON object (with the input's name added)
/// or a line of text.
pub fn print_report(input: &str, report: &CheckReport, json: bool) {
    if json {
        let mut object = serde_json::to_value(report).expect("a report serializes");
        object["input"] = input.into();
        println!("{object}");
        return;
    }
    let loaded = match report.loaded {
        Some(true) => "loaded",
        Some(false) => "did not load",
        None => "not runnable here",
    };
    match &report.error {
        None => println!(
            "{}: ok: identical, {loaded}; {} bytes; sandbox {:.1} ms, native {:.1} ms",
            report.target, report.artifact_bytes, report.sandbox_ms, report.native_ms
        ),
        Some(error) => println!("{}: FAILED: {error}", report.target),
    }
}
