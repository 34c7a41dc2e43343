//! The figures that are not per input: how long a warm `kiln compile` of a
//! tiny module takes from process start to artifact (and the bare process
//! start beside it), how the sandbox's throughput scales with
//! concurrent compiles, and the whole corpus at once (`corpus.rs`).

use super::inputs::short_name;
use super::timing::{interleaved_medians_ms, median_ms};
use super::{Bench, BenchSummary};
use crate::{CompileRequest, Error, Sandbox, Threads};
use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;

/// A module small enough that only the start-up is measured.
const TINY_MODULE: &str = r#"(module (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add))"#;

impl Bench {
    /// The summary, after the rows: `inputs` are the rows' files and bytes.
    pub(super) fn summary(&self, inputs: &[(&Path, Vec<u8>)]) -> Result<BenchSummary, Error> {
        let (sandbox, options, cores) = (&self.sandbox, &self.options, self.cores);
        let exe = &self.config.kiln;
        let dir = tempfile::tempdir().map_err(|source| Error::Write {
            path: std::env::temp_dir(),
            source,
        })?;
        let tiny = dir.path().join("tiny.wat");
        std::fs::write(&tiny, TINY_MODULE).map_err(|source| Error::Write {
            path: tiny.clone(),
            source,
        })?;
        let out = dir.path().join("tiny.cwasm");
        let run = |args: &[&OsStr]| -> Result<(), Error> {
            let status = Command::new(exe)
                .args(args)
                .output()
                .map_err(|e| Error::Run {
                    message: format!("running {}: {e}", exe.display()),
                })?;
            if status.status.success() {
                Ok(())
            } else {
                Err(Error::Run {
                    message: format!(
                        "`kiln {}` failed: {}",
                        args.iter()
                            .map(|a| a.to_string_lossy())
                            .collect::<Vec<_>>()
                            .join(" "),
                        String::from_utf8_lossy(&status.stderr)
                    ),
                })
            }
        };
        let compile_args = [
            "compile".as_ref(),
            tiny.as_os_str(),
            "--target".as_ref(),
            options.triple.as_ref(),
            "-o".as_ref(),
            out.as_os_str(),
        ];
        run(&compile_args)?; // warms the guest cache
        let reps = self.config.reps.max(15);
        let warm_cli_start_ms = median_ms(reps, || run(&compile_args))?;
        let process_start_ms = median_ms(reps, || run(&["--version".as_ref()]))?;

        // The middle-sized input: large enough to be work, small enough to
        // repeat.
        let mut by_size: Vec<_> = inputs.iter().collect();
        by_size.sort_by_key(|(_, input)| input.len());
        let (file, input) = by_size[by_size.len() / 2];
        let one_thread = CompileRequest::new(input, options)
            .threads(Threads::Exactly(1))
            .verify_code(false);
        // Throughput counts all the work, the zeroing after each answer
        // included.
        let [one, many] = interleaved_medians_ms(
            self.config.reps,
            sandbox,
            [
                &mut || {
                    sandbox.compile(&one_thread)?;
                    sandbox.settle();
                    Ok(())
                },
                &mut || {
                    concurrent(sandbox, &one_thread, cores)?;
                    sandbox.settle();
                    Ok(())
                },
            ],
        )?;
        let corpus = self.corpus(inputs)?;
        Ok(BenchSummary {
            warm_cli_start_ms,
            process_start_ms,
            concurrency_input: short_name(file),
            concurrent_compiles: cores,
            concurrent_throughput_x: cores as f64 * one / many,
            corpus_inputs: corpus.inputs,
            corpus_kiln_ms: corpus.kiln_ms,
            corpus_kiln_verified_ms: corpus.kiln_verified_ms,
            corpus_native_ms: corpus.native_ms,
            corpus_wasmtime_cli_ms: corpus.wasmtime_cli_ms,
            ratio_corpus: corpus.kiln_ms / corpus.native_ms,
            ratio_corpus_wasmtime_cli: corpus.wasmtime_cli_ms.map(|cli| corpus.kiln_ms / cli),
        })
    }
}

/// `n` compiles of `request` at once.
fn concurrent(sandbox: &Sandbox, request: &CompileRequest<'_>, n: usize) -> Result<(), Error> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..n)
            .map(|_| scope.spawn(|| sandbox.compile(request).map(drop)))
            .collect();
        handles.into_iter().try_for_each(|handle| {
            handle.join().unwrap_or_else(|_| {
                Err(Error::Run {
                    message: "a concurrent compile panicked".to_string(),
                })
            })
        })
    })
}
