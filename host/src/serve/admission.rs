//! Who may compile, and when: API tokens, per-tenant quotas and rates, and
//! the bounded queue in front of the compile slots.
//!
//! A compile request passes three gates, in this order, each before the
//! service reads a byte of its body (so a refused client costs nothing):
//!
//! | gate                | refusal | holds until                            |
//! |---------------------|---------|----------------------------------------|
//! | token → tenant      | 401     | -                                      |
//! | tenant's in-flight  | 429     | the response (quota: running + queued) |
//! | tenant's rate       | 429     | - (a token bucket: rate and burst)     |
//! | queue length        | 503     | the response                           |
//!
//! and then waits for one of `concurrency` compile slots. A request is
//! counted in the queue from its admission, body upload included, so the
//! memory that request bodies can hold is bounded by
//! `(concurrency + queue) × max_body`, whatever the number of clients.
//! Refusals carry `Retry-After`.

use super::config::{ServeConfig, TenantConfig};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The tenant of a service without tokens.
pub const DEFAULT_TENANT: &str = "default";

/// Why a request was not admitted.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// Tokens are configured and the request had none, or an unknown one.
    Unauthorized,
    /// The tenant has `max_in_flight` compiles running or queued.
    TenantBusy {
        /// The tenant.
        tenant: String,
    },
    /// The tenant is past its rate.
    RateLimited {
        /// The tenant.
        tenant: String,
        /// When a compile will next be allowed.
        retry_after: Duration,
    },
    /// The queue is full.
    Overloaded,
}

/// The gates, shared by all requests.
pub struct Admission {
    tenants: HashMap<String, Arc<Tenant>>,
    slots: Arc<Semaphore>,
    admitted: Arc<AtomicUsize>,
    capacity: usize,
    concurrency: usize,
}

/// One tenant's live state.
pub struct Tenant {
    /// Its name.
    pub name: String,
    config: TenantConfig,
    in_flight: AtomicUsize,
    bucket: Mutex<Bucket>,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// An admitted request: its place in the queue and in its tenant's quota,
/// given back when dropped.
pub struct Ticket {
    tenant: Option<Arc<Tenant>>,
    admitted: Arc<AtomicUsize>,
    slots: Arc<Semaphore>,
}

/// A running compile's slot.
pub struct Slot {
    _permit: OwnedSemaphorePermit,
}

impl Admission {
    /// The gates `config` describes.
    pub fn new(config: &ServeConfig) -> Self {
        let tenants = config
            .tenants
            .iter()
            .map(|tenant| {
                let state = Tenant {
                    name: tenant.name.clone(),
                    config: tenant.clone(),
                    in_flight: AtomicUsize::new(0),
                    bucket: Mutex::new(Bucket {
                        tokens: tenant.burst,
                        at: Instant::now(),
                    }),
                };
                (tenant.token.clone(), Arc::new(state))
            })
            .collect();
        Self {
            tenants,
            slots: Arc::new(Semaphore::new(config.concurrency)),
            admitted: Arc::new(AtomicUsize::new(0)),
            capacity: config.concurrency + config.queue,
            concurrency: config.concurrency,
        }
    }

    /// Whether requests need a token.
    pub fn needs_token(&self) -> bool {
        !self.tenants.is_empty()
    }

    /// The tenant a bearer token (the `Authorization` header's value)
    /// names; `None` for the service without tokens.
    ///
    /// # Errors
    ///
    /// [`Refusal::Unauthorized`] when tokens are configured and this is
    /// none of them.
    pub fn authenticate(
        &self,
        authorization: Option<&str>,
    ) -> Result<Option<Arc<Tenant>>, Refusal> {
        if self.tenants.is_empty() {
            return Ok(None);
        }
        let token = bearer(authorization).ok_or(Refusal::Unauthorized)?;
        // Compared in constant time against each configured token, so
        // timing says nothing about how much of a guess was right.
        self.tenants
            .iter()
            .find(|(known, _)| constant_time_eq(known.as_bytes(), token.as_bytes()))
            .map(|(_, tenant)| Some(tenant.clone()))
            .ok_or(Refusal::Unauthorized)
    }

    /// Admits a compile of `tenant`'s, or says why not.
    ///
    /// # Errors
    ///
    /// The [`Refusal`] of the first gate that is closed.
    pub fn admit(&self, tenant: Option<Arc<Tenant>>) -> Result<Ticket, Refusal> {
        if let Some(tenant) = &tenant {
            tenant.take_quota()?;
            if let Err(refusal) = tenant.take_rate() {
                tenant.in_flight.fetch_sub(1, Ordering::AcqRel);
                return Err(refusal);
            }
        }
        let ticket = Ticket {
            tenant,
            admitted: self.admitted.clone(),
            slots: self.slots.clone(),
        };
        // The ticket gives both back if the queue is full.
        if self.admitted.fetch_add(1, Ordering::AcqRel) >= self.capacity {
            return Err(Refusal::Overloaded);
        }
        Ok(ticket)
    }

    /// Requests admitted and not yet answered.
    pub fn admitted(&self) -> usize {
        self.admitted.load(Ordering::Acquire).min(self.capacity)
    }

