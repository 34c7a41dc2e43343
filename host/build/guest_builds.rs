//! Guest builds kept by content hash, so that a fresh clone of an
//! unchanged guest (CI's clean checkout, a second worktree) embeds the
//! build it made before instead of spending ten minutes or more making it
//! again.
//!
//! The key is a SHA-256 over everything the nested build reads from this
//! workspace and what it is told: every file of `guest/`, `guest-http/`,
//! `settings/`, `wit/` and `patches/`, the workspace's `Cargo.toml` and
//! `Cargo.lock`, this build script (it holds the flags), the package,
//! target and profile, and the toolchain's own account of itself
//! (`rustc -vV`, the linker's version, Debian's `wasi-libc`). Anything else
//! it reads comes from the registry at the versions `Cargo.lock` pins.
//!
//! Entries live in `guest-builds/` of Kiln's cache directory
//! (`KILN_CACHE_DIR`, else `$XDG_CACHE_HOME/kiln` or `~/.cache/kiln`, as the
//! CLI's own cache), each beside the SHA-256 of its bytes: an entry whose
//! bytes no longer match is built again, not embedded.
//! `KILN_GUEST_BUILD_CACHE=0` turns the cache off.

use sha2::{Digest, Sha256};
use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Bumped when what the key covers changes.
const KEY_VERSION: &str = "kiln-guest-build/1";

/// The workspace's parts the guest builds read, files or directories.
const INPUTS: &[&str] = &[
    "Cargo.toml",
    "Cargo.lock",
    "host/build.rs",
    "guest",
    "guest-http",
    "settings",
    "wit",
    "patches",
];

/// The cache directory for guest builds, unless turned off.
pub fn dir() -> Option<PathBuf> {
    println!("cargo:rerun-if-env-changed=KILN_GUEST_BUILD_CACHE");
    println!("cargo:rerun-if-env-changed=KILN_CACHE_DIR");
    if env::var_os("KILN_GUEST_BUILD_CACHE").is_some_and(|v| v == "0") {
        return None;
    }
    let set = |name: &str| {
        env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let kiln = set("KILN_CACHE_DIR")
        .or_else(|| set("XDG_CACHE_HOME").map(|d| d.join("kiln")))
        .or_else(|| set("HOME").map(|d| d.join(".cache/kiln")))?;
    Some(kiln.join("guest-builds"))
}

/// The key of a build: `what` names the package, target, profile and
/// toolchain; `rustc` is the compiler the build runs. Every input it
/// hashes is named to cargo, so that changing one runs the build script
/// again, whether the build then comes from the cache or not.
pub fn key(workspace: &Path, what: &[&str], rustc: &Path, wasi_libc: Option<&Path>) -> String {
    for input in INPUTS {
        println!("cargo:rerun-if-changed={}", workspace.join(input).display());
    }
    let mut hash = Sha256::new();
    let mut part = |bytes: &[u8]| {
        hash.update((bytes.len() as u64).to_le_bytes());
        hash.update(bytes);
    };
    part(KEY_VERSION.as_bytes());
    for item in what {
        part(item.as_bytes());
    }
    part(&command_output(Command::new(rustc).arg("-vV")));
    part(&command_output(Command::new("wasm-ld-22").arg("--version")));
    if let Some(libc) = wasi_libc {
        part(&fs::read(libc.join("libc.a")).unwrap_or_default());
    }
    for file in files(workspace) {
        let relative = file.strip_prefix(workspace).unwrap_or(&file);
        part(relative.to_string_lossy().as_bytes());
        part(&fs::read(&file).unwrap_or_default());
    }
    hex(&hash.finalize())
}

/// The cached build for `name` (package, target, profile, key), if its
/// bytes still match the hash stored beside them.
pub fn lookup(dir: &Path, name: &str) -> Option<PathBuf> {
    let wasm = dir.join(format!("{name}.wasm"));
    let bytes = fs::read(&wasm).ok()?;
    let recorded = fs::read_to_string(dir.join(format!("{name}.sha256"))).ok()?;
    (hex(&Sha256::digest(&bytes)) == recorded.trim()).then_some(wasm)
}

/// Keeps a finished build under `name`. Best effort: a cache that cannot
/// be written only means the next clone builds again.
pub fn store(dir: &Path, name: &str, built: &Path) {
    let Ok(bytes) = fs::read(built) else { return };
    if fs::create_dir_all(dir).is_err() {
        return;
    }
    // The bytes first, then their hash: a reader that finds the hash
    // finds whole bytes (each written to a temporary name and renamed).
    let write = |file: String, contents: &[u8]| {
        let staged = dir.join(format!(".{file}.{}", std::process::id()));
        fs::write(&staged, contents).is_ok() && fs::rename(&staged, dir.join(file)).is_ok()
    };
    if write(format!("{name}.wasm"), &bytes) {
        write(
            format!("{name}.sha256"),
            hex(&Sha256::digest(&bytes)).as_bytes(),
        );
    }
}

/// Every file under the workspace's [`INPUTS`], in a fixed order.
fn files(workspace: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut pending: Vec<PathBuf> = INPUTS.iter().map(|i| workspace.join(i)).collect();
    while let Some(path) = pending.pop() {
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n == "target") {
                continue;
            }
            if let Ok(entries) = fs::read_dir(&path) {
                pending.extend(entries.filter_map(|e| Some(e.ok()?.path())));
            }
        } else if path.is_file() {
            out.push(path);
        }
    }
    out.sort();
    out
}

fn command_output(command: &mut Command) -> Vec<u8> {
    command.output().map(|o| o.stdout).unwrap_or_default()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
