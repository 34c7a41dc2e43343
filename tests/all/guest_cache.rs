//! The compiled guest is cached on disk: a warm start reuses the entry, and
//! a corrupt entry is replaced rather than trusted.

use host::{CompileRequest, Guest, Limits, Options, Sandbox};
use std::path::{Path, PathBuf};

fn entries(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "cwasm"))
        .collect()
}

/// Compiles on both guests, so that both are loaded (the component only
/// on its first use).
fn compiles(sandbox: &Sandbox) {
    let input = crate::fixture("math.wat");
    let options = Options::for_target("pulley64");
    let request = CompileRequest::new(&input, &options);
    assert!(sandbox.compile(&request).is_ok());
    assert!(sandbox.compile(&request.guest(Guest::Component)).is_ok());
}

#[test]
fn warm_start_reuses_the_entry_and_a_corrupt_one_is_replaced() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    compiles(&Sandbox::with_cache_dir(Limits::default(), Some(dir.path().to_path_buf())).unwrap());
    let mut cached = entries(dir.path());
    cached.sort();
    // One entry per guest build, each named by its own hash.
    assert_eq!(cached.len(), 2, "{cached:?}");
    let names: Vec<String> = cached
        .iter()
        .map(|path| path.file_name().unwrap().to_str().unwrap().to_string())
        .collect();
    assert!(
        names[0].starts_with("guest-") && names[0].contains(&host::guest::GUEST_SHA256[..16]),
        "{names:?}"
    );
    assert!(
        names[1].starts_with("threaded-") && names[1].contains(&host::guest::THREADED_SHA256[..16]),
        "{names:?}"
    );
    assert!(
        names.iter().all(|name| name.contains("wasmtime-48.")),
        "{names:?}"
    );
    let written = std::fs::metadata(&cached[0]).unwrap().modified().unwrap();

    compiles(&Sandbox::with_cache_dir(Limits::default(), Some(dir.path().to_path_buf())).unwrap());
    let mut again = entries(dir.path());
    again.sort();
    assert_eq!(again, cached);
    assert_eq!(
        std::fs::metadata(&cached[0]).unwrap().modified().unwrap(),
        written
    );

    for entry in &cached {
        std::fs::write(entry, b"not a compiled guest").unwrap();
    }
    compiles(&Sandbox::with_cache_dir(Limits::default(), Some(dir.path().to_path_buf())).unwrap());
    for entry in &cached {
        let replaced = std::fs::read(entry).unwrap();
        assert!(replaced.len() > 1 << 20 && replaced.starts_with(b"\x7fELF"));
    }
}

#[test]
fn concurrent_compiles_share_one_sandbox() {
    let input = crate::fixture("primes.wat");
    let options = Options::for_target("x86_64-unknown-linux-gnu");
    let expected = kiln_guest::compile(&input, &options).unwrap().bytes;
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..4)
            .map(|_| scope.spawn(|| crate::compile(&input, &options).unwrap().bytes))
            .collect();
        for worker in workers {
            assert_eq!(worker.join().unwrap(), expected);
        }
    });
}

/// Overwrites the `.text` section of the ELF image at `path` with `int3`.
fn overwrite_text_with_int3(path: &Path) {
    use object::{Object, ObjectSection};
    let mut bytes = std::fs::read(path).unwrap();
    let (start, size) = {
        let elf = object::File::parse(&*bytes).unwrap();
        let text = elf.section_by_name(".text").unwrap();
        text.file_range().unwrap()
    };
    let (start, size) = (start as usize, size as usize);
    assert!(size > 0);
    bytes[start..start + size].fill(0xcc);
    std::fs::write(path, bytes).unwrap();
}

/// Every entry holds its original bytes again.
fn assert_restored(entries: &[PathBuf], originals: &[Vec<u8>]) {
    for (entry, original) in entries.iter().zip(originals) {
        let now = std::fs::read(entry).unwrap();
        assert!(&now == original, "{} was not rebuilt", entry.display());
    }
}

#[test]
fn a_cached_compiler_whose_code_was_overwritten_is_rebuilt_not_run() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let start = || Sandbox::with_cache_dir(Limits::default(), Some(dir.path().to_path_buf()));
    compiles(&start().unwrap());
    let cached = entries(dir.path());
    assert_eq!(cached.len(), 2, "{cached:?}");
    let originals: Vec<Vec<u8>> = cached.iter().map(|p| std::fs::read(p).unwrap()).collect();
    for entry in &cached {
        let mac = PathBuf::from(format!("{}.mac", entry.display()));
        assert!(mac.is_file(), "no MAC beside {}", entry.display());
        overwrite_text_with_int3(entry);
    }
    // Were the damaged entries mapped and run, this process would die of
    // SIGTRAP here; instead they fail their MAC and are rebuilt.
    compiles(&start().unwrap());
    assert_restored(&cached, &originals);
    // A MAC that was removed is a failed check too.
    for entry in &cached {
        std::fs::remove_file(format!("{}.mac", entry.display())).unwrap();
        overwrite_text_with_int3(entry);
    }
    compiles(&start().unwrap());
    assert_restored(&cached, &originals);
}
