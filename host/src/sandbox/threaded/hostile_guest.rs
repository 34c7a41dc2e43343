//! Tests: a stand-in for the threaded guest that hands the host's imports
//! ranges outside its memory, as a compiler bug or a hijacked guest could.
//! Each such call must trap, so that the job ends with a typed sandbox
//! error, and the host must come out of it unharmed and keep serving.

use super::ThreadedGuest;
use crate::sandbox::threaded_engine_config;
use crate::{Error, Limits, Options};
use wasmtime::{Engine, Module};

/// The stand-in: `kiln_compile` makes the import call that the first byte
/// of its input picks, with the operands that follow it (three
/// little-endian `i32`s), and then answers with the empty message at 512
/// (a header of zeros), which is no response.
const GUEST: &str = r#"
(module
  (import "env" "memory" (memory 1 65536 shared))
  (import "kiln" "sha256_compress" (func $sha256 (param i32 i32 i32)))
  (import "kiln" "memory_copy" (func $copy (param i32 i32 i32)))
  (import "kiln" "memory_fill" (func $fill (param i32 i32 i32)))
  (global (export "__stack_pointer") (mut i32) (i32.const 32768))
  (global (export "__tls_size") i32 (i32.const 0))
  (global (export "__tls_align") i32 (i32.const 1))
  (global $next (mut i32) (i32.const 1024))
  (func (export "__wasm_init_tls") (param i32))
  (func (export "kiln_alloc") (param $len i32) (result i32)
    (global.get $next)
    (global.set $next (i32.add (global.get $next)
      (i32.and (i32.add (local.get $len) (i32.const 15)) (i32.const -16)))))
  (func (export "kiln_compile") (param $in i32) (param i32 i32 i32) (result i32)
    (local $a i32) (local $b i32) (local $c i32)
    (local.set $a (i32.load offset=1 align=1 (local.get $in)))
    (local.set $b (i32.load offset=5 align=1 (local.get $in)))
    (local.set $c (i32.load offset=9 align=1 (local.get $in)))
    (block $fill_ (block $copy_ (block $sha256_
      (br_table $sha256_ $copy_ $fill_ (i32.load8_u (local.get $in))))
      (call $sha256 (local.get $a) (local.get $b) (local.get $c))
      (return (i32.const 512)))
      (call $copy (local.get $a) (local.get $b) (local.get $c))
      (return (i32.const 512)))
    (call $fill (local.get $a) (local.get $b) (local.get $c))
    (i32.const 512)))
"#;

const SHA256: u8 = 0;
const COPY: u8 = 1;
const FILL: u8 = 2;

fn guest() -> ThreadedGuest {
    let engine = Engine::new(&threaded_engine_config()).unwrap();
    let module = Module::new(&engine, wat::parse_str(GUEST).unwrap()).unwrap();
    ThreadedGuest::new(&engine, module).unwrap()
}

/// Runs the stand-in's `call` with `operands` and returns the job's error.
fn hostile(guest: &ThreadedGuest, call: u8, operands: [u32; 3]) -> Error {
    let mut input = vec![call];
    for operand in operands {
        input.extend_from_slice(&operand.to_le_bytes());
    }
    let options = Options::for_target("x86_64-unknown-linux-gnu");
    match guest.compile(&input, &options, 1, &Limits::default(), None) {
        Ok(_) => panic!("call {call} {operands:x?} succeeded"),
        Err(error) => error,
    }
}

#[test]
fn ranges_outside_the_memory_trap_and_the_host_serves_on() {
    let guest = guest();
    let end = 64 << 10;
    for (call, operands) in [
        // The state, the blocks, or the blocks' length past the end.
        (SHA256, [u32::MAX - 8, 0, 1]),
        (SHA256, [0, end - 32, 1]),
        (SHA256, [0, 0, u32::MAX / 64 + 1]),
        (SHA256, [0, 0, u32::MAX]),
        // Either range of a copy, and a fill, past the end.
        (COPY, [0, end - 600, 601]),
        (COPY, [end - 600, 0, 601]),
        (COPY, [0, 0, u32::MAX]),
        (FILL, [end - 600, 0, 601]),
        (FILL, [u32::MAX, 0, 1000]),
    ] {
        let error = hostile(&guest, call, operands);
        assert!(
            matches!(&error, Error::Sandbox { message } if message.contains("out of bounds")),
            "call {call} {operands:x?}: {error:?}"
        );
    }
}

#[test]
fn ranges_inside_the_memory_are_served() {
    // The same calls in bounds return, and the host gets as far as the
    // stand-in's empty answer, which it reports as no response.
    let guest = guest();
    for (call, operands) in [
        (SHA256, [0, 64, 4]),
        (COPY, [4096, 0, 601]),
        (FILL, [4096, 7, 601]),
    ] {
        let error = hostile(&guest, call, operands);
        assert!(
            matches!(&error, Error::Sandbox { message } if message.contains("malformed message")),
            "call {call} {operands:x?}: {error:?}"
        );
    }
}
