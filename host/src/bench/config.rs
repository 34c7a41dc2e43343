//! What a benchmark run measures, and how: [`BenchConfig`].

use crate::Limits;
use std::path::PathBuf;

/// One benchmark run's inputs and settings.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// The inputs: `.wasm` or `.wat` files, modules or components, in the
    /// order their rows come. At least one; [`corpus_inputs`] lists a
    /// corpus's.
    ///
    /// [`corpus_inputs`]: super::corpus_inputs
    pub inputs: Vec<PathBuf>,
    /// Repetitions per measurement; the median is reported. By default 3.
    /// The start-up figures take at least 15.
    pub reps: usize,
    /// Cores for the parallel measurements, native and sandboxed alike,
    /// and how many compiles run at once in the concurrency figure. By
    /// default (`None`) all this process may use.
    pub cores: Option<usize>,
    /// The target triple to compile for. By default (`None`) this
    /// machine's, or `x86_64-unknown-linux-gnu` where this machine is not
    /// a Kiln target.
    pub target: Option<String>,
    /// The limits every sandboxed compile runs under. By default
    /// [`Limits::default`].
    pub limits: Limits,
    /// The `kiln` executable, run in child processes: `kiln compile` and
    /// `kiln --version` for the start-up figures, the hidden
    /// `kiln native-peak` for a native compile's peak memory. The CLI
    /// passes itself ([`std::env::current_exe`]).
    pub kiln: PathBuf,
}

impl BenchConfig {
    /// A run over `inputs` with the defaults, its child processes run from
    /// the `kiln` executable at `kiln`.
    pub fn new(inputs: Vec<PathBuf>, kiln: PathBuf) -> Self {
        Self {
            inputs,
            reps: 3,
            cores: None,
            target: None,
            limits: Limits::default(),
            kiln,
        }
    }
}
