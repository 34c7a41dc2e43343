//! A file's bytes copied once into a sealed anonymous file (a Linux memfd)
//! that nobody can change, so that the bytes a check saw are the bytes that
//! get mapped.
//!
//! The cached compiler builds (`guest_cache.rs`) are native code, checked
//! by a MAC before they are mapped executable. Checking a file on disk and
//! then mapping it leaves a window in which the file can change (a shared
//! cache volume). Reading it into memory and handing Wasmtime the bytes
//! closes the window but copies tens of megabytes twice on every start:
//! the read, then Wasmtime's own copy into the mapping it makes executable.
//! Here the kernel copies the file once into a memfd (`sendfile`), the memfd
//! is sealed against writing, shrinking and growing, the MAC is taken over
//! a read-only mapping of it, and Wasmtime maps that same sealed memfd. No
//! byte that was not checked can be mapped, nothing is copied in user space,
//! and Wasmtime faults in only the pages the compiler touches.
//!
//! Where memfds or seals are missing, [`SealedFile::copy_of`] fails and the
//! caller falls back to reading the file into memory.

use rustix::fs::{MemfdFlags, SealFlags};
use rustix::mm::{MapFlags, ProtFlags};
use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// A sealed, in-memory copy of a file.
pub(crate) struct SealedFile {
    file: File,
    len: usize,
}

impl SealedFile {
    /// Copies the file at `path` into a new memfd and seals it. If the file
    /// shrinks meanwhile, the copy is what was read (the check will say).
    pub(crate) fn copy_of(path: &Path) -> io::Result<SealedFile> {
        let source = File::open(path)?;
        let want = usize::try_from(source.metadata()?.len())
            .map_err(|_| io::Error::other("file larger than the address space"))?;
        let memfd = File::from(rustix::fs::memfd_create(
            "kiln-cached-compiler",
            MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING,
        )?);
        let mut len = 0;
        while len < want {
            let sent = rustix::fs::sendfile(&memfd, &source, None, want - len)?;
            if sent == 0 {
                break;
            }
            len += sent;
        }
        rustix::fs::fcntl_add_seals(
            &memfd,
            SealFlags::WRITE | SealFlags::SHRINK | SealFlags::GROW | SealFlags::SEAL,
        )?;
        Ok(SealedFile { file: memfd, len })
    }

    /// Calls `with` on the sealed bytes, through a read-only mapping.
    pub(crate) fn with_bytes<R>(&self, with: impl FnOnce(&[u8]) -> R) -> io::Result<R> {
        if self.len == 0 {
            return Ok(with(&[]));
        }
        // SAFETY: a new shared, read-only mapping of `len` bytes of a memfd
        // sealed against writing, shrinking and growing: nothing can change
        // or truncate what it maps while the slice below lives, and it is
        // unmapped only after that slice's last use.
        unsafe {
            let base = rustix::mm::mmap(
                std::ptr::null_mut(),
                self.len,
                ProtFlags::READ,
                MapFlags::SHARED,
                &self.file,
                0,
            )?;
            let result = with(std::slice::from_raw_parts(base.cast::<u8>(), self.len));
            rustix::mm::munmap(base, self.len)?;
            Ok(result)
        }
    }

    /// The sealed file itself, for a loader that maps an open file.
    pub(crate) fn into_file(self) -> File {
        self.file
    }

    /// A path that opens this same sealed file while `self` lives, for a
    /// loader that takes a path.
    pub(crate) fn path(&self) -> PathBuf {
        PathBuf::from(format!("/proc/self/fd/{}", self.file.as_raw_fd()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn the_copy_holds_the_bytes_and_cannot_be_changed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("entry");
        let bytes: Vec<u8> = (0..100_000u32).map(|i| (i * 7) as u8).collect();
        std::fs::write(&path, &bytes).unwrap();
        let sealed = SealedFile::copy_of(&path).unwrap();
        // The original changes after the copy: the copy does not.
        std::fs::write(&path, b"changed").unwrap();
        assert_eq!(sealed.with_bytes(<[u8]>::to_vec).unwrap(), bytes);
        // Reopened by its path it is the same file, and sealed.
        let mut reopened = std::fs::OpenOptions::new()
            .write(true)
            .open(sealed.path())
            .unwrap();
        assert!(reopened.write_all(b"x").is_err());
        assert!(reopened.set_len(1).is_err());
        assert_eq!(std::fs::read(sealed.path()).unwrap(), bytes);
        let mut file = sealed.into_file();
        assert!(file.write_all(b"x").is_err());
    }

    #[test]
    fn an_empty_file_and_a_missing_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("empty");
        std::fs::write(&path, b"").unwrap();
        let sealed = SealedFile::copy_of(&path).unwrap();
        assert_eq!(sealed.with_bytes(<[u8]>::len).unwrap(), 0);
        assert!(SealedFile::copy_of(&dir.path().join("missing")).is_err());
    }
}
