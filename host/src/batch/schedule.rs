//! The batch's scheduler: which input a worker takes next and on how many
//! threads it compiles it, from one shared budget of threads (the module
//! doc of `batch` says why it works this way).
//!
//! The state is one mutex: the inputs not yet started, largest first, the
//! bytes they add up to, and the threads of the budget that no compile
//! holds. A worker waits until at least one thread is free, takes the
//! next input and its [`fair_share`] of threads (no more than are free),
//! and hands them back when its compile ends, waking the workers that
//! wait. No compile ever waits for more threads than are free: a core
//! left idle waiting for a second one is lost.

use crate::lock;
use std::collections::VecDeque;
use std::sync::{Condvar, Mutex};

/// The threads a compile of an input of `size` bytes asks for, when the
/// inputs not started yet (it included) add up to `remaining` bytes and
/// `cores` threads are shared: its share of the work left, as threads,
/// rounded, at least one and at most `most` (what its code can use).
///
/// Inputs that are a small part of what is left get one thread each and
/// run side by side; one that is a large part of it gets several, so that
/// it does not end alone on one core while the others idle.
pub(super) fn fair_share(size: u64, remaining: u64, cores: usize, most: usize) -> usize {
    let remaining = u128::from(remaining.max(size).max(1));
    let share = (cores as u128 * u128::from(size) + remaining / 2) / remaining;
    usize::try_from(share)
        .unwrap_or(usize::MAX)
        .clamp(1, most.max(1))
}

/// One input handed to a worker, with the threads it may use: they go
/// back to the budget when the turn is dropped, even by a panic, so that
/// no worker waits for threads that will never come back.
pub(super) struct Turn<'a> {
    /// The input's index in the plan.
    pub(super) index: usize,
    threads: usize,
    scheduler: &'a Scheduler,
}

impl Turn<'_> {
    /// Threads taken from the budget for it: at least one.
    pub(super) fn threads(&self) -> usize {
        self.threads
    }

    /// Keeps `threads` of its threads (at least one) and hands the rest
    /// back at once: for an input whose code turns out to use fewer.
    pub(super) fn keep(&mut self, threads: usize) {
        let kept = threads.clamp(1, self.threads);
        self.scheduler.give_back(self.threads - kept);
        self.threads = kept;
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        self.scheduler.give_back(self.threads);
    }
}

/// The inputs left and the budget's free threads.
struct State {
    /// `(index, size)`, largest first.
    queue: VecDeque<(usize, u64)>,
    remaining: u64,
    free: usize,
}

/// The shared scheduler of one batch.
pub(super) struct Scheduler {
    state: Mutex<State>,
    freed: Condvar,
    cores: usize,
}

impl Scheduler {
    /// A scheduler over inputs of `sizes` (by index) sharing `cores`
    /// threads (at least one).
    pub(super) fn new(sizes: &[u64], cores: usize) -> Self {
        let mut queue: Vec<(usize, u64)> = sizes.iter().copied().enumerate().collect();
        // Largest first; equal sizes in plan order.
        queue.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let cores = cores.max(1);
        Self {
            state: Mutex::new(State {
                remaining: sizes.iter().sum(),
                queue: queue.into(),
                free: cores,
            }),
            freed: Condvar::new(),
            cores,
        }
    }

    /// The next input and its threads, waiting until a thread is free;
    /// `None` when every input has been handed out. `most(index)` is the
    /// most threads that input's code can use.
    pub(super) fn next(&self, most: impl Fn(usize) -> usize) -> Option<Turn<'_>> {
        let mut state = lock(&self.state);
        loop {
            if state.queue.is_empty() {
                return None;
            }
            if state.free > 0 {
                break;
            }
            state = self.freed.wait(state).unwrap_or_else(|e| e.into_inner());
        }
        let (index, size) = state.queue.pop_front()?;
        let share = fair_share(size, state.remaining, self.cores, most(index));
        let threads = share.min(state.free);
        state.free -= threads;
        state.remaining -= size;
        Some(Turn {
            index,
            threads,
            scheduler: self,
        })
    }

    /// Hands `threads` back to the budget.
    fn give_back(&self, threads: usize) {
        if threads == 0 {
            return;
        }
        lock(&self.state).free += threads;
        self.freed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_parts_of_the_work_get_one_thread_and_large_ones_several() {
        // Thirty equal inputs on two cores: one thread each.
        assert_eq!(fair_share(10, 300, 2, 8), 1);
        // One input that is most of the work: both cores.
        assert_eq!(fair_share(80, 100, 2, 8), 2);
        // The last input: every core, as far as its code can use them.
        assert_eq!(fair_share(10, 10, 16, 8), 8);
        assert_eq!(fair_share(10, 10, 16, 1), 1);
        // Never none, whatever the sizes say.
        assert_eq!(fair_share(0, 0, 4, 4), 1);
        assert_eq!(fair_share(1, u64::MAX, 4, 4), 1);
        assert_eq!(fair_share(u64::MAX, u64::MAX, usize::MAX, 3), 3);
    }

    #[test]
    fn inputs_come_largest_first_and_never_take_more_than_is_free() {
        let scheduler = Scheduler::new(&[5, 80, 15], 2);
        let all = |_| 8;
        let taken = |turn: &Turn<'_>| (turn.index, turn.threads());
        // 80 of 100 bytes: both threads.
        let mut first = scheduler.next(all).unwrap();
        assert_eq!(taken(&first), (1, 2));
        first.keep(1);
        // 15 of 20 is worth two, but one is free.
        let second = scheduler.next(all).unwrap();
        assert_eq!(taken(&second), (2, 1));
        drop((first, second));
        // The last gets both, unless its code can use only one.
        let last = scheduler.next(|_| 1).unwrap();
        assert_eq!(taken(&last), (0, 1));
        assert!(scheduler.next(all).is_none());
        drop(last);
        assert_eq!(lock(&scheduler.state).free, 2);
    }

    #[test]
    fn a_worker_waits_for_a_free_thread_and_the_budget_is_never_overdrawn() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let sizes: Vec<u64> = (0..200).map(|i| (i * 7919) % 1000).collect();
        let cores = 3;
        let scheduler = Scheduler::new(&sizes, cores);
        let (held, most_held, done) = (
            AtomicUsize::new(0),
            AtomicUsize::new(0),
            AtomicUsize::new(0),
        );
        std::thread::scope(|scope| {
            for _ in 0..2 * cores {
                scope.spawn(|| {
                    while let Some(turn) = scheduler.next(|_| cores) {
                        let threads = turn.threads();
                        assert!(threads >= 1);
                        let now = held.fetch_add(threads, Ordering::SeqCst) + threads;
                        most_held.fetch_max(now, Ordering::SeqCst);
                        std::thread::yield_now();
                        held.fetch_sub(threads, Ordering::SeqCst);
                        drop(turn);
                        done.fetch_add(1, Ordering::SeqCst);
                    }
                });
            }
        });
        assert_eq!(done.into_inner(), sizes.len());
        assert!(most_held.into_inner() <= cores);
        assert_eq!(lock(&scheduler.state).free, cores);
    }
}
