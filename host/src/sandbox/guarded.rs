//! The threaded guest's time limit: at the deadline the host takes the
//! job's memory away, and every thread of the job traps on its next access.
//!
//! # Why not epoch interruption
//!
//! Wasmtime's epoch interruption puts a check of the epoch counter at the
//! entry of every function and the head of every loop of the compiled
//! guest. The compiler is a great many small functions, so those checks
//! cost it 6–15% of its CPU time (on one thread: sqlite3 1.83 s with them,
//! 1.59 s without; rust-compression 0.92 s and 0.78 s). A compile job, however, is nothing but Kiln's own
//! compiler working on one memory of its own, and the compiler hardly
//! takes a step without reading or writing that memory. So at the deadline the
//! host makes the whole memory inaccessible (`mprotect` to no access): the
//! next load or store of every thread faults, and Wasmtime turns a fault
//! inside a memory of the store into a trap, as it does for any access past
//! the end of a memory. The compiled guest carries no checks at all.
//!
//! (Code that touched no memory at all, a loop on registers alone, would
//! run on; the compiler has no such loop, and its loops walk data.)
//!
//! # Host code inside the memory
//!
//! A fault in *host* code is no trap but a crash of the process. Host code
//! touches the job's memory in four places: the host's imports (reading
//! requests, copying cache entries, waiting on an address); Wasmtime's
//! own handling of `memory.copy`, `memory.fill` and `memory.init`; reading
//! and writing the input and the answer; and starting an instance (its
//! start function and thread-local storage use `memory.init`). The build
//! rewrites `memory.copy` and `memory.fill` into guest code for short
//! ranges and imports for long ones (see `host/build/rewrite.rs`), and
//! every one of these places runs inside
//! [`GuardedMemory::enter`], which counts the thread as inside the memory
//! and refuses once the memory is revoked. [`GuardedMemory::revoke`] first
//! marks the memory revoked, then waits until no thread is inside, and
//! only then protects it. Each thread has a counter of its own, so the
//! threads never contend on one cache line to say where they are.

use crate::lock;
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use wasmtime::SharedMemory;

/// A job's shared memory, which the host can take away at the deadline.
pub(crate) struct GuardedMemory {
    memory: SharedMemory,
    revoked: AtomicBool,
    /// Every thread's count of host calls inside the memory right now.
    users: Mutex<Vec<Arc<InsideCount>>>,
}

/// One thread's count of host calls inside the memory, alone on its cache
/// line so that threads announcing themselves never contend.
#[repr(align(64))]
#[derive(Default)]
struct InsideCount(AtomicU32);

/// One thread's right to enter a [`GuardedMemory`].
#[derive(Clone)]
pub(crate) struct MemoryUser(Arc<InsideCount>);

/// The memory, entered: the thread counts as inside until this is dropped.
pub(crate) struct Inside<'a> {
    memory: &'a SharedMemory,
    user: &'a MemoryUser,
}

/// The memory was revoked: the job is past its deadline.
#[derive(Debug)]
pub(crate) struct Revoked;

impl std::fmt::Display for Revoked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the compile job's memory was revoked at its deadline")
    }
}

impl std::error::Error for Revoked {}

impl GuardedMemory {
    pub(crate) fn new(memory: SharedMemory) -> Self {
        Self {
            memory,
            revoked: AtomicBool::new(false),
            users: Mutex::new(Vec::new()),
        }
    }

    /// The memory, unless it was revoked (then it is inaccessible and good
    /// for nothing more).
    pub(crate) fn into_unrevoked(self) -> Option<SharedMemory> {
        (!self.revoked.load(Ordering::SeqCst)).then_some(self.memory)
    }

    /// The memory itself, for linking an instance to it.
    pub(crate) fn shared(&self) -> &SharedMemory {
        &self.memory
    }

    /// A new thread's right to enter.
    pub(crate) fn user(&self) -> MemoryUser {
        let user = MemoryUser(Arc::default());
        lock(&self.users).push(user.0.clone());
        user
    }

    /// Enters the memory for `user`, unless it was revoked.
    pub(crate) fn enter<'a>(&'a self, user: &'a MemoryUser) -> Result<Inside<'a>, Revoked> {
        // Sequentially consistent on both sides: either `revoke` sees this
        // count, or this thread sees `revoked`.
        user.0.0.fetch_add(1, Ordering::SeqCst);
        if self.revoked.load(Ordering::SeqCst) {
            user.0.0.fetch_sub(1, Ordering::SeqCst);
            return Err(Revoked);
        }
        Ok(Inside {
            memory: &self.memory,
            user,
        })
    }

