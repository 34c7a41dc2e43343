//! Flags shared by several commands: sandbox limits and compile options.

use clap::Args;
use host::run::{Preopen, RunConfig};
use host::{CompileSettings, GivenOptions, Limits, parse_size, parse_timeout};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Sandbox limits for one compile.
#[derive(Args, Debug, Clone)]
pub struct LimitFlags {
    /// Wall-clock limit for one compile, in seconds (more than 0, at most
    /// a week). In a batch (`--out-dir`), an input compiled on fewer
    /// threads than it would use alone gets proportionally longer.
    #[arg(long, value_name = "SECONDS", value_parser = parse_timeout, default_value = "120")]
    pub timeout: Duration,
    /// Most memory the compiler may use (bytes, or with KiB/MiB/GiB).
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value = "3GiB")]
    pub max_memory: u64,
    /// Largest artifact accepted (bytes, or with KiB/MiB/GiB).
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value = "256MiB")]
    pub max_output: u64,
}

impl LimitFlags {
    pub fn limits(&self) -> Limits {
        Limits {
            timeout: self.timeout,
            max_memory: self.max_memory,
            max_output: self.max_output,
        }
    }
}

/// Options that change the artifact, in Wasmtime's own syntax: a
/// `wasmtime compile` command line becomes a `kiln compile` one by changing
/// the program's name. An artifact loads only into an engine with the
/// settings it was compiled with.
#[derive(Args, Debug, Clone)]
pub struct CompileFlags {
    /// A portable CPU baseline (`x86-64-v2`, `armv8.1`, `rv64gcv`, `z15`;
    /// `kiln targets` lists them). Default: the architecture's lowest.
    #[arg(long, value_name = "NAME")]
    pub baseline: Option<String>,
    /// A Cranelift CPU feature or preset (`has_avx2`, `has_lse`); repeatable.
    #[arg(long = "cpu-feature", value_name = "NAME")]
    pub cpu_features: Vec<String>,
    /// Wasmtime's optimization and tuning options, `-O help` to see all.
    #[arg(short = 'O', long = "optimize", value_name = "KEY[=VAL[,..]]")]
    pub optimize: Vec<String>,
    /// Wasmtime's codegen options, `-C help` to see all.
    #[arg(short = 'C', long = "codegen", value_name = "KEY[=VAL[,..]]")]
    pub codegen: Vec<String>,
    /// Wasmtime's debug options, `-D help` to see all.
    #[arg(short = 'D', long = "debug", value_name = "KEY[=VAL[,..]]")]
    pub debug: Vec<String>,
    /// Wasmtime's wasm semantics options (proposals, limits), `-W help` to see all.
    #[arg(short = 'W', long = "wasm", value_name = "KEY[=VAL[,..]]")]
    pub wasm: Vec<String>,
    /// Wasmtime's WASI options; accepted for compatibility, they cannot
    /// change an artifact.
    #[arg(short = 'S', long = "wasi", value_name = "KEY[=VAL[,..]]")]
    pub wasi: Vec<String>,
    /// A Wasmtime TOML configuration file (`wasmtime --config`); flags win
    /// over it.
    #[arg(long = "config", value_name = "FILE")]
    pub config: Option<PathBuf>,
}

impl CompileFlags {
    /// Parses Wasmtime's options with Wasmtime's own parser, and says on
    /// stderr which given options cannot change an artifact.
    pub fn resolve(&self) -> Result<CompileSettings, host::Error> {
        self.resolve_with(&[])
    }

    /// As [`CompileFlags::resolve`], with more `-W` options after the given ones.
    pub fn resolve_with(&self, extra_wasm: &[String]) -> Result<CompileSettings, host::Error> {
        let config_toml = match &self.config {
            Some(path) => {
                Some(
                    std::fs::read_to_string(path).map_err(|source| host::Error::Read {
                        path: path.clone(),
                        source,
                    })?,
                )
            }
            None => None,
        };
        let given = GivenOptions {
            optimize: self.optimize.clone(),
            codegen: self.codegen.clone(),
            debug: self.debug.clone(),
            wasm: self.wasm.iter().chain(extra_wasm).cloned().collect(),
            wasi: self.wasi.clone(),
            config_toml,
        };
        let cpu_features = self
            .baseline
            .iter()
            .chain(&self.cpu_features)
            .cloned()
            .collect();
        let settings = CompileSettings::resolve(given, cpu_features)?;
        for option in &settings.ignored {
            eprintln!("note: `{option}` cannot change an artifact; ignored");
        }
        Ok(settings)
    }
}

/// Reads an input file, `-` meaning standard input.
pub fn read_input(path: &Path) -> Result<Vec<u8>, host::Error> {
    let read = if path == Path::new("-") {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut bytes).map(|_| bytes)
    } else {
        std::fs::read(path)
    };
    read.map_err(|source| host::Error::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// What to run in an artifact: the command, or one export.
#[derive(Args, Debug, Clone)]
pub struct RunFlags {
    /// Call this export instead of running the command; ARGS are its arguments.
    #[arg(long, value_name = "NAME")]
    pub invoke: Option<String>,
    /// Give the guest a directory: `DIR` or `HOST_DIR::GUEST_DIR`; repeatable.
    #[arg(long = "dir", value_name = "DIR")]
    pub dirs: Vec<String>,
    /// Arguments for the command (or for the invoked export).
    #[arg(last = true)]
    pub args: Vec<String>,
}

impl RunFlags {
    /// The run configuration, with `program` as the command's `argv[0]`.
    pub fn config(&self, program: &Path) -> RunConfig {
        let mut argv = vec![program.display().to_string()];
        if self.invoke.is_none() {
            argv.extend(self.args.iter().cloned());
        }
        RunConfig {
            args: argv,
            preopens: self.dirs.iter().map(|d| Preopen::parse(d)).collect(),
            invoke: self.invoke.clone(),
            invoke_args: self.args.clone(),
        }
    }
}
