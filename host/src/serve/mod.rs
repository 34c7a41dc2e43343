//! `kiln serve`: the compile service for untrusted uploads.
//!
//! A request flows through the service in one direction:
//!
//! ```text
//!  TCP ─► connection (mod.rs: HTTP/1.1 or h2c, header deadline, connection cap)
//!      ─► log_request (mod.rs: request id, one log line, metrics)
//!      ─► route (routes.rs)
//!      ─► admission (admission.rs: token → tenant, quota, rate, queue)
//!      ─► body (body.rs: cap while streaming, body deadline)
//!      ─► compile slot ─► Sandbox::compile (the sandbox's own limits)
//!      ─► artifact bytes + signed statement ─► response
//! ```
//!
//! Everything the service holds is rebuilt at start (the sandbox, the
//! signing key from its file, the gates); the only state shared between
//! requests on disk is the optional incremental cache, whose entries are
//! keyed by tenant and whose loss costs only time. So N replicas behind
//! an ordinary load balancer serve one API, and a replica killed at any
//! moment loses nothing but its in-flight requests (README: "The compile
//! service").
//!
//! Shutdown (SIGTERM or SIGINT) stops accepting connections at once,
//! turns `/readyz` to 503 so that a balancer stops routing here, lets
//! in-flight requests finish within the grace period, and returns.

pub mod admission;
pub mod api_error;
mod body;
pub mod config;
pub mod metrics;
mod routes;

pub use config::{ConfigError, ServeConfig, TenantConfig};

use crate::artifact::SigningKey;
use crate::cache::IncrementalCache;
use crate::{Error, Sandbox};
use admission::Admission;
use api_error::ApiError;
use axum::Router;
use axum::extract::{MatchedPath, Request, State as Shared};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{get, post};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use metrics::Metrics;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// What every request handler shares.
pub struct State {
    sandbox: Sandbox,
    config: ServeConfig,
    admission: Admission,
    metrics: Metrics,
    cache: Option<Arc<IncrementalCache>>,
    key: SigningKey,
    shutting_down: AtomicBool,
    next_request: AtomicU64,
    /// Distinguishes this process's request ids from another replica's.
    instance: u32,
}

/// Why the service could not start or stopped.
#[derive(Debug)]
pub enum ServeError {
    /// The configuration is wrong.
    Config(ConfigError),
    /// The sandbox, the key or the cache could not be set up.
    Setup(Error),
    /// The async runtime could not be started.
    Runtime(std::io::Error),
    /// The listening socket could not be bound or accepted on.
    Listen {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

impl std::fmt::Display for ServeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Config(error) => write!(f, "configuration: {error}"),
            Self::Setup(error) => error.fmt(f),
            Self::Runtime(error) => write!(f, "starting the async runtime: {error}"),
            Self::Listen { addr, source } => write!(f, "listening on {addr}: {source}"),
        }
    }
}

impl std::error::Error for ServeError {}

impl State {
    /// Sets up what the service needs: the sandbox with the configured
    /// limits and threads, the signing key, the cache.
    ///
    /// # Errors
    ///
    /// [`ServeError::Config`] or [`ServeError::Setup`].
    pub fn new(config: ServeConfig) -> Result<Self, ServeError> {
        config.validate().map_err(ServeError::Config)?;
        let sandbox = Sandbox::new(config.limits)
            .map_err(ServeError::Setup)?
            .with_jobs(config.jobs);
        let key = crate::artifact::signing_key(config.key.as_deref()).map_err(ServeError::Setup)?;
        let cache = match &config.cache {
            Some(dir) => Some(
                IncrementalCache::open(dir, config.cache_size)
                    .map_err(|error| ServeError::Setup(Error::Cache(error)))?,
            ),
            None => None,
        };
        Ok(Self {
            sandbox,
            admission: Admission::new(&config),
            metrics: Metrics::new(),
            config,
            cache,
            key,
            shutting_down: AtomicBool::new(false),
            next_request: AtomicU64::new(0),
            instance: instance_tag(),
        })
    }
}

/// The routes, with the request log around them.
pub fn router(state: Arc<State>) -> Router {
    Router::new()
        .route("/v1/compile", post(routes::compile))
        .route("/v1/check", post(routes::check))
        .route("/v1/targets", get(routes::targets))
        .route("/v1/version", get(routes::version))
        .route("/healthz", get(routes::healthz))
        .route("/readyz", get(routes::readyz))
        .route("/metrics", get(routes::metrics))
        .fallback(routes::not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            log_request,
        ))
        .with_state(state)
}

