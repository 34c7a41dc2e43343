//! The sandbox: Kiln's compiler running in Wasmtime with no capabilities
//! and hard limits.
//!
//! The compiler comes in two builds of the same `kiln-guest` library:
//! - the **threaded guest** (`threaded/`), a core module on a shared
//!   memory whose worker threads are further instances on that memory, so
//!   Wasmtime's parallel compilation runs inside the sandbox. This is the
//!   path a [`CompileRequest`] takes by default;
//! - the **component**, the `kiln:compiler` WIT contract that browsers and
//!   edge runtimes use, single-threaded ([`Guest::Component`]).
//!
//! [`Sandbox::compile`] is the one way in: every caller describes its
//! compile as a [`CompileRequest`] and gets a [`Compiled`] back.
//!
//! One [`Sandbox`] is built per process and shared across threads. Both
//! builds are compiled once (or loaded from the on-disk cache, see
//! `guest_cache.rs`); every compile then gets fresh instances in fresh
//! stores, so nothing one input leaves behind in the guest's memory can
//! reach the next compile, and a guest that traps takes only its own job
//! with it.
//!
//! Limits:
//! - time: the component's engine uses epoch interruption; a ticker thread
//!   advances the epoch every [`TICK`] and each store's deadline is its
//!   job's deadline in ticks, so a runaway compile traps at most a tick or
//!   two after it. The threaded guest runs on an engine of its own without
//!   epoch checks: at its deadline the host takes its memory away
//!   (`guarded.rs`);
//! - memory: the component's growth goes through a [`ResourceLimiter`] that
//!   refuses growth past the cap and records that it did, so the trap that
//!   follows (the guest's allocator aborts) is reported as the memory
//!   limit; the threaded guest's shared memory has the cap as its maximum,
//!   and the job's own size of it (a memory may be reused) is checked
//!   against the cap on each growth, refusals reported;
//! - output: the artifact's size is checked before it is handed on;
//! - stdout/stderr (component): captured into bounded in-memory pipes;
//!   stderr is where the guest's panic hook leaves a panic's message.

mod guarded;
mod request;
mod threaded;

pub(crate) use request::check_code;
pub use request::{CompileRequest, Compiled, Guest, Provenance, Threads};

use crate::bindings::{KilnPre, wit};
use crate::{Artifact, ArtifactKind, CompileError, Error, LimitKind, Limits, Options, guest_cache};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};
use threaded::ThreadedGuest;
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, ResourceLimiter, Store,
    Trap,
};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

/// How often the epoch advances: the granularity of the time limit.
pub const TICK: Duration = Duration::from_millis(10);

/// How much of the guest's stdout and stderr is kept, each.
const STDIO_CAPACITY: usize = 64 << 10;

/// Bytes of function bodies per compile thread: a compile gets one thread
/// per this much code, up to [`Sandbox::jobs`].
///
/// A worker thread costs its start (a fresh instance of the guest, its
/// stack and thread-local storage: about 0.3 ms) and the work is spread
/// per function, so a module with little code loses by spreading it. On
/// 16 cores, compiling Sightglass's `noop` (2.6 KB of code in a 52 KB
/// file) on 16 threads took 15.8 ms against 10.7 ms on one, and modules
/// with about 20 KB of code gained nothing from 16 threads, while one
/// thread compiles roughly 2.5 KB of code a millisecond: 8 KiB is a few
/// milliseconds of work per thread. The file's size is no measure (data
/// segments and names compile to nothing).
pub const CODE_BYTES_PER_THREAD: usize = 8 << 10;

/// What one threaded compile took inside the sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompileStats {
    /// The guest's linear memory at the end of the compile (the job's own
    /// size of it, `threaded/memory_pool.rs`), which is its peak: it only
    /// grows.
    pub guest_memory_bytes: u64,
    /// Worker threads started (0 for a compile on the calling thread).
    pub threads: usize,
    /// Functions the incremental cache supplied from earlier compiles.
    pub cache_hits: u64,
    /// Functions the incremental cache did not have, so compiled afresh.
    /// (A function repeated within one input is compiled once and counts
    /// once.)
    pub cache_misses: u64,
}

/// A handle on the sandboxed compiler, cheap to share across threads.
pub struct Sandbox {
    /// The compiler component, loaded on its first use: the CLI compiles
    /// on the threaded guest only, and every cached build loaded costs the
    /// start the read and check of its whole entry (`guest_cache.rs`).
    component: OnceLock<ComponentGuest>,
    engine: Engine,
    cache_dir: Option<PathBuf>,
    config_dir: Option<PathBuf>,
    threaded: ThreadedGuest,
    limits: Limits,
    jobs: usize,
    _ticker: EpochTicker,
}

