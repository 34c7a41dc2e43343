//! Names for WebAssembly proposals, as users spell them on the command line
//! and in the WIT `options` record.

use wasmtime::WasmFeatures;

/// Every proposal name [`wasm_feature`] knows, in a stable order.
pub const WASM_FEATURE_NAMES: &[&str] = &[
    "bulk-memory",
    "custom-page-sizes",
    "exceptions",
    "extended-const",
    "function-references",
    "gc",
    "memory64",
    "multi-memory",
    "multi-value",
    "reference-types",
    "relaxed-simd",
    "simd",
    "stack-switching",
    "tail-call",
    "threads",
    "wide-arithmetic",
    "component-model",
];

/// The Wasmtime feature flag for a proposal name, or `None` if unknown.
pub fn wasm_feature(name: &str) -> Option<WasmFeatures> {
    Some(match name {
        "bulk-memory" => WasmFeatures::BULK_MEMORY,
        "custom-page-sizes" => WasmFeatures::CUSTOM_PAGE_SIZES,
        "exceptions" => WasmFeatures::EXCEPTIONS,
        "extended-const" => WasmFeatures::EXTENDED_CONST,
        "function-references" => WasmFeatures::FUNCTION_REFERENCES,
        "gc" => WasmFeatures::GC,
        "memory64" => WasmFeatures::MEMORY64,
        "multi-memory" => WasmFeatures::MULTI_MEMORY,
        "multi-value" => WasmFeatures::MULTI_VALUE,
        "reference-types" => WasmFeatures::REFERENCE_TYPES,
        "relaxed-simd" => WasmFeatures::RELAXED_SIMD,
        "simd" => WasmFeatures::SIMD,
        "stack-switching" => WasmFeatures::STACK_SWITCHING,
        "tail-call" => WasmFeatures::TAIL_CALL,
        "threads" => WasmFeatures::THREADS,
        "wide-arithmetic" => WasmFeatures::WIDE_ARITHMETIC,
        "component-model" => WasmFeatures::COMPONENT_MODEL,
        _ => return None,
    })
}

/// Proposals that build on another: turning the first off turns these off
/// too, so `simd=off` means no SIMD at all rather than an engine error
/// about relaxed SIMD still being on.
const BUILT_ON: &[(&str, &[&str])] = &[
    ("simd", &["relaxed-simd"]),
    ("reference-types", &["function-references", "gc"]),
    ("function-references", &["gc"]),
];

/// The proposals that turning `name` off also turns off.
pub fn built_on(name: &str) -> &'static [&'static str] {
    BUILT_ON
        .iter()
        .find(|(base, _)| *base == name)
        .map_or(&[], |(_, dependents)| dependents)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_name_maps_to_a_flag() {
        for name in WASM_FEATURE_NAMES {
            assert!(wasm_feature(name).is_some(), "{name} has no flag");
        }
        assert!(wasm_feature("no-such-proposal").is_none());
        for (base, dependents) in BUILT_ON {
            assert!(wasm_feature(base).is_some(), "{base}");
            for dependent in *dependents {
                assert!(wasm_feature(dependent).is_some(), "{dependent}");
            }
        }
    }
}
