//! The platform functions Wasmtime's run-time code links against on a
//! target it has no built-in support for, here wasm32.
//!
//! Kiln's compiler only compiles, yet its Wasmtime needs the `runtime`
//! Cargo feature: a stock Wasmtime 48 has `component-model-async` on, so
//! its engines default to concurrency support and refuse an artifact
//! compiled without it, and Wasmtime allows that setting only in a build
//! with `component-model-async`, which requires `async` and so `runtime`.
//! (The setting changes code: components' adapters and the exception
//! paths of trampolines.) On wasm32 that run-time code builds only with
//! `custom-virtual-memory`, and then calls the C functions of Wasmtime's
//! documented custom-platform interface (`wasmtime-platform.h`) that an
//! embedder provides. This module provides them.
//!
//! Nothing in a compile runs wasm, so none of these is on the compile's
//! path in a way that matters; each still does something correct rather
//! than nothing:
//!
//! | function                   | here                                         |
//! |----------------------------|----------------------------------------------|
//! | `mmap_new`, `munmap`       | zeroed memory from the global allocator      |
//! | `mmap_remap`               | zeroes the range again (a fresh mapping)     |
//! | `mprotect`                 | succeeds: linear memory has no protection    |
//! | `page_size`                | 64 KiB, the wasm page                        |
//! | `memory_image_*`           | no images: Wasmtime then copies data instead |
//! | `tls_get`, `tls_set`       | thread-local pointers, one per slot          |

use std::alloc::{Layout, alloc_zeroed, dealloc};
use std::cell::Cell;

/// The page size this platform reports: wasm's own.
const PAGE: usize = 64 * 1024;

fn layout(size: usize) -> Option<Layout> {
    Layout::from_size_align(size.max(1), PAGE).ok()
}

/// Maps `size` bytes of zeroed memory; 0 on success.
///
/// # Safety
///
/// `ret` must be valid to write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasmtime_mmap_new(
    size: usize,
    _prot_flags: u32,
    ret: &mut *mut u8,
) -> i32 {
    let Some(layout) = layout(size) else {
        return 1;
    };
    // SAFETY: the layout's size is non-zero.
    let memory = unsafe { alloc_zeroed(layout) };
    if memory.is_null() {
        return 1;
    }
    *ret = memory;
    0
}

/// Makes `[addr, addr + size)` a fresh zeroed mapping again; 0 on success.
///
/// # Safety
///
/// The range must lie inside memory from [`wasmtime_mmap_new`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasmtime_mmap_remap(addr: *mut u8, size: usize, _prot_flags: u32) -> i32 {
    // SAFETY: the caller's contract.
    unsafe { addr.write_bytes(0, size) };
    0
}

/// Unmaps memory from [`wasmtime_mmap_new`]; 0 on success.
///
/// # Safety
///
/// `ptr` and `size` must be those of one [`wasmtime_mmap_new`] mapping.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasmtime_munmap(ptr: *mut u8, size: usize) -> i32 {
    let Some(layout) = layout(size) else {
        return 1;
    };
    // SAFETY: the caller's contract: allocated above with this layout.
    unsafe { dealloc(ptr, layout) };
    0
}

/// Changes protection; linear memory has none, so this succeeds.
#[unsafe(no_mangle)]
pub extern "C" fn wasmtime_mprotect(_ptr: *mut u8, _size: usize, _prot_flags: u32) -> i32 {
    0
}

/// The platform's page size.
#[unsafe(no_mangle)]
pub extern "C" fn wasmtime_page_size() -> usize {
    PAGE
}

/// Opaque image handle; never made here.
#[repr(C)]
pub struct MemoryImage {
    _private: [u8; 0],
}

/// Makes no memory image (a null one is not a failure: Wasmtime copies
/// the data in instead); 0 on success.
#[unsafe(no_mangle)]
pub extern "C" fn wasmtime_memory_image_new(
    _ptr: *const u8,
    _len: usize,
    ret: &mut *mut MemoryImage,
) -> i32 {
    *ret = std::ptr::null_mut();
    0
}

/// Never called: no image is ever made.
#[unsafe(no_mangle)]
pub extern "C" fn wasmtime_memory_image_map_at(
    _image: *mut MemoryImage,
    _addr: *mut u8,
    _len: usize,
) -> i32 {
    1
}

/// Never called: no image is ever made.
#[unsafe(no_mangle)]
pub extern "C" fn wasmtime_memory_image_free(_image: *mut MemoryImage) {}

/// How many thread-local slots Wasmtime may ask for.
const TLS_SLOTS: usize = 4;

thread_local! {
    static TLS: [Cell<*mut u8>; TLS_SLOTS] = const {
        [const { Cell::new(std::ptr::null_mut()) }; TLS_SLOTS]
    };
}

/// The calling thread's Wasmtime pointer in `slot` (null past the slots).
#[unsafe(no_mangle)]
pub extern "C" fn wasmtime_tls_get(slot: usize) -> *mut u8 {
    TLS.with(|slots| slots.get(slot).map_or(std::ptr::null_mut(), Cell::get))
}

/// Sets the calling thread's Wasmtime pointer in `slot`.
#[unsafe(no_mangle)]
pub extern "C" fn wasmtime_tls_set(slot: usize, ptr: *mut u8) {
    TLS.with(|slots| {
        if let Some(cell) = slots.get(slot) {
            cell.set(ptr);
        }
    });
}
