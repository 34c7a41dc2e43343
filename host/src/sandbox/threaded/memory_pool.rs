//! Shared memories kept from one compile job to the next, so that a job
//! starts on pages that are already mapped.
//!
//! # Why
//!
//! The first touch of each 4 KiB page of a new memory is a page fault, in
//! which the kernel finds, zeroes and maps a page. Measured on the machine
//! Kiln is developed on (a virtual machine), faulting in 55 MiB took
//! 23–34 ms, while setting the same 55 MiB to zero once mapped took
//! 1.5–1.8 ms; 55 MiB is what a sqlite3 compile's guest reaches. A native
//! compile in a long-lived process does not pay this: its allocator keeps
//! the heap it grew. So a job gets a memory that an earlier job used, zeroed.
//!
//! # A job's own size
//!
//! A wasm memory never shrinks, so a reused memory is as large as the
//! largest job it served. Each job therefore has a size of its own
//! ([`OwnSize`]), starting at the module's initial pages: the
//! `memory_grow` import grows that size, and the memory itself only where
//! it is still smaller. The guest learns its size from `memory.grow` alone
//! (the build rewrite refuses `memory.size`, which would see the whole
//! memory), so its allocator lays out its heap exactly as on a new memory,
//! and the memory cap is checked against the job's own size.
//!
//! # Nothing crosses from one job to the next
//!
//! A memory comes back to the pool only when its job is over: every
//! thread joined, every instance dropped, and the deadline not reached (a
//! revoked memory is inaccessible; it is dropped). It is zeroed before it
//! is kept: the first [`KEEP_RESIDENT`] bytes in place, the rest handed
//! back to the kernel (`madvise(MADV_DONTNEED)` on Wasmtime's private
//! anonymous mapping: those pages read as zero, and are faulted in again
//! only if a later job needs them). The next job, perhaps another
//! tenant's, sees zeros everywhere, as in a new memory. A memory is only
//! reused by a job with the same cap (the memory type's maximum), and the
//! pool keeps at most one memory per core, each with at most
//! [`KEEP_RESIDENT`] bytes resident while it waits.
//!
//! # Zeroing after the answer, not before it
//!
//! The guest may have written anywhere in the memory, so all of it that
//! stays resident is zeroed: up to [`KEEP_RESIDENT`] bytes for a memory
//! that a large compile grew, whatever the size of the job that used it
//! last. In `kiln bench`, small inputs that followed sqlite3 spent 6–10 ms
//! more per compile while this was done before the answer. That is work for the next job, not for the answer of
//! this one, so [`MemoryPool::give_back`] hands the memory to a thread of
//! the pool's own and returns at once; the memory joins the idle ones
//! only once that thread has zeroed it. A job that finds no idle memory
//! while one is being zeroed takes a new one if the pool has room for
//! it, so that jobs run one after another alternate between two memories,
//! each zeroed while the other is in use; when the pool is full it waits
//! for the zeroing instead. A `kiln compile`, which exits after its one
//! job, never waits for the zeroing at all.

use super::PAGE;
use crate::lock;
use crate::sandbox::KEEP_RESIDENT;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, mpsc};
use wasmtime::{Engine, MemoryType, SharedMemory};

/// Zeroed memories waiting for a job.
pub(crate) struct MemoryPool {
    state: Arc<PoolState>,
    /// To the thread that zeroes given-back memories ([`zero_and_keep`]);
    /// it ends when this is dropped.
    to_zero: Mutex<mpsc::Sender<SharedMemory>>,
    /// The most memories kept: idle ones and those being zeroed.
    capacity: usize,
    /// Pages a job's memory starts with (the module's minimum).
    initial_pages: u64,
}

/// What the pool and its zeroing thread share.
#[derive(Default)]
struct PoolState {
    kept: Mutex<Kept>,
    /// Notified whenever a memory has been zeroed (or dropped instead).
    zeroed: Condvar,
}

impl PoolState {
    /// Sleeps until the zeroing thread has finished a memory, as
    /// [`crate::lock`] does for a lock, whatever a panic elsewhere left.
    fn wait_for_zeroing<'a>(&self, kept: MutexGuard<'a, Kept>) -> MutexGuard<'a, Kept> {
        self.zeroed.wait(kept).unwrap_or_else(|e| e.into_inner())
    }
}

#[derive(Default)]
struct Kept {
    /// Zeroed and ready for a job.
    idle: Vec<SharedMemory>,
    /// Given back and not yet zeroed.
    zeroing: usize,
}

impl MemoryPool {
    /// An empty pool for memories of at least `initial_pages`, keeping at
    /// most `capacity` of them.
    pub(crate) fn new(initial_pages: u64, capacity: usize) -> Self {
        let state = Arc::new(PoolState::default());
        let (to_zero, given_back) = mpsc::channel();
        let zeroing_state = state.clone();
        let started = std::thread::Builder::new()
            .name("kiln-zero-memory".to_string())
            .spawn(move || zero_and_keep(&zeroing_state, &given_back));
        // Without the thread nothing is ever kept: `give_back` finds the
        // channel closed and drops the memory.
        drop(started);
        Self {
            state,
            to_zero: Mutex::new(to_zero),
            capacity,
            initial_pages,
        }
    }

