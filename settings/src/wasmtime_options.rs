//! Wasmtime's own engine settings, in Wasmtime's own syntax.
//!
//! A user who runs a Wasmtime with non-default settings already has them
//! written down as a `wasmtime compile` command line (`-W gc=n -O
//! memory-reservation=1GiB -C cranelift-has_avx2`) or as a `--config`
//! TOML file. Kiln takes both unchanged: the parsing, the merging of the
//! file with the flags, and the mapping onto a [`wasmtime::Config`] are
//! all done by `wasmtime-cli-flags`, the crate `wasmtime compile` itself
//! uses, so equal settings give an equal `Config` and so equal bytes.
//!
//! The settings cross into the sandbox as the TOML of `wasmtime --config`
//! (the one self-describing form that crate reads and writes for every
//! option): [`WasmtimeOptions`] holds it, already resolved (file and flags
//! merged) and reduced to the options that can change an artifact.
//!
//! ```text
//!   host (CLI, library)                      guest (sandbox) and native check
//!   -W/-C/-O/-D flags ─┐
//!                      ├─ CommonOptions ─ strip ─ TOML ─▶ CommonOptions ─ config() ─▶ Config
//!   --config FILE ─────┘   (clap parser)  ignored          (serde)         (the CLI's own)
//! ```
//!
//! Options that cannot change an artifact (caching, pooling, WASI, logging,
//! run-time limits) are accepted and dropped, and their names returned so
//! that the CLI can say so; an unknown option is refused by the parser with
//! its name, as `wasmtime` refuses it.

use crate::SettingsError;
use wasmtime_cli_flags::CommonOptions;

/// Wasmtime engine settings that shape an artifact: the TOML of
/// `wasmtime --config FILE`, resolved and stripped of what cannot change
/// an artifact. Empty means Wasmtime's defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WasmtimeOptions {
    toml: String,
    /// `-C cranelift-NAME` given without a value: a Cranelift flag or
    /// preset to enable. TOML has no way to write such an entry (its value
    /// is `None`), so these are kept beside it and enabled as
    /// `wasmtime-cli-flags` would, with `cranelift_flag_enable`.
    enabled_flags: Vec<String>,
}

/// Wasmtime's two code generators, both built into the compiler.
///
/// Cranelift is the optimizing compiler and the default. Winch is the
/// baseline compiler: one pass over each function, no register allocator
/// and no optimizations, so it compiles several times faster and its code
/// runs slower. It implements fewer proposals (the compiler refuses an
/// input that needs one it lacks, naming it) and its artifacts need an
/// engine configured for it (`-C compiler=winch` when loading too:
/// Wasmtime records Winch's calling convention in the artifact).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Compiler {
    /// `-C compiler=cranelift`, the default.
    Cranelift,
    /// `-C compiler=winch`.
    Winch,
}

impl Compiler {
    /// The name Wasmtime's `-C compiler=` option gives it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Cranelift => "cranelift",
            Self::Winch => "winch",
        }
    }
}

/// The options as a user gave them: Wasmtime's option groups, each entry
/// one `KEY[=VAL[,KEY[=VAL]...]]` argument, and a `--config` file's text.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GivenOptions {
    /// `-O` / `--optimize`.
    pub optimize: Vec<String>,
    /// `-C` / `--codegen`.
    pub codegen: Vec<String>,
    /// `-D` / `--debug`.
    pub debug: Vec<String>,
    /// `-W` / `--wasm`.
    pub wasm: Vec<String>,
    /// `-S` / `--wasi` (never shapes an artifact; accepted for compatibility).
    pub wasi: Vec<String>,
    /// The text of a `--config` TOML file.
    pub config_toml: Option<String>,
}

impl GivenOptions {
    /// Whether nothing was given.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

impl WasmtimeOptions {
    /// The settings as TOML (`wasmtime --config` format); empty for defaults.
    pub fn as_toml(&self) -> &str {
        &self.toml
    }

    /// The Cranelift flags and presets `-C cranelift-NAME` enabled.
    pub fn enabled_flags(&self) -> &[String] {
        &self.enabled_flags
    }

    /// Takes settings in the TOML of `wasmtime --config FILE`.
    ///
    /// Returns the settings with the options that cannot change an
    /// artifact removed, and the names of those removed.
    ///
    /// # Errors
    ///
    /// [`SettingsError::WasmtimeOptions`] when the TOML is not Wasmtime's.
    pub fn from_toml(text: &str) -> Result<(Self, Vec<String>), SettingsError> {
        let common = parse_toml(text)?;
        Self::from_common(common)
    }

