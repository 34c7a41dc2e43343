//! Builds the three guest builds and embeds them in the host:
//! - the compiler component, `kiln-guest` for `wasm32-wasip2`;
//! - the same compiler as a `wasi:http` handler component, `kiln-guest-http`
//!   for `wasm32-wasip2` (not run by the host: `kiln component --http`
//!   writes it out for `wasmtime serve` and other `wasi:http` hosts);
//! - the threaded core module, for `wasm32-unknown-unknown` with atomics, a
//!   shared imported memory and the thread-local-storage symbols exported,
//!   then rewritten by `build/rewrite.rs` so that the host can interrupt
//!   its waits and see its memory growth.
//!
//! The guest is built by a nested `cargo rustc` with its own target directory
//! (`target/kiln-guest`), so debug and release host builds share one guest
//! build and the outer cargo's lock is never contended. The outer cargo's
//! environment is dropped entirely: its flags, wrappers and profile variables
//! are for the host, not the guest.
//!
//! Two toolchains can build the guest:
//! - a rustup toolchain with the `wasm32-wasip2` target installed;
//! - Debian's `rustc-web`/`cargo-web` with `rust-web-src` and `lld-22`
//!   (`/usr/bin/cargo`), which has no prebuilt wasm std, so the std is built
//!   from source with `-Zbuild-std` and linked against Debian's `wasi-libc`.
//!
//! The threaded build always needs the std built from source (the atomics
//! feature changes it), so it always takes Debian's toolchain.
//! `scripts/setup.sh` installs it.
//! `KILN_GUEST_WASM=/path/to/guest.wasm` skips the component's build and
//! embeds that file; `KILN_HTTP_WASM` does the same for the `wasi:http`
//! component, and `KILN_THREADED_WASM` for the threaded module (as linked:
//! the rewrite still runs).
//! A finished build is kept in Kiln's cache directory under a hash of its
//! inputs (`build/guest_builds.rs`), and a later build of the same inputs,
//! from any clone, embeds it without building.
//! `KILN_GUEST_PROFILE` picks the cargo profile; by default a release host
//! gets `guest-lto` (fat LTO, one codegen unit: ~15% faster sandboxed
//! compiles, a build of ~10-15 minutes on 2 cores) and every other build
//! `guest` (no LTO, quick to rebuild).

#[path = "build/guest_builds.rs"]
mod guest_builds;
#[path = "build/rewrite.rs"]
mod rewrite;
#[path = "build/short_copies.rs"]
mod short_copies;

use sha2::{Digest, Sha256};
use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-wasip2";
const THREADED_TARGET: &str = "wasm32-unknown-unknown";
/// The threaded build's code generation and link flags: atomics for the
/// std and everything else, a shared memory the host creates (up to 4 GiB),
/// and the symbols the host needs to give each worker instance its own
/// stack and thread-local storage.
const THREADED_RUSTFLAGS: &[&str] = &[
    GUEST_INLINING,
    "-Ctarget-feature=+atomics,+bulk-memory,+mutable-globals",
    "-Clinker=wasm-ld",
    "-Clink-arg=--shared-memory",
    "-Clink-arg=--import-memory",
    "-Clink-arg=--max-memory=4294967296",
    "-Clink-arg=--export=__wasm_init_tls",
    "-Clink-arg=--export=__tls_size",
    "-Clink-arg=--export=__tls_align",
    "-Clink-arg=--export=__stack_pointer",
];
/// Both guest builds inline more than LLVM's default (250) would.
///
/// A call costs more in a wasm guest than in native code: Wasmtime passes
/// every wasm function two context pointers, checks the stack limit in its
/// prologue (two dependent loads), and a Rust function whose frame needs
/// memory moves the shadow stack pointer, a global kept in the instance,
/// down and back up, while its return values of more than one scalar go
/// through that memory. Wasmtime compiles each wasm function on its own,
/// so only LLVM can inline across them. Measured on the threaded guest
/// (one thread, the same compiles alternately, `--profile guest`): 7-14%
/// less time on quicksort, pulldown-cmark and gcc-loops, for a module 20%
/// larger.
const GUEST_INLINING: &str = "-Cllvm-args=-inline-threshold=600";
const DEBIAN_CARGO: &str = "/usr/bin/cargo";
const DEBIAN_RUSTC: &str = "/usr/bin/rustc";
const DEBIAN_WASM_LD: &str = "/usr/bin/wasm-ld-22";
const DEBIAN_COMPONENT_LD: &str = "/usr/lib/rustlib/x86_64-unknown-linux-gnu/bin/wasm-component-ld";
const DEBIAN_WASI_LIBC: &str = "/usr/lib/wasm32-wasi";

