//! `kiln compile`: compile one input in the sandbox and write the
//! artifact; with several inputs, directories or `--out-dir`, compile them
//! all in one sandbox (`compile_many.rs`, over [`host::batch`]).

use super::compile_many;
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
use std::sync::Arc;
use std::time::Instant;

/// Compile a `.wasm` or `.wat` module or component to a `.cwasm` artifact,
/// inside the sandbox; or many at once, into `--out-dir`.
///
/// Before the artifact is written or signed, its machine code is verified
/// (as `kiln verify-code` does); an artifact whose code breaks a rule is
/// not written. The artifact is written atomically: on any failure no
/// file, or the old one, is left at the output path.
///
/// With several inputs, a directory (walked for `.wasm` and `.wat` files)
/// or `--out-dir`, every input is compiled in one sandbox with all the
/// cores busy, each artifact written to `DIR/<stem>.cwasm` (a directory's
/// files keep their place below it), its statement beside it. A failed
/// input is reported and the others go on. Progress goes to stderr: a
/// bar on a terminal, `Compiling` lines otherwise; `--json` prints one
/// object per input, then a summary.
#[derive(Args)]
#[command(
    after_help = "Exit status: 0 written; 1 input rejected; 2 usage; 3 a sandbox limit hit; \
    4 the machine code broke a verifier rule (each violation's function, offset and rule \
    named; nothing written); 5 internal error.\n\n\
    With several inputs: 0 when every input was written; otherwise the highest status of \
    the failed inputs' (5 above 4 above 3 above 1); 2, before anything is compiled, for -o \
    with several inputs, two inputs that would write one artifact, or nothing to compile."
)]
pub struct CompileCommand {
    /// The inputs: `.wasm` binaries or `.wat` text, modules or components
    /// (`-` for stdin), or directories of them.
    #[arg(required = true, value_name = "INPUT")]
    pub(super) inputs: Vec<PathBuf>,
    /// The target triple (see `kiln targets`); default: this machine's.
    #[arg(long)]
    pub(super) target: Option<String>,
    /// Where to write the artifact. By default the input's name with `.cwasm`, beside it.
    #[arg(short, long)]
    pub(super) output: Option<PathBuf>,
    /// Write every input's artifact into DIR (created if need be): several
    /// inputs, directories of them, or one.
    #[arg(long, value_name = "DIR", conflicts_with = "output")]
    pub(super) out_dir: Option<PathBuf>,
    /// Print one JSON object describing the result (with several inputs,
    /// one per input, then a summary).
    #[arg(long)]
    pub(super) json: bool,
    /// Most threads for one compile. By default the cores available; a
    /// compile gets one thread per 8 KiB of function bodies, up to this.
    /// With several inputs, the threads all their compiles share.
    #[arg(long, value_name = "K")]
    pub(super) jobs: Option<usize>,
    /// Keep compiled functions in an incremental cache in DIR and reuse
    /// those of earlier compiles.
    #[arg(long, value_name = "DIR")]
    pub(super) cache: Option<PathBuf>,
    /// Whose entries in the cache to use; tenants never see each other's.
    #[arg(long, value_name = "NAME", default_value = DEFAULT_TENANT, requires = "cache")]
    pub(super) tenant: String,
    /// Most compiled code the cache keeps; least recently used goes first.
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value_t = DEFAULT_MAX_BYTES, requires = "cache")]
    pub(super) cache_size: u64,
    /// Sign the provenance statement with this private key (from `kiln key
    /// generate`) instead of the default one.
    #[arg(long, value_name = "FILE")]
    pub(super) key: Option<PathBuf>,
    /// Do not verify the artifact's machine code; the statement records
    /// `skipped`.
    #[arg(long)]
    pub(super) no_verify_code: bool,
    #[command(flatten)]
    pub(super) options: CompileFlags,
    #[command(flatten)]
    pub(super) limits: LimitFlags,
}

impl CompileCommand {
    pub fn execute(self) -> Result<ExitCode, host::Error> {
        let input_path = match self.single_input()? {
            Some(path) => path.clone(),
            None => return compile_many::execute(self),
        };
        let input = read_input(&input_path)?;
        let output = self
            .output
            .clone()
            .unwrap_or_else(|| default_output(&input_path));
        let sandbox = self.sandbox()?;
        let target = self.target()?;
        let settings = self.options.resolve()?;
        let options = settings.options(&target);
        let key = signing_key(self.key.as_deref())?;
        let input_name = input_path.display().to_string();
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
        let cache = self.open_cache()?;
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
                "input": input_path,
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

impl CompileCommand {
    /// The one input of a single compile, or `None` for a batch (several
    /// inputs, a directory, or `--out-dir`).
    ///
    /// # Errors
    ///
    /// [`host::Error::Usage`] for `-o` or no `--out-dir` where a batch
    /// needs one.
    fn single_input(&self) -> Result<Option<&PathBuf>, host::Error> {
        let single = match self.inputs.as_slice() {
            [one] if !one.is_dir() => Some(one),
            _ => None,
        };
        match (single, &self.output, &self.out_dir) {
            (Some(one), _, None) => Ok(Some(one)),
            (_, _, Some(_)) => Ok(None),
            (None, Some(_), None) => Err(host::Error::Usage {
                message: "-o names one artifact; for several inputs or a directory, \
                          give --out-dir DIR"
                    .to_string(),
            }),
            (None, None, None) => Err(host::Error::Usage {
                message: "several inputs or a directory need --out-dir DIR for their artifacts"
                    .to_string(),
            }),
        }
    }

    /// The sandbox, with `--jobs` and the limits.
    pub(super) fn sandbox(&self) -> Result<Sandbox, host::Error> {
        let sandbox = Sandbox::new(self.limits.limits())?;
        Ok(match self.jobs {
            Some(jobs) => sandbox.with_jobs(jobs),
            None => sandbox,
        })
    }

    /// `--target`, or this machine's.
    pub(super) fn target(&self) -> Result<String, host::Error> {
        match (&self.target, host::host_triple()) {
            (Some(target), _) => Ok(target.clone()),
            (None, Some(host)) => Ok(host.to_string()),
            (None, None) => Err(host::Error::Usage {
                message: "this machine is not a Kiln target: give --target".to_string(),
            }),
        }
    }

    /// The incremental cache, where `--cache` asks for one.
    pub(super) fn open_cache(&self) -> Result<Option<Arc<IncrementalCache>>, host::Error> {
        self.cache
            .as_ref()
            .map(|dir| IncrementalCache::open(dir, self.cache_size).map_err(host::Error::Cache))
            .transpose()
    }
}

/// `dir/name.wasm` → `dir/name.cwasm`; stdin → `out.cwasm`.
fn default_output(input: &Path) -> PathBuf {
    if input == Path::new("-") {
        return PathBuf::from("out.cwasm");
    }
    input.with_extension("cwasm")
}
