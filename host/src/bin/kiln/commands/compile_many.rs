//! `kiln compile` of several inputs, directories or `--out-dir`: the
//! batch is [`host::batch`]'s; this sets it up from the flags and says
//! how it goes: a progress bar on a terminal, cargo-style status lines
//! otherwise, and with `--json` one line per input and a summary on
//! stdout.

use super::compile::CompileCommand;
use host::artifact::signing_key;
use host::batch::{BatchEvent, BatchInput, BatchSettings, Signer, Written, compile_all, plan};
use host::{ArtifactKind, Error};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};
use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Compiles every input `command` names into its `--out-dir`.
pub fn execute(command: CompileCommand) -> Result<ExitCode, Error> {
    let out_dir = command.out_dir.as_deref().ok_or_else(|| Error::Usage {
        message: "several inputs or a directory need --out-dir DIR".to_string(),
    })?;
    let start = Instant::now();
    let plan = plan(&command.inputs, out_dir)?;
    let sandbox = command.sandbox()?;
    let target = command.target()?;
    let settings = command.options.resolve()?;
    let options = settings.options(&target);
    let key = signing_key(command.key.as_deref())?;
    let cache = command.open_cache()?;
    let batch = BatchSettings {
        options: &options,
        signer: Some(Signer {
            key: &key,
            given: &settings.given,
        }),
        verify_code: !command.no_verify_code,
        cache: cache.as_ref().map(|cache| (cache, command.tenant.as_str())),
        cores: sandbox.jobs(),
    };
    let total = plan.inputs.len() + plan.unreadable.len();
    let mut report = Report::new(total, command.json);
    for dir in &plan.empty_dirs {
        report.note(&format!(
            "warning: {} holds no .wasm or .wat file",
            dir.display()
        ));
    }
    for (dir, error) in &plan.unreadable {
        report.failed(dir, None, error, Duration::ZERO);
    }
    compile_all(&sandbox, &plan, &batch, |event| match event {
        BatchEvent::Started { input, .. } => report.started(&input.source),
        BatchEvent::Finished {
            input,
            result: Ok(written),
            elapsed,
        } => report.written(input, &written, elapsed),
        BatchEvent::Finished {
            input,
            result: Err(error),
            elapsed,
        } => report.failed(&input.source, Some(&input.output), &error, elapsed),
    });
    drop(cache);
    // As a single compile does: the kernel takes the sandbox's mappings
    // down faster at exit than dropping them does.
    std::mem::forget(sandbox);
    Ok(report.finish(start.elapsed()))
}

/// How the batch is told as it goes, and its tally.
struct Report {
    /// On a terminal; `None`: status lines.
    bar: Option<ProgressBar>,
    json: bool,
    total: usize,
    written: usize,
    failed: usize,
    /// The highest exit status of a failed input's.
    exit_code: u8,
}

impl Report {
    fn new(total: usize, json: bool) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(total as u64);
            bar.set_style(
                ProgressStyle::with_template(
                    "{prefix:>12.cyan.bold} [{bar:30}] {pos}/{len} {elapsed} {wide_msg}",
                )
                .expect("the template parses")
                .progress_chars("=> "),
            );
            bar.set_prefix("Compiling");
            bar
        });
        Self {
            bar,
            json,
            total,
            written: 0,
            failed: 0,
            exit_code: 0,
        }
    }

    /// A line on stderr, above the bar where there is one.
    fn note(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.println(line),
            None => eprintln!("{line}"),
        }
    }

    fn started(&self, source: &Path) {
        match &self.bar {
            Some(bar) => bar.set_message(source.display().to_string()),
            None => eprintln!("{:>12} {}", "Compiling", source.display()),
        }
    }

    fn written(&mut self, input: &BatchInput, written: &Written, elapsed: Duration) {
        self.written += 1;
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
        if self.json {
            println!("{}", written_line(input, written, elapsed));
        }
    }

    fn failed(&mut self, source: &Path, output: Option<&Path>, error: &Error, elapsed: Duration) {
        self.failed += 1;
        self.exit_code = self.exit_code.max(error.exit_code());
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
        self.note(&format!("error: {}: {error}", source.display()));
        if self.json {
            let line = json!({
                "input": source,
                "output": output,
                "ok": false,
                "error": error.kind(),
                "exit_code": error.exit_code(),
                "message": error.to_string(),
                "ms": ms(elapsed),
            });
            println!("{line}");
        }
    }

    /// The closing line and summary; the exit status.
    fn finish(self, elapsed: Duration) -> ExitCode {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        let plural = if self.written == 1 { "" } else { "s" };
        eprintln!(
            "{:>12} {} artifact{plural} in {:.1}s",
            "Finished",
            self.written,
            elapsed.as_secs_f64()
        );
        if self.failed > 0 {
            eprintln!("error: {} of {} inputs failed", self.failed, self.total);
        }
        if self.json {
            let line = json!({
                "inputs": self.total,
                "written": self.written,
                "failed": self.failed,
                "ms": ms(elapsed),
                "exit_code": self.exit_code,
            });
            println!("{line}");
        }
        ExitCode::from(self.exit_code)
    }
}

/// The `--json` line of an input written.
fn written_line(input: &BatchInput, written: &Written, elapsed: Duration) -> Value {
    json!({
        "input": input.source,
        "output": input.output,
        "statement": written.statement,
        "ok": true,
        "kind": match written.kind {
            ArtifactKind::Module => "module",
            ArtifactKind::Component => "component",
        },
        "artifact_bytes": written.artifact_bytes,
        "function_count": written.function_count,
        "code_bytes": written.code_bytes,
        "threads": written.threads,
        "ms": ms(elapsed),
        "sandbox_ms": ms(written.compile),
        "cache_hits": written.stats.map(|s| s.cache_hits),
        "cache_misses": written.stats.map(|s| s.cache_misses),
        "code_verification": written.code_verification,
        "verify_code_ms": ms(written.verify_code),
    })
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