/// The loaded compiler component, ready to instantiate.
struct ComponentGuest {
    pre: KilnPre<GuestState>,
    component: Component,
}

impl Sandbox {
    /// Starts the sandbox with `limits`, caching the compiled guest under
    /// `KILN_CACHE_DIR`, or the user's cache directory (`~/.cache/kiln`).
    ///
    /// # Errors
    ///
    /// [`Error::Sandbox`] if the compiler component cannot be compiled or
    /// linked.
    pub fn new(limits: Limits) -> Result<Self, Error> {
        Self::with_cache_dir(limits, guest_cache::default_dir())
    }

    /// Like [`Sandbox::new`] with an explicit cache directory (`None`: the
    /// guest is compiled on every start).
    ///
    /// # Errors
    ///
    /// As [`Sandbox::new`].
    pub fn with_cache_dir(limits: Limits, cache_dir: Option<PathBuf>) -> Result<Self, Error> {
        Self::with_dirs(limits, cache_dir, crate::user_dirs::config_dir())
    }

    /// Like [`Sandbox::with_cache_dir`], with the config directory that
    /// holds the key of the cache entries' MACs (`None`: nothing is cached).
    ///
    /// # Errors
    ///
    /// As [`Sandbox::new`].
    pub fn with_dirs(
        limits: Limits,
        cache_dir: Option<PathBuf>,
        config_dir: Option<PathBuf>,
    ) -> Result<Self, Error> {
        let engine = Engine::new(&component_engine_config()).map_err(Error::sandbox)?;
        let threaded_engine = Engine::new(&threaded_engine_config()).map_err(Error::sandbox)?;
        let threaded = guest_cache::load_threaded(
            &threaded_engine,
            cache_dir.as_deref(),
            config_dir.as_deref(),
        )?;
        let threaded = ThreadedGuest::new(&threaded_engine, threaded)?;
        Ok(Self {
            component: OnceLock::new(),
            engine: engine.clone(),
            cache_dir,
            config_dir,
            threaded,
            limits,
            jobs: available_cores(),
            _ticker: EpochTicker::start(engine),
        })
    }