    /// Compiles running now.
    pub fn running(&self) -> usize {
        self.concurrency - self.slots.available_permits()
    }
}

impl Ticket {
    /// Waits for a compile slot.
    pub async fn slot(&self) -> Slot {
        let permit = self
            .slots
            .clone()
            .acquire_owned()
            .await
            .expect("the compile slots are never closed");
        Slot { _permit: permit }
    }

    /// The tenant's name, if there are tenants.
    pub fn tenant(&self) -> Option<&str> {
        self.tenant.as_deref().map(|tenant| tenant.name.as_str())
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.admitted.fetch_sub(1, Ordering::AcqRel);
        if let Some(tenant) = &self.tenant {
            tenant.in_flight.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

impl Tenant {
    fn take_quota(&self) -> Result<(), Refusal> {
        let before = self.in_flight.fetch_add(1, Ordering::AcqRel);
        if before >= self.config.max_in_flight {
            self.in_flight.fetch_sub(1, Ordering::AcqRel);
            return Err(Refusal::TenantBusy {
                tenant: self.name.clone(),
            });
        }
        Ok(())
    }

    /// Takes one token from the bucket, refilled at the sustained rate up
    /// to the burst.
    fn take_rate(&self) -> Result<(), Refusal> {
        let per_second = self.config.rate_per_minute / 60.0;
        let mut bucket = crate::lock(&self.bucket);
        let now = Instant::now();
        let refill = now.duration_since(bucket.at).as_secs_f64() * per_second;
        bucket.tokens = (bucket.tokens + refill).min(self.config.burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return Ok(());
        }
        let wait = (1.0 - bucket.tokens) / per_second;
        Err(Refusal::RateLimited {
            tenant: self.name.clone(),
            retry_after: Duration::from_secs_f64(wait.min(86_400.0)),
        })
    }
}

/// The token of an `Authorization: Bearer TOKEN` header's value.
pub(super) fn bearer(authorization: Option<&str>) -> Option<&str> {
    authorization
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim)
}

/// Whether `a` and `b` are equal, in time that depends on their lengths
/// only.
pub(super) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(tenants: Vec<TenantConfig>, concurrency: usize, queue: usize) -> ServeConfig {
        ServeConfig {
            concurrency,
            queue,
            tenants,
            ..ServeConfig::default()
        }
    }

    fn tenant(name: &str, max_in_flight: usize, rate_per_minute: f64, burst: f64) -> TenantConfig {
        TenantConfig {
            name: name.to_string(),
            token: format!("token-of-{name}-0123456789"),
            max_in_flight,
            rate_per_minute,
            burst,
        }
    }

    #[test]
    fn tokens_name_tenants() {
        let gates = Admission::new(&config(vec![tenant("a", 1, 60.0, 1.0)], 1, 1));
        assert_eq!(gates.authenticate(None).err(), Some(Refusal::Unauthorized));
        assert_eq!(
            gates.authenticate(Some("Bearer nope")).err(),
            Some(Refusal::Unauthorized)
        );
        assert_eq!(
            gates.authenticate(Some("token-of-a-0123456789")).err(),
            Some(Refusal::Unauthorized),
            "the scheme is required"
        );
        let found = gates.authenticate(Some("Bearer token-of-a-0123456789"));
        assert_eq!(found.unwrap().unwrap().name, "a");
        let open = Admission::new(&config(Vec::new(), 1, 1));
        assert!(open.authenticate(None).unwrap().is_none());
    }

    #[test]
    fn the_queue_is_bounded_and_given_back() {
        let gates = Admission::new(&config(Vec::new(), 1, 2));
        let held: Vec<Ticket> = (0..3).map(|_| gates.admit(None).unwrap()).collect();
        assert_eq!(gates.admit(None).err(), Some(Refusal::Overloaded));
        assert_eq!(gates.admitted(), 3);
        drop(held);
        assert_eq!(gates.admitted(), 0);
        assert!(gates.admit(None).is_ok());
    }

    #[test]
    fn a_tenant_quota_and_rate_refuse_with_429_kinds() {
        let gates = Admission::new(&config(vec![tenant("a", 1, 60.0, 2.0)], 4, 4));
        let a = gates
            .authenticate(Some("Bearer token-of-a-0123456789"))
            .unwrap();
        let first = gates.admit(a.clone()).unwrap();
        assert!(matches!(
            gates.admit(a.clone()).err(),
            Some(Refusal::TenantBusy { .. })
        ));
        drop(first);
        let second = gates.admit(a.clone()).unwrap();
        drop(second);
        // The burst of 2 is spent; one a second comes back.
        match gates.admit(a.clone()).err() {
            Some(Refusal::RateLimited { retry_after, .. }) => {
                assert!(retry_after > Duration::ZERO && retry_after <= Duration::from_secs(1));
            }
            other => panic!("expected a rate refusal, got {other:?}"),
        }
        // A refusal gives the quota back.
        assert_eq!(a.unwrap().in_flight.load(Ordering::Acquire), 0);
    }
}