    /// The code generator these settings choose (`-C compiler=...`).
    ///
    /// Settings made by [`WasmtimeOptions::from_toml`] or the flag parsers
    /// always parse; a hand-made value that does not is read as the default,
    /// Cranelift, and is refused with its parse error where it is applied.
    pub fn compiler(&self) -> Compiler {
        match self
            .common()
            .ok()
            .and_then(|common| common.codegen.compiler)
        {
            Some(wasmtime::Strategy::Winch) => Compiler::Winch,
            _ => Compiler::Cranelift,
        }
    }

    /// The settings as `wasmtime-cli-flags` holds them.
    ///
    /// # Errors
    ///
    /// [`SettingsError::WasmtimeOptions`] when the TOML is not Wasmtime's
    /// (only for settings built by hand: [`WasmtimeOptions`] made here
    /// always parses).
    pub fn common(&self) -> Result<CommonOptions, SettingsError> {
        parse_toml(&self.toml)
    }

    fn from_common(mut common: CommonOptions) -> Result<(Self, Vec<String>), SettingsError> {
        let ignored = strip_ignored(&mut common);
        let (enabled, set): (Vec<_>, Vec<_>) = std::mem::take(&mut common.codegen.cranelift)
            .into_iter()
            .partition(|(_, value)| value.is_none());
        common.codegen.cranelift = set;
        let enabled_flags = enabled
            .into_iter()
            .map(|(name, _)| name.replace('-', "_"))
            .collect();
        let toml = if is_default(&common)? {
            String::new()
        } else {
            toml::to_string(&common).map_err(|e| SettingsError::WasmtimeOptions {
                message: format!("cannot write the settings as TOML: {e}"),
            })?
        };
        Ok((
            Self {
                toml,
                enabled_flags,
            },
            ignored,
        ))
    }

    /// Resolves options as given on a `wasmtime` command line: the
    /// `--config` file first, then each group's flags on top, with
    /// Wasmtime's own parser and precedence.
    ///
    /// Returns the settings and the names of the options that were
    /// dropped because they cannot change an artifact.
    ///
    /// # Errors
    ///
    /// [`SettingsError::WasmtimeOptions`] naming an unknown option, a value
    /// that does not parse, or a config file that is not Wasmtime's.
    #[cfg(feature = "cli")]
    pub fn from_given(given: &GivenOptions) -> Result<(Self, Vec<String>), SettingsError> {
        let mut argv = Vec::new();
        if let Some(text) = &given.config_toml {
            // `wasmtime-cli-flags` applies raw flags only inside
            // `CommonOptions`' private `configure` step, which reads the
            // config file from a path. Kiln has the file's text instead (the
            // guest has no file system), so the file's settings are written
            // back as flags, in the crate's own display syntax, in front of
            // the user's, and the whole line is parsed once: later flags win
            // for single values and add to lists, which is exactly
            // `wasmtime`'s file-then-flags precedence.
            argv.extend(display_flags(&parse_toml(text)?));
        }
        for (flag, values) in [
            ("-O", &given.optimize),
            ("-C", &given.codegen),
            ("-D", &given.debug),
            ("-W", &given.wasm),
            ("-S", &given.wasi),
        ] {
            for value in values {
                argv.push(flag.to_string());
                argv.push(value.clone());
            }
        }
        Self::from_args(argv)
    }

