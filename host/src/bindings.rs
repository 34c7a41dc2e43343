//! Host-side bindings for the `kiln:compiler` world, generated from the
//! same `wit/` files the guest exports.

wasmtime::component::bindgen!({
    world: "kiln",
    path: "../wit",
});

pub(crate) use exports::kiln::compiler::compiler as wit;
