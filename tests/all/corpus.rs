//! Real programs from `../shared/corpus/sightglass`, when it is present:
//! a few small benchmarks checked for x86_64 (identical and loaded) and
//! aarch64 (identical). `scripts/check-corpus.sh` checks all of them.

use crate::sandbox;
use host::Options;
use host::verify::check;
use std::path::{Path, PathBuf};

pub fn corpus() -> Option<PathBuf> {
    let dir = match std::env::var_os("KILN_CORPUS") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/sightglass"),
    };
    dir.is_dir().then_some(dir)
}

#[test]
fn small_sightglass_benchmarks_check() {
    let Some(corpus) = corpus() else {
        eprintln!(
            "corpus absent (../shared/corpus/sightglass, or KILN_CORPUS): skipping the Sightglass check"
        );
        return;
    };
    for name in [
        "quicksort/benchmark.wasm",
        "noop/benchmark.wasm",
        "shootout/shootout-fib2.wasm",
    ] {
        let path = corpus.join(name);
        let Ok(input) = std::fs::read(&path) else {
            eprintln!("{} not in this corpus: skipped", path.display());
            continue;
        };
        for target in ["x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu"] {
            let report = check(sandbox(), &input, &Options::for_target(target));
            assert!(report.ok && report.identical, "{name} {target}: {report:?}");
        }
    }
}

/// Runs `dir/stem.wasm` through `kiln run` (compiled in the sandbox) in its
/// directory and compares its output with the expected files.
fn run_benchmark(corpus: &Path, dir: &str, stem: &str, target: &str) {
    let dir = corpus.join(dir);
    let (Ok(expected_out), Ok(expected_err)) = (
        std::fs::read(dir.join(format!("{stem}.stdout.expected"))),
        std::fs::read(dir.join(format!("{stem}.stderr.expected"))),
    ) else {
        eprintln!("{stem} not in this corpus: skipped");
        return;
    };
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_kiln"))
        .args([
            "run",
            &format!("{stem}.wasm"),
            "--dir",
            ".",
            "--target",
            target,
        ])
        .current_dir(&dir)
        .env("KILN_CACHE_DIR", crate::cache_dir())
        .env("KILN_CONFIG_DIR", crate::cli::config_dir())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stem} on {target}: {stderr}");
    assert_eq!(output.stdout, expected_out, "{stem} on {target}");
    assert_eq!(output.stderr, expected_err, "{stem} on {target}");
}

#[test]
fn sightglass_benchmarks_print_their_expected_output() {
    let Some(corpus) = corpus() else {
        eprintln!(
            "corpus absent (../shared/corpus/sightglass, or KILN_CORPUS): skipping the Sightglass runs"
        );
        return;
    };
    for target in ["x86_64-unknown-linux-gnu", "pulley64"] {
        run_benchmark(&corpus, "quicksort", "benchmark", target);
    }
    // The components: a `wasi:cli` command from Kotlin/Wasm and one built
    // with the component model's own tooling.
    run_benchmark(
        &corpus,
        "cm-online-stats",
        "cm-online-stats",
        "x86_64-unknown-linux-gnu",
    );
    run_benchmark(
        &corpus,
        "kotlin-richards",
        "kotlin-richards",
        "x86_64-unknown-linux-gnu",
    );
}
