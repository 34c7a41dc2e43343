//! `kiln check`: compile in the sandbox and verify against a native compile;
//! with `--emulate`, also run the artifact under qemu-user and compare the
//! run with this machine's.

use crate::flags::{CompileFlags, LimitFlags, RunFlags, read_input};
use clap::Args;
use host::Sandbox;
use host::cross_check::{CrossCheck, cross_check, reference_run};
use host::emulate::{Runner, emulated_targets};
use host::verify::{CheckReport, check_keeping};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Compile an input in the sandbox, compile it natively with the same
/// options, require byte-identical artifacts, and load and instantiate the
/// artifact where the target runs here (the host's own, and Pulley).
///
/// With `--emulate`, each emulated target's artifact (aarch64, riscv64gc,
/// s390x; the others are checked as without it) is also run under
/// qemu-user in the cross-built `kiln-runner`, and the run (exit status or
/// returned values or trap, stdout, stderr) must agree with the same input
/// compiled for and run on this machine.
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
    /// Run the artifact under emulation and compare with this machine's run.
    #[arg(long)]
    emulate: bool,
    #[command(flatten)]
    run: RunFlags,
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
        let reference_runner = self.emulate.then(reference_runner).transpose()?;
        let config = self.run.config(&self.input);
        let cwd = Path::new(".");
        // The reference run is the same for every emulated target.
        let mut reference = None;
        let mut exit = 0;
        let settings = self.options.resolve()?;
        for target in &targets {
            let options = settings.options(target);
            let (report, artifact) = check_keeping(&sandbox, &input, &options);
            let mut code = report.exit_code;
            let emulated = match (&reference_runner, artifact) {
                (Some(runner), Some(artifact)) if emulated_targets().any(|t| t == target) => {
                    let reference = match &mut reference {
                        Some(reference) => reference,
                        None => reference.insert(reference_run(
                            &sandbox, &input, &options, &config, cwd, runner,
                        )?),
                    };
                    let emulated = Runner::emulated(target).map_err(host::Error::Emulate)?;
                    let compared =
                        cross_check(&artifact, &options, &config, cwd, &emulated, reference)?;
                    if !compared.agrees && code == 0 {
                        code = 4;
                    }
                    Some(compared)
                }
                _ => None,
            };
            if exit == 0 {
                exit = code;
            }
            let name = self.input.display().to_string();
            print_report(&name, &report, emulated.as_ref(), self.json);
        }
        Ok(ExitCode::from(exit))
    }
}

/// This machine's runner: `kiln runner`, the same runner code as the
/// cross-built one.
fn reference_runner() -> Result<Runner, host::Error> {
    let kiln = std::env::current_exe().map_err(|source| host::Error::Read {
        path: PathBuf::from("/proc/self/exe"),
        source,
    })?;
    Ok(Runner::native(kiln, vec!["runner".into()]))
}

/// Prints one target's report: a JSON object (with the input's name and
/// the emulated run's fields added) or a line of text.
pub fn print_report(input: &str, report: &CheckReport, emulated: Option<&CrossCheck>, json: bool) {
    if json {
        let mut object = serde_json::to_value(report).expect("a report serializes");
        object["input"] = input.into();
        if let Some(emulated) = emulated {
            let fields = serde_json::to_value(emulated).expect("a cross-check serializes");
            for (key, value) in fields.as_object().expect("a struct is an object") {
                object[key] = value.clone();
            }
        }
        println!("{object}");
        return;
    }
    if let Some(emulated) = emulated {
        match &emulated.difference {
            None => println!(
                "{}: emulated run agrees with this machine's: {} ({:.0} ms emulated, {:.0} ms here)",
                report.target, emulated.outcome, emulated.emulated_ms, emulated.reference_ms
            ),
            Some(difference) => println!("{}: EMULATED RUN DIFFERS: {difference}", report.target),
        }
    }
    let loaded = match (report.loaded, emulated) {
        (Some(true), _) => "loaded",
        (Some(false), _) => "did not load",
        (None, Some(_)) => "run emulated (above)",
        (None, None) => "not runnable here",
    };
    match &report.error {
        None => println!(
            "{}: ok: identical, {loaded}; {} bytes; sandbox {:.1} ms, native {:.1} ms",
            report.target, report.artifact_bytes, report.sandbox_ms, report.native_ms
        ),
        Some(error) => println!("{}: FAILED: {error}", report.target),
    }
}
