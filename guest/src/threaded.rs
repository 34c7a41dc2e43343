//! The threaded build's exports: the same compiler as a core module on a
//! shared memory, so that Wasmtime's parallel compilation runs inside the
//! sandbox.
//!
//! Components cannot share memory yet, so this build is a plain core module
//! for `wasm32-unknown-unknown` with the `atomics` target feature. It has no
//! WASI at all; everything it needs from outside is in the `kiln` import
//! module below, and the host (`host/src/sandbox/threaded/`) implements it.
//!
//! # Threads
//!
//! `std::thread::spawn` does not exist on this target. Instead each worker
//! thread is a further instance of this module that the host creates on the
//! same shared memory, on a host thread of its own:
//!
//! 1. The compile builds a rayon pool whose spawn handler allocates a region
//!    for the worker's stack and thread-local storage, boxes rayon's
//!    `ThreadBuilder`, and calls the `spawn` import with both. (Rayon is
//!    told of more threads than are spawned, so that it cuts the work
//!    finer: `split_pool.rs`.)
//! 2. The host instantiates the module again, points that instance's
//!    `__stack_pointer` at the top of the region and calls `__wasm_init_tls`
//!    with the bottom of it, then calls [`kiln_worker`], which runs rayon's
//!    worker loop until the pool is dropped.
//! 3. Wasmtime's parallel compile then spreads functions over that pool.
//!
//! # Waiting
//!
//! A thread that waits (a lock, a condition variable, an idle rayon worker)
//! executes `memory.atomic.wait32`, which blocks its host thread until a
//! notify and is deaf to the host's deadline (the host ends a job by
//! taking its memory away, which only running code notices). A compile that
//! runs out of time or traps on one thread would leave the others blocked
//! forever. So the host's build step rewrites every `memory.atomic.wait32`
//! into a call of the `wait32` import (same operands, same results), and
//! the host's implementation waits in short slices, giving up with a trap
//! once the compile is over. [`KEEP_WAIT32`] keeps that import in the module
//! for the rewrite to find. `memory.grow` is rewritten the same way (into
//! `memory_grow`), because a shared memory's growth never reaches the
//! host's resource limiter and the host must see a refusal at the cap.
//! `memory.copy` and `memory.fill` are rewritten into calls of wasm
//! functions the build adds, which do short ranges themselves and call
//! `memory_copy` and `memory_fill` for long ones, because Wasmtime carries
//! the instructions out in host code, and the host must know when host
//! code is inside the memory before it takes the memory away.
//!
//! One more import is declared elsewhere: `sha256_compress`, by Kiln's
//! stand-in for the `sha2` crate (`patches/sha2`), so that Wasmtime's
//! SHA-256 (module checksums, incremental-cache keys) runs natively.

use crate::wire::{self, Request};
use crate::{CompileError, compile_configured};
use std::alloc::Layout;

#[link(wasm_import_module = "kiln")]
unsafe extern "C" {
    /// Starts a worker instance that calls [`kiln_worker`] with `worker`,
    /// its stack and TLS in `region..region + region_len`. Returns 0 when
    /// the worker was started.
    fn spawn(worker: usize, region: usize, region_len: usize) -> i32;
    /// Hands the host a panic's message before the instance traps.
    fn panic_message(ptr: *const u8, len: usize);
    /// Stands in for `memory.atomic.wait32 offset=<offset>` after the
    /// build's rewrite.
    fn wait32(addr: *const i32, expected: i32, timeout_ns: i64, offset: u32) -> i32;
    /// Stands in for `memory.grow` after the build's rewrite.
    fn memory_grow(delta_pages: usize) -> isize;
    /// Stands in for `memory.copy` after the build's rewrite.
    fn memory_copy(to: *mut u8, from: *const u8, len: usize);
    /// Stands in for `memory.fill` after the build's rewrite.
    fn memory_fill(to: *mut u8, byte: i32, len: usize);
    /// Looks `key` up in the host's incremental cache: the value's length,
    /// kept for [`cache_take`], or -1 for a miss.
    fn cache_get(key: *const u8, key_len: usize) -> isize;
    /// Copies the value the last `cache_get` of this thread found to `to`.
    fn cache_take(to: *mut u8);
    /// Offers the host a compiled value for `key`; 1 when kept.
    fn cache_insert(key: *const u8, key_len: usize, value: *const u8, value_len: usize) -> i32;
}

/// Wasmtime's cache store, answered by the host (`host/src/cache.rs`),
/// which keeps each tenant's entries apart and checks them.
#[derive(Debug)]
struct HostCache;

impl wasmtime::CacheStore for HostCache {
    fn get(&self, key: &[u8]) -> Option<std::borrow::Cow<'_, [u8]>> {
        // SAFETY: a readable range; the host writes `len` bytes to the
        // buffer below, which has exactly that room.
        unsafe {
            let len = usize::try_from(cache_get(key.as_ptr(), key.len())).ok()?;
            let mut value = vec![0; len];
            cache_take(value.as_mut_ptr());
            Some(value.into())
        }
    }

    fn insert(&self, key: &[u8], value: Vec<u8>) -> bool {
        // SAFETY: readable ranges of this memory.
        unsafe { cache_insert(key.as_ptr(), key.len(), value.as_ptr(), value.len()) == 1 }
    }
}

