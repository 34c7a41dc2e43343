//! The threaded build's memory allocator: small blocks come from a cache
//! kept by each thread, so compile threads do not queue on one lock.
//!
//! # Why
//!
//! Rust's allocator for `wasm32` is one `dlmalloc` behind one spin lock:
//! every allocation and every free, on every thread, swaps the same word
//! until it wins it. Cranelift allocates and frees all the time (vectors
//! growing, hash tables, boxed instructions), so with many compile threads
//! that lock is held nearly always and the other threads spin on it. On a
//! 16-core machine this made a parallel compile inside the sandbox *slower*
//! than a one-thread compile (sqlite3: 4.7 s on 16 threads, 3.2 s on one),
//! while native Wasmtime, whose allocator keeps per-thread caches, ran 11x
//! faster on 16 threads than on one.
//!
//! # How
//!
//! Requests of at most [`LARGEST_CACHED`] bytes, aligned to at most
//! [`CACHED_ALIGN`], fall into [`CLASSES`] size classes. Each thread keeps,
//! per class, a list of free blocks linked through the blocks themselves: a
//! free pushes onto the freeing thread's list and an allocation pops from
//! the allocating thread's list, with no atomic operation at all. Only when
//! a list is empty (it takes a [`batch`] of blocks) or has grown past its
//! [`limit`] (it gives half of them back) does a thread go to the shared
//! allocator, and then once for the whole batch. Larger or more aligned
//! requests go to the shared allocator directly; they are rare.
//!
//! The shared allocator is `std`'s, behind a [`Mutex`] of this module, so its
//! own spin lock never meets a second thread, and a thread that has to wait
//! for the mutex sleeps (`memory.atomic.wait32`, which the host turns into an
//! interruptible wait) instead of spinning.
//!
//! A block on a list belongs to the thread that freed it, wherever it was
//! allocated; a list never holds more than [`limit`] blocks, so what the
//! caches keep back is bounded by threads × classes × [`LIST_BYTES`]. Blocks
//! still cached when a thread ends stay in the job's memory, which the host
//! drops with the job.
//!
//! The module builds on every target so that its tests run natively; only
//! the threaded build installs it as the global allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::ptr;
use std::sync::Mutex;

/// The largest request served from the caches, in bytes. Cranelift's
/// vectors grow well past a kilobyte all the time; with only small blocks
/// cached, those still met on the shared lock from every thread.
pub const LARGEST_CACHED: usize = 32 << 10;

/// The largest alignment served from the caches: what the shared allocator
/// gives any block on wasm32 without extra work.
pub const CACHED_ALIGN: usize = 8;

/// Size classes: 16-byte steps up to 512, 64-byte steps up to 1 KiB, then
/// four steps per doubling up to [`LARGEST_CACHED`] (1.25, 1.5, 1.75 and 2
/// KiB, 2.5 KiB, ...), so a block wastes at most a fifth of itself.
pub const CLASSES: usize = 32 + 8 + 4 * DOUBLINGS;

/// Doublings from 1 KiB to [`LARGEST_CACHED`].
const DOUBLINGS: usize = 5;

/// Bytes a thread takes from the shared allocator at once for one class.
const BATCH_BYTES: usize = 16 << 10;

/// Bytes a thread's list of one class may hold before it gives half back
/// (at least two blocks).
pub const LIST_BYTES: usize = 32 << 10;

/// The class of a request, or `None` when the shared allocator serves it.
fn class_of(layout: Layout) -> Option<usize> {
    let size = layout.size().max(1);
    if layout.align() > CACHED_ALIGN || size > LARGEST_CACHED {
        None
    } else if size <= 512 {
        Some(size.div_ceil(16) - 1)
    } else if size <= 1024 {
        Some(32 + (size - 512).div_ceil(64) - 1)
    } else {
        // The doubling `size` falls in, and the quarter step within it.
        let doubling = (size - 1).ilog2() as usize - 10;
        let base = 1024 << doubling;
        let step = (size - base).div_ceil(base / 4);
        Some(40 + 4 * doubling + step - 1)
    }
}

/// The size of every block of `class`.
fn class_size(class: usize) -> usize {
    if class < 32 {
        (class + 1) * 16
    } else if class < 40 {
        512 + (class - 31) * 64
    } else {
        let (doubling, step) = ((class - 40) / 4, (class - 40) % 4 + 1);
        (1024 << doubling) / 4 * (4 + step)
    }
}

/// The layout every block of `class` is taken from the shared allocator
/// with, and given back with.
fn block_layout(class: usize) -> Layout {
    // Infallible: a small size and a power-of-two alignment.
    Layout::from_size_align(class_size(class), CACHED_ALIGN).expect("a block layout")
}

/// Blocks a thread takes from the shared allocator when its list of
/// `class` is empty.
fn batch(class: usize) -> u32 {
    (BATCH_BYTES / class_size(class)).clamp(1, 64) as u32
}

