//! Runners in child processes: this machine's (`kiln runner`) always, and
//! the cross-built ones under qemu-user when `scripts/build-runners.sh` has
//! installed them; where they are not installed, the emulated test says so
//! on stderr and checks only that the absence is reported as a typed error.

use crate::{compile, sandbox};
use host::cross_check::{cross_check, reference_run};
use host::emulate::{EmulateError, Runner, emulated_targets};
use host::run::{Outcome, RunConfig};
use host::{Error, Options, host_triple};
use kiln_runner::protocol::Stage;
use std::path::{Path, PathBuf};

const FIB_90: &str = "2880067194370816120";

fn fixture() -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/cross.wat");
    std::fs::read(path).expect("the fixture is there")
}

fn native_runner() -> Runner {
    Runner::native(
        PathBuf::from(env!("CARGO_BIN_EXE_kiln")),
        vec!["runner".into()],
    )
}

fn command() -> RunConfig {
    RunConfig {
        args: vec!["cross".to_string()],
        ..RunConfig::default()
    }
}

fn invoke(name: &str, args: &[&str]) -> RunConfig {
    RunConfig {
        args: vec!["cross".to_string()],
        invoke: Some(name.to_string()),
        invoke_args: args.iter().map(|a| a.to_string()).collect(),
        ..RunConfig::default()
    }
}

#[test]
fn this_machines_runner_runs_commands_exports_and_traps() {
    let options = Options::for_target(host_triple().unwrap());
    let artifact = compile(&fixture(), &options).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cross.cwasm");
    std::fs::write(&path, &artifact.bytes).unwrap();
    let runner = native_runner();

    let ran = runner
        .run(&path, &options, &command(), dir.path(), true)
        .unwrap();
    assert_eq!(ran.outcome, Ok(Outcome::Exited(0)));
    assert_eq!(String::from_utf8_lossy(&ran.stdout), format!("{FIB_90}\n"));
    assert!(ran.stderr.is_empty());

    let fib = runner
        .run(&path, &options, &invoke("fib", &["90"]), dir.path(), true)
        .unwrap();
    assert_eq!(fib.outcome, Ok(Outcome::Returned(vec![FIB_90.to_string()])));
    let low = runner
        .run(&path, &options, &invoke("low_byte", &[]), dir.path(), true)
        .unwrap();
    assert_eq!(low.outcome, Ok(Outcome::Returned(vec!["68".to_string()])));

    let trap = runner
        .run(
            &path,
            &options,
            &invoke("div", &["1", "0"]),
            dir.path(),
            true,
        )
        .unwrap();
    let failure = trap.outcome.unwrap_err();
    assert_eq!(failure.stage, Stage::Run);
    let message = failure.message;
    assert!(message.contains("divide by zero"), "{message}");

    // An artifact compiled with other options is refused at load, and the
    // runner still answers.
    let fuel = Options {
        wasmtime: host::WasmtimeOptions::from_args(["-Wfuel=1"]).unwrap().0,
        ..options.clone()
    };
    let refused = runner
        .run(&path, &fuel, &command(), dir.path(), true)
        .unwrap();
    let failure = refused.outcome.unwrap_err();
    assert_eq!(failure.stage, Stage::Load);
    let message = failure.message;
    assert!(message.contains("does not load"), "{message}");
}

#[test]
fn a_runner_that_gives_no_response_is_a_typed_error() {
    let run_with = |program: &str| {
        let triple = "x86_64-unknown-linux-gnu";
        Runner::native(program.into(), Vec::new())
            .run(
                Path::new("nothing.cwasm"),
                &Options::for_target(triple),
                &command(),
                Path::new("."),
                true,
            )
            .unwrap_err()
    };
    // `true` exits 0 without writing a response.
    let error = run_with("true");
    assert!(
        matches!(
            error,
            Error::Emulate(EmulateError::NoResponse {
                status: Some(0),
                ..
            })
        ),
        "{error:?}"
    );
    let error = run_with("/nonexistent/runner");
    assert!(
        matches!(error, Error::Emulate(EmulateError::Spawn { .. })),
        "{error:?}"
    );
}

#[test]
fn targets_without_emulation_are_refused_by_name() {
    for triple in [
        "x86_64-unknown-linux-gnu",
        "pulley64",
        "mips-unknown-linux-gnu",
    ] {
        let error = Runner::emulated(triple).unwrap_err();
        assert!(
            matches!(error, EmulateError::NotEmulated { .. }),
            "{error:?}"
        );
    }
    let error =
        Runner::emulated_from("aarch64-unknown-linux-gnu", Path::new("/nonexistent")).unwrap_err();
    assert!(matches!(error, EmulateError::Missing { .. }), "{error:?}");
}

/// Each emulated target's artifact, run under qemu-user, does what this
/// machine's does: the command's output, returned values, a trap.
#[test]
fn emulated_artifacts_agree_with_this_machine() {
    let triples: Vec<&str> = emulated_targets().collect();
    agree_under_emulation(&triples, Options::for_target);
}

/// The same for Winch's code, on the targets Winch compiles for.
#[test]
fn emulated_winch_artifacts_agree_with_this_machine() {
    let winch = |triple: &str| {
        Options::with_wasmtime_flags(triple, ["-C", "compiler=winch"]).expect("the flag parses")
    };
    let targets: Vec<&str> = emulated_targets()
        .filter(|triple| triple.starts_with("aarch64"))
        .collect();
    agree_under_emulation(&targets, winch);
}

/// Runs the fixture compiled with `options(triple)` on each of `triples`
/// that is installed under qemu-user, and on this machine with
/// `options(host)`, and demands the same results; says on stderr which
/// were not installed.
fn agree_under_emulation(triples: &[&str], options: impl Fn(&str) -> Options) {
    let input = fixture();
    let dir = tempfile::tempdir().unwrap();
    let configs = [
        command(),
        invoke("fib", &["90"]),
        invoke("low_byte", &[]),
        invoke("sqrt", &["2"]),
        invoke("div", &["7", "0"]),
    ];
    // One reference run per configuration serves every architecture.
    let host_options = options(host_triple().unwrap());
    let references: Vec<_> = configs
        .iter()
        .map(|config| {
            reference_run(
                sandbox(),
                &input,
                &host_options,
                config,
                dir.path(),
                &native_runner(),
            )
            .unwrap()
        })
        .collect();
    let mut ran = Vec::new();
    for &triple in triples {
        let emulated = match Runner::emulated(triple) {
            Ok(runner) => runner,
            Err(error @ EmulateError::Missing { .. }) => {
                eprintln!("SKIPPED emulated run for {triple}: {error}");
                continue;
            }
            Err(error) => panic!("{triple}: {error}"),
        };
        let options = options(triple);
        let artifact = compile(&input, &options).unwrap();
        for (config, reference) in configs.iter().zip(&references) {
            let compared = cross_check(
                &artifact,
                &options,
                config,
                dir.path(),
                &emulated,
                reference,
            )
            .unwrap();
            assert!(compared.ran_emulated, "{triple}: {compared:?}");
            assert!(
                compared.agrees,
                "{triple} {:?}: {compared:?}",
                config.invoke
            );
        }
        ran.push(triple);
    }
    if ran.is_empty() {
        eprintln!(
            "SKIPPED: no emulated target is installed (qemu-user, the cross C libraries and \
             the cross-built runners come from scripts/build-runners.sh); only this machine's \
             runner was tested"
        );
    }
}