/// Compile threads allocate from caches of their own rather than all
/// queueing on `std`'s one allocator lock (see [`crate::thread_cache`]).
#[global_allocator]
static ALLOCATOR: crate::thread_cache::ThreadCache = crate::thread_cache::ThreadCache;

/// Referenced so the linker keeps the `wait32` import for the rewrite.
#[used]
static KEEP_WAIT32: unsafe extern "C" fn(*const i32, i32, i64, u32) -> i32 = wait32;

/// Referenced so the linker keeps the `memory_grow` import for the rewrite.
#[used]
static KEEP_MEMORY_GROW: unsafe extern "C" fn(usize) -> isize = memory_grow;

/// Referenced so the linker keeps the `memory_copy` import for the rewrite.
#[used]
static KEEP_MEMORY_COPY: unsafe extern "C" fn(*mut u8, *const u8, usize) = memory_copy;

/// Referenced so the linker keeps the `memory_fill` import for the rewrite.
#[used]
static KEEP_MEMORY_FILL: unsafe extern "C" fn(*mut u8, i32, usize) = memory_fill;

/// Bytes for one worker's stack and thread-local storage. Wasmtime's
/// native compile threads run on rayon's default 2 MiB stacks; a worker
/// here gets the same, plus room for the TLS block at the bottom.
pub const WORKER_REGION: usize = 2 << 20;

/// Allocates `size` bytes, 16-aligned, for the host to write into; null
/// when the memory limit leaves no room.
#[unsafe(no_mangle)]
pub extern "C" fn kiln_alloc(size: usize) -> *mut u8 {
    match Layout::from_size_align(size.max(1), 16) {
        // SAFETY: the layout has a non-zero size.
        Ok(layout) => unsafe { std::alloc::alloc(layout) },
        Err(_) => std::ptr::null_mut(),
    }
}

/// Compiles `input` as `request` (postcard bytes of [`Request`]) says.
///
/// Returns a pointer to two `u32`s: the address and length of the
/// postcard-encoded [`wire::Response`].
///
/// # Safety
///
/// Both ranges must be bytes the host wrote into this memory.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_compile(
    input: *const u8,
    input_len: usize,
    request: *const u8,
    request_len: usize,
) -> *const u32 {
    install_panic_hook();
    crate::quiet_cranelift_timing();
    // SAFETY: the caller vouches for both ranges.
    let (input, request) = unsafe {
        (
            std::slice::from_raw_parts(input, input_len),
            std::slice::from_raw_parts(request, request_len),
        )
    };
    let response = match wire::decode::<Request>(request) {
        Ok(request) => compile_in_pool(input, &request),
        Err(e) => Err(CompileError::Internal {
            message: e.to_string(),
        }),
    };
    let bytes = wire::encode(&response).leak();
    let answer = Box::leak(Box::new([bytes.as_ptr() as u32, bytes.len() as u32]));
    answer.as_ptr()
}

/// Runs the worker loop handed over by [`spawn`] on this instance's thread.
///
/// # Safety
///
/// `worker` must come from a `spawn` call of this memory, used once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_worker(worker: usize) {
    // SAFETY: the pointer was made by `Box::into_raw` in the spawn handler.
    let thread = unsafe { Box::from_raw(worker as *mut rayon::ThreadBuilder) };
    thread.run();
}

fn compile_in_pool(input: &[u8], request: &Request) -> wire::Response {
    let configure = |config: &mut wasmtime::Config| {
        config.parallel_compilation(request.jobs > 1);
        if request.cache {
            // Infallible: it only stores the handle.
            let _ = config.enable_incremental_compilation(std::sync::Arc::new(HostCache));
        }
    };
    if request.jobs <= 1 {
        return compile_configured(input, &request.options, configure);
    }
    let pool = crate::split_pool::build(request.jobs as usize, spawn_worker, |_| {
        crate::quiet_cranelift_timing()
    })
    .map_err(|e| CompileError::Internal {
        message: format!("starting {} compile threads: {e}", request.jobs),
    })?;
    pool.install(|| compile_configured(input, &request.options, configure))
}

fn spawn_worker(thread: rayon::ThreadBuilder) -> std::io::Result<()> {
    let region = kiln_alloc(WORKER_REGION);
    if region.is_null() {
        return Err(std::io::Error::other("no memory for a worker's stack"));
    }
    let worker = Box::into_raw(Box::new(thread));
    // SAFETY: the host takes ownership of `worker` when it returns 0.
    if unsafe { spawn(worker as usize, region as usize, WORKER_REGION) } == 0 {
        Ok(())
    } else {
        // SAFETY: refused, so still ours.
        drop(unsafe { Box::from_raw(worker) });
        Err(std::io::Error::other("the host refused a worker thread"))
    }
}

fn install_panic_hook() {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let message = info.to_string().replace('\n', " ");
            // SAFETY: a readable range of this memory.
            unsafe { panic_message(message.as_ptr(), message.len()) };
        }));
    });
}