    /// The compiler component, loaded (and its cache entry checked) once.
    fn component(&self) -> Result<&ComponentGuest, Error> {
        if let Some(loaded) = self.component.get() {
            return Ok(loaded);
        }
        let component = guest_cache::load_component(
            &self.engine,
            self.cache_dir.as_deref(),
            self.config_dir.as_deref(),
        )?;
        let mut linker = Linker::<GuestState>::new(&self.engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(Error::sandbox)?;
        let pre = linker.instantiate_pre(&component).map_err(Error::sandbox)?;
        let pre = KilnPre::new(pre).map_err(Error::sandbox)?;
        // Two threads may load it at once; one result is kept, both equal.
        Ok(self
            .component
            .get_or_init(|| ComponentGuest { pre, component }))
    }

    /// Sets how many threads one compile may use (at least 1). By default,
    /// the cores available to this process.
    #[must_use]
    pub fn with_jobs(mut self, jobs: usize) -> Self {
        self.jobs = jobs.max(1);
        self
    }

    /// The limits every compile runs under.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// How many threads one compile may use.
    pub fn jobs(&self) -> usize {
        self.jobs
    }

    /// The threads a compile of `input` gets: [`compile_threads`] with
    /// [`Sandbox::jobs`].
    pub fn threads_for(&self, input: &[u8]) -> usize {
        compile_threads(input, self.jobs)
    }

    /// The threaded guest's imports, as `module.name`.
    pub fn threaded_imports(&self) -> Vec<String> {
        self.threaded.imports()
    }

    /// The interfaces the compiler component imports, as `namespace:package/interface@version`.
    ///
    /// # Errors
    ///
    /// As [`Sandbox::new`], when the component cannot be loaded.
    pub fn guest_imports(&self) -> Result<Vec<String>, Error> {
        let guest = self.component()?;
        Ok(guest
            .component
            .component_type()
            .imports(&self.engine)
            .map(|(name, _)| name.to_string())
            .collect())
    }

    /// Runs one compile in the sandbox, as `request` describes it: on the
    /// threaded guest or the component, with the sandbox's limits or the
    /// request's, through a tenant's incremental cache, its machine code
    /// verified, and signed, as asked (`request.rs`). Verification, where
    /// asked, runs on the artifact, those built from cached functions
    /// included.
    ///
    /// # Errors
    ///
    /// [`Error::Compile`] when the compiler rejects the input or fails on it
    /// (a panic included), [`Error::CodeVerification`] when the artifact's
    /// machine code breaks a rule ([`Error::CodeUnverifiable`] when the
    /// verifier cannot read it), [`Error::Limit`] when a limit is hit,
    /// [`Error::Cache`] for a bad tenant name or a cache that cannot be
    /// read or written, [`Error::Usage`] for a cache asked of the
    /// component, [`Error::Provenance`] when the statement cannot be
    /// made, and [`Error::Sandbox`] when the guest fails some other way.
    pub fn compile(&self, request: &CompileRequest<'_>) -> Result<Compiled, Error> {
        let limits = request.limits.unwrap_or(self.limits);
        let started = SystemTime::now();
        let start = Instant::now();
        let (artifact, stats) = match request.guest {
            Guest::Threaded => {
                let jobs = match request.threads {
                    Threads::Auto => self.threads_for(request.input),
                    Threads::Exactly(jobs) => jobs.max(1),
                };
                let session = match request.cache {
                    Some((cache, tenant)) => Some(cache.session(tenant).map_err(Error::Cache)?),
                    None => None,
                };
                self.threaded
                    .compile(request.input, request.options, jobs, &limits, session)?
            }
            Guest::Component => {
                if request.cache.is_some() {
                    return Err(Error::Usage {
                        message: "the incremental cache serves the threaded guest only".to_string(),
                    });
                }
                self.compile_component(request.input, request.options, &limits)?
            }
        };
        let artifact = check_output(artifact, &limits)?;
        let duration = start.elapsed();
        // Before anything is signed or answered: code that breaks a rule
        // never leaves here.
        let (code_verification, verify_code_duration) = request::verify_code(request, &artifact)?;
        let statement = request::sign(request, &limits, started, &artifact, &code_verification)?;
        Ok(Compiled {
            artifact,
            statement,
            stats,
            duration,
            code_verification,
            verify_code_duration,
        })
    }

    /// Waits for the work that finished compiles left for after their
    /// answers: zeroing their memories for the next job. A measurement
    /// calls this between compiles, so that the work does not fall on the
    /// next thing it times.
    pub fn settle(&self) {
        self.threaded.settle();
    }

    /// Compiles `input` with the compiler component, the single-threaded
    /// build behind the WIT contract.
    fn compile_component(
        &self,
        input: &[u8],
        options: &Options,
        limits: &Limits,
    ) -> Result<(Artifact, CompileStats), Error> {
        let wit_options = to_wit_options(options);
        let (artifact, peak) = self.call(limits, |kiln, store| {
            kiln.kiln_compiler_compiler()
                .call_compile_with(store, input, &wit_options)
        })?;
        let artifact = artifact.map_err(from_wit_error)?;
        let artifact = Artifact {
            bytes: artifact.bytes,
            kind: match artifact.kind {
                wit::ArtifactKind::Module => ArtifactKind::Module,
                wit::ArtifactKind::Component => ArtifactKind::Component,
            },
            function_count: artifact.function_count,
            code_bytes: artifact.code_bytes,
        };
        let stats = CompileStats {
            guest_memory_bytes: peak as u64,
            threads: 0,
            cache_hits: 0,
            cache_misses: 0,
        };
        Ok((artifact, stats))
    }

    /// The targets the guest reports.
    ///
    /// # Errors
    ///
    /// As [`Sandbox::compile`], for the call itself.
    pub fn targets(&self) -> Result<Vec<String>, Error> {
        self.call(&self.limits, |kiln, store| {
            kiln.kiln_compiler_compiler().call_targets(store)
        })
        .map(|(targets, _)| targets)
    }

    /// The guest's version string.
    ///
    /// # Errors
    ///
    /// As [`Sandbox::compile`], for the call itself.
    pub fn version(&self) -> Result<String, Error> {
        self.call(&self.limits, |kiln, store| {
            kiln.kiln_compiler_compiler().call_version(store)
        })
        .map(|(version, _)| version)
    }

    /// Runs `f` on a fresh instance in a fresh, limited store and sorts its
    /// failure, if any, into an [`Error`]; with its result, the most memory
    /// the instance asked for.
    fn call<R>(
        &self,
        limits: &Limits,
        f: impl FnOnce(&crate::bindings::Kiln, &mut Store<GuestState>) -> wasmtime::Result<R>,
    ) -> Result<(R, usize), Error> {
        let stderr = MemoryOutputPipe::new(STDIO_CAPACITY);
        let state = GuestState::new(limits.max_memory, stderr.clone());
        let guest = self.component()?;
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.memory);
        store.set_epoch_deadline(Deadline::after(limits.timeout).ticks_left());
        store.epoch_deadline_trap();

        let result = guest
            .pre
            .instantiate(&mut store)
            .and_then(|kiln| f(&kiln, &mut store));
        match result {
            Ok(value) => Ok((value, store.data().memory.peak)),
            Err(error) => Err(sort_failure(&error, limits, store.data(), &stderr)),
        }
    }
}

