//! `kiln compile`: compile one input in the sandbox and write the artifact.

use crate::flags::{CompileFlags, LimitFlags, read_input};
use clap::Args;
use host::artifact::{signing_key, statement_path};
use host::cache::{DEFAULT_MAX_BYTES, DEFAULT_TENANT, IncrementalCache};
use host::{
    ArtifactKind, CompileRequest, CompileStats, Provenance, Sandbox, parse_size, write_atomically,
};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

/// Compile a `.wasm` or `.wat` module or component to a `.cwasm` artifact,
/// inside the sandbox.
///
/// Before the artifact is written or signed, its machine code is verified
/// (as `kiln verify-code` does); an artifact whose code breaks a rule is
/// not written. The artifact is written atomically: on any failure no
/// file, or the old one, is left at the output path.
#[derive(Args)]
#[command(
    after_help = "Exit status: 0 written; 1 input rejected; 2 usage; 3 a sandbox limit hit; \
    4 the machine code broke a verifier rule (each violation's function, offset and rule \
    named; nothing written); 5 internal error."
)]
pub struct CompileCommand {
    /// The input: a `.wasm` binary or `.wat` text, module or component (`-` for stdin).
    input: PathBuf,
    /// The target triple (see `kiln targets`); default: this machine's.
    #[arg(long)]
    target: Option<String>,
    /// Where to write the artifact. By default the input's name with `.cwasm`, beside it.
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Print one JSON object describing the result.
    #[arg(long)]
    json: bool,
    /// Most threads for one compile. By default the cores available; a
    /// compile gets one thread per 8 KiB of function bodies, up to this.
    #[arg(long, value_name = "K")]
    jobs: Option<usize>,
    /// Keep compiled functions in an incremental cache in DIR and reuse
    /// those of earlier compiles.
    #[arg(long, value_name = "DIR")]
    cache: Option<PathBuf>,
    /// Whose entries in the cache to use; tenants never see each other's.
    #[arg(long, value_name = "NAME", default_value = DEFAULT_TENANT, requires = "cache")]
    tenant: String,
    /// Most compiled code the cache keeps; least recently used goes first.
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value_t = DEFAULT_MAX_BYTES, requires = "cache")]
    cache_size: u64,
    /// Sign the provenance statement with this private key (from `kiln key
    /// generate`) instead of the default one.
    #[arg(long, value_name = "FILE")]
    key: Option<PathBuf>,
    /// Do not verify the artifact's machine code; the statement records
    /// `skipped`.
    #[arg(long)]
    no_verify_code: bool,
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
        let mut sandbox = Sandbox::new(self.limits.limits())?;
        if let Some(jobs) = self.jobs {
            sandbox = sandbox.with_jobs(jobs);
        }
        let target = match (&self.target, host::host_triple()) {
            (Some(target), _) => target.clone(),
            (None, Some(host)) => host.to_string(),
            (None, None) => {
                return Err(host::Error::Usage {
                    message: "this machine is not a Kiln target: give --target".to_string(),
                });
            }
        };
        let settings = self.options.resolve()?;
        let options = settings.options(&target);
        let key = signing_key(self.key.as_deref())?;
        let input_name = self.input.display().to_string();
        let artifact_name = output.file_name().map_or_else(
            || output.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let provenance = Provenance {
            key: &key,
            given: &settings.given,
            input_name: &input_name,
            artifact_name: &artifact_name,
        };
        let start = Instant::now();
        let cache = match &self.cache {
            Some(dir) => {
                Some(IncrementalCache::open(dir, self.cache_size).map_err(host::Error::Cache)?)
            }
            None => None,
        };
        let opening = start.elapsed();
        let mut request = CompileRequest::new(&input, &options)
            .provenance(provenance)
            .verify_code(!self.no_verify_code);
        if let Some(cache) = &cache {
            request = request.cache(cache, &self.tenant);
        }
        let compiled = sandbox.compile(&request)?;
        drop(cache);
        // Opening the cache counts; verifying the code and signing the
        // statement do not.
        let sandbox_ms = (opening + compiled.duration).as_secs_f64() * 1000.0;
        let verify_code_ms = compiled.verify_code_duration.as_secs_f64() * 1000.0;
        let code_verification = compiled.code_verification;
        let stats = self.cache.is_some().then_some(compiled.stats);
        let artifact = compiled.artifact;
        let statement = compiled
            .statement
            .expect("a request with provenance is answered with a statement");
        let statement_file = statement_path(&output);
        // The artifact first: an artifact whose statement is missing or
        // still the old one is refused by every verifying loader.
        write_atomically(&output, &artifact.bytes)?;
        write_atomically(&statement_file, &statement)?;
        // The process ends after this command, and the kernel takes the
        // sandbox's mappings (two engines' pools, the guests' code) down
        // far faster at exit than dropping them does one by one: 4.8 ms
        // of a 20 ms `kiln compile` of a tiny module. Nothing in it needs
        // closing: the cache, which does, was dropped above.
        std::mem::forget(sandbox);
        if self.json {
            let line = json!({
                "input": self.input,
                "target": target,
                "output": output,
                "statement": statement_file,
                "kind": match artifact.kind {
                    ArtifactKind::Module => "module",
                    ArtifactKind::Component => "component",
                },
                "artifact_bytes": artifact.bytes.len(),
                "function_count": artifact.function_count,
                "code_bytes": artifact.code_bytes,
                "sandbox_ms": sandbox_ms,
                "cache_hits": stats.as_ref().map(|s: &CompileStats| s.cache_hits),
                "cache_misses": stats.as_ref().map(|s: &CompileStats| s.cache_misses),
                "code_verification": code_verification,
                "verify_code_ms": verify_code_ms,
                // Read back from the artifact's own record of its CPU flags.
                "baseline": host::inspect::inspect(&artifact.bytes).ok().and_then(|i| i.baseline),
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
