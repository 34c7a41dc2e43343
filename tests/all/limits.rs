//! Sandbox limits: each one hit gives its own error, promptly, and the same
//! sandbox keeps serving.

use crate::{GuestPath, compile, fixture, sandbox};
use host::{CompileRequest, Error, LimitKind, Limits, Options};
use std::fmt::Write;
use std::time::{Duration, Instant};

/// A module whose compilation takes seconds: many functions, each a long
/// chain of arithmetic on locals that Cranelift must optimise and allocate.
pub fn slow_module() -> String {
    let mut wat = String::from("(module\n");
    for f in 0..300 {
        let _ = writeln!(
            wat,
            "(func (export \"f{f}\") (param i32 i32) (result i32) (local i32)"
        );
        for i in 0..400 {
            let _ = writeln!(
                wat,
                "local.get 0 local.get 1 i32.const {i} i32.mul i32.add local.get 2 i32.xor local.set 2"
            );
        }
        wat.push_str("local.get 2)\n");
    }
    wat.push(')');
    wat
}

fn options() -> Options {
    Options::for_target("x86_64-unknown-linux-gnu")
}

fn assert_serves_good_input() {
    let artifact = compile(&fixture("math.wat"), &options());
    assert!(
        artifact.is_ok(),
        "the sandbox stopped serving: {artifact:?}"
    );
}

#[test]
fn deadline_trips_within_a_second_of_the_timeout() {
    let timeout = Duration::from_millis(300);
    let limits = Limits {
        timeout,
        ..Limits::default()
    };
    // The component is loaded on its first use; load it before timing.
    crate::sandbox().guest_imports().unwrap();
    // On the threaded path the compile's worker threads are joined before
    // it returns, so a prompt return also means none is left behind.
    for path in GuestPath::ALL {
        let start = Instant::now();
        let result = path.compile(slow_module().as_bytes(), &options(), &limits);
        let elapsed = start.elapsed();
        assert!(
            matches!(result, Err(Error::Limit(LimitKind::Time { limit })) if limit == timeout),
            "{path:?}: {result:?}"
        );
        assert!(
            elapsed < timeout + Duration::from_secs(1),
            "{path:?}: returned after {elapsed:?}"
        );
        assert_serves_good_input();
    }
    assert_eq!(
        host::Error::Limit(LimitKind::Time { limit: timeout }).exit_code(),
        3
    );
}

#[test]
fn slow_module_compiles_without_the_deadline() {
    // The deadline test means something only if this input really is
    // slow-but-valid rather than rejected.
    let artifact = compile(slow_module().as_bytes(), &options()).unwrap();
    assert_eq!(artifact.function_count, 300);
}

#[test]
fn memory_cap_trips() {
    for path in GuestPath::ALL {
        let limits = Limits {
            max_memory: 1 << 20,
            ..Limits::default()
        };
        let result = path.compile(&fixture("primes.wat"), &options(), &limits);
        assert!(
            matches!(result, Err(Error::Limit(LimitKind::Memory { limit })) if limit == 1 << 20),
            "{path:?}: {result:?}"
        );
        // A cap that leaves room for the compiler to start and to compile a
        // small module, but not for a large input's compile, trips
        // mid-compile.
        let limits = Limits {
            max_memory: 24 << 20,
            ..Limits::default()
        };
        let small = path.compile(&fixture("primes.wat"), &options(), &limits);
        assert!(small.is_ok(), "{path:?}: {small:?}");
        let result = path.compile(slow_module().as_bytes(), &options(), &limits);
        assert!(
            matches!(result, Err(Error::Limit(LimitKind::Memory { .. }))),
            "{path:?}: {result:?}"
        );
        assert_serves_good_input();
    }
}

#[test]
fn output_cap_trips() {
    let limits = Limits {
        max_output: 1024,
        ..Limits::default()
    };
    let input = fixture("primes.wat");
    let options = options();
    let result = sandbox().compile(&CompileRequest::new(&input, &options).limits(limits));
    match result {
        Err(Error::Limit(LimitKind::Output { limit, size })) => {
            assert_eq!(limit, 1024);
            assert!(size > 1024);
        }
        other => panic!("expected the output limit, got {other:?}"),
    }
    assert_serves_good_input();
}
