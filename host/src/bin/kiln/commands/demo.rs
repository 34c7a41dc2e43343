//! `kiln demo`: Kiln's main job on a built-in example.
//!
//! The example (`demo.wat`) is compiled in the sandbox for every target;
//! each artifact is verified against a native compile, and the ones that
//! can run here (the host's own and Pulley) are run, printing their result.

use crate::commands::check::print_report;
use crate::flags::LimitFlags;
use clap::Args;
use host::load;
use host::run::{Outcome, RunConfig, run};
use host::verify::check;
use host::{CompileRequest, Options, Sandbox};
use std::process::ExitCode;

/// The built-in example: counts the primes below N.
const DEMO_WAT: &str = include_str!("../demo.wat");
const DEMO_EXPORT: &str = "count_primes";
const DEMO_ARG: &str = "100000";

/// Compile a built-in example in the sandbox for every target, verify each
/// artifact, and run the ones this machine can run.
#[derive(Args)]
pub struct DemoCommand {
    /// Print one JSON object per target instead of text.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    limits: LimitFlags,
}

impl DemoCommand {
    pub fn execute(self) -> Result<ExitCode, host::Error> {
        let sandbox = Sandbox::new(self.limits.limits())?;
        if !self.json {
            println!("{}", sandbox.version()?);
            println!("example: {DEMO_EXPORT}({DEMO_ARG}), compiled in the sandbox for each target");
        }
        let mut exit = 0;
        for target in host::TARGETS {
            let options = Options::for_target(target);
            let report = check(&sandbox, DEMO_WAT.as_bytes(), &options);
            print_report("demo.wat", &report, None, self.json);
            if !report.ok {
                exit = exit.max(report.exit_code);
                continue;
            }
            if load::can_run_here(target) {
                let values = run_example(&sandbox, &options)?;
                if !self.json {
                    println!(
                        "  ran natively: {DEMO_EXPORT}({DEMO_ARG}) = {}",
                        values.join(" ")
                    );
                }
            }
        }
        Ok(ExitCode::from(exit))
    }
}

fn run_example(sandbox: &Sandbox, options: &Options) -> Result<Vec<String>, host::Error> {
    let artifact = sandbox
        .compile(&CompileRequest::new(DEMO_WAT.as_bytes(), options))?
        .artifact;
    let engine = load::engine(options)?;
    // SAFETY: produced by the sandbox from the built-in example, and just
    // verified identical to the native compile by `check`.
    let loaded = unsafe { load::deserialize(&engine, &artifact.bytes, artifact.kind) }?;
    let config = RunConfig {
        invoke: Some(DEMO_EXPORT.to_string()),
        invoke_args: vec![DEMO_ARG.to_string()],
        ..RunConfig::default()
    };
    match run(&engine, &loaded, &config)? {
        Outcome::Returned(values) => Ok(values),
        Outcome::Exited(status) => Err(host::Error::Run {
            message: format!("the example exited with status {status} instead of returning"),
        }),
    }
}