    /// Pages a job's memory starts with.
    pub(crate) fn initial_pages(&self) -> u64 {
        self.initial_pages
    }

    /// A zeroed memory capped at `max_pages` (a kept one with that cap, or
    /// a new one) and the job's own size of it, at the initial pages.
    ///
    /// # Errors
    ///
    /// When a new memory cannot be created.
    pub(crate) fn take(
        &self,
        engine: &Engine,
        max_pages: u64,
    ) -> wasmtime::Result<(SharedMemory, OwnSize)> {
        let kept = {
            let mut kept = lock(&self.state.kept);
            loop {
                let found = kept
                    .idle
                    .iter()
                    .position(|memory| memory.ty().maximum() == Some(max_pages));
                if let Some(at) = found {
                    break Some(kept.idle.swap_remove(at));
                }
                // Wait only when a new memory would not be kept: while
                // there is room, a second memory lets sequential jobs
                // alternate, each starting on one zeroed during the other.
                if kept.zeroing == 0 || kept.idle.len() + kept.zeroing < self.capacity {
                    break None;
                }
                kept = self.state.wait_for_zeroing(kept);
            }
        };
        let memory = match kept {
            Some(memory) => memory,
            None => SharedMemory::new(
                engine,
                MemoryType::shared(self.initial_pages as u32, max_pages as u32),
            )?,
        };
        Ok((memory, OwnSize::new(self.initial_pages, max_pages)))
    }

    /// Waits until no memory is being zeroed.
    pub(crate) fn settle(&self) {
        let mut kept = lock(&self.state.kept);
        while kept.zeroing > 0 {
            kept = self.state.wait_for_zeroing(kept);
        }
    }

    /// Takes back `memory`, whose job is over and which nothing else uses
    /// any more: if there is room, it is zeroed (on the pool's thread) and
    /// then kept for a later job; otherwise it is dropped.
    pub(crate) fn give_back(&self, memory: SharedMemory) {
        {
            let mut kept = lock(&self.state.kept);
            if kept.idle.len() + kept.zeroing >= self.capacity {
                return;
            }
            kept.zeroing += 1;
        }
        if lock(&self.to_zero).send(memory).is_err() {
            lock(&self.state.kept).zeroing -= 1;
            self.state.zeroed.notify_all();
        }
    }
}

/// The pool's thread: zeroes each memory given back and makes it idle,
/// until the pool is dropped.
fn zero_and_keep(state: &PoolState, given_back: &mpsc::Receiver<SharedMemory>) {
    for memory in given_back {
        let zeroed = zero(&memory);
        let mut kept = lock(&state.kept);
        kept.zeroing -= 1;
        if zeroed {
            kept.idle.push(memory);
        }
        drop(kept);
        state.zeroed.notify_all();
    }
}

/// Sets every accessible byte of `memory` to zero: the first
/// [`KEEP_RESIDENT`] in place, the rest by handing the pages back to the
/// kernel. False when the kernel refused, so the rest is not known to be
/// zero.
fn zero(memory: &SharedMemory) -> bool {
    let bytes = memory.data();
    let base = bytes.as_ptr() as *mut u8;
    let kept = bytes.len().min(KEEP_RESIDENT);
    // SAFETY: the range is the memory's accessible part, mapped read-write
    // (its job was not revoked), and no thread or instance uses the memory
    // any more: its job's threads are joined and its stores dropped.
    unsafe { std::ptr::write_bytes(base, 0, kept) };
    if bytes.len() == kept {
        return true;
    }
    // SAFETY: as above; `kept` is a multiple of the page size, and dropping
    // private anonymous pages makes them read as zero.
    let dropped = unsafe {
        rustix::mm::madvise(
            base.add(kept).cast(),
            bytes.len() - kept,
            rustix::mm::Advice::LinuxDontNeed,
        )
    };
    dropped.is_ok()
}

/// A job's own size of its memory, in pages (see the module docs).
pub(crate) struct OwnSize {
    pages: Mutex<u64>,
    max_pages: u64,
}

impl OwnSize {
    /// A size of `initial_pages`, to grow up to `max_pages`.
    pub(crate) fn new(initial_pages: u64, max_pages: u64) -> Self {
        Self {
            pages: Mutex::new(initial_pages),
            max_pages,
        }
    }

    /// `memory.grow` for the job: grows its size by `delta` pages, and
    /// `memory` where it is smaller than that; returns the old size, or
    /// `None` when the growth would pass the cap or the memory cannot grow.
    pub(crate) fn grow(&self, memory: &SharedMemory, delta: u64) -> Option<u64> {
        let mut pages = lock(&self.pages);
        let old = *pages;
        let new = old
            .checked_add(delta)
            .filter(|&new| new <= self.max_pages)?;
        let mapped = memory.data_size() as u64 / PAGE;
        if new > mapped {
            memory.grow(new - mapped).ok()?;
        }
        *pages = new;
        Some(old)
    }