/// Variables passed through to the nested cargo; everything else is dropped.
const KEPT_ENV: &[&str] = &[
    "PATH",
    "HOME",
    "CARGO_HOME",
    "RUSTUP_HOME",
    "TMPDIR",
    "http_proxy",
    "https_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "no_proxy",
    "NO_PROXY",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "CARGO_NET_OFFLINE",
];

fn main() {
    println!("cargo:rerun-if-env-changed=KILN_GUEST_WASM");
    println!("cargo:rerun-if-env-changed=KILN_THREADED_WASM");
    println!("cargo:rerun-if-env-changed=KILN_HTTP_WASM");
    println!("cargo:rerun-if-env-changed=KILN_GUEST_PROFILE");
    println!("cargo:rerun-if-changed=build/rewrite.rs");
    println!("cargo:rerun-if-changed=build/short_copies.rs");
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR"));
    let component = given_or_built("KILN_GUEST_WASM", Build::Component);
    let http = given_or_built("KILN_HTTP_WASM", Build::Http);
    let threaded = given_or_built("KILN_THREADED_WASM", Build::Threaded);
    let threaded = rewrite::rewrite(&threaded).unwrap_or_else(|e| panic!("{e}"));
    let mut source = String::new();
    for (bytes, file, name, what) in [
        (
            &component,
            "kiln_guest.wasm",
            "GUEST_COMPONENT",
            "The compiler component, built from `guest/` for `wasm32-wasip2`.",
        ),
        (
            &http,
            "kiln_guest_http.wasm",
            "HTTP_COMPONENT",
            "The compiler as a `wasi:http` handler component, built from `guest-http/` for `wasm32-wasip2`.",
        ),
        (
            &threaded,
            "kiln_threaded.wasm",
            "THREADED_MODULE",
            "The threaded compiler module, built from `guest/` for `wasm32-unknown-unknown` with atomics.",
        ),
    ] {
        let embedded = out_dir.join(file);
        fs::write(&embedded, bytes).expect("writing an embedded guest");
        let hash = Sha256::digest(bytes)
            .iter()
            .fold(String::new(), |mut hex, byte| {
                let _ = write!(hex, "{byte:02x}");
                hex
            });
        let prefix = name.split('_').next().unwrap_or(name);
        let _ = write!(
            source,
            "/// {what}\n\
             pub const {name}: &[u8] = include_bytes!({embedded:?});\n\
             /// SHA-256 of [`{name}`], hex.\n\
             pub const {prefix}_SHA256: &str = \"{hash}\";\n"
        );
    }
    fs::write(out_dir.join("guest.rs"), source).expect("writing guest.rs");
}

/// Which guest build.
#[derive(Clone, Copy)]
enum Build {
    Component,
    Http,
    Threaded,
}

impl Build {
    /// The package built, and the file name of its wasm (without `.wasm`).
    fn package(self) -> (&'static str, &'static str) {
        match self {
            Build::Component | Build::Threaded => ("kiln-guest", "kiln_guest"),
            Build::Http => ("kiln-guest-http", "kiln_guest_http"),
        }
    }
}

fn given_or_built(variable: &str, build: Build) -> Vec<u8> {
    let wasm = match env::var_os(variable) {
        Some(path) => {
            let path = PathBuf::from(path);
            println!("cargo:rerun-if-changed={}", path.display());
            path
        }
        None => build_guest(build),
    };
    fs::read(&wasm).unwrap_or_else(|e| panic!("reading {}: {e}", wasm.display()))
}

fn build_guest(build: Build) -> PathBuf {
    let manifest_dir =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let workspace = manifest_dir
        .parent()
        .expect("host/ has a parent")
        .to_path_buf();
    // A release host embeds the fully optimised guest (fat LTO: a slower
    // build, a faster compiler); test and debug builds use the quicker one.
    let profile = env::var("KILN_GUEST_PROFILE").unwrap_or_else(|_| {
        match env::var("PROFILE").as_deref() {
            Ok("release") => "guest-lto",
            _ => "guest",
        }
        .to_string()
    });
    let target_dir = env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join("target"))
        .join("kiln-guest");

    // The component builds take a rustup toolchain with the wasm std where
    // there is one; everything else takes Debian's.
    let (target, rustup) = match build {
        Build::Component | Build::Http => (TARGET, rustup_cargo_with_target()),
        Build::Threaded => (THREADED_TARGET, None),
    };
    let (package, file) = build.package();
    // A build of the same inputs made before, by any clone: see
    // `build/guest_builds.rs`.
    let cache = guest_builds::dir().map(|dir| {
        let (label, rustc, libc) = match &rustup {
            Some((_, rustc)) => ("rustup", rustc.clone(), None),
            None => (
                "debian",
                PathBuf::from(DEBIAN_RUSTC),
                Some(Path::new(DEBIAN_WASI_LIBC)),
            ),
        };
        let key = guest_builds::key(
            &workspace,
            &[package, target, &profile, label],
            &rustc,
            libc,
        );
        (dir, format!("{package}-{target}-{profile}-{}", &key[..16]))
    });
    if let Some((dir, name)) = &cache
        && let Some(wasm) = guest_builds::lookup(dir, name)
    {
        return wasm;
    }
    let mut cargo = match rustup {
        Some((cargo, _)) => cargo,
        None => debian_cargo(&target_dir, target),
    };
    cargo
        .current_dir(&workspace)
        .args(["rustc", "-p", package, "--lib", "--crate-type", "cdylib"])
        .args(["--target", target, "--profile", &profile])
        .arg("--target-dir")
        .arg(&target_dir);
    let status = cargo
        .status()
        .unwrap_or_else(|e| panic!("failed to start the guest build ({cargo:?}): {e}"));
    assert!(
        status.success(),
        "building {package} for {target} failed ({status}); run scripts/setup.sh to install the wasm toolchain"
    );

    let artifacts = target_dir.join(target).join(&profile);
    emit_rerun_lines(&artifacts.join(format!("{file}.d")), &workspace);
    let built = artifacts.join(format!("{file}.wasm"));
    if let Some((dir, name)) = &cache {
        guest_builds::store(dir, name, &built);
    }
    built
}

