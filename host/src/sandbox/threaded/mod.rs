//! The threaded compiler: `kiln-guest` built as a core module on a shared
//! memory, with Wasmtime's parallel compilation running on worker instances
//! that this module provides (see `guest/src/threaded.rs` for the guest's
//! half).
//!
//! # One compile job
//!
//! Each compile gets a zeroed [`SharedMemory`] capped at the memory limit
//! (one an earlier job used, where there is one: `memory_pool.rs` says why
//! and how nothing passes from job to job) and a main instance on the
//! calling thread. When the guest's rayon pool asks
//! for a thread (the `spawn` import), a host thread instantiates the module
//! again on the same memory, sets that instance's stack pointer and
//! thread-local storage to the region the guest allocated for it, and runs
//! the worker loop. Nothing of the job outlives it: the instances and the
//! threads belong to it, the threads are joined before the compile returns,
//! and the memory is zeroed before another job may have it.
//!
//! # Limits
//!
//! - time: at the job's deadline a watchdog takes the job's memory away,
//!   so that running code traps on its next access (`guarded.rs` says why
//!   this and not epoch interruption, and how host code stays out of the
//!   way);
//! - waiting: `memory.atomic.wait32` cannot be interrupted, so the build
//!   rewrites it into the `wait32` import; `imports::wait32` waits in slices of at
//!   most [`WAIT_SLICE`] and traps once the job is over (deadline passed, a
//!   thread failed, or the answer is in). A job can therefore never leave a
//!   thread blocked behind it;
//! - memory: `memory.grow` is rewritten into the `memory_grow` import too,
//!   so a refusal at the cap is seen and reported as the memory limit.
//!   Shared memories do not consult a store's `ResourceLimiter`.

#[cfg(test)]
mod hostile_guest;
mod imports;
mod memory_pool;

use crate::cache::CacheSession;
use crate::sandbox::guarded::{GuardedMemory, Inside, MemoryUser, Revoked, Watchdog};
use crate::sandbox::{CompileStats, Deadline, available_cores};
use crate::{Artifact, CompileError, Error, LimitKind, Limits, Options, lock};
use kiln_guest::wire;
use memory_pool::{MemoryPool, OwnSize};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;
use wasmtime::{Engine, ExternType, Instance, Linker, Module, Store, Trap, Val};

/// The longest a guest thread waits before it looks at whether its job is
/// still going.
pub const WAIT_SLICE: Duration = Duration::from_millis(20);

/// Bytes of one wasm page.
const PAGE: u64 = 64 << 10;

/// The compiled threaded guest, ready to start jobs.
pub(crate) struct ThreadedGuest {
    module: Module,
    linker: Linker<ThreadState>,
    /// Memories of finished jobs, zeroed, each as large as the module
    /// asks for at the start (its data, stack and TLS) or larger.
    memories: MemoryPool,
}

impl ThreadedGuest {
    /// Wraps the compiled guest module.
    pub(crate) fn new(engine: &Engine, module: Module) -> Result<Self, Error> {
        let initial_pages = module
            .imports()
            .find_map(|import| match import.ty() {
                ExternType::Memory(memory) if memory.is_shared() => Some(memory.minimum()),
                _ => None,
            })
            .ok_or_else(|| Error::Sandbox {
                message: "the threaded guest imports no shared memory".to_string(),
            })?;
        let mut linker = Linker::new(engine);
        imports::link(&mut linker).map_err(Error::sandbox)?;
        Ok(Self {
            module,
            linker,
            memories: MemoryPool::new(initial_pages, available_cores()),
        })
    }

    /// The module's imports, as `module.name`.
    pub(crate) fn imports(&self) -> Vec<String> {
        self.module
            .imports()
            .map(|import| format!("{}.{}", import.module(), import.name()))
            .collect()
    }

    /// Waits until the memories of finished jobs are zeroed (see
    /// `memory_pool.rs`).
    pub(crate) fn settle(&self) {
        self.memories.settle();
    }

