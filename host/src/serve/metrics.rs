//! The service's `/metrics`: counters, gauges and histograms in
//! Prometheus's text format, through the Prometheus project's client.
//!
//! | metric                              | kind      | labels          |
//! |-------------------------------------|-----------|-----------------|
//! | `kiln_requests_total`               | counter   | route, status   |
//! | `kiln_compiles_total`               | counter   | outcome         |
//! | `kiln_limit_hits_total`             | counter   | limit           |
//! | `kiln_request_duration_seconds`     | histogram | route           |
//! | `kiln_compile_duration_seconds`     | histogram | -               |
//! | `kiln_queue_depth`                  | gauge     | -               |
//! | `kiln_in_flight`                    | gauge     | -               |
//! | `kiln_bytes_in_total`               | counter   | -               |
//! | `kiln_bytes_out_total`              | counter   | -               |
//! | `kiln_cache_functions_total`        | counter   | result (hit/miss) |
//!
//! `outcome` is `ok` or the error kind of the JSON error body (for
//! example `invalid-input`, `time-limit`); `limit` is every limit a
//! request ran into, the sandbox's (`time`, `memory`, `output`) and the
//! service's (`body`, `body-time`, `queue`, `tenant-rate`,
//! `tenant-quota`).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::time::Duration;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteStatus {
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Route {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Limit {
    limit: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CacheResult {
    result: &'static str,
}

type Durations = Family<Route, Histogram, fn() -> Histogram>;

/// The service's metrics, registered once.
pub struct Metrics {
    registry: Registry,
    requests: Family<RouteStatus, Counter>,
    compiles: Family<Outcome, Counter>,
    limits: Family<Limit, Counter>,
    request_seconds: Durations,
    compile_seconds: Histogram,
    queue_depth: Gauge,
    in_flight: Gauge,
    bytes_in: Counter,
    bytes_out: Counter,
    cache: Family<CacheResult, Counter>,
}

fn latency_buckets() -> Histogram {
    // 1 ms to about 65 s, doubling.
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("kiln");
        let requests = Family::<RouteStatus, Counter>::default();
        let compiles = Family::<Outcome, Counter>::default();
        let limits = Family::<Limit, Counter>::default();
        let request_seconds: Durations = Family::new_with_constructor(latency_buckets);
        let compile_seconds = latency_buckets();
        let queue_depth = Gauge::default();
        let in_flight = Gauge::default();
        let bytes_in = Counter::default();
        let bytes_out = Counter::default();
        let cache = Family::<CacheResult, Counter>::default();
        registry.register("requests", "HTTP requests answered", requests.clone());
        registry.register("compiles", "Compiles by outcome", compiles.clone());
        registry.register(
            "limit_hits",
            "Requests that ran into a limit",
            limits.clone(),
        );
        registry.register(
            "request_duration_seconds",
            "Time from a request's head to its answer",
            request_seconds.clone(),
        );
        registry.register(
            "compile_duration_seconds",
            "Time of sandboxed compiles that produced an artifact",
            compile_seconds.clone(),
        );
        registry.register(
            "queue_depth",
            "Compiles admitted and waiting for a slot",
            queue_depth.clone(),
        );
        registry.register("in_flight", "Compiles running", in_flight.clone());
        registry.register("bytes_in", "Request body bytes read", bytes_in.clone());
        registry.register("bytes_out", "Artifact bytes sent", bytes_out.clone());
        registry.register(
            "cache_functions",
            "Functions the incremental cache supplied (hit) or did not (miss)",
            cache.clone(),
        );
        Self {
            registry,
            requests,
            compiles,
            limits,
            request_seconds,
            compile_seconds,
            queue_depth,
            in_flight,
            bytes_in,
            bytes_out,
            cache,
        }
    }

    /// Counts an answered request.
    pub fn request(&self, route: &str, status: u16, took: Duration) {
        self.requests
            .get_or_create(&RouteStatus {
                route: route.to_string(),
                status,
            })
            .inc();
        self.request_seconds
            .get_or_create(&Route {
                route: route.to_string(),
            })
            .observe(took.as_secs_f64());
    }

    /// Counts a compile's outcome (`ok` or an error kind).
    pub fn compile(&self, outcome: &str) {
        self.compiles
            .get_or_create(&Outcome {
                outcome: outcome.to_string(),
            })
            .inc();
    }

    /// Records a successful compile's time and the cache's share in it.
    pub fn compiled(&self, took: Duration, cache_hits: u64, cache_misses: u64) {
        self.compile_seconds.observe(took.as_secs_f64());
        for (result, count) in [("hit", cache_hits), ("miss", cache_misses)] {
            if count > 0 {
                self.cache
                    .get_or_create(&CacheResult { result })
                    .inc_by(count);
            }
        }
    }

    /// Counts a limit hit.
    pub fn limit(&self, limit: &str) {
        self.limits
            .get_or_create(&Limit {
                limit: limit.to_string(),
            })
            .inc();
    }

    /// Counts request body bytes read.
    pub fn bytes_in(&self, bytes: usize) {
        self.bytes_in.inc_by(bytes as u64);
    }

    /// Counts artifact bytes sent.
    pub fn bytes_out(&self, bytes: usize) {
        self.bytes_out.inc_by(bytes as u64);
    }

    /// The text exposition, with the queue and in-flight gauges as of now.
    pub fn render(&self, queued: usize, running: usize) -> String {
        self.queue_depth
            .set(i64::try_from(queued).unwrap_or(i64::MAX));
        self.in_flight
            .set(i64::try_from(running).unwrap_or(i64::MAX));
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