    /// Resolves Wasmtime flags written as on its command line
    /// (`["-W", "gc=n", "-Ccollector=drc"]`).
    ///
    /// # Errors
    ///
    /// As [`WasmtimeOptions::from_given`].
    #[cfg(feature = "cli")]
    pub fn from_args<S: Into<String>>(
        args: impl IntoIterator<Item = S>,
    ) -> Result<(Self, Vec<String>), SettingsError> {
        use clap::Parser as _;

        let argv = std::iter::once("wasmtime".to_string()).chain(args.into_iter().map(Into::into));
        let mut common =
            CommonOptions::try_parse_from(argv).map_err(|e| SettingsError::WasmtimeOptions {
                message: e.render().to_string().trim().to_string(),
            })?;
        // `init_logging` is the public entry that runs `configure` (raw flags
        // into the option structures), and in a build without the `logging`
        // feature it does nothing else: it refuses only a request for
        // logging, which cannot change an artifact and is dropped as ignored.
        let _ = common.init_logging();
        Self::from_common(common)
    }
}

/// The `-Xkey=value` flags that `Display` writes for configured options.
#[cfg(feature = "cli")]
fn display_flags(common: &CommonOptions) -> Vec<String> {
    let mut common = common.clone();
    // Neither group can shape an artifact, and their values may hold spaces.
    common.wasi = Default::default();
    common.record = Default::default();
    common
        .to_string()
        .split(' ')
        .filter(|flag| !flag.is_empty())
        .map(str::to_string)
        .collect()
}

fn parse_toml(text: &str) -> Result<CommonOptions, SettingsError> {
    if text.trim().is_empty() {
        return Ok(CommonOptions::new());
    }
    let mut common =
        toml::from_str::<CommonOptions>(text).map_err(|e| SettingsError::WasmtimeOptions {
            message: format!("not a Wasmtime config file: {}", e.message()),
        })?;
    // Marks the options configured (there are no raw flags to apply), so
    // that `Display` writes them; see `from_args` on `init_logging`.
    let _ = common.init_logging();
    Ok(common)
}

fn is_default(common: &CommonOptions) -> Result<bool, SettingsError> {
    let written = toml::to_string(common).map_err(|e| SettingsError::WasmtimeOptions {
        message: format!("cannot write the settings as TOML: {e}"),
    })?;
    let default = toml::to_string(&CommonOptions::new()).unwrap_or_default();
    Ok(written == default)
}

/// Clears every option that cannot change an artifact and returns the
/// names (as `-X name`) of those that were set.
///
/// Kept are the options `CommonOptions::config` maps onto compiler
/// settings, tunables or wasm features, all of which Wasmtime records in
/// the artifact and checks when loading it. Dropped are those that only
/// shape a running engine or store: the compile cache, parallel
/// compilation (Kiln has `--jobs`), the pooling allocator, logging and
/// backtraces, stack and store limits, and the WASI and recording groups.
fn strip_ignored(common: &mut CommonOptions) -> Vec<String> {
    let mut ignored = Vec::new();
    macro_rules! drop_options {
        ($group:ident, $flag:literal: $($field:ident),+ $(,)?) => {$(
            if clear(&mut common.$group.$field) {
                ignored.push(format!("{} {}", $flag, stringify!($field).replace('_', "-")));
            }
        )+};
    }
    drop_options!(codegen, "-C": cache, cache_config, parallel_compilation);
    drop_options!(debug, "-D": logging, log_to_files, coredump, debugger, arg,
        inherit_stdin, inherit_stdout, inherit_stderr, max_backtrace);
    drop_options!(wasm, "-W": max_wasm_stack, async_stack_size, async_stack_zeroing,
        unknown_exports_allow, unknown_imports_trap, unknown_imports_default,
        max_memory_size, max_table_elements, max_instances, max_tables, max_memories,
        trap_on_grow_failure, timeout);
    let opts = &mut common.opts;
    macro_rules! drop_opts {
        ($($field:ident),+ $(,)?) => {$(
            if clear(&mut opts.$field) {
                ignored.push(format!("-O {}", stringify!($field).replace('_', "-")));
            }
        )+};
    }
    drop_opts!(
        pooling_allocator,
        pooling_decommit_batch_size,
        pooling_memory_keep_resident,
        pooling_table_keep_resident,
        pooling_memory_protection_keys,
        pooling_max_memory_protection_keys,
        pooling_total_core_instances,
        pooling_total_component_instances,
        pooling_total_memories,
        pooling_total_tables,
        pooling_total_stacks,
        pooling_max_memory_size,
        pooling_table_elements,
        pooling_max_core_instance_size,
        pooling_max_unused_warm_slots,
        pooling_async_stack_keep_resident,
        pooling_max_component_instance_size,
        pooling_max_core_instances_per_component,
        pooling_max_memories_per_component,
        pooling_max_tables_per_component,
        pooling_max_tables_per_module,
        pooling_max_memories_per_module,
        pooling_total_gc_heaps,
        pooling_pagemap_scan,
        gc_zeal_alloc_counter,
    );
    if clear(&mut common.wasi) {
        ignored.push("-S (WASI options)".to_string());
    }
    if clear(&mut common.record) {
        ignored.push("-R (recording options)".to_string());
    }
    ignored
}

/// Resets `field` to its default; whether it was set.
fn clear<T: Default + PartialEq>(field: &mut T) -> bool {
    let was_set = *field != T::default();
    *field = T::default();
    was_set
}

#[cfg(all(test, feature = "cli"))]
mod tests {
    use super::*;
    use crate::{Options, compile_config};

