//! The threaded guest's `kiln` imports: starting worker threads, waiting,
//! growing, copying and filling the job's memory, the incremental cache,
//! SHA-256 blocks, and panic messages. Every one that touches the memory does so inside it
//! (`GuardedMemory::enter`), so that the deadline can revoke it safely.

use super::{JobOver, ThreadState, WAIT_SLICE, read, read_into, run_worker, write};
use crate::lock;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use wasmtime::{Caller, Linker, Trap, WaitResult};

/// Defines every import in `linker`.
pub(super) fn link(linker: &mut Linker<ThreadState>) -> wasmtime::Result<()> {
    linker
        .func_wrap("kiln", "spawn", spawn)?
        .func_wrap("kiln", "panic_message", panic_message)?
        .func_wrap("kiln", "wait32", wait32)?
        .func_wrap("kiln", "memory_grow", memory_grow)?
        .func_wrap("kiln", "memory_copy", memory_copy)?
        .func_wrap("kiln", "memory_fill", memory_fill)?
        .func_wrap("kiln", "cache_get", cache_get)?
        .func_wrap("kiln", "cache_take", cache_take)?
        .func_wrap("kiln", "cache_insert", cache_insert)?
        .func_wrap("kiln", "sha256_compress", sha256_compress)?;
    Ok(())
}

/// The `spawn` import: starts a worker thread unless the job is over or
/// has all its threads. Returns 0 when started.
fn spawn(caller: Caller<'_, ThreadState>, worker: u32, region: u32, len: u32) -> i32 {
    let job = caller.data().job.clone();
    let mut threads = lock(&job.threads);
    if job.over.load(Ordering::SeqCst) || threads.len() >= job.max_threads {
        return 1;
    }
    let thread_job = job.clone();
    let started = std::thread::Builder::new()
        .name("kiln-compile".to_string())
        .spawn(move || {
            if let Err(error) = run_worker(&thread_job, worker, region, len) {
                thread_job.thread_failed(error);
            }
        });
    match started {
        Ok(handle) => {
            threads.push(handle);
            0
        }
        Err(_) => 1,
    }
}

/// The `panic_message` import: keeps the first panic's message.
fn panic_message(caller: Caller<'_, ThreadState>, at: u32, len: u32) {
    let state = caller.data();
    let text = state
        .enter()
        .map_err(wasmtime::Error::from)
        .and_then(|inside| read(&inside, at, (len as usize).min(4096)))
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_else(|_| "(message unreadable)".to_string());
    lock(&state.job.panic).get_or_insert(text);
}

/// The `wait32` import, standing in for `memory.atomic.wait32`: same
/// operands (and the instruction's static offset) and results (0 woken,
/// 1 value differed, 2 timed out), waiting in slices so that the end of
/// the job ends the wait.
fn wait32(
    caller: Caller<'_, ThreadState>,
    addr: u32,
    expected: i32,
    timeout_ns: i64,
    offset: u32,
) -> wasmtime::Result<i32> {
    let state = caller.data();
    let job = &state.job;
    let addr = u64::from(addr) + u64::from(offset);
    let until = u64::try_from(timeout_ns)
        .ok()
        .map(|ns| Instant::now() + Duration::from_nanos(ns));
    loop {
        if job.over.load(Ordering::SeqCst) {
            return Err(JobOver.into());
        }
        if job.deadline.passed() {
            return Err(Trap::Interrupt.into());
        }
        let now = Instant::now();
        let mut slice = WAIT_SLICE;
        if let Some(until) = until {
            if now >= until {
                return Ok(2);
            }
            slice = slice.min(until - now);
        }
        // Waiting reads the address: inside the memory, one slice at a time.
        let woken = state
            .enter()?
            .memory()
            .atomic_wait32(addr, expected as u32, Some(slice))?;
        match woken {
            WaitResult::Ok => return Ok(0),
            WaitResult::Mismatch => return Ok(1),
            WaitResult::TimedOut => {}
        }
    }
}

/// The `memory_grow` import, standing in for `memory.grow`: the old size
/// in pages, or -1 when growth is refused (and the refusal remembered).
/// The size is the job's own, which a reused memory may exceed
/// (`memory_pool.rs`).
fn memory_grow(caller: Caller<'_, ThreadState>, delta: u32) -> wasmtime::Result<i32> {
    let state = caller.data();
    // Inside, so that the memory does not grow while it is being revoked.
    let inside = state.enter()?;
    match state.job.size.grow(inside.memory(), u64::from(delta)) {
        Some(old) => Ok(old as i32),
        None => {
            state.job.memory_refused.store(true, Ordering::SeqCst);
            Ok(-1)
        }
    }
}

