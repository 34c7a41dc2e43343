//! Running a planned batch: workers that take their turns from the
//! scheduler, compile in the shared [`Sandbox`], write each artifact and
//! its statement, and report to the caller's thread.
//!
//! A worker reads its input, compiles it on the threads its turn holds,
//! hands them back, and only then writes: a durable write waits on the
//! disk (an `fsync` each, a few milliseconds), and a core must not idle
//! behind it. There are twice as many workers as threads in the budget,
//! so that while some wait on the disk the others keep every thread
//! compiling; the budget, not the workers, bounds the compiling.
//!
//! Every event reaches the caller's `on_event` on the caller's own
//! thread, in the order things happen, so that a progress display needs
//! no locking of its own.

use super::plan::{BatchInput, Plan};
use super::schedule::{Scheduler, Turn};
use crate::artifact::statement::CodeVerificationRecord;
use crate::artifact::{SigningKey, statement_path};
use crate::cache::IncrementalCache;
use crate::{
    ArtifactKind, CODE_BYTES_PER_THREAD, CompileRequest, CompileStats, Error, GivenOptions, Limits,
    MAX_TIMEOUT, Options, Provenance, Sandbox, Threads, compile_threads, write_atomically,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How every input of a batch is compiled.
#[derive(Clone, Copy)]
pub struct BatchSettings<'a> {
    /// The compile options, the same for every input.
    pub options: &'a Options,
    /// Who signs each artifact's statement, written beside it (`None`: no
    /// statement).
    pub signer: Option<Signer<'a>>,
    /// Whether each artifact's machine code is verified before it is
    /// written ([`CompileRequest::verify_code`]).
    pub verify_code: bool,
    /// An incremental cache and the tenant whose entries every compile
    /// uses and extends.
    pub cache: Option<(&'a Arc<IncrementalCache>, &'a str)>,
    /// The threads all the batch's compiles share (at least one): how
    /// many compile at once, and on how many threads each.
    pub cores: usize,
}

/// The key that signs a batch's statements, and the options as given.
#[derive(Clone, Copy)]
pub struct Signer<'a> {
    /// The signing key.
    pub key: &'a SigningKey,
    /// The options as the user gave them, recorded in each statement.
    pub given: &'a GivenOptions,
}

/// What was written for one input.
#[derive(Debug, Clone)]
pub struct Written {
    /// Module or component.
    pub kind: ArtifactKind,
    /// The artifact's size.
    pub artifact_bytes: usize,
    /// Functions compiled.
    pub function_count: u32,
    /// Bytes of machine code.
    pub code_bytes: u64,
    /// The statement written beside the artifact, when signed.
    pub statement: Option<PathBuf>,
    /// Threads the compile ran on.
    pub threads: usize,
    /// The compile in the sandbox, as [`Compiled::duration`](crate::Compiled::duration).
    pub compile: Duration,
    /// The machine-code verification (zero when skipped).
    pub verify_code: Duration,
    /// What the verifier made of it, as the statement records it.
    pub code_verification: CodeVerificationRecord,
    /// The incremental cache's hits and misses, when there is a cache.
    pub stats: Option<CompileStats>,
}

/// What a batch reports as it goes.
#[derive(Debug)]
pub enum BatchEvent<'a> {
    /// An input's compile starts, on this many threads.
    Started {
        /// The input.
        input: &'a BatchInput,
        /// Threads it compiles on.
        threads: usize,
    },
    /// An input is done: written, or failed (nothing written for it).
    Finished {
        /// The input.
        input: &'a BatchInput,
        /// What was written, or why not.
        result: Result<Written, Error>,
        /// From its turn to its artifact written (or its failure).
        elapsed: Duration,
    },
}

/// A worker's report, by the input's index.
enum Report {
    Started(usize, usize),
    Finished(usize, Result<Written, Error>, Duration),
}