    /// The size in bytes.
    pub(crate) fn bytes(&self) -> u64 {
        *lock(&self.pages) * PAGE
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmtime::Config;

    fn engine() -> Engine {
        let mut config = Config::new();
        config.wasm_threads(true).shared_memory(true);
        Engine::new(&config).unwrap()
    }

    /// The first and the last byte of every page: where [`scribble`]
    /// writes.
    fn ends_of_pages(memory: &SharedMemory) -> impl Iterator<Item = usize> {
        let pages = memory.data_size() / PAGE as usize;
        (0..pages).flat_map(|page| [page * PAGE as usize, (page + 1) * PAGE as usize - 1])
    }

    fn scribble(memory: &SharedMemory, byte: u8) {
        for at in ends_of_pages(memory) {
            // SAFETY: in bounds; this test's thread alone uses the memory.
            unsafe { *memory.data()[at].get() = byte };
        }
    }

    fn scribbles_gone(memory: &SharedMemory) -> bool {
        // SAFETY: in bounds; this test's thread alone uses the memory.
        ends_of_pages(memory).all(|at| unsafe { *memory.data()[at].get() } == 0)
    }

    #[test]
    fn a_kept_memory_comes_back_zeroed_with_its_size() {
        let engine = engine();
        let pool = MemoryPool::new(2, 4);
        let memory = pool.take(&engine, 16).unwrap().0;
        assert_eq!(memory.data_size() as u64, 2 * PAGE);
        memory.grow(6).unwrap();
        scribble(&memory, 0xa5);
        pool.give_back(memory);
        pool.settle();
        let again = pool.take(&engine, 16).unwrap().0;
        assert_eq!(again.data_size() as u64, 8 * PAGE, "the same memory");
        assert!(scribbles_gone(&again), "nothing of the last job is left");
    }

    #[test]
    fn pages_past_the_resident_part_are_zero_too() {
        let engine = engine();
        let pool = MemoryPool::new(1, 4);
        let resident_pages = KEEP_RESIDENT as u64 / PAGE;
        let memory = pool.take(&engine, resident_pages + 8).unwrap().0;
        memory.grow(resident_pages + 3).unwrap();
        scribble(&memory, 0x5a);
        pool.give_back(memory);
        pool.settle();
        let again = pool.take(&engine, resident_pages + 8).unwrap().0;
        assert_eq!(again.data_size() as u64, (resident_pages + 4) * PAGE);
        assert!(scribbles_gone(&again));
    }

    #[test]
    fn only_a_job_with_the_same_cap_reuses_a_memory() {
        let engine = engine();
        let pool = MemoryPool::new(1, 4);
        let memory = pool.take(&engine, 16).unwrap().0;
        memory.grow(3).unwrap();
        pool.give_back(memory);
        pool.settle();
        let other = pool.take(&engine, 8).unwrap().0;
        assert_eq!(other.data_size() as u64, PAGE, "a new memory");
        assert_eq!(other.ty().maximum(), Some(8));
        let kept = pool.take(&engine, 16).unwrap().0;
        assert_eq!(kept.data_size() as u64, 4 * PAGE);
    }

    #[test]
    fn the_pool_keeps_no_more_than_its_capacity() {
        let engine = engine();
        let pool = MemoryPool::new(1, 1);
        let (a, b) = (
            pool.take(&engine, 4).unwrap().0,
            pool.take(&engine, 4).unwrap().0,
        );
        a.grow(1).unwrap();
        pool.give_back(a);
        pool.give_back(b);
        let kept = pool.take(&engine, 4).unwrap().0;
        assert_eq!(kept.data_size() as u64, 2 * PAGE, "the first, once zeroed");
        let left = lock(&pool.state.kept);
        assert!(
            left.idle.is_empty() && left.zeroing == 0,
            "the second was dropped"
        );
    }

    #[test]
    fn a_jobs_own_size_starts_small_on_a_large_memory_and_keeps_its_cap() {
        let engine = engine();
        let memory = SharedMemory::new(&engine, MemoryType::shared(1, 16)).unwrap();
        memory.grow(9).unwrap();
        let size = OwnSize::new(1, 12);
        assert_eq!(size.grow(&memory, 0), Some(1));
        assert_eq!(size.grow(&memory, 4), Some(1), "within the mapped pages");
        assert_eq!(memory.data_size() as u64, 10 * PAGE, "not grown");
        assert_eq!(size.grow(&memory, 6), Some(5), "past them");
        assert_eq!(memory.data_size() as u64, 11 * PAGE);
        assert_eq!(size.grow(&memory, 2), None, "the job's cap");
        assert_eq!(size.grow(&memory, u64::MAX), None);
        assert_eq!(size.bytes(), 11 * PAGE);
    }
}