/// The `memory_copy` import, standing in for `memory.copy` of more than
/// `short_copies::SHORT` bytes (the build's wasm stand-in does shorter
/// ones in the guest, `host/build/short_copies.rs`): copies `len`
/// bytes from `from` to `to`, the ranges possibly overlapping; traps when
/// either range leaves the memory, before copying anything.
fn memory_copy(
    caller: Caller<'_, ThreadState>,
    to: u32,
    from: u32,
    len: u32,
) -> wasmtime::Result<()> {
    let inside = caller.data().enter()?;
    let (Some(to), Some(from)) = (
        inside.range(to, len as usize),
        inside.range(from, len as usize),
    ) else {
        return Err(Trap::MemoryOutOfBounds.into());
    };
    // SAFETY: both ranges are in bounds and inside the memory; `copy`
    // allows overlap. Other guest threads may write these bytes at the same
    // time, as they may during the instruction this stands in for.
    unsafe { std::ptr::copy(from.as_ptr() as *const u8, to.as_ptr() as *mut u8, to.len()) };
    Ok(())
}

/// The `memory_fill` import, standing in for a long `memory.fill`: sets `len`
/// bytes at `to` to `byte`; traps when the range leaves the memory.
fn memory_fill(
    caller: Caller<'_, ThreadState>,
    to: u32,
    byte: i32,
    len: u32,
) -> wasmtime::Result<()> {
    let inside = caller.data().enter()?;
    let Some(to) = inside.range(to, len as usize) else {
        return Err(Trap::MemoryOutOfBounds.into());
    };
    // SAFETY: in bounds and inside the memory (see `memory_copy`).
    unsafe { (to.as_ptr() as *mut u8).write_bytes(byte as u8, to.len()) };
    Ok(())
}

/// The `cache_get` import: the length of the value stored for the key (and
/// keeps it for `cache_take`), or -1.
fn cache_get(mut caller: Caller<'_, ThreadState>, key: u32, key_len: u32) -> wasmtime::Result<i32> {
    let state = caller.data_mut();
    let Some(cache) = &state.job.cache else {
        return Ok(-1);
    };
    let key = read(&state.enter()?, key, key_len as usize)?;
    let found = cache.get(&key);
    let answer = found.as_ref().map_or(-1, |value| value.len() as i32);
    state.found = found;
    Ok(answer)
}

/// The `cache_take` import: copies the value `cache_get` found to `to`.
fn cache_take(mut caller: Caller<'_, ThreadState>, to: u32) -> wasmtime::Result<()> {
    let state = caller.data_mut();
    let value = state
        .found
        .take()
        .ok_or_else(|| wasmtime::format_err!("cache_take without a found value"))?;
    write(&state.enter()?, to, &value)
}

/// The `cache_insert` import: offers the job's cache a value; 1 when kept.
fn cache_insert(
    caller: Caller<'_, ThreadState>,
    key: u32,
    key_len: u32,
    value: u32,
    value_len: u32,
) -> wasmtime::Result<i32> {
    let state = caller.data();
    let Some(cache) = &state.job.cache else {
        return Ok(0);
    };
    let (key, value) = {
        let inside = state.enter()?;
        (
            read(&inside, key, key_len as usize)?,
            read(&inside, value, value_len as usize)?,
        )
    };
    Ok(i32::from(cache.insert(&key, value)))
}

/// The `sha256_compress` import (declared by `patches/sha2`): compresses
/// `count` 64-byte blocks at `blocks` into the SHA-256 state of eight
/// little-endian words at `state`, natively, where the CPU's SHA
/// instructions do in nanoseconds what takes the guest microseconds.
/// Nothing is allocated: most calls carry one block.
fn sha256_compress(
    caller: Caller<'_, ThreadState>,
    state: u32,
    blocks: u32,
    count: u32,
) -> wasmtime::Result<()> {
    let inside = caller.data().enter()?;
    let blocks_fit = (count as usize)
        .checked_mul(64)
        .is_some_and(|len| inside.range(blocks, len).is_some());
    if inside.range(state, 32).is_none() || !blocks_fit {
        return Err(Trap::MemoryOutOfBounds.into());
    }
    let mut bytes = [0u8; 32];
    read_into(&inside, state, &mut bytes)?;
    let mut words: [u32; 8] = std::array::from_fn(|i| {
        u32::from_le_bytes([
            bytes[4 * i],
            bytes[4 * i + 1],
            bytes[4 * i + 2],
            bytes[4 * i + 3],
        ])
    });
    let mut block = sha2::digest::generic_array::GenericArray::default();
    for i in 0..count {
        // In range by the check above; checked all the same, so that no
        // guest-given offset is ever summed unchecked.
        let at = i
            .checked_mul(64)
            .and_then(|offset| blocks.checked_add(offset))
            .ok_or(Trap::MemoryOutOfBounds)?;
        read_into(&inside, at, &mut block)?;
        sha2::compress256(&mut words, std::slice::from_ref(&block));
    }
    for (i, word) in words.iter().enumerate() {
        bytes[4 * i..4 * i + 4].copy_from_slice(&word.to_le_bytes());
    }
    write(&inside, state, &bytes)
}
