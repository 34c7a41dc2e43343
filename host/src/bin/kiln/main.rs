//! `kiln`: compile WebAssembly to native code inside a sandbox, verify the
//! result, and run it.

mod commands;
mod flags;
mod keys;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Compile WebAssembly to native code with a compiler that itself runs in a
/// WebAssembly sandbox.
#[derive(Parser)]
#[command(name = "kiln", version, propagate_version = true, after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  input rejected (invalid wasm, unsupported feature or target, unreadable file)
  2  usage error
  3  a sandbox limit was hit (time, memory, output size)
  4  verification failed (`kiln check`, `kiln inspect --check`), or machine code
     broke a verifier rule (`kiln verify-code`, `kiln compile`: nothing written)
  5  internal error
  6  emulation not installed or failed (`--emulate`)
  7  artifact refused: no statement validly signed by a trusted key
  8  artifact refused: its statement is about other bytes or other settings

`kiln run` of a WASI command exits with the command's own status.";

#[derive(Subcommand)]
enum Command {
    Compile(commands::compile::CompileCommand),
    Bench(commands::bench::BenchCommand),
    Check(commands::check::CheckCommand),
    Serve(commands::serve::ServeCommand),
    Run(commands::run::RunCommand),
    Verify(commands::verify::VerifyCommand),
    VerifyCode(commands::verify_code::VerifyCodeCommand),
    Key(commands::key::KeyCommand),
    Targets(commands::targets::TargetsCommand),
    Inspect(commands::inspect::InspectCommand),
    Component(commands::component::ComponentCommand),
    Wast(commands::wast::WastCommand),
    Demo(commands::demo::DemoCommand),
    #[command(hide = true)]
    NativePeak(commands::native_peak::NativePeakCommand),
    #[command(hide = true)]
    Runner(commands::runner::RunnerCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Compile(command) => command.execute(),
        Command::Bench(command) => command.execute(),
        Command::Check(command) => command.execute(),
        Command::Serve(command) => command.execute(),
        Command::Run(command) => command.execute(),
        Command::Verify(command) => command.execute(),
        Command::VerifyCode(command) => command.execute(),
        Command::Key(command) => command.execute(),
        Command::Targets(command) => command.execute(),
        Command::Inspect(command) => command.execute(),
        Command::Component(command) => command.execute(),
        Command::Wast(command) => command.execute(),
        Command::Demo(command) => command.execute(),
        Command::NativePeak(command) => command.execute(),
        Command::Runner(command) => command.execute(),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(error.exit_code())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
