//! `kiln wast`: spec test scripts through the sandbox, beside the native
//! reference.

use crate::flags::{CompileFlags, LimitFlags};
use clap::Args;
use host::Sandbox;
use host::emulate::Runner;
use host::wast::{WastReport, run_file};
use std::path::PathBuf;
use std::process::ExitCode;

/// Run `.wast` spec test scripts: every module compiled in the sandbox, its
/// artifact loaded natively, every directive carried out; the same
/// directives run against Wasmtime's own in-process compile as the
/// reference. Prints Kiln's and the reference's counts per file.
///
/// Exits 4 if any directive passes in the reference but fails through Kiln.
#[derive(Args)]
pub struct WastCommand {
    /// The scripts.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// The target triple: the host's or `pulley64`, so that artifacts can
    /// run; with `--emulate`, an emulated one.
    #[arg(long)]
    target: String,
    /// Run the directives under qemu-user in the cross-built `kiln-runner`;
    /// the reference is then Wasmtime's own run on this machine.
    #[arg(long)]
    emulate: bool,
    /// Print one JSON object per file.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    options: CompileFlags,
    #[command(flatten)]
    limits: LimitFlags,
}

impl WastCommand {
    pub fn execute(self) -> Result<ExitCode, host::Error> {
        let sandbox = Sandbox::new(self.limits.limits())?;
        let runner = if self.emulate {
            Some(Runner::emulated(&self.target).map_err(host::Error::Emulate)?)
        } else {
            None
        };
        let mut totals = [0usize; 5];
        let mut regressions = 0;
        let mut unreadable = 0;
        for file in &self.files {
            let proposals = host::wast::proposal_flags(file);
            let options = self.options.resolve_with(&proposals)?.options(&self.target);
            let report = match run_file(&sandbox, file, &options, runner.as_ref()) {
                Ok(report) => report,
                Err(error) => {
                    // One unreadable script does not stop the others.
                    eprintln!("error: {}: {error}", file.display());
                    unreadable += 1;
                    continue;
                }
            };
            regressions += report.regressions.len();
            for (total, count) in totals.iter_mut().zip([
                report.passed,
                report.failed,
                report.skipped,
                report.reference_passed,
                report.reference_failed,
            ]) {
                *total += count;
            }
            print_report(&report, self.json);
        }
        if !self.json {
            println!(
                "total: kiln {} passed, {} failed, {} skipped; reference {} passed, {} failed; {regressions} pass in the reference but fail in Kiln",
                totals[0], totals[1], totals[2], totals[3], totals[4]
            );
        }
        Ok(if regressions > 0 {
            ExitCode::from(4)
        } else if unreadable > 0 {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        })
    }
}

fn print_report(report: &WastReport, json: bool) {
    if json {
        println!(
            "{}",
            serde_json::to_string(report).expect("a report serializes")
        );
        return;
    }
    println!(
        "{} [{}]: kiln {}/{}/{} (passed/failed/skipped), reference {}/{}",
        report.file,
        report.target,
        report.passed,
        report.failed,
        report.skipped,
        report.reference_passed,
        report.reference_failed
    );
    for line in &report.regressions {
        println!("  REGRESSION at line {line}: passes in the reference, fails in Kiln");
    }
    for reason in &report.skip_reasons {
        println!("  skipped {reason}");
    }
    for failure in report.failures.iter().take(3) {
        println!("  failed {failure}");
    }
}