/// A cargo whose rustup toolchain already has the wasm std, if there is
/// one, and the rustc it runs.
fn rustup_cargo_with_target() -> Option<(Command, PathBuf)> {
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let sysroot = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()?;
    let sysroot = PathBuf::from(String::from_utf8(sysroot.stdout).ok()?.trim());
    if !sysroot.join("lib/rustlib").join(TARGET).is_dir() {
        return None;
    }
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = clean_command(cargo);
    command
        .env("RUSTC", &rustc)
        .env("RUSTFLAGS", GUEST_INLINING);
    Some((command, PathBuf::from(rustc)))
}

/// Debian's cargo, building the std from source for `target`.
fn debian_cargo(target_dir: &Path, target: &str) -> Command {
    for needed in [
        DEBIAN_CARGO,
        DEBIAN_RUSTC,
        DEBIAN_WASM_LD,
        DEBIAN_COMPONENT_LD,
        DEBIAN_WASI_LIBC,
    ] {
        assert!(
            Path::new(needed).exists(),
            "{needed} is missing (the {target} guest build needs Debian's wasm toolchain): run scripts/setup.sh"
        );
    }
    // rustc looks for `wasm-ld` by that name; Debian ships it versioned.
    let linker_dir = target_dir.join("linker-bin");
    fs::create_dir_all(&linker_dir).expect("creating the linker directory");
    let link = linker_dir.join("wasm-ld");
    if fs::read_link(&link).ok().as_deref() != Some(Path::new(DEBIAN_WASM_LD)) {
        let _ = fs::remove_file(&link);
        std::os::unix::fs::symlink(DEBIAN_WASM_LD, &link).expect("linking wasm-ld");
    }
    let path = env::var_os("PATH").unwrap_or_default();
    let mut paths = vec![linker_dir];
    paths.extend(env::split_paths(&path));
    let mut command = clean_command(DEBIAN_CARGO.into());
    command
        .env("PATH", env::join_paths(paths).expect("PATH"))
        .env("RUSTC", DEBIAN_RUSTC)
        .env("RUSTC_BOOTSTRAP", "1")
        .env(
            "RUSTFLAGS",
            match target {
                THREADED_TARGET => THREADED_RUSTFLAGS.join(" "),
                _ => format!("{GUEST_INLINING} -L {DEBIAN_WASI_LIBC}"),
            },
        )
        .arg("-Zbuild-std=std,panic_abort");
    command
}

fn clean_command(program: std::ffi::OsString) -> Command {
    let mut command = Command::new(program);
    command.env_clear();
    for name in KEPT_ENV {
        if let Some(value) = env::var_os(name) {
            command.env(name, value);
        }
    }
    command
}

/// Turns the guest's dep-info file into `rerun-if-changed` lines for the
/// files of this workspace (the std's own sources never change here).
fn emit_rerun_lines(dep_info: &Path, workspace: &Path) {
    let Ok(text) = fs::read_to_string(dep_info) else {
        println!(
            "cargo:rerun-if-changed={}",
            workspace.join("guest").display()
        );
        return;
    };
    let Some((_, deps)) = text.lines().next().and_then(|line| line.split_once(": ")) else {
        return;
    };
    for dep in deps.split_whitespace() {
        if Path::new(dep).starts_with(workspace) {
            println!("cargo:rerun-if-changed={dep}");
        }
    }
    for manifest in [
        "Cargo.toml",
        "Cargo.lock",
        "guest/Cargo.toml",
        "guest-http/Cargo.toml",
        "settings/Cargo.toml",
        "wit",
    ] {
        println!(
            "cargo:rerun-if-changed={}",
            workspace.join(manifest).display()
        );
    }
}