/// Names the cause of a failed guest call: a limit, a panic, or a failure
/// of the sandbox itself.
fn sort_failure(
    error: &wasmtime::Error,
    limits: &Limits,
    state: &GuestState,
    stderr: &MemoryOutputPipe,
) -> Error {
    if error.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
        return Error::Limit(LimitKind::Time {
            limit: limits.timeout,
        });
    }
    if state.memory.hit {
        return Error::Limit(LimitKind::Memory {
            limit: limits.max_memory,
        });
    }
    let stderr = String::from_utf8_lossy(&stderr.contents()).into_owned();
    if let Some(line) = stderr
        .lines()
        .find_map(|line| line.strip_prefix(kiln_guest::PANIC_PREFIX))
    {
        return Error::Compile(CompileError::Internal {
            message: format!("the compiler panicked: {line}"),
        });
    }
    // Keep the end of the guest's stderr: that is where an abort explains itself.
    let stderr = stderr.trim();
    let tail = &stderr[stderr.floor_char_boundary(stderr.len().saturating_sub(2000))..];
    Error::Sandbox {
        message: if tail.is_empty() {
            format!("{error:#}")
        } else {
            format!("{error:#}; guest stderr: {tail}")
        },
    }
}

/// Refuses an artifact over the output cap.
fn check_output(artifact: Artifact, limits: &Limits) -> Result<Artifact, Error> {
    let size = artifact.bytes.len() as u64;
    if size > limits.max_output {
        return Err(Error::Limit(LimitKind::Output {
            limit: limits.max_output,
            size,
        }));
    }
    Ok(artifact)
}

/// The threads a compile of `input` gets, at most `jobs`: one per
/// [`CODE_BYTES_PER_THREAD`] of its function bodies (summed over the core
/// modules of a component; for text or unparsable input, its length), and
/// at least one.
pub fn compile_threads(input: &[u8], jobs: usize) -> usize {
    (code_bytes(input) / CODE_BYTES_PER_THREAD).clamp(1, jobs.max(1))
}

/// Bytes of function bodies in `input`: the code sections of every core
/// module in it; its whole length when it is not binary wasm (text) or its
/// section headers do not parse or fit (the compiler will say why).
///
/// This runs natively on untrusted bytes before the sandbox sees them, so
/// it is no parser: a walk over section headers alone, with checked
/// arithmetic and no indexing that can overrun ([`kiln_guest::sections`]).
fn code_bytes(input: &[u8]) -> usize {
    kiln_guest::sections::code_bytes(input)
        .and_then(|bytes| usize::try_from(bytes).ok())
        .unwrap_or(input.len())
}

/// The cores this process may use.
fn available_cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// The engine that runs the compiler component (not the engine that loads
/// artifacts: see [`crate::load`]). Its time limit is epoch interruption.
fn component_engine_config() -> Config {
    let mut config = Config::new();
    config.epoch_interruption(true);
    config.wasm_component_model(true);
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(guest_pool()));
    config
}

/// The engine that runs the threaded guest: atomics, a shared memory the
/// host creates, and no epoch interruption, whose checks would cost the
/// compiler 6–15% of its time; the threaded guest's deadline takes its
/// memory away instead (`guarded.rs`).
fn threaded_engine_config() -> Config {
    let mut config = Config::new();
    config.wasm_threads(true);
    config.shared_memory(true);
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(guest_pool()));
    config
}

/// Compiles running at once, at most: the pool's size.
pub const MAX_CONCURRENT_INSTANCES: u32 = 1024;