    /// Compiles `input` on up to `jobs` threads under `limits`, with
    /// `cache` answering Wasmtime's incremental cache if given (and
    /// committed if the compile succeeds).
    pub(crate) fn compile(
        &self,
        input: &[u8],
        options: &Options,
        jobs: usize,
        limits: &Limits,
        cache: Option<CacheSession>,
    ) -> Result<(Artifact, CompileStats), Error> {
        let max_pages = (limits.max_memory / PAGE).min(1 << 16);
        if max_pages < self.memories.initial_pages() {
            return Err(Error::Limit(LimitKind::Memory {
                limit: limits.max_memory,
            }));
        }
        let (memory, size) = self
            .memories
            .take(self.module.engine(), max_pages)
            .map_err(Error::sandbox)?;
        let request = wire::encode(&wire::Request {
            options: options.clone(),
            jobs: jobs as u32,
            cache: cache.is_some(),
        });
        let job = Arc::new(Job {
            module: self.module.clone(),
            linker: self.linker.clone(),
            memory: GuardedMemory::new(memory),
            size,
            deadline: Deadline::after(limits.timeout),
            max_threads: jobs,
            over: AtomicBool::new(false),
            memory_refused: AtomicBool::new(false),
            panic: Mutex::new(None),
            threads: Mutex::new(Vec::new()),
            thread_failure: Mutex::new(None),
            cache,
        });
        let watched = job.clone();
        let watchdog = Watchdog::start(job.deadline.instant(), move || {
            watched.over.store(true, Ordering::SeqCst);
            watched.memory.revoke();
        })
        .map_err(|e| Error::Sandbox {
            message: format!("starting the compile's deadline: {e}"),
        })?;
        let answer = run_main(&job, input, &request);
        watchdog.stop();
        let (thread_failure, threads) = job.finish();
        let answer = answer.map_err(|error| job.sort_failure(&error, thread_failure, limits));
        let (cache_hits, cache_misses) = job.cache.as_ref().map_or((0, 0), CacheSession::counts);
        let stats = CompileStats {
            guest_memory_bytes: job.size.bytes(),
            threads,
            cache_hits,
            cache_misses,
        };
        // Every thread is joined and every store dropped: this is the last
        // reference to the job, and the memory is free for the next one.
        let cache = Arc::into_inner(job).and_then(|job| {
            if let Some(memory) = job.memory.into_unrevoked() {
                self.memories.give_back(memory);
            }
            job.cache
        });
        let response: wire::Response = wire::decode(&answer?).map_err(|e| Error::Sandbox {
            message: e.to_string(),
        })?;
        let artifact = response.map_err(Error::Compile)?;
        if let Some(session) = cache {
            session.commit().map_err(Error::Cache)?;
        }
        Ok((artifact, stats))
    }
}

/// What every thread of one compile job shares.
struct Job {
    module: Module,
    /// The imports but the memory, which each instance adds for itself.
    linker: Linker<ThreadState>,
    memory: GuardedMemory,
    /// The job's own size of the memory, which `memory_grow` grows.
    size: OwnSize,
    deadline: Deadline,
    /// Worker threads the job may start (the caller's thread only waits).
    max_threads: usize,
    /// Set when the job has its answer or cannot get one; waiting threads
    /// then trap and running ones are not replaced.
    over: AtomicBool,
    /// Set when `memory_grow` refused growth at the cap.
    memory_refused: AtomicBool,
    panic: Mutex<Option<String>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    /// The first failure of a worker thread.
    thread_failure: Mutex<Option<wasmtime::Error>>,
    /// The incremental cache's view for this job, if it has one.
    cache: Option<CacheSession>,
}

/// What one thread's store holds: its job, its right to enter the job's
/// memory, and the cache value its last `cache_get` found, until
/// `cache_take` copies it over.
struct ThreadState {
    job: Arc<Job>,
    user: MemoryUser,
    found: Option<Vec<u8>>,
}

impl ThreadState {
    /// Enters the job's memory (see `guarded.rs`).
    fn enter(&self) -> Result<Inside<'_>, Revoked> {
        self.job.memory.enter(&self.user)
    }
}

/// The trap a waiting thread gets when its job is over.
#[derive(Debug)]
struct JobOver;

impl std::fmt::Display for JobOver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the compile job ended while this thread waited")
    }
}

impl std::error::Error for JobOver {}

