//! The peak RSS one native parallel compile adds to a fresh process: the
//! anchor of the benchmark's memory figure.
//!
//! Measured in a child process (the hidden `kiln native-peak`, which calls
//! [`measure`]) so that nothing the bench did before (allocator caches,
//! earlier compiles) hides the compile's own peak. Linux's
//! `/proc/self/clear_refs` resets the high-water mark just before the
//! compile; the answer is that mark after it, less the resident size before.

use crate::{Error, Options};
use std::path::Path;
use std::process::Command;

/// The peak RSS, in bytes, that a native compile of `input` with `options`
/// on `cores` threads adds to this process. Meaningful only in a process
/// that has done nothing else: run it in a child, as `kiln native-peak`.
///
/// # Errors
///
/// [`Error::Run`] when the compile threads cannot be started or
/// `/proc/self` cannot be read or reset (not Linux); the compile's error.
pub fn measure(input: &[u8], options: &Options, cores: usize) -> Result<u64, Error> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(cores.max(1))
        .build()
        .map_err(Error::run)?;
    // Start the pool's threads before the baseline, as the bench's are.
    pool.broadcast(|_| ());
    let before = status_kib("VmRSS").ok_or_else(unreadable)?;
    std::fs::write("/proc/self/clear_refs", "5").map_err(|_| unreadable())?;
    pool.install(|| kiln_guest::compile(input, options))?;
    let peak = status_kib("VmHWM").ok_or_else(unreadable)?;
    Ok(peak.saturating_sub(before) * 1024)
}

/// [`measure`] of `file` for `triple` on `cores` threads, in a child
/// process: `kiln native-peak`, run from the executable `kiln`; `None`
/// where that cannot be read (no `/proc`).
pub(super) fn in_child(kiln: &Path, file: &Path, triple: &str, cores: usize) -> Option<u64> {
    let output = Command::new(kiln)
        .arg("native-peak")
        .arg(file)
        .args(["--target", triple, "--cores", &cores.to_string()])
        .output()
        .ok()?;
    String::from_utf8(output.stdout).ok()?.trim().parse().ok()
}

fn unreadable() -> Error {
    Error::Run {
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