/// The pooling allocator the guests' instances come from.
///
/// Every compile instantiates afresh, so instances, tables and the
/// component's linear memories are taken from slots reserved once rather
/// than mapped and unmapped each time, and the first
/// [`KEEP_RESIDENT`] bytes of a memory are zeroed in place for the next
/// compile instead of being given back to the kernel and faulted in again.
/// (The threaded guest's shared memory is not Wasmtime's to pool: the host
/// creates it, and keeps finished jobs' memories the same way itself,
/// `threaded/memory_pool.rs`.) A slot holds the largest memory a 32-bit
/// guest can have, so any `--max-memory` fits; the slots are address
/// space, not memory.
///
/// The pool has no execution stacks. Those are for async calls, which Kiln
/// never makes, yet the pool would otherwise reserve 1000 of them and put a
/// guard page under each, one `mprotect` apiece, and unmap them all again
/// when the engine is dropped: for a `kiln compile` of a tiny module that
/// was nearly half of the process's time.
fn guest_pool() -> PoolingAllocationConfig {
    let mut pool = PoolingAllocationConfig::new();
    pool.total_stacks(0)
        .max_memory_size(4 << 30)
        .linear_memory_keep_resident(KEEP_RESIDENT)
        .total_memories(MAX_CONCURRENT_INSTANCES / 4)
        .total_component_instances(MAX_CONCURRENT_INSTANCES / 4)
        .total_core_instances(MAX_CONCURRENT_INSTANCES)
        .total_tables(MAX_CONCURRENT_INSTANCES);
    pool
}

/// Bytes of a pooled memory kept mapped between compiles.
const KEEP_RESIDENT: usize = 64 << 20;

/// When a compile job must end, on the clock and in epoch ticks.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline {
    at: Instant,
}

impl Deadline {
    /// The deadline `timeout` from now.
    pub(crate) fn after(timeout: Duration) -> Self {
        Self {
            at: Instant::now() + timeout,
        }
    }

    /// When it is.
    pub(crate) fn instant(&self) -> Instant {
        self.at
    }

    /// Whether it has passed.
    pub(crate) fn passed(&self) -> bool {
        Instant::now() >= self.at
    }

    /// Epoch ticks from now until the deadline, at least one: what a store
    /// created now gets as its epoch deadline.
    pub(crate) fn ticks_left(&self) -> u64 {
        let left = self.at.saturating_duration_since(Instant::now());
        (left.as_nanos() / TICK.as_nanos()) as u64 + 1
    }
}

fn to_wit_options(options: &Options) -> wit::Options {
    wit::Options {
        triple: options.triple.clone(),
        // The contract's TOML cannot carry `-C cranelift-NAME` without a
        // value; a CPU feature there is the same request.
        cpu_features: options
            .wasmtime
            .enabled_flags()
            .iter()
            .chain(&options.cpu_features)
            .cloned()
            .collect(),
        wasmtime_config: options.wasmtime.as_toml().to_string(),
    }
}

fn from_wit_error(error: wit::CompileError) -> Error {
    Error::Compile(match error {
        wit::CompileError::InvalidInput(wit::InvalidInput { message, offset }) => {
            CompileError::InvalidInput { message, offset }
        }
        wit::CompileError::UnsupportedTarget(triple) => CompileError::UnsupportedTarget { triple },
        wit::CompileError::UnsupportedFeature(message) => {
            CompileError::UnsupportedFeature { message }
        }
        wit::CompileError::Internal(message) => CompileError::Internal { message },
    })
}

/// What one guest instance's store holds: a WASI context with no
/// capabilities and the memory cap.
struct GuestState {
    wasi: WasiCtx,
    table: ResourceTable,
    memory: MemoryCap,
}

impl GuestState {
    fn new(max_memory: u64, stderr: MemoryOutputPipe) -> Self {
        // No preopens, environment, arguments or network; stdin is empty.
        let wasi = WasiCtxBuilder::new()
            .stdout(MemoryOutputPipe::new(STDIO_CAPACITY))
            .stderr(stderr)
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        Self {
            wasi,
            table: ResourceTable::new(),
            memory: MemoryCap {
                limit: usize::try_from(max_memory).unwrap_or(usize::MAX),
                hit: false,
                peak: 0,
            },
        }
    }
}

impl WasiView for GuestState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Refuses memory growth past `limit` and remembers that it did, and the
/// largest size it allowed.
struct MemoryCap {
    limit: usize,
    hit: bool,
    peak: usize,
}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.limit {
            self.hit = true;
            return Ok(false);
        }
        self.peak = self.peak.max(desired);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 1 << 20)
    }
}

/// Advances an engine's epoch every [`TICK`] until dropped.
struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    fn start(engine: Engine) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("kiln-epoch".to_string())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(TICK);
                    engine.increment_epoch();
                }
            })
            .expect("spawning the epoch ticker");
        Self {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