impl Job {
    /// A fresh store and instance of the guest on the job's memory, with
    /// its thread-local storage where `place_tls` says (which may also set
    /// up the stack).
    ///
    /// Instantiating runs the module's start function and setting up TLS
    /// copies data segments, both inside the memory, so the thread counts
    /// as inside for both.
    fn instantiate(
        self: &Arc<Self>,
        place_tls: impl FnOnce(&mut Store<ThreadState>, &Instance) -> wasmtime::Result<u32>,
    ) -> wasmtime::Result<(Store<ThreadState>, Instance)> {
        let user = self.memory.user();
        let state = ThreadState {
            job: self.clone(),
            user: user.clone(),
            found: None,
        };
        let mut store = Store::new(self.module.engine(), state);
        let _inside = self.memory.enter(&user)?;
        let mut linker = self.linker.clone();
        linker.define(&mut store, "env", "memory", self.memory.shared().clone())?;
        let instance = linker.instantiate(&mut store, &self.module)?;
        let tls = place_tls(&mut store, &instance)?;
        instance
            .get_typed_func::<u32, ()>(&mut store, "__wasm_init_tls")?
            .call(&mut store, tls)?;
        Ok((store, instance))
    }

    /// Ends the job: no more threads, waiting ones give up; joins them all
    /// and returns the first failure of one and how many there were.
    fn finish(&self) -> (Option<wasmtime::Error>, usize) {
        let threads = {
            let mut threads = lock(&self.threads);
            self.over.store(true, Ordering::SeqCst);
            std::mem::take(&mut *threads)
        };
        let count = threads.len();
        for thread in threads {
            let _ = thread.join();
        }
        let failure = lock(&self.thread_failure).take();
        (failure, count)
    }

    fn thread_failed(&self, error: wasmtime::Error) {
        self.over.store(true, Ordering::SeqCst);
        let mut failure = lock(&self.thread_failure);
        if failure.is_none() && error.downcast_ref::<JobOver>().is_none() {
            *failure = Some(error);
        }
    }

    /// Names the cause of a failed job: a limit, a panic, or a failure of
    /// the sandbox. A worker's failure explains the main thread's (which
    /// then only saw the job end).
    fn sort_failure(
        &self,
        main: &wasmtime::Error,
        thread: Option<wasmtime::Error>,
        limits: &Limits,
    ) -> Error {
        let errors = [Some(main), thread.as_ref()];
        let trapped = |trap: Trap| {
            errors
                .iter()
                .flatten()
                .any(|e| e.downcast_ref::<Trap>() == Some(&trap))
        };
        if trapped(Trap::Interrupt) || self.deadline.passed() {
            return Error::Limit(LimitKind::Time {
                limit: limits.timeout,
            });
        }
        if self.memory_refused.load(Ordering::SeqCst) {
            return Error::Limit(LimitKind::Memory {
                limit: limits.max_memory,
            });
        }
        if let Some(message) = lock(&self.panic).take() {
            return Error::Compile(CompileError::Internal {
                message: format!("the compiler panicked: {message}"),
            });
        }
        let cause = thread
            .as_ref()
            .filter(|_| main.downcast_ref::<JobOver>().is_some())
            .unwrap_or(main);
        Error::Sandbox {
            message: format!("{cause:#}"),
        }
    }
}

/// Runs the compile on the main instance and copies out the response.
fn run_main(job: &Arc<Job>, input: &[u8], request: &[u8]) -> wasmtime::Result<Vec<u8>> {
    // The main thread's TLS block, like a worker's, comes from the heap.
    let (mut store, instance) = job.instantiate(|store, instance| {
        let alloc = instance.get_typed_func::<u32, u32>(&mut *store, "kiln_alloc")?;
        let size = tls_size(store, instance)?;
        alloc_bytes(store, &alloc, size)
    })?;
    let alloc = instance.get_typed_func::<u32, u32>(&mut store, "kiln_alloc")?;
    let input_at = alloc_bytes(&mut store, &alloc, input.len())?;
    let request_at = alloc_bytes(&mut store, &alloc, request.len())?;
    {
        let inside = store.data().enter()?;
        write(&inside, input_at, input)?;
        write(&inside, request_at, request)?;
    }
    let compile =
        instance.get_typed_func::<(u32, u32, u32, u32), u32>(&mut store, "kiln_compile")?;
    let answer = compile.call(
        &mut store,
        (
            input_at,
            input.len() as u32,
            request_at,
            request.len() as u32,
        ),
    )?;
    let inside = store.data().enter()?;
    let header = read(&inside, answer, 8)?;
    let at = u32::from_le_bytes(header[..4].try_into().unwrap_or_default());
    let len = u32::from_le_bytes(header[4..].try_into().unwrap_or_default());
    read(&inside, at, len as usize)
}