    fn resolve(args: &[&str]) -> Result<(WasmtimeOptions, Vec<String>), SettingsError> {
        WasmtimeOptions::from_args(args.iter().copied())
    }

    #[test]
    fn no_options_are_wasmtimes_defaults() {
        let (options, ignored) = WasmtimeOptions::from_given(&GivenOptions::default()).unwrap();
        assert_eq!(options, WasmtimeOptions::default());
        assert!(ignored.is_empty());
        assert_eq!(options.as_toml(), "");
    }

    #[test]
    fn flags_in_wasmtimes_syntax_resolve_and_round_trip() {
        let (options, ignored) = resolve(&[
            "-W",
            "gc=n,threads=y",
            "-Omemory-reservation=1073741824",
            "-C",
            "cranelift-has_avx2,collector=drc",
            "-D",
            "debug-info",
        ])
        .unwrap();
        assert!(ignored.is_empty(), "{ignored:?}");
        let common = options.common().unwrap();
        assert_eq!(common.wasm.gc, Some(false));
        assert_eq!(common.wasm.threads, Some(true));
        assert_eq!(common.opts.memory_reservation, Some(1 << 30));
        assert_eq!(common.debug.debug_info, Some(true));
        assert!(common.codegen.cranelift.is_empty());
        assert_eq!(options.enabled_flags(), ["has_avx2"]);
        // The TOML the guest receives gives the same options back.
        let (again, _) = WasmtimeOptions::from_toml(options.as_toml()).unwrap();
        assert_eq!(again.common().unwrap().wasm, common.wasm);
        let config = compile_config(&Options {
            triple: "x86_64-unknown-linux-gnu".to_string(),
            cpu_features: Vec::new(),
            wasmtime: options,
        });
        assert!(config.is_ok());
    }

    #[test]
    fn flags_win_over_the_config_file() {
        let given = GivenOptions {
            wasm: vec!["gc=y".to_string()],
            config_toml: Some(
                "[wasm]\ngc = false\nsimd = false\n[optimize]\nopt-level = \"0\"\n".to_string(),
            ),
            ..GivenOptions::default()
        };
        let (options, _) = WasmtimeOptions::from_given(&given).unwrap();
        let common = options.common().unwrap();
        assert_eq!(common.wasm.gc, Some(true));
        assert_eq!(common.wasm.simd, Some(false));
        assert_eq!(common.opts.opt_level, Some(wasmtime::OptLevel::None));
    }

    #[test]
    fn options_that_cannot_change_an_artifact_are_named_and_dropped() {
        let (options, ignored) = resolve(&[
            "-O",
            "pooling-allocator=y",
            "-C",
            "cache=n,parallel-compilation=n",
            "-W",
            "max-wasm-stack=65536,timeout=1s",
            "-S",
            "http",
        ])
        .unwrap();
        assert_eq!(options, WasmtimeOptions::default());
        for name in [
            "-O pooling-allocator",
            "-C cache",
            "-C parallel-compilation",
            "-W max-wasm-stack",
            "-W timeout",
            "-S (WASI options)",
        ] {
            assert!(ignored.iter().any(|i| i == name), "{name} in {ignored:?}");
        }
    }

    #[test]
    fn unknown_options_and_bad_values_are_refused_by_name() {
        let message = resolve(&["-W", "teleportation=y"]).unwrap_err().to_string();
        assert!(message.contains("teleportation"), "{message}");
        let message = resolve(&["-O", "memory-reservation=lots"])
            .unwrap_err()
            .to_string();
        assert!(message.contains("memory-reservation"), "{message}");
        let message = WasmtimeOptions::from_toml("[wasm]\nteleportation = true\n")
            .unwrap_err()
            .to_string();
        assert!(message.contains("teleportation"), "{message}");
        assert!(WasmtimeOptions::from_toml("not = [toml").is_err());
    }
}
