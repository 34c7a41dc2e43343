//! A benchmark run from start to summary: [`Bench`] holds what every
//! measurement shares (the sandbox, the native compile threads, the
//! options) and walks the inputs.

use super::{BenchConfig, BenchRow, BenchSummary};
use crate::{Error, Options, Sandbox, host_triple};

/// A benchmark, started: the sandbox and the native compile threads ready.
pub struct Bench {
    pub(super) config: BenchConfig,
    pub(super) sandbox: Sandbox,
    /// Native Wasmtime's parallel compiles run on this pool, so that they
    /// get the cores the sandboxed ones get, no more.
    pub(super) pool: rayon::ThreadPool,
    pub(super) options: Options,
    /// `options` with Winch as the compiler, for the Winch columns.
    pub(super) winch_options: Options,
    pub(super) cores: usize,
}

impl Bench {
    /// Starts the sandbox (with `config`'s limits, on its cores) and the
    /// native compile threads.
    ///
    /// # Errors
    ///
    /// [`Error::Usage`] for a config with no inputs; as
    /// [`Sandbox::new`]; [`Error::Run`] when the native compile threads
    /// cannot be started.
    pub fn new(config: BenchConfig) -> Result<Self, Error> {
        if config.inputs.is_empty() {
            return Err(Error::Usage {
                message: "a benchmark needs at least one input".to_string(),
            });
        }
        let triple = config.target.clone().or(host_triple().map(str::to_string));
        let options = Options::for_target(triple.as_deref().unwrap_or("x86_64-unknown-linux-gnu"));
        let winch_options = Options::with_wasmtime_flags(&options.triple, ["-C", "compiler=winch"])
            .map_err(|e| Error::Usage {
                message: format!("Winch's settings: {e}"),
            })?;
        let cores = config
            .cores
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from))
            .max(1);
        let sandbox = Sandbox::new(config.limits)?.with_jobs(cores);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(cores)
            .build()
            .map_err(|e| Error::Run {
                message: format!("starting {cores} native compile threads: {e}"),
            })?;
        Ok(Self {
            config,
            sandbox,
            pool,
            options,
            winch_options,
            cores,
        })
    }

    /// The cores the parallel measurements use.
    pub fn cores(&self) -> usize {
        self.cores
    }

    /// Measures every input in turn, handing each one's row to `on_row`
    /// as soon as it is measured, then the figures that are not per input.
    ///
    /// # Errors
    ///
    /// [`Error::Read`] for an input that cannot be read; any compile's
    /// error; [`Error::Verification`] when a sandboxed artifact differs
    /// from the native one; [`Error::Run`] when a `kiln` child process
    /// fails; [`Error::Write`] for the temporary files.
    pub fn run(&self, mut on_row: impl FnMut(&BenchRow)) -> Result<BenchSummary, Error> {
        let mut inputs = Vec::with_capacity(self.config.inputs.len());
        for file in &self.config.inputs {
            let input = std::fs::read(file).map_err(|source| Error::Read {
                path: file.clone(),
                source,
            })?;
            on_row(&self.measure(file, &input)?);
            inputs.push((file.as_path(), input));
        }
        self.summary(&inputs)
    }
}

/// Runs the benchmark `config` describes: [`Bench::new`], then
/// [`Bench::run`].
///
/// # Errors
///
/// As those two.
pub fn run(config: BenchConfig, on_row: impl FnMut(&BenchRow)) -> Result<BenchSummary, Error> {
    Bench::new(config)?.run(on_row)
}
