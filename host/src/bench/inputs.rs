//! Which files the benchmark measures, and the names its rows give them.

use std::path::{Path, PathBuf};

/// Every benchmark module in a Sightglass-style `corpus` directory (Kiln's
/// is `../shared/corpus/sightglass`): each subdirectory's
/// `benchmark.wasm`, or its one `.wasm` file, sorted. Empty when `corpus`
/// cannot be read.
pub fn corpus_inputs(corpus: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(corpus) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|entry| benchmark_in(&entry.ok()?.path()))
        .collect();
    files.sort();
    files
}

fn benchmark_in(dir: &Path) -> Option<PathBuf> {
    let named = dir.join("benchmark.wasm");
    if named.is_file() {
        return Some(named);
    }
    let mut wasm = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|entry| Some(entry.ok()?.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "wasm"));
    let first = wasm.next()?;
    wasm.next().is_none().then_some(first)
}

/// `…/sightglass/bz2/benchmark.wasm` → `bz2/benchmark.wasm`.
pub(super) fn short_name(file: &Path) -> String {
    let parts: Vec<_> = file.iter().rev().take(2).collect();
    parts
        .iter()
        .rev()
        .map(|p| p.to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}
