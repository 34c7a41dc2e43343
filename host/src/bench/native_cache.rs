//! An incremental cache for native Wasmtime, held in memory: the anchor of
//! the benchmark's recompile measurement.
//!
//! The sandboxed recompile has its goal as a fraction of a cold compile.
//! What Wasmtime's incremental compilation itself achieves, natively and
//! with nothing between it and its cache, says how much of that fraction
//! is the design (every function is still translated to Cranelift IR and
//! hashed to find its key, every hit decoded, the whole module linked) and
//! how much is the sandbox. This store is the simplest faithful one: a map
//! from key to value, no eviction, no checks, for one bench input.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Mutex;

/// Compiled functions by Wasmtime's cache key, for one input's recompiles.
#[derive(Debug, Default)]
pub struct NativeCache {
    entries: Mutex<HashMap<Vec<u8>, Vec<u8>>>,
}

impl wasmtime::CacheStore for NativeCache {
    fn get(&self, key: &[u8]) -> Option<Cow<'_, [u8]>> {
        let entries = crate::lock(&self.entries);
        entries.get(key).map(|value| Cow::Owned(value.clone()))
    }

    fn insert(&self, key: &[u8], value: Vec<u8>) -> bool {
        let mut entries = crate::lock(&self.entries);
        entries.insert(key.to_vec(), value);
        true
    }
}
