//! `kiln native-peak` (hidden): the peak RSS one native parallel compile
//! adds to a fresh process, for `kiln bench`, which runs it as a child
//! ([`host::bench::native_peak`] says why and how).

use clap::Args;
use host::Options;
use std::path::PathBuf;
use std::process::ExitCode;

/// Print the peak RSS (bytes) a native compile of FILE adds.
#[derive(Args)]
pub struct NativePeakCommand {
    file: PathBuf,
    #[arg(long)]
    target: String,
    #[arg(long, default_value_t = 1)]
    cores: usize,
}

impl NativePeakCommand {
    pub fn execute(self) -> Result<ExitCode, host::Error> {
        let input = crate::flags::read_input(&self.file)?;
        let options = Options::for_target(&self.target);
        let peak = host::bench::native_peak::measure(&input, &options, self.cores)?;
        println!("{peak}");
        Ok(ExitCode::SUCCESS)
    }
}