/// Runs one rayon worker on a fresh instance, its stack and TLS in
/// `region..region + len`.
fn run_worker(job: &Arc<Job>, worker: u32, region: u32, len: u32) -> wasmtime::Result<()> {
    let (mut store, instance) = job.instantiate(|store, instance| {
        let tls_size = tls_size(store, instance)?;
        let tls_align = global_u32(store, instance, "__tls_align")?.max(1);
        // The region comes from the guest: check it rather than trust it.
        let end = region
            .checked_add(len)
            .ok_or_else(|| wasmtime::format_err!("a worker region past the end of memory"))?;
        let tls = region
            .checked_next_multiple_of(tls_align)
            .ok_or_else(|| wasmtime::format_err!("a worker region past the end of memory"))?;
        let stack_top = end & !15;
        // Leave the stack at least three quarters of the region.
        if u64::from(tls) + tls_size as u64 > u64::from(region) + u64::from(len / 4) {
            wasmtime::bail!("a worker's TLS block ({tls_size} bytes) does not fit its region");
        }
        instance
            .get_global(&mut *store, "__stack_pointer")
            .ok_or_else(|| wasmtime::format_err!("the guest exports no __stack_pointer"))?
            .set(&mut *store, Val::I32(stack_top as i32))?;
        Ok(tls)
    })?;
    instance
        .get_typed_func::<u32, ()>(&mut store, "kiln_worker")?
        .call(&mut store, worker)
}

fn tls_size(store: &mut Store<ThreadState>, instance: &Instance) -> wasmtime::Result<usize> {
    Ok(global_u32(store, instance, "__tls_size")? as usize)
}

fn global_u32(
    store: &mut Store<ThreadState>,
    instance: &Instance,
    name: &str,
) -> wasmtime::Result<u32> {
    match instance
        .get_global(&mut *store, name)
        .map(|g| g.get(&mut *store))
    {
        Some(Val::I32(value)) => Ok(value as u32),
        _ => wasmtime::bail!("the guest exports no i32 global `{name}`"),
    }
}

fn alloc_bytes(
    store: &mut Store<ThreadState>,
    alloc: &wasmtime::TypedFunc<u32, u32>,
    len: usize,
) -> wasmtime::Result<u32> {
    let len = u32::try_from(len)
        .map_err(|_| wasmtime::format_err!("{len} bytes do not fit the guest"))?;
    match alloc.call(store, len)? {
        0 => wasmtime::bail!("the guest could not allocate {len} bytes"),
        at => Ok(at),
    }
}

/// Copies `bytes` into the job's memory at `at`.
fn write(inside: &Inside<'_>, at: u32, bytes: &[u8]) -> wasmtime::Result<()> {
    let range = inside
        .range(at, bytes.len())
        .ok_or_else(|| wasmtime::format_err!("write out of the guest's memory"))?;
    // SAFETY: the range is in bounds and inside the memory; it was just
    // allocated for the host to fill (or the guest handed it over for this
    // call), so no guest thread touches it until the host returns.
    unsafe {
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), range.as_ptr() as *mut u8, bytes.len());
    }
    Ok(())
}

/// Copies `len` bytes at `at` out of the job's memory.
fn read(inside: &Inside<'_>, at: u32, len: usize) -> wasmtime::Result<Vec<u8>> {
    let mut bytes = vec![0; len];
    read_into(inside, at, &mut bytes)?;
    Ok(bytes)
}

/// Fills `bytes` from the job's memory at `at`.
fn read_into(inside: &Inside<'_>, at: u32, bytes: &mut [u8]) -> wasmtime::Result<()> {
    let range = inside
        .range(at, bytes.len())
        .ok_or_else(|| wasmtime::format_err!("a read outside the guest's memory"))?;
    // SAFETY: in bounds and inside the memory; the guest handed the range
    // over and does not change it while the host reads.
    unsafe {
        std::ptr::copy_nonoverlapping(range.as_ptr() as *const u8, bytes.as_mut_ptr(), bytes.len());
    }
    Ok(())
}
