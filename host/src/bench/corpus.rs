//! The whole corpus at once: every input of the run compiled by one
//! `kiln compile --out-dir` process, against native Wasmtime's in-process
//! precompile of all of them and against the real `wasmtime compile`, one
//! process per file.
//!
//! Each side as its users would run it at its best:
//! - Kiln: one `kiln compile DIR --out-dir OUT --jobs CORES` child (the
//!   `kiln` executable, [`BenchConfig::kiln`](super::BenchConfig::kiln)),
//!   process start, sandbox start, reading, writing every artifact and
//!   its signed statement, all included; timed without the machine-code
//!   verification (`--no-verify-code`), as the per-input columns are, and
//!   once more with it, as `kiln compile` runs by default;
//! - native: `precompile` of every input on the bench's pool of `cores`
//!   threads, all inputs handed to the pool at once so that its work
//!   stealing spreads both the inputs and each one's functions: the
//!   floor, nothing read or written;
//! - `wasmtime compile`, where the CLI is installed: one process per
//!   input, `cores` at a time, each one's compile threads capped at
//!   `cores` too (`RAYON_NUM_THREADS`), as a build script would run it.
//!
//! The inputs are laid out as one directory of links (`NNN/name.wasm`, by
//! index, so that names never meet), the directory a corpus is compiled
//! from. The three are interleaved (`timing.rs`); afterwards every
//! artifact of Kiln's and of the CLI's must be the native one's bytes,
//! or the run fails.

use super::timing::interleaved_medians_ms;
use super::{Bench, BenchConfig};
use crate::{Error, Options, user_dirs};
use rayon::prelude::*;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The corpus figures, medians in milliseconds.
pub(super) struct CorpusFigures {
    /// Inputs compiled each time.
    pub(super) inputs: usize,
    /// One `kiln compile --out-dir --no-verify-code`.
    pub(super) kiln_ms: f64,
    /// One `kiln compile --out-dir`, verifying each artifact's code.
    pub(super) kiln_verified_ms: f64,
    /// Native in-process precompile of every input on the pool.
    pub(super) native_ms: f64,
    /// `wasmtime compile`, one process per input (`None`: not installed).
    pub(super) wasmtime_cli_ms: Option<f64>,
}

impl Bench {
    /// The corpus figures over `inputs`, the rows' files and bytes.
    pub(super) fn corpus(&self, inputs: &[(&Path, Vec<u8>)]) -> Result<CorpusFigures, Error> {
        let (options, cores) = (&self.options, self.cores);
        let work = tempfile::tempdir().map_err(|source| Error::Write {
            path: std::env::temp_dir(),
            source,
        })?;
        let corpus = work.path().join("corpus");
        let links = lay_out(&corpus, inputs)?;
        let reference = self.pool.install(|| native_all(inputs, options))?;
        let wasmtime = wasmtime_cli();
        let kiln_out = work.path().join("kiln");
        let verified_out = work.path().join("kiln-verified");
        let cli_out = work.path().join("wasmtime");
        std::fs::create_dir_all(&cli_out).map_err(|source| Error::Write {
            path: cli_out.clone(),
            source,
        })?;
        let kiln = |out: &Path, verify: bool| {
            let mut args: Vec<&OsStr> = vec![
                "compile".as_ref(),
                corpus.as_os_str(),
                "--out-dir".as_ref(),
                out.as_os_str(),
            ];
            if !verify {
                args.push("--no-verify-code".as_ref());
            }
            kiln_child(&self.config, &args, &options.triple, cores)
        };
        let [kiln_ms, kiln_verified_ms, native_ms, wasmtime_cli_ms] = interleaved_medians_ms(
            self.config.reps,
            &self.sandbox,
            [
                &mut || kiln(&kiln_out, false),
                &mut || kiln(&verified_out, true),
                &mut || {
                    self.pool.install(|| native_all(inputs, options))?;
                    Ok(())
                },
                &mut || match &wasmtime {
                    Some(cli) => wasmtime_all(cli, &links, &cli_out, &options.triple, cores),
                    None => Ok(()),
                },
            ],
        )?;
        for (index, (file, _)) in inputs.iter().enumerate() {
            // `NNN/name.wasm` below the corpus → `NNN/name.cwasm` below each out.
            let relative = links[index].strip_prefix(&corpus).unwrap_or(&links[index]);
            let relative = relative.with_extension("cwasm");
            let mut made = vec![
                ("kiln compile --out-dir", kiln_out.join(&relative)),
                (
                    "kiln compile --out-dir (verified)",
                    verified_out.join(&relative),
                ),
            ];
            if wasmtime.is_some() {
                made.push((
                    "wasmtime compile",
                    cli_out.join(format!("{index:03}.cwasm")),
                ));
            }
            for (what, path) in made {
                let bytes = std::fs::read(&path).map_err(|source| Error::Read { path, source })?;
                if bytes != reference[index] {
                    return Err(Error::Verification {
                        message: format!(
                            "{}: {what}'s artifact differs from native",
                            file.display()
                        ),
                    });
                }
            }
        }
        Ok(CorpusFigures {
            inputs: inputs.len(),
            kiln_ms,
            kiln_verified_ms,
            native_ms,
            wasmtime_cli_ms: wasmtime.map(|_| wasmtime_cli_ms),
        })
    }
}

