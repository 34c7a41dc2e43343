//! `kiln native-peak` (hidden): the peak RSS one native parallel compile
//! adds to a fresh process, for `kiln bench`.
//!
//! Run in a child so that nothing the bench did before (allocator caches,
//! earlier compiles) hides the compile's own peak. Linux's
//! `/proc/self/clear_refs` resets the high-water mark just before the
//! compile; the answer is that mark after it, less the resident size before.

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
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(self.cores.max(1))
            .build()
            .map_err(|e| host::Error::Run {
                message: e.to_string(),
            })?;
        // Start the pool's threads before the baseline, as the bench's are.
        pool.broadcast(|_| ());
        let before = status_kib("VmRSS").ok_or_else(unreadable)?;
        std::fs::write("/proc/self/clear_refs", "5").map_err(|_| unreadable())?;
        pool.install(|| kiln_guest::compile(&input, &options))?;
        let peak = status_kib("VmHWM").ok_or_else(unreadable)?;
        println!("{}", peak.saturating_sub(before) * 1024);
        Ok(ExitCode::SUCCESS)
    }
}

fn unreadable() -> host::Error {
    host::Error::Run {
        message: "cannot read or reset /proc/self memory figures".to_string(),
    }
}

/// A `kB` line of `/proc/self/status`.
fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}
