//! One input's row: each compile path timed against native Wasmtime on
//! the same input, its artifact checked against the native one, the
//! machine-code verification of that artifact, the same input compiled by
//! Winch (sandboxed and native), and the recompile after a one-function
//! change.
//!
//! The compiles are timed without their verification (each request skips
//! it), which has its own column: its cost as a share of the compile's.

use super::inputs::short_name;
use super::native_cache::NativeCache;
use super::one_change::change_one_function;
use super::timing::{interleaved_medians_ms, median};
use super::{Bench, BenchRow, native_peak};
use crate::artifact::statement::CodeVerificationOutcome;
use crate::cache::{DEFAULT_MAX_BYTES, DEFAULT_TENANT, IncrementalCache};
use crate::sandbox::check_code;
use crate::{Artifact, CompileError, CompileRequest, Error, Guest, Threads};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

impl Bench {
    /// The row for `input`, read from `file`.
    pub(super) fn measure(&self, file: &Path, input: &[u8]) -> Result<BenchRow, Error> {
        let (sandbox, pool, options) = (&self.sandbox, &self.pool, &self.options);
        let native = |parallel: bool| {
            kiln_guest::compile_configured(input, options, |config| {
                config.parallel_compilation(parallel);
            })
        };
        let reference = pool.install(|| native(true))?.bytes;
        let same = |artifact: &Artifact, what: &str| {
            if artifact.bytes == reference {
                Ok(())
            } else {
                Err(Error::Verification {
                    message: format!("{}: {what} artifact differs from native", file.display()),
                })
            }
        };
        // Verified apart, below: the compile columns are the compile's alone.
        let request = CompileRequest::new(input, options).verify_code(false);
        // Once untimed: a violation fails the run, as a wrong artifact
        // does, and a target the verifier does not read has no column.
        let verifies = check_code(&reference)?.outcome == CodeVerificationOutcome::Passed;
        // Winch, where it compiles the input (`None`: it refuses it, as
        // for a proposal it lacks); its columns are then empty.
        let winch = self.winch_reference(input)?;
        let winch_request = CompileRequest::new(input, &self.winch_options).verify_code(false);
        let mut guest_peak_bytes = 0;
        let [
            native_parallel_ms,
            native_1t_ms,
            component_ms,
            sandbox_ms,
            sandbox_parallel_ms,
            verify_code_ms,
            winch_native_parallel_ms,
            winch_sandbox_parallel_ms,
        ] = interleaved_medians_ms(
            self.config.reps,
            sandbox,
            [
                &mut || {
                    pool.install(|| native(true))?;
                    Ok(())
                },
                &mut || {
                    native(false)?;
                    Ok(())
                },
                &mut || {
                    let component = request.clone().guest(Guest::Component);
                    same(&sandbox.compile(&component)?.artifact, "component")
                },
                &mut || {
                    let one_thread = request.clone().threads(Threads::Exactly(1));
                    same(&sandbox.compile(&one_thread)?.artifact, "one-thread")
                },
                &mut || {
                    // One thread per 8 KiB of code, up to the cores.
                    let compiled = sandbox.compile(&request)?;
                    guest_peak_bytes = guest_peak_bytes.max(compiled.stats.guest_memory_bytes);
                    same(&compiled.artifact, "parallel")
                },
                &mut || {
                    // The sandboxed artifact: the same bytes as the reference.
                    if verifies {
                        check_code(&reference)?;
                    }
                    Ok(())
                },
                &mut || {
                    if winch.is_some() {
                        pool.install(|| self.native_winch(input))?;
                    }
                    Ok(())
                },
                &mut || {
                    if let Some(winch) = &winch {
                        let compiled = sandbox.compile(&winch_request)?.artifact;
                        if compiled.bytes != *winch {
                            return Err(Error::Verification {
                                message: format!(
                                    "{}: Winch artifact differs from native",
                                    file.display()
                                ),
                            });
                        }
                    }
                    Ok(())
                },
            ],
        )?;
        let verify_code_ms = verifies.then_some(verify_code_ms);
        let (winch_native_parallel_ms, winch_sandbox_parallel_ms) = match winch {
            Some(_) => (
                Some(winch_native_parallel_ms),
                Some(winch_sandbox_parallel_ms),
            ),
            None => (None, None),
        };
        let recompiles = self.recompile_ms(input)?;
        let (recompile_ms, native_recompile_ms) = (
            recompiles.map(|(sandboxed, _)| sandboxed),
            recompiles.map(|(_, native)| native),
        );
        Ok(BenchRow {
            input: short_name(file),
            bytes: input.len(),
            cores: self.cores,
            native_parallel_ms,
            native_1t_ms,
            component_ms,
            sandbox_ms,
            sandbox_parallel_ms,
            recompile_ms,
            native_recompile_ms,
            guest_peak_bytes,
            native_peak_bytes: native_peak::in_child(
                &self.config.kiln,
                file,
                &options.triple,
                self.cores,
            ),
            ratio_parallel: sandbox_parallel_ms / native_parallel_ms,
            ratio_1t: sandbox_ms / native_1t_ms,
            ratio_recompile: recompile_ms.map(|ms: f64| ms / sandbox_parallel_ms),
            ratio_native_recompile: native_recompile_ms.map(|ms: f64| ms / native_parallel_ms),
            verify_code_ms,
            ratio_verify_code: verify_code_ms.map(|ms: f64| ms / sandbox_parallel_ms),
            winch_native_parallel_ms,
            winch_sandbox_parallel_ms,
            ratio_winch: winch_sandbox_parallel_ms
                .zip(winch_native_parallel_ms)
                .map(|(sandboxed, native)| sandboxed / native),
            winch_speedup: winch_sandbox_parallel_ms.map(|ms| sandbox_parallel_ms / ms),
        })
    }