/// Blocks a thread's list of `class` may hold.
fn limit(class: usize) -> u32 {
    (LIST_BYTES / class_size(class)).max(2) as u32
}

/// Serialises the shared allocator.
static SHARED: Mutex<()> = Mutex::new(());

/// Runs `f` on the shared allocator, alone.
fn shared<T>(f: impl FnOnce(&System) -> T) -> T {
    // The mutex guards no data, so a poisoned one is as good as any.
    let _alone = SHARED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    f(&System)
}

/// One thread's free lists: per class, the first free block (each block's
/// first word points to the next) and how many the list holds.
struct Lists {
    heads: [Cell<*mut u8>; CLASSES],
    counts: [Cell<u32>; CLASSES],
}

thread_local! {
    static LISTS: Lists = const {
        Lists {
            heads: [const { Cell::new(ptr::null_mut()) }; CLASSES],
            counts: [const { Cell::new(0) }; CLASSES],
        }
    };
}

impl Lists {
    /// Takes a block of `class`, refilling the list when it is empty. Null
    /// when the shared allocator has no memory left.
    ///
    /// # Safety
    ///
    /// Every block on the lists must be a free block of its class.
    unsafe fn pop(&self, class: usize) -> *mut u8 {
        let mut head = self.heads[class].get();
        if head.is_null() {
            // SAFETY: the caller's promise holds for an empty list.
            head = unsafe { self.refill(class) };
            if head.is_null() {
                return head;
            }
        }
        // SAFETY: a free block's first word is the next block.
        self.heads[class].set(unsafe { head.cast::<*mut u8>().read() });
        self.counts[class].set(self.counts[class].get() - 1);
        head
    }

    /// Puts a freed block of `class` on the list, giving half the list back
    /// to the shared allocator when it is full.
    ///
    /// # Safety
    ///
    /// `block` must be a block of `class` that nothing uses any more.
    unsafe fn push(&self, class: usize, block: *mut u8) {
        // SAFETY: the block is free and at least a word long.
        unsafe { block.cast::<*mut u8>().write(self.heads[class].get()) };
        self.heads[class].set(block);
        let count = self.counts[class].get() + 1;
        self.counts[class].set(count);
        if count > limit(class) {
            shared(|system| {
                for _ in 0..count / 2 {
                    let block = self.heads[class].get();
                    // SAFETY: the list holds `count` free blocks of this
                    // class, each taken from `system` with this layout.
                    unsafe {
                        self.heads[class].set(block.cast::<*mut u8>().read());
                        system.dealloc(block, block_layout(class));
                    }
                }
            });
            self.counts[class].set(count - count / 2);
        }
    }

    /// Fills the empty list of `class` with a batch from the shared
    /// allocator; returns the new head (null if none could be had).
    ///
    /// # Safety
    ///
    /// The list of `class` must be empty.
    unsafe fn refill(&self, class: usize) -> *mut u8 {
        let layout = block_layout(class);
        let mut head = ptr::null_mut::<u8>();
        let mut count = 0;
        shared(|system| {
            for _ in 0..batch(class) {
                // SAFETY: a non-zero size.
                let block = unsafe { system.alloc(layout) };
                if block.is_null() {
                    break;
                }
                // SAFETY: a fresh block of at least a word.
                unsafe { block.cast::<*mut u8>().write(head) };
                head = block;
                count += 1;
            }
        });
        self.heads[class].set(head);
        self.counts[class].set(count);
        head
    }
}

/// The allocator: per-thread caches of small blocks in front of `std`'s
/// allocator (see the module documentation).
pub struct ThreadCache;

