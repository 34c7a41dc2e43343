//! The threaded build's compile pool: `workers` threads that run, inside a
//! rayon pool that believes it has [`SPLIT_FACTOR`] times as many, so that
//! rayon cuts Wasmtime's list of functions into finer pieces.
//!
//! # Why
//!
//! Wasmtime compiles a module's functions with one `into_par_iter()` over
//! a `Vec`, in the order the module defines them. Rayon divides such a list
//! by *thief splitting*: a piece is halved while a budget of splits lasts,
//! and the budget starts at the pool's thread count, halves with every cut
//! and is refilled only when another thread steals the piece. Once the
//! budget is spent, the rest of the piece runs as one sequential loop that
//! no other thread can take a share of. With two threads the first worker
//! keeps a quarter of the list to itself that way. When that quarter (or
//! another unstolen piece) holds the module's heavy functions, the other
//! thread runs out of work and idles while the first grinds on.
//!
//! Measured on this project's 2-core machine (`perf` samples per thread,
//! `kiln compile --jobs 2`, Sightglass inputs of 1 MB and more): the last
//! 31–59% of the compile ran on one thread alone for gcc-loops,
//! intgemm-simd, hashset and rust-compression. Native Wasmtime's parallel
//! compile makes the same cuts, and has the same tail.
//!
//! Rayon reads the budget from the pool's thread count and from nothing
//! else, and the list is Wasmtime's, so the pool is where Kiln can change
//! this. It asks rayon for `workers * SPLIT_FACTOR` threads, but starts
//! only the first `workers` of them; the other builders are dropped
//! unstarted. Rayon never waits for a thread to start or to stop (only
//! its global pool does, which this is not), wakes only threads that went
//! to sleep, and steals from an unstarted thread's deque only to find it
//! empty. So the `workers` threads share the work as before, cut into
//! about `SPLIT_FACTOR` times as many pieces, and no more threads (stacks,
//! host threads, Cranelift contexts) exist than before.
//!
//! Measured the same way, medians of 5 alternating runs, wall time of
//! `kiln compile --jobs 2` with the plain pool (factor 1) and with this
//! one: gcc-loops 278 → 223 ms, intgemm-simd 289 → 226 ms,
//! rust-compression 469 → 382 ms, sqlite3 869 → 759 ms, hashset
//! 204 → 192 ms; factors 4, 8 and 16 were alike within noise. With these
//! cuts both threads of a rust-compression compile stay busy to its end;
//! hashset keeps a tail, one function that takes longer than all the
//! others together, and no cut can share one function between threads.
//!
//! The artifact is the same: the pieces change which thread compiles a
//! function and when, and Wasmtime's output never depends on either.

use rayon::{ThreadBuilder, ThreadPool, ThreadPoolBuildError, ThreadPoolBuilder};

/// How many more threads rayon is told of than run: its splitting budget
/// is this many times larger than the real thread count's.
pub(crate) const SPLIT_FACTOR: usize = 8;

/// A pool on which `workers` threads run, each handed to `spawn`, while
/// rayon divides work as for `workers * SPLIT_FACTOR` threads. `start` runs
/// on each started thread before it takes work.
///
/// # Errors
///
/// Rayon's, including any error `spawn` returns.
pub(crate) fn build(
    workers: usize,
    mut spawn: impl FnMut(ThreadBuilder) -> std::io::Result<()>,
    start: impl Fn(usize) + Send + Sync + 'static,
) -> Result<ThreadPool, ThreadPoolBuildError> {
    ThreadPoolBuilder::new()
        .num_threads(workers * SPLIT_FACTOR)
        .spawn_handler(move |thread| {
            if thread.index() < workers {
                spawn(thread)
            } else {
                // Never started; see the module's doc for why that is safe.
                Ok(())
            }
        })
        .start_handler(start)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rayon::prelude::*;
    use std::collections::HashSet;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn pool(workers: usize, started: Arc<AtomicUsize>) -> ThreadPool {
        build(
            workers,
            |thread| {
                std::thread::Builder::new()
                    .spawn(move || thread.run())
                    .map(drop)
            },
            move |_| {
                started.fetch_add(1, Ordering::SeqCst);
            },
        )
        .unwrap()
    }

    #[test]
    fn only_the_workers_run_and_the_work_is_all_done() {
        let started = Arc::new(AtomicUsize::new(0));
        let pool = pool(2, started.clone());
        let (sum, threads, told) = pool.install(|| {
            let items: Vec<u64> = (0..100_000).collect();
            let sum: u64 = items.par_iter().map(|n| n * 2).sum();
            let threads: HashSet<usize> = items
                .par_iter()
                .map(|_| rayon::current_thread_index().unwrap())
                .collect();
            (sum, threads, rayon::current_num_threads())
        });
        assert_eq!(sum, 99_999 * 100_000);
        assert!(threads.iter().all(|&index| index < 2), "{threads:?}");
        assert_eq!(told, 2 * SPLIT_FACTOR);
        drop(pool);
        assert_eq!(started.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn the_list_is_cut_into_at_least_the_told_thread_count_of_pieces() {
        // `fold` starts one accumulator per piece that runs sequentially.
        let pool = pool(2, Arc::new(AtomicUsize::new(0)));
        let pieces = pool.install(|| {
            (0..100_000u32)
                .collect::<Vec<_>>()
                .into_par_iter()
                .fold(|| (), |(), _| ())
                .count()
        });
        // Without stealing, a budget of B splits yields 2B pieces.
        assert!(pieces >= 2 * 2 * SPLIT_FACTOR, "{pieces} pieces");
    }

    #[test]
    fn a_refused_worker_fails_the_build() {
        let refused = build(2, |_| Err(std::io::Error::other("no")), |_| {});
        assert!(refused.is_err());
    }
}