/// Links every input into `corpus` as `NNN/<stem>.wasm` (`.wat` for
/// text, which a directory walk also takes); the links, by index.
fn lay_out(corpus: &Path, inputs: &[(&Path, Vec<u8>)]) -> Result<Vec<PathBuf>, Error> {
    let mut links = Vec::with_capacity(inputs.len());
    for (index, (file, bytes)) in inputs.iter().enumerate() {
        let dir = corpus.join(format!("{index:03}"));
        let extension = if bytes.starts_with(b"\0asm") {
            "wasm"
        } else {
            "wat"
        };
        let stem = file.file_stem().unwrap_or(OsStr::new("input"));
        let link = dir.join(stem).with_extension(extension);
        let absolute = std::path::absolute(file).map_err(|source| Error::Read {
            path: file.to_path_buf(),
            source,
        })?;
        std::fs::create_dir_all(&dir)
            .and_then(|()| std::os::unix::fs::symlink(&absolute, &link))
            .map_err(|source| Error::Write {
                path: link.clone(),
                source,
            })?;
        links.push(link);
    }
    Ok(links)
}

/// Native `precompile` of every input on the current pool, all at once:
/// the artifacts, by index.
fn native_all(inputs: &[(&Path, Vec<u8>)], options: &Options) -> Result<Vec<Vec<u8>>, Error> {
    inputs
        .par_iter()
        .map(|(_, input)| {
            let artifact = kiln_guest::compile_configured(input, options, |config| {
                config.parallel_compilation(true);
            })?;
            Ok(artifact.bytes)
        })
        .collect()
}

/// Runs `kiln ARGS --target TRIPLE --jobs CORES`, which must succeed.
fn kiln_child(
    config: &BenchConfig,
    args: &[&OsStr],
    triple: &str,
    cores: usize,
) -> Result<(), Error> {
    let output = Command::new(&config.kiln)
        .args(args)
        .args(["--target", triple, "--jobs", &cores.to_string()])
        .output()
        .map_err(|e| Error::Run {
            message: format!("running {}: {e}", config.kiln.display()),
        })?;
    if output.status.success() {
        Ok(())
    } else {
        Err(Error::Run {
            message: format!(
                "`kiln compile --out-dir` over the corpus failed: {}",
                String::from_utf8_lossy(&output.stderr)
            ),
        })
    }
}

/// `wasmtime compile` of every link into `out/NNN.cwasm`, one process per
/// input and `cores` at a time.
fn wasmtime_all(
    cli: &Path,
    links: &[PathBuf],
    out: &Path,
    triple: &str,
    cores: usize,
) -> Result<(), Error> {
    let next = AtomicUsize::new(0);
    let compile_next = || -> Result<(), Error> {
        while let Some(link) = links.get(next.fetch_add(1, Ordering::Relaxed)) {
            let name = link
                .parent()
                .and_then(Path::file_name)
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            let artifact = out.join(format!("{name}.cwasm"));
            let output = Command::new(cli)
                .arg("compile")
                .arg(link)
                .args(["--target", triple, "-o"])
                .arg(&artifact)
                .env("RAYON_NUM_THREADS", cores.to_string())
                .output()
                .map_err(|e| Error::Run {
                    message: format!("running {}: {e}", cli.display()),
                })?;
            if !output.status.success() {
                return Err(Error::Run {
                    message: format!(
                        "`wasmtime compile {}` failed: {}",
                        link.display(),
                        String::from_utf8_lossy(&output.stderr)
                    ),
                });
            }
        }
        Ok(())
    };
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..cores).map(|_| scope.spawn(compile_next)).collect();
        workers.into_iter().try_for_each(|worker| {
            worker.join().unwrap_or_else(|_| {
                Err(Error::Run {
                    message: "a `wasmtime compile` worker panicked".to_string(),
                })
            })
        })
    })
}

/// The real `wasmtime` CLI of the pinned version, if installed: the one
/// `KILN_WASMTIME_CLI` names (`0`: none), else the one
/// `scripts/install-wasmtime-cli.sh` installs under Kiln's cache
/// directory (`tools/wasmtime-cli-VERSION-*`), else `wasmtime` on `PATH`
/// if it is that version.
fn wasmtime_cli() -> Option<PathBuf> {
    let version = kiln_settings::WASMTIME_VERSION;
    let is_pinned = |cli: &Path| {
        Command::new(cli)
            .arg("--version")
            .output()
            .is_ok_and(|out| {
                String::from_utf8_lossy(&out.stdout).starts_with(&format!("wasmtime {version}"))
            })
    };
    if let Some(named) = std::env::var_os("KILN_WASMTIME_CLI").filter(|v| !v.is_empty()) {
        return (named != "0")
            .then(|| PathBuf::from(named))
            .filter(|cli| is_pinned(cli));
    }
    let tools = user_dirs::cache_dir()?.join("tools");
    let prefix = format!("wasmtime-cli-{version}-");
    let mut installed: Vec<PathBuf> = std::fs::read_dir(&tools)
        .into_iter()
        .flatten()
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let name = entry.file_name();
            name.to_str()?
                .starts_with(&prefix)
                .then(|| entry.path().join("bin/wasmtime"))
        })
        .collect();
    installed.sort();
    installed
        .into_iter()
        .chain([PathBuf::from("wasmtime")])
        .find(|cli| is_pinned(cli))
}