    /// Native Wasmtime's Winch compile of `input` on the current thread
    /// pool.
    fn native_winch(&self, input: &[u8]) -> Result<kiln_guest::Artifact, Error> {
        Ok(kiln_guest::compile_configured(
            input,
            &self.winch_options,
            |config| {
                config.parallel_compilation(true);
            },
        )?)
    }

    /// The native Winch artifact of `input`, or `None` where Winch refuses
    /// it as unsupported (a proposal it lacks, an instruction it has not
    /// implemented); any other failure fails the run.
    fn winch_reference(&self, input: &[u8]) -> Result<Option<Vec<u8>>, Error> {
        match self.pool.install(|| self.native_winch(input)) {
            Ok(artifact) => Ok(Some(artifact.bytes)),
            Err(Error::Compile(CompileError::UnsupportedFeature { message })) => {
                eprintln!("note: no Winch columns: {message}");
                Ok(None)
            }
            Err(error) => Err(error),
        }
    }

    /// The median recompiles after a one-function change, sandboxed and
    /// native (`None` for an input with no function to change), each cache
    /// warm with the unchanged module's functions; each repetition changes
    /// another value, so each has exactly one function to compile. Both
    /// artifacts must equal a cold native compile's.
    fn recompile_ms(&self, input: &[u8]) -> Result<Option<(f64, f64)>, Error> {
        let (sandbox, pool, options) = (&self.sandbox, &self.pool, &self.options);
        if change_one_function(input, 0).is_none() {
            return Ok(None);
        }
        let dir = tempfile::tempdir().map_err(|source| Error::Write {
            path: std::env::temp_dir(),
            source,
        })?;
        let cache = IncrementalCache::open(dir.path(), DEFAULT_MAX_BYTES).map_err(Error::Cache)?;
        sandbox.compile(
            &CompileRequest::new(input, options)
                .cache(&cache, DEFAULT_TENANT)
                .verify_code(false),
        )?;
        let native_cache = Arc::new(NativeCache::default());
        let native = |input: &[u8]| {
            pool.install(|| {
                kiln_guest::compile_configured(input, options, |config| {
                    // Only fails where the feature is compiled out.
                    let _ = config.enable_incremental_compilation(native_cache.clone());
                })
            })
        };
        native(input)?;
        // Interleaved, as the other columns are; the cold compile that
        // checks both answers is not timed.
        let (mut sandboxed, mut native_times) = (Vec::new(), Vec::new());
        for salt in 1..=self.config.reps.max(1) {
            let changed = change_one_function(input, salt as i32).unwrap_or_default();
            let request = CompileRequest::new(&changed, options)
                .cache(&cache, DEFAULT_TENANT)
                .verify_code(false);
            let start = Instant::now();
            let recompiled = sandbox.compile(&request)?.artifact;
            sandboxed.push(start.elapsed().as_secs_f64() * 1000.0);
            sandbox.settle();
            let start = Instant::now();
            let native_recompiled = native(&changed)?;
            native_times.push(start.elapsed().as_secs_f64() * 1000.0);
            let cold = kiln_guest::compile(&changed, options)?.bytes;
            if recompiled.bytes != cold || native_recompiled.bytes != cold {
                return Err(Error::Verification {
                    message: "a recompiled artifact differs from a cold native compile".to_string(),
                });
            }
        }
        Ok(Some((median(sandboxed), median(native_times))))
    }
}