// SAFETY: every block handed out is `layout`-sized and aligned (a class
// block is at least as large and 8-aligned, and only requests aligned to
// at most 8 get one) and is handed out once until it is freed; the
// shared allocator is only reached under `SHARED`.
unsafe impl GlobalAlloc for ThreadCache {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match class_of(layout) {
            // SAFETY: the lists hold only free blocks of their class.
            Some(class) => LISTS
                .try_with(|lists| unsafe { lists.pop(class) })
                .unwrap_or_else(|_| shared(|system| unsafe { system.alloc(block_layout(class)) })),
            // SAFETY: the caller's layout, passed on.
            None => shared(|system| unsafe { system.alloc(layout) }),
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if class_of(layout).is_none() {
            // SAFETY: the caller's layout, passed on.
            return shared(|system| unsafe { system.alloc_zeroed(layout) });
        }
        // SAFETY: the caller's layout; a cached block may hold old bytes.
        unsafe {
            let block = self.alloc(layout);
            if !block.is_null() {
                block.write_bytes(0, layout.size());
            }
            block
        }
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        match class_of(layout) {
            Some(class) => {
                // SAFETY: the caller frees a block of this layout, so of
                // this class.
                let cached = LISTS.try_with(|lists| unsafe { lists.push(class, block) });
                if cached.is_err() {
                    // SAFETY: as above; taken with the class's layout.
                    shared(|system| unsafe { system.dealloc(block, block_layout(class)) });
                }
            }
            // SAFETY: the caller's block and layout, passed on.
            None => shared(|system| unsafe { system.dealloc(block, layout) }),
        }
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller promises a valid size for this alignment.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        match (class_of(layout), class_of(new_layout)) {
            // The block already has room.
            (Some(old), Some(new)) if old == new => block,
            // SAFETY: the caller's block and layouts, passed on.
            (None, None) => shared(|system| unsafe { system.realloc(block, layout, new_size) }),
            // SAFETY: a fresh block, then the old one's bytes and the old
            // block freed, as `realloc` promises.
            _ => unsafe {
                let moved = self.alloc(new_layout);
                if !moved.is_null() {
                    ptr::copy_nonoverlapping(block, moved, layout.size().min(new_size));
                    self.dealloc(block, layout);
                }
                moved
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_cover_every_cached_size_once_and_in_order() {
        let mut last = 0;
        for size in 1..=LARGEST_CACHED {
            let class = class_of(Layout::from_size_align(size, 1).unwrap()).unwrap();
            assert!(class_size(class) >= size, "size {size} in class {class}");
            assert!(class >= last && class < CLASSES);
            if size > 1024 {
                assert!(
                    class_size(class) * 4 < size * 5,
                    "size {size} wastes too much"
                );
            }
            last = class;
        }
        assert_eq!(last, CLASSES - 1);
        assert_eq!(class_size(CLASSES - 1), LARGEST_CACHED);
        assert_eq!(
            class_of(Layout::from_size_align(LARGEST_CACHED + 1, 8).unwrap()),
            None
        );
        assert_eq!(class_of(Layout::from_size_align(64, 16).unwrap()), None);
    }

    #[test]
    fn blocks_are_distinct_aligned_and_hold_their_bytes() {
        let allocator = ThreadCache;
        let mut blocks = Vec::new();
        for round in 0..3_000usize {
            let size = 1 + (round * 37) % (LARGEST_CACHED + 3000);
            let layout = Layout::from_size_align(size, 1 << (round % 4)).unwrap();
            // SAFETY: non-zero sizes; every block is freed with its layout.
            let block = unsafe { allocator.alloc(layout) };
            assert!(!block.is_null());
            assert_eq!(block as usize % layout.align(), 0);
            unsafe { block.write_bytes(round as u8, size) };
            blocks.push((block, layout, round as u8));
        }
        for &(block, layout, fill) in &blocks {
            let bytes = unsafe { std::slice::from_raw_parts(block, layout.size()) };
            assert!(
                bytes.iter().all(|&b| b == fill),
                "a block was handed out twice"
            );
        }
        for (block, layout, _) in blocks {
            unsafe { allocator.dealloc(block, layout) };
        }
    }

    #[test]
    fn zeroed_blocks_are_zero_even_when_reused() {
        let allocator = ThreadCache;
        let layout = Layout::from_size_align(200, 8).unwrap();
        unsafe {
            let dirty = allocator.alloc(layout);
            dirty.write_bytes(0xAB, 200);
            allocator.dealloc(dirty, layout);
            let clean = allocator.alloc_zeroed(layout);
            assert_eq!(clean, dirty, "the freed block comes back first");
            assert!(
                std::slice::from_raw_parts(clean, 200)
                    .iter()
                    .all(|&b| b == 0)
            );
            allocator.dealloc(clean, layout);
        }
    }

    #[test]
    fn realloc_keeps_the_bytes_across_classes_and_sizes() {
        let allocator = ThreadCache;
        unsafe {
            let mut layout = Layout::from_size_align(10, 4).unwrap();
            let mut block = allocator.alloc(layout);
            block.copy_from_nonoverlapping(b"0123456789".as_ptr(), 10);
            for new_size in [12, 16, 17, 600, 5000, 40, 10] {
                block = allocator.realloc(block, layout, new_size);
                layout = Layout::from_size_align(new_size, 4).unwrap();
                assert_eq!(std::slice::from_raw_parts(block, 10), b"0123456789");
            }
            allocator.dealloc(block, layout);
        }
    }

    #[test]
    fn lists_stay_within_their_limit_when_one_thread_frees_what_another_took() {
        let allocator = ThreadCache;
        let layout = Layout::from_size_align(48, 8).unwrap();
        let class = class_of(layout).unwrap();
        let blocks: Vec<usize> = std::thread::spawn(move || {
            (0..10_000)
                .map(|_| unsafe { ThreadCache.alloc(layout) } as usize)
                .collect()
        })
        .join()
        .unwrap();
        for block in blocks {
            unsafe { allocator.dealloc(block as *mut u8, layout) };
            let count = LISTS.with(|lists| lists.counts[class].get());
            assert!(count <= limit(class), "{count} blocks cached");
        }
    }
}