/// Compiles every input of `plan` in `sandbox` as `settings` say,
/// handing each [`BatchEvent`] to `on_event` on this thread. A failed
/// input is reported and the others go on; the directories the plan
/// could not read are not reported here.
pub fn compile_all(
    sandbox: &Sandbox,
    plan: &Plan,
    settings: &BatchSettings<'_>,
    mut on_event: impl FnMut(BatchEvent<'_>),
) {
    let cores = settings.cores.max(1);
    let sizes: Vec<u64> = plan.inputs.iter().map(|input| input.size).collect();
    let scheduler = Scheduler::new(&sizes, cores);
    // No input's code is larger than its file: a first bound on the
    // threads it can use, refined once it is read.
    let most = |index: usize| {
        let size = usize::try_from(sizes[index]).unwrap_or(usize::MAX);
        (size / CODE_BYTES_PER_THREAD).clamp(1, cores)
    };
    let (reports, received) = mpsc::channel();
    std::thread::scope(|scope| {
        for _ in 0..(2 * cores).min(plan.inputs.len()) {
            let reports = reports.clone();
            let scheduler = &scheduler;
            let most = &most;
            scope.spawn(move || {
                while let Some(turn) = scheduler.next(most) {
                    let (index, start) = (turn.index, Instant::now());
                    // A closed channel: the caller is gone; the work goes
                    // on to its end regardless.
                    let started = |threads| {
                        let _ = reports.send(Report::Started(index, threads));
                    };
                    let result = take_turn(sandbox, &plan.inputs[index], turn, settings, started);
                    let _ = reports.send(Report::Finished(index, result, start.elapsed()));
                }
            });
        }
        drop(reports);
        for report in received {
            on_event(match report {
                Report::Started(index, threads) => BatchEvent::Started {
                    input: &plan.inputs[index],
                    threads,
                },
                Report::Finished(index, result, elapsed) => BatchEvent::Finished {
                    input: &plan.inputs[index],
                    result,
                    elapsed,
                },
            });
        }
    });
}

/// One input's turn: read, compiled on the turn's threads (no more than
/// its code can use; `started` is told how many), the threads handed
/// back, then written.
fn take_turn(
    sandbox: &Sandbox,
    input: &BatchInput,
    mut turn: Turn<'_>,
    settings: &BatchSettings<'_>,
    started: impl FnOnce(usize),
) -> Result<Written, Error> {
    let bytes = std::fs::read(&input.source).map_err(|source| Error::Read {
        path: input.source.clone(),
        source,
    })?;
    turn.keep(compile_threads(&bytes, turn.threads()));
    started(turn.threads());
    let limits = turn_limits(
        sandbox.limits(),
        compile_threads(&bytes, settings.cores),
        turn.threads(),
    );
    let compiled = compile_one(sandbox, input, &bytes, turn.threads(), limits, settings);
    drop(turn);
    write(input, compiled?)
}

/// What a compile of one input gave, before it is written.
struct Output {
    artifact: crate::Artifact,
    statement: Option<Vec<u8>>,
    rest: Written,
}

/// The limits an input's compile runs under when its turn holds `given`
/// threads, where compiled alone it would have `alone`: the sandbox's,
/// with the time limit stretched by `alone / given`.
///
/// Why: the scheduler gives a large input fewer threads than it would
/// take alone when other inputs still wait (a batch keeps every core busy
/// with one-thread compiles rather than run one compile on all of them),
/// so on its turn it compiles slower than it would alone. Held to the
/// time limit of a compile alone, a module that compiles alone in time
/// would fail in a batch (measured: a 40 MB module that compiles in 115 s
/// on two threads ran out of the default 120 s in a batch, on one). The
/// stretched limit grants the same compiler work, in thread-seconds, as a
/// compile alone gets, so a compile bomb gets no more from a batch than
/// from `kiln compile`. The memory and output limits are the input's own
/// and stay as they are.
fn turn_limits(limits: Limits, alone: usize, given: usize) -> Limits {
    let (alone, given) = (alone.max(1), given.max(1));
    let stretched = u32::try_from(alone)
        .ok()
        .and_then(|alone| limits.timeout.checked_mul(alone))
        .zip(u32::try_from(given).ok())
        .map(|(work, given)| work / given);
    Limits {
        timeout: match stretched {
            Some(timeout) if alone > given => timeout.min(MAX_TIMEOUT.max(limits.timeout)),
            _ => limits.timeout,
        },
        ..limits
    }
}

/// Compiles one input on exactly `threads` threads, within `limits`.
fn compile_one(
    sandbox: &Sandbox,
    input: &BatchInput,
    bytes: &[u8],
    threads: usize,
    limits: Limits,
    settings: &BatchSettings<'_>,
) -> Result<Output, Error> {
    let input_name = input.source.display().to_string();
    let artifact_name = file_name(&input.output);
    let mut request = CompileRequest::new(bytes, settings.options)
        .limits(limits)
        .threads(Threads::Exactly(threads))
        .verify_code(settings.verify_code);
    if let Some(signer) = settings.signer {
        request = request.provenance(Provenance {
            key: signer.key,
            given: signer.given,
            input_name: &input_name,
            artifact_name: &artifact_name,
        });
    }
    if let Some((cache, tenant)) = settings.cache {
        request = request.cache(cache, tenant);
    }
    let compiled = sandbox.compile(&request)?;
    let artifact = compiled.artifact;
    let rest = Written {
        kind: artifact.kind,
        artifact_bytes: artifact.bytes.len(),
        function_count: artifact.function_count,
        code_bytes: artifact.code_bytes,
        statement: None,
        threads,
        compile: compiled.duration,
        verify_code: compiled.verify_code_duration,
        code_verification: compiled.code_verification,
        stats: settings.cache.map(|_| compiled.stats),
    };
    Ok(Output {
        artifact,
        statement: compiled.statement,
        rest,
    })
}

/// Writes one input's artifact and then its statement, each atomically,
/// as `kiln compile` does: an artifact whose statement is missing or
/// still the old one is refused by every verifying loader.
fn write(input: &BatchInput, output: Output) -> Result<Written, Error> {
    if let Some(dir) = input.output.parent() {
        std::fs::create_dir_all(dir).map_err(|source| Error::Write {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    write_atomically(&input.output, &output.artifact.bytes)?;
    let mut written = output.rest;
    if let Some(statement) = output.statement {
        let path = statement_path(&input.output);
        write_atomically(&path, &statement)?;
        written.statement = Some(path);
    }
    Ok(written)
}

/// The name a statement gives its artifact: the file's name.
fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |name| name.to_string_lossy().into_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(seconds: u64) -> Limits {
        Limits {
            timeout: Duration::from_secs(seconds),
            ..Limits::default()
        }
    }

    #[test]
    fn a_turn_with_fewer_threads_than_alone_gets_the_same_thread_seconds() {
        // Alone on two threads, given one: twice the time.
        assert_eq!(
            turn_limits(limits(120), 2, 1).timeout,
            Duration::from_secs(240)
        );
        assert_eq!(
            turn_limits(limits(120), 16, 4).timeout,
            Duration::from_secs(480)
        );
        // As many threads as alone, or an input too small for more than
        // one: the limit as it is.
        assert_eq!(turn_limits(limits(120), 2, 2), limits(120));
        assert_eq!(turn_limits(limits(120), 1, 1), limits(120));
        // Never less than the limit given, and zero threads read as one.
        assert_eq!(turn_limits(limits(120), 1, 4), limits(120));
        assert_eq!(turn_limits(limits(120), 0, 0), limits(120));
        // The memory and output limits are untouched.
        let stretched = turn_limits(Limits::default(), 4, 1);
        assert_eq!(stretched.max_memory, Limits::default().max_memory);
        assert_eq!(stretched.max_output, Limits::default().max_output);
    }

    #[test]
    fn a_stretched_limit_stays_within_the_most_accepted() {
        assert_eq!(
            turn_limits(limits(MAX_TIMEOUT.as_secs()), 64, 1).timeout,
            MAX_TIMEOUT
        );
        // Huge thread counts do not overflow.
        let huge = turn_limits(limits(120), usize::MAX, 1).timeout;
        assert_eq!(huge, Duration::from_secs(120));
        // A limit given above the most (through the library, not the CLI)
        // is kept, not cut.
        let over = MAX_TIMEOUT * 2;
        assert_eq!(
            turn_limits(
                Limits {
                    timeout: over,
                    ..Limits::default()
                },
                2,
                1
            )
            .timeout,
            over
        );
    }
}
