//! Flags shared by several commands: sandbox limits and compile options.

use clap::{Args, ValueEnum};
use host::run::{Preopen, RunConfig};
use host::{Limits, OptLevel, Options, parse_size};
use std::path::Path;
use std::time::Duration;

/// Sandbox limits for one compile.
#[derive(Args, Debug, Clone)]
pub struct LimitFlags {
    /// Wall-clock limit for one compile, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 120.0)]
    pub timeout: f64,
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
            timeout: Duration::from_secs_f64(self.timeout.max(0.0)),
            max_memory: self.max_memory,
            max_output: self.max_output,
        }
    }
}

/// Optimisation levels as flags.
#[derive(ValueEnum, Debug, Clone, Copy)]
pub enum OptLevelFlag {
    None,
    Speed,
    SpeedAndSize,
}

/// Options that change the artifact. An artifact loads only with the same
/// options it was compiled with.
#[derive(Args, Debug, Clone)]
pub struct CompileFlags {
    /// A portable CPU baseline (`x86-64-v2`, `armv8.1`, `rv64gcv`, `z15`;
    /// `kiln targets` lists them). Default: the architecture's lowest.
    #[arg(long, value_name = "NAME")]
    pub baseline: Option<String>,
    /// A Cranelift CPU feature or preset (`has_avx2`, `has_lse`); repeatable.
    #[arg(long = "cpu-feature", value_name = "NAME")]
    pub cpu_features: Vec<String>,
    /// Cranelift optimisation level.
    #[arg(long, value_enum, default_value = "speed")]
    pub opt_level: OptLevelFlag,
    /// Instrument code to consume fuel.
    #[arg(long)]
    pub fuel: bool,
    /// Instrument code for epoch interruption.
    #[arg(long)]
    pub epoch_interruption: bool,
    /// Emit DWARF debug information.
    #[arg(long)]
    pub debug_info: bool,
    /// Turn a wasm proposal on (`simd`) or off (`simd=off`); repeatable.
    #[arg(long = "wasm-feature", value_name = "NAME[=on|off]")]
    pub wasm_features: Vec<String>,
}

impl CompileFlags {
    pub fn options(&self, triple: &str) -> Options {
        Options {
            triple: triple.to_string(),
            cpu_features: self
                .baseline
                .iter()
                .chain(&self.cpu_features)
                .cloned()
                .collect(),
            opt_level: match self.opt_level {
                OptLevelFlag::None => OptLevel::None,
                OptLevelFlag::Speed => OptLevel::Speed,
                OptLevelFlag::SpeedAndSize => OptLevel::SpeedAndSize,
            },
            consume_fuel: self.fuel,
            epoch_interruption: self.epoch_interruption,
            debug_info: self.debug_info,
            wasm_features: self
                .wasm_features
                .iter()
                .map(|spec| match spec.split_once('=') {
                    Some((name, value)) => (
                        name.to_string(),
                        !matches!(value, "off" | "false" | "no" | "0"),
                    ),
                    None => (spec.clone(), true),
                })
                .collect(),
        }
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
