//! The threaded guest: Wasmtime's parallel compilation inside the sandbox
//! gives the native compile's exact bytes, really uses its threads, and
//! serves concurrent jobs that share nothing.

use crate::{GuestPath, compile, fixture, sandbox};
use host::{Artifact, CompileRequest, CompileStats, Error, Limits, Options, Sandbox, Threads};

fn options(triple: &str) -> Options {
    Options::for_target(triple)
}

/// Compiles `input` on `sandbox` on exactly `threads` threads, with what
/// the compile took.
fn compile_on(
    sandbox: &Sandbox,
    input: &[u8],
    options: &Options,
    threads: usize,
) -> Result<(Artifact, CompileStats), Error> {
    let request = CompileRequest::new(input, options).threads(Threads::Exactly(threads));
    let compiled = sandbox.compile(&request)?;
    Ok((compiled.artifact, compiled.stats))
}

#[test]
fn every_path_gives_the_native_bytes() {
    let input = crate::limits::slow_module();
    for triple in [
        "x86_64-unknown-linux-gnu",
        "aarch64-unknown-linux-gnu",
        "pulley64",
    ] {
        let native = kiln_guest::compile(input.as_bytes(), &options(triple)).unwrap();
        for path in GuestPath::ALL {
            let artifact = path
                .compile(input.as_bytes(), &options(triple), &Limits::default())
                .unwrap_or_else(|e| panic!("{path:?} {triple}: {e}"));
            assert!(
                artifact.bytes == native.bytes,
                "{path:?} {triple}: differs from native"
            );
            assert_eq!(artifact.function_count, 300);
        }
    }
}

#[test]
fn parallel_compiles_start_their_threads() {
    let input = crate::limits::slow_module();
    let opts = options("x86_64-unknown-linux-gnu");
    let (_, one) = compile_on(sandbox(), input.as_bytes(), &opts, 1).unwrap();
    assert_eq!(one.threads, 0, "a one-thread compile starts no workers");
    let (_, four) = compile_on(sandbox(), input.as_bytes(), &opts, 4).unwrap();
    assert_eq!(four.threads, 4, "{four:?}");
    assert!(
        four.guest_memory_bytes > one.guest_memory_bytes,
        "{four:?} vs {one:?}"
    );
}

#[test]
fn small_inputs_compile_on_one_thread() {
    let input = fixture("math.wat");
    assert!(input.len() < host::CODE_BYTES_PER_THREAD);
    assert_eq!(host::compile_threads(&input, 8), 1);
    let artifact = compile(&input, &options("x86_64-unknown-linux-gnu")).unwrap();
    let native = kiln_guest::compile(&input, &options("x86_64-unknown-linux-gnu")).unwrap();
    assert!(artifact.bytes == native.bytes);
}

#[test]
fn threads_follow_the_code_not_the_file() {
    // A module whose bytes are nearly all data gets one thread; one with
    // about five threads' worth of function bodies gets about five, up to
    // the jobs allowed.
    let data_only = wat::parse_str(format!(
        "(module (memory 1) (data (i32.const 0) \"{}\") (func))",
        "x".repeat(60_000)
    ))
    .unwrap();
    assert!(data_only.len() > 4 * host::CODE_BYTES_PER_THREAD);
    assert_eq!(host::compile_threads(&data_only, 8), 1);
    // Each body: 1 byte of size, 1 of locals, 10 of instructions, 1 `end`.
    let body = " (func (result i32) i32.const 1 i32.const 2 i32.add i32.const 3 i32.mul)";
    let functions = 5 * host::CODE_BYTES_PER_THREAD / 13;
    let code = wat::parse_str(format!("(module{})", body.repeat(functions))).unwrap();
    let threads = host::compile_threads(&code, 8);
    assert!((4..=5).contains(&threads), "{threads} threads");
    assert_eq!(host::compile_threads(&code, 2), 2);
    assert_eq!(host::compile_threads(b"(module)", 8), 1, "text: its length");
}

#[test]
fn concurrent_parallel_jobs_stay_apart() {
    // Two different inputs at once, each on several threads: each gets its
    // own bytes, as if compiled alone.
    let slow = crate::limits::slow_module().into_bytes();
    let primes = fixture("primes.wat");
    let opts = options("x86_64-unknown-linux-gnu");
    let expected_slow = kiln_guest::compile(&slow, &opts).unwrap().bytes;
    let expected_primes = kiln_guest::compile(&primes, &opts).unwrap().bytes;
    std::thread::scope(|scope| {
        let jobs: Vec<_> = (0..4)
            .map(|i| {
                let (input, expected) = if i % 2 == 0 {
                    (&slow, &expected_slow)
                } else {
                    (&primes, &expected_primes)
                };
                let opts = &opts;
                scope.spawn(move || {
                    let artifact = GuestPath::Threads(3)
                        .compile(input, opts, &Limits::default())
                        .unwrap();
                    assert!(
                        &artifact.bytes == expected,
                        "job {i} got another job's bytes"
                    );
                })
            })
            .collect();
        for job in jobs {
            job.join().unwrap();
        }
    });
}

#[test]
fn bad_input_is_a_typed_error_on_every_thread_count() {
    let mut input = crate::limits::slow_module().into_bytes();
    // Break a function body deep in the module: the error surfaces from
    // the validator while functions compile in parallel.
    let text = String::from_utf8(input.clone()).unwrap();
    let at = text.rfind("i32.xor").unwrap();
    input.splice(at..at + "i32.xor".len(), b"f32.add".iter().copied());
    for jobs in [1, 2, 4] {
        let result = GuestPath::Threads(jobs).compile(
            &input,
            &options("x86_64-unknown-linux-gnu"),
            &Limits::default(),
        );
        assert!(
            matches!(
                result,
                Err(host::Error::Compile(
                    host::CompileError::InvalidInput { .. }
                ))
            ),
            "{jobs} threads: {result:?}"
        );
    }
}

#[test]
fn a_job_on_a_used_memory_sees_a_new_one() {
    // Jobs reuse the memories of finished ones (zeroed). A small job after
    // a large one on the same sandbox must see the memory as a new one:
    // the same size and layout as on a sandbox that never ran anything,
    // and the native bytes.
    let opts = options("x86_64-unknown-linux-gnu");
    let limits = Limits::default();
    let small = fixture("primes.wat");
    let large = crate::limits::slow_module().into_bytes();
    let fresh = || {
        Sandbox::with_dirs(
            limits,
            Some(crate::cache_dir()),
            Some(crate::cli::config_dir()),
        )
        .unwrap()
    };
    let (first, alone) = compile_on(&fresh(), &small, &opts, 1).unwrap();
    let used = fresh();
    let (_, big) = compile_on(&used, &large, &opts, 4).unwrap();
    for _ in 0..3 {
        let (again, after) = compile_on(&used, &small, &opts, 1).unwrap();
        assert!(again.bytes == first.bytes, "differs from a fresh sandbox's");
        assert_eq!(after.guest_memory_bytes, alone.guest_memory_bytes);
        assert!(after.guest_memory_bytes < big.guest_memory_bytes);
    }
    let native = kiln_guest::compile(&small, &opts).unwrap();
    assert!(first.bytes == native.bytes);
}