/// Gives each request an id, and after its answer writes its log line and
/// counts it.
async fn log_request(Shared(state): Shared<Arc<State>>, request: Request, next: Next) -> Response {
    let start = Instant::now();
    let number = state.next_request.fetch_add(1, Ordering::Relaxed);
    let id = format!("{:08x}-{number:x}", state.instance);
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |path| path.as_str())
        .to_string();
    let method = request.method().clone();
    let mut response = next.run(request).await;
    let took = start.elapsed();
    let status = response.status().as_u16();
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", value);
    }
    let error = response.extensions().get::<ApiError>();
    if let Some(limit) = error.and_then(|error| error.limit) {
        state.metrics.limit(limit);
    }
    let outcome = error.map_or("ok", |error| error.kind);
    let log = response
        .extensions()
        .get::<routes::CompileLog>()
        .cloned()
        .unwrap_or_default();
    state.metrics.request(&route, status, took);
    tracing::info!(
        request_id = %id,
        method = %method,
        route = %route,
        status,
        outcome,
        tenant = log.tenant.as_deref().unwrap_or("-"),
        input_sha256 = log.input_sha256.as_deref().unwrap_or("-"),
        target = log.target.as_deref().unwrap_or("-"),
        duration_ms = took.as_secs_f64() * 1000.0,
        "request"
    );
    response
}

/// Serves on `listener` until `shutdown` resolves, then drains.
///
/// # Errors
///
/// [`ServeError::Listen`] when accepting fails for good.
pub async fn serve(
    state: Arc<State>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    let addr = listener.local_addr().map_err(|source| ServeError::Listen {
        addr: state.config.listen,
        source,
    })?;
    let app = router(state.clone());
    let graceful = GracefulShutdown::new();
    let connections = Arc::new(Semaphore::new(state.config.max_connections));
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(state.config.header_timeout)
        .max_buf_size(64 << 10);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(64)
        .keep_alive_interval(Some(std::time::Duration::from_secs(20)))
        .keep_alive_timeout(std::time::Duration::from_secs(20));
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = connections.clone().acquire_owned() => {
                permit.expect("the connection cap is never closed")
            }
            () = &mut shutdown => break,
        };
        let (stream, _peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // A connection reset before it was accepted, or out of
                // descriptors for a moment: the listener itself is fine.
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(app.clone());
        let first_byte = state.config.header_timeout;
        let watcher = graceful.watcher();
        let builder = builder.clone();
        tokio::spawn(async move {
            // The connection builder reads the first bytes to tell HTTP/1
            // from HTTP/2 before either protocol's header deadline starts,
            // so a client that connects and sends nothing would hold its
            // place forever: it gets the header deadline for its first
            // byte here.
            let mut first = [0; 1];
            if !matches!(
                tokio::time::timeout(first_byte, stream.peek(&mut first)).await,
                Ok(Ok(1))
            ) {
                return;
            }
            let connection = builder
                .serve_connection_with_upgrades(TokioIo::new(stream), service)
                .into_owned();
            let _ = watcher.watch(connection).await;
            drop(permit);
        });
    }
    drop(listener);
    state.shutting_down.store(true, Ordering::Release);
    tracing::info!(%addr, in_flight = graceful.count(), "shutting down: no new connections");
    match tokio::time::timeout(state.config.grace, graceful.shutdown()).await {
        Ok(()) => tracing::info!("shut down: every request answered"),
        Err(_) => tracing::warn!(
            grace_s = state.config.grace.as_secs_f64(),
            "shut down: the grace period ended with requests in flight"
        ),
    }
    Ok(())
}

/// `kiln serve`: sets up logging, the state and the listener, prints
/// `listening on http://ADDR` on stdout, and serves until SIGTERM or
/// SIGINT.
///
/// # Errors
///
/// As [`State::new`] and [`serve`].
pub fn run(config: ServeConfig) -> Result<(), ServeError> {
    init_logging(config.log_json);
    let listen = config.listen;
    let state = Arc::new(State::new(config)?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(state.config.concurrency + 4)
        .enable_all()
        .build()
        .map_err(ServeError::Runtime)?;
    runtime.block_on(async move {
        // Listening for signals starts before the address is printed, so
        // that a SIGTERM sent as soon as a client sees it is a shutdown.
        let shutdown = shutdown_signal().map_err(ServeError::Runtime)?;
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|source| ServeError::Listen {
                addr: listen,
                source,
            })?;
        let bound = listener.local_addr().map_err(|source| ServeError::Listen {
            addr: listen,
            source,
        })?;
        println!("listening on http://{bound}");
        tracing::info!(addr = %bound, "listening");
        serve(state, listener, shutdown).await
    })
}

/// A future that resolves at the first SIGTERM or SIGINT, both handled
/// from the moment this returns.
fn shutdown_signal() -> std::io::Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = interrupt.recv() => {}
        }
    })
}

/// One log line per event on stderr, JSON when asked, filtered by
/// `KILN_LOG` (default `info`).
fn init_logging(json: bool) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("KILN_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second start in one process (tests) keeps the first subscriber.
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// A tag for this process's request ids.
fn instance_tag() -> u32 {
    let mut bytes = [0; 4];
    if getrandom::fill(&mut bytes).is_err() {
        return std::process::id();
    }
    u32::from_le_bytes(bytes)
}