    /// Takes the memory away: no thread enters any more, and once none is
    /// inside, the memory is made inaccessible, so that running guest code
    /// traps on its next access.
    pub(crate) fn revoke(&self) {
        self.revoked.store(true, Ordering::SeqCst);
        for user in lock(&self.users).iter() {
            // Threads inside are host code a few moments from leaving (a
            // copy, or one slice of a wait).
            while user.0.load(Ordering::SeqCst) != 0 {
                std::thread::sleep(Duration::from_micros(100));
            }
        }
        let bytes = self.memory.data();
        if bytes.is_empty() {
            return;
        }
        // SAFETY: the range is the memory's accessible part, which Wasmtime
        // mapped and which stays mapped until the memory is dropped; no
        // host code is inside it and none enters again, and guest code that
        // touches it traps.
        let protected = unsafe {
            rustix::mm::mprotect(
                bytes.as_ptr() as *mut std::ffi::c_void,
                bytes.len(),
                rustix::mm::MprotectFlags::empty(),
            )
        };
        // A refusal leaves the job running to its end, as it would without
        // a deadline; it cannot happen for a range mapped like this one.
        debug_assert!(protected.is_ok(), "{protected:?}");
    }
}

impl Inside<'_> {
    /// The `len` bytes at `at`, if all of them lie in the accessible part
    /// of the memory: the one bounds check of every host access.
    pub(crate) fn range(&self, at: u32, len: usize) -> Option<&[UnsafeCell<u8>]> {
        let at = at as usize;
        self.memory.data().get(at..at.checked_add(len)?)
    }

    /// The memory itself (growing, waiting).
    pub(crate) fn memory(&self) -> &SharedMemory {
        self.memory
    }
}

impl Drop for Inside<'_> {
    fn drop(&mut self) {
        self.user.0.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Calls a function once at a deadline, unless stopped first.
pub(crate) struct Watchdog {
    stopped: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl Watchdog {
    /// Calls `expire` at `deadline` unless [`Watchdog::stop`] comes first.
    ///
    /// # Errors
    ///
    /// When no thread can be started for it.
    pub(crate) fn start(
        deadline: Instant,
        expire: impl FnOnce() + Send + 'static,
    ) -> std::io::Result<Self> {
        let stopped = Arc::new((Mutex::new(false), Condvar::new()));
        let watched = stopped.clone();
        let thread = std::thread::Builder::new()
            .name("kiln-deadline".to_string())
            .spawn(move || {
                let (flag, signal) = &*watched;
                let mut stopped = lock(flag);
                while !*stopped {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        drop(stopped);
                        expire();
                        return;
                    }
                    stopped = signal
                        .wait_timeout(stopped, left)
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                        .0;
                }
            })?;
        Ok(Self {
            stopped,
            thread: Some(thread),
        })
    }

    /// Stops the watchdog; returns once it can no longer call `expire`.
    pub(crate) fn stop(mut self) {
        let (flag, signal) = &*self.stopped;
        *lock(flag) = true;
        signal.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmtime::{Config, Engine, MemoryType};

    fn memory(pages: u32) -> GuardedMemory {
        let mut config = Config::new();
        config.wasm_threads(true).shared_memory(true);
        let engine = Engine::new(&config).unwrap();
        GuardedMemory::new(SharedMemory::new(&engine, MemoryType::shared(pages, 4)).unwrap())
    }

    #[test]
    fn ranges_outside_the_accessible_part_are_refused() {
        let memory = memory(1);
        let user = memory.user();
        let inside = memory.enter(&user).unwrap();
        let page = 64 << 10;
        assert_eq!(inside.range(0, page).map(<[_]>::len), Some(page));
        assert_eq!(inside.range(page as u32, 0).map(<[_]>::len), Some(0));
        assert!(inside.range(1, page).is_none());
        assert!(inside.range(page as u32, 1).is_none());
        assert!(inside.range(u32::MAX, usize::MAX).is_none(), "no overflow");
        // Growth is seen at once.
        memory.shared().grow(1).unwrap();
        assert!(inside.range(page as u32, page).is_some());
    }

    #[test]
    fn revoking_waits_for_threads_inside_and_then_refuses_everyone() {
        let memory = Arc::new(memory(1));
        let user = memory.user();
        let inside = memory.enter(&user).unwrap();
        let revoker = {
            let memory = memory.clone();
            std::thread::spawn(move || memory.revoke())
        };
        std::thread::sleep(Duration::from_millis(50));
        assert!(!revoker.is_finished(), "revoked while a thread was inside");
        // Still readable: nothing was protected yet.
        let first = inside.range(0, 1).unwrap()[0].get();
        // SAFETY: in bounds, mapped and not yet protected.
        assert_eq!(unsafe { *first }, 0);
        drop(inside);
        revoker.join().unwrap();
        assert!(memory.enter(&user).is_err());
        assert!(memory.enter(&memory.user()).is_err(), "a new thread too");
    }
}
