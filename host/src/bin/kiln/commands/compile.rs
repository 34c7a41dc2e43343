//! `kiln compile`: compile one input in the sandbox and write the artifact.

use crate::flags::{CompileFlags, LimitFlags, read_input};
use clap::Args;
use host::{ArtifactKind, Sandbox, write_atomically};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

/// Compile a `.wasm` or `.wat` module or component to a `.cwasm` artifact,
/// inside the sandbox.
///
/// The artifact is written atomically: on any failure no file, or the old
/// one, is left at the output path.
#[derive(Args)]
pub struct CompileCommand {
    /// The input: a `.wasm` binary or `.wat` text, module or component (`-` for stdin).
    input: PathBuf,
    /// The target triple (see `kiln targets`).
    #[arg(long)]
    target: String,
    /// Where to write the artifact. By default the input's name with `.cwasm`, beside it.
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Print one JSON object describing the result.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    options: CompileFlags,
    #[command(flatten)]
    limits: LimitFlags,
}

impl CompileCommand {
    pub fn execute(self) -> Result<ExitCode, host::Error> {
        let input = read_input(&self.input)?;
        let output = self
            .output
            .clone()
            .unwrap_or_else(|| default_output(&self.input));
        let sandbox = Sandbox::new(self.limits.limits())?;
        let start = Instant::now();
        let artifact = sandbox.compile(&input, &self.options.options(&self.target))?;
        let sandbox_ms = start.elapsed().as_secs_f64() * 1000.0;
        write_atomically(&output, &artifact.bytes)?;
        if self.json {
            let line = json!({
                "input": self.input,
                "target": self.target,
                "output": output,
                "kind": match artifact.kind {
                    ArtifactKind::Module => "module",
                    ArtifactKind::Component => "component",
                },
                "artifact_bytes": artifact.bytes.len(),
                "function_count": artifact.function_count,
                "code_bytes": artifact.code_bytes,
                "sandbox_ms": sandbox_ms,
            });
            println!("{line}");
        }
        Ok(ExitCode::SUCCESS)
    }
}

/// `dir/name.wasm` → `dir/name.cwasm`; stdin → `out.cwasm`.
fn default_output(input: &Path) -> PathBuf {
    if input == Path::new("-") {
        return PathBuf::from("out.cwasm");
    }
    input.with_extension("cwasm")
}
