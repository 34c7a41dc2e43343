//! The incremental compile cache: compiled functions kept across compiles,
//! so that recompiling a module after a small change reuses every function
//! that did not change.
//!
//! Wasmtime's incremental compilation (inside the sandbox) asks a cache
//! store for each function by a key that hashes the function's Cranelift IR
//! and the compiler's settings, and offers what it compiled on a miss. The
//! threaded guest forwards both to the host (`cache_get`, `cache_insert`);
//! this module answers them from a [redb] database on disk.
//!
//! # Tenants
//!
//! Every key is prefixed by a tenant name. A compile reads and writes only
//! its own tenant's entries, so nothing one tenant's input produced can
//! reach another tenant's artifact. (A compile can only hurt its own
//! tenant's later compiles, which its input could do anyway.)
//!
//! # Entries are checked, never trusted blindly
//!
//! Each value is stored in an envelope: a magic number, a tag naming the
//! exact compiler (Kiln's threaded guest by hash, and the Wasmtime
//! version), and the SHA-256 of the payload. An entry whose envelope does
//! not match, from a damaged file or another compiler, is a miss and is
//! deleted at the end of the job. What does match is still only ever
//! decoded inside the sandbox.
//!
//! # Writes and eviction
//!
//! Reads during a compile use one read transaction. What a compile inserts
//! is kept in memory and written in one transaction when the compile
//! succeeds, together with the recency of every entry it used; a failed
//! compile writes nothing. The database holds at most `max_bytes` of
//! payload: after each write the least recently used entries go first.
//!
//! [redb]: https://docs.rs/redb

use crate::{guest, lock};
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Tenant key prefix + Wasmtime's key → envelope.
const ENTRIES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("entries");
/// Entry key → the sequence number of its last use.
const LAST_USED: TableDefinition<&[u8], u64> = TableDefinition::new("last_used");
/// Sequence number → entry key: the eviction order.
const RECENCY: TableDefinition<u64, &[u8]> = TableDefinition::new("recency");
/// `payload_bytes` and `next_seq`.
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

const MAGIC: &[u8; 4] = b"KIC1";
const TAG_LEN: usize = 8;
const SUM_LEN: usize = 32;
const HEADER_LEN: usize = MAGIC.len() + TAG_LEN + SUM_LEN;

/// The tenant used when none is named.
pub const DEFAULT_TENANT: &str = "local";

/// The default bound on a cache's payload: 1 GiB.
pub const DEFAULT_MAX_BYTES: u64 = 1 << 30;

/// What can go wrong with the cache itself.
#[derive(Debug)]
pub enum CacheError {
    /// The database could not be opened or created.
    Open {
        /// The database file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// Reading or writing the database failed.
    Store {
        /// The database file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// A tenant name that cannot be a key prefix.
    BadTenant {
        /// The name given.
        tenant: String,
    },
}

impl std::fmt::Display for CacheError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Open { path, message } => {
                write!(
                    f,
                    "cannot open the compile cache {}: {message}",
                    path.display()
                )
            }
            Self::Store { path, message } => {
                write!(f, "compile cache {}: {message}", path.display())
            }
            Self::BadTenant { tenant } => write!(
                f,
                "tenant name {tenant:?} must be 1 to 128 bytes with no NUL"
            ),
        }
    }
}

impl std::error::Error for CacheError {}

/// A persistent cache of compiled functions, shared by tenants that each
/// see only their own entries.
pub struct IncrementalCache {
    db: Database,
    path: PathBuf,
    max_bytes: u64,
    tag: [u8; TAG_LEN],
}

impl std::fmt::Debug for IncrementalCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IncrementalCache")
            .field("path", &self.path)
            .field("max_bytes", &self.max_bytes)
            .finish_non_exhaustive()
    }
}

/// Totals of one cache, for reports and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheTotals {
    /// Entries, all tenants.
    pub entries: u64,
    /// Payload bytes, all tenants.
    pub payload_bytes: u64,
}

impl IncrementalCache {
    /// Opens (or creates) the cache in `dir`, holding at most `max_bytes`
    /// of compiled code.
    ///
    /// # Errors
    ///
    /// [`CacheError::Open`] when the directory or database cannot be
    /// created or opened (another process holding it included).
    pub fn open(dir: &Path, max_bytes: u64) -> Result<Arc<Self>, CacheError> {
        let path = dir.join("kiln-cache.redb");
        let open_error = |message: String| CacheError::Open {
            path: path.clone(),
            message,
        };
        std::fs::create_dir_all(dir).map_err(|e| open_error(e.to_string()))?;
        let db = Database::create(&path).map_err(|e| open_error(e.to_string()))?;
        Ok(Arc::new(Self {
            db,
            path,
            max_bytes,
            tag: compiler_tag(),
        }))
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Entries and payload bytes stored.
    ///
    /// # Errors
    ///
    /// [`CacheError::Store`] when the database cannot be read.
    pub fn totals(&self) -> Result<CacheTotals, CacheError> {
        let read = self.db.begin_read().map_err(|e| self.store_error(e))?;
        let entries = match read.open_table(ENTRIES) {
            Ok(table) => table.len().map_err(|e| self.store_error(e))?,
            Err(redb::TableError::TableDoesNotExist(_)) => 0,
            Err(e) => return Err(self.store_error(e)),
        };
        let payload_bytes = match read.open_table(META) {
            Ok(table) => meta(&table, "payload_bytes").map_err(|e| self.store_error(e))?,
            Err(redb::TableError::TableDoesNotExist(_)) => 0,
            Err(e) => return Err(self.store_error(e)),
        };
        Ok(CacheTotals {
            entries,
            payload_bytes,
        })
    }

    /// Starts one compile job's view of `tenant`'s entries.
    ///
    /// # Errors
    ///
    /// [`CacheError::BadTenant`] for an empty, overlong or NUL-carrying
    /// name; [`CacheError::Store`] when the database cannot be read.
    pub(crate) fn session(self: &Arc<Self>, tenant: &str) -> Result<CacheSession, CacheError> {
        if tenant.is_empty() || tenant.len() > 128 || tenant.contains('\0') {
            return Err(CacheError::BadTenant {
                tenant: tenant.to_string(),
            });
        }
        let mut prefix = tenant.as_bytes().to_vec();
        prefix.push(0);
        let read = self.db.begin_read().map_err(|e| self.store_error(e))?;
        let entries = match read.open_table(ENTRIES) {
            Ok(table) => Some(table),
            Err(redb::TableError::TableDoesNotExist(_)) => None,
            Err(e) => return Err(self.store_error(e)),
        };
        Ok(CacheSession {
            cache: self.clone(),
            entries,
            prefix,
            inserted: Mutex::new(Inserted::default()),
            reused: Mutex::new(HashMap::new()),
            missed: Mutex::new(HashSet::new()),
            used: Mutex::new(Vec::new()),
            rejected: Mutex::new(Vec::new()),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        })
    }

    fn store_error(&self, error: impl std::fmt::Display) -> CacheError {
        CacheError::Store {
            path: self.path.clone(),
            message: error.to_string(),
        }
    }

    fn seal(&self, payload: &[u8]) -> Vec<u8> {
        let mut envelope = Vec::with_capacity(HEADER_LEN + payload.len());
        envelope.extend_from_slice(MAGIC);
        envelope.extend_from_slice(&self.tag);
        envelope.extend_from_slice(&Sha256::digest(payload));
        envelope.extend_from_slice(payload);
        envelope
    }

    /// The payload of a sound envelope from this compiler, else `None`.
    fn open_envelope<'a>(&self, envelope: &'a [u8]) -> Option<&'a [u8]> {
        let (header, payload) = envelope.split_at_checked(HEADER_LEN)?;
        let (magic, rest) = header.split_at(MAGIC.len());
        let (tag, sum) = rest.split_at(TAG_LEN);
        (magic == MAGIC && tag == self.tag && sum == Sha256::digest(payload).as_slice())
            .then_some(payload)
    }
}

/// Names the compiler whose output the cache holds: the threaded guest's
/// hash and the Wasmtime version.
fn compiler_tag() -> [u8; TAG_LEN] {
    let digest = Sha256::new()
        .chain_update(guest::THREADED_SHA256)
        .chain_update(kiln_settings::WASMTIME_VERSION)
        .finalize();
    let mut tag = [0; TAG_LEN];
    tag.copy_from_slice(&digest[..TAG_LEN]);
    tag
}

fn meta(
    table: &impl ReadableTable<&'static str, u64>,
    name: &str,
) -> Result<u64, redb::StorageError> {
    Ok(table.get(name)?.map_or(0, |value| value.value()))
}

/// One compile job's use of one tenant's entries.
pub(crate) struct CacheSession {
    cache: Arc<IncrementalCache>,
    /// The stored entries as the job found them (`None`: none yet), one
    /// read transaction for the whole job.
    entries: Option<redb::ReadOnlyTable<&'static [u8], &'static [u8]>>,
    prefix: Vec<u8>,
    /// What this job compiled: written when it succeeds.
    inserted: Mutex<Inserted>,
    /// What this job took from the store, for the input's repeats of it.
    reused: Mutex<HashMap<Vec<u8>, Vec<u8>>>,
    /// Keys not found, each counted once: two threads may look up one
    /// key (a function repeated in the input) before either has
    /// compiled it.
    missed: Mutex<HashSet<Vec<u8>>>,
    /// Stored keys this job used, to refresh their recency.
    used: Mutex<Vec<Vec<u8>>>,
    /// Stored keys whose envelope failed its check, to delete.
    rejected: Mutex<Vec<Vec<u8>>>,
    hits: AtomicU64,
    misses: AtomicU64,
}

/// What one job compiled, and the payload bytes that adds up to.
#[derive(Default)]
struct Inserted {
    payloads: HashMap<Vec<u8>, Vec<u8>>,
    bytes: u64,
}

impl CacheSession {
    /// The payload for Wasmtime's `key`, if any and sound: one this job
    /// already compiled (a function repeated in the input), or one stored
    /// by an earlier compile (a hit).
    pub(crate) fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        if let Some(payload) = lock(&self.inserted).payloads.get(key) {
            return Some(payload.clone());
        }
        if let Some(payload) = lock(&self.reused).get(key) {
            return Some(payload.clone());
        }
        let found = self.stored(key);
        match &found {
            Some(payload) => {
                if lock(&self.reused)
                    .insert(key.to_vec(), payload.clone())
                    .is_none()
                {
                    self.hits.fetch_add(1, Ordering::Relaxed);
                }
            }
            None => {
                if lock(&self.missed).insert(key.to_vec()) {
                    self.misses.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        found
    }

    fn stored(&self, key: &[u8]) -> Option<Vec<u8>> {
        let full = self.full_key(key);
        let envelope = self.entries.as_ref()?.get(full.as_slice()).ok()??;
        match self.cache.open_envelope(envelope.value()) {
            Some(payload) => {
                lock(&self.used).push(full);
                Some(payload.to_vec())
            }
            None => {
                lock(&self.rejected).push(full);
                None
            }
        }
    }

    /// Keeps what the compiler produced for `key`, to be written if the
    /// compile succeeds. Refuses once the job has offered more than the
    /// whole cache may hold.
    pub(crate) fn insert(&self, key: &[u8], payload: Vec<u8>) -> bool {
        let mut inserted = lock(&self.inserted);
        let size = payload.len() as u64;
        if inserted.bytes + size > self.cache.max_bytes {
            return false;
        }
        if let Some(old) = inserted.payloads.insert(key.to_vec(), payload) {
            inserted.bytes -= old.len() as u64;
        }
        inserted.bytes += size;
        true
    }

    /// Hits (distinct functions reused from earlier compiles) and misses
    /// (distinct functions compiled afresh) so far.
    pub(crate) fn counts(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }

    fn full_key(&self, key: &[u8]) -> Vec<u8> {
        let mut full = self.prefix.clone();
        full.extend_from_slice(key);
        full
    }

    /// Writes the job's entries and recency, deletes rejected entries, and
    /// evicts down to the bound, in one transaction.
    pub(crate) fn commit(self) -> Result<(), CacheError> {
        let cache = self.cache.clone();
        let inserted = std::mem::take(&mut lock(&self.inserted).payloads);
        let used = std::mem::take(&mut *lock(&self.used));
        let rejected = std::mem::take(&mut *lock(&self.rejected));
        let prefix = self.prefix.clone();
        drop(self);
        let write = || -> Result<(), redb::Error> {
            let txn = cache.db.begin_write()?;
            {
                let mut meta_table = txn.open_table(META)?;
                let mut writer = Writer {
                    entries: txn.open_table(ENTRIES)?,
                    last_used: txn.open_table(LAST_USED)?,
                    recency: txn.open_table(RECENCY)?,
                    bytes: meta(&meta_table, "payload_bytes")?,
                    seq: meta(&meta_table, "next_seq")?,
                };
                for key in &rejected {
                    writer.forget(key)?;
                }
                for key in &used {
                    if writer.entries.get(key.as_slice())?.is_some() {
                        writer.touch(key)?;
                    }
                }
                for (key, payload) in &inserted {
                    let mut full = prefix.clone();
                    full.extend_from_slice(key);
                    writer.forget(&full)?;
                    writer
                        .entries
                        .insert(full.as_slice(), cache.seal(payload).as_slice())?;
                    writer.bytes += payload.len() as u64;
                    writer.touch(&full)?;
                }
                while writer.bytes > cache.max_bytes {
                    let Some(key) = writer
                        .recency
                        .pop_first()?
                        .map(|(_, key)| key.value().to_vec())
                    else {
                        break;
                    };
                    writer.forget(&key)?;
                }
                meta_table.insert("payload_bytes", writer.bytes)?;
                meta_table.insert("next_seq", writer.seq)?;
            }
            txn.commit()?;
            Ok(())
        };
        write().map_err(|e| cache.store_error(e))
    }
}

/// The tables one commit changes, and the running totals.
struct Writer<'t> {
    entries: redb::Table<'t, &'static [u8], &'static [u8]>,
    last_used: redb::Table<'t, &'static [u8], u64>,
    recency: redb::Table<'t, u64, &'static [u8]>,
    bytes: u64,
    seq: u64,
}

impl Writer<'_> {
    /// Removes an entry and its recency.
    fn forget(&mut self, key: &[u8]) -> Result<(), redb::Error> {
        if let Some(old) = self.entries.remove(key)? {
            let payload = old.value().len().saturating_sub(HEADER_LEN) as u64;
            self.bytes = self.bytes.saturating_sub(payload);
        }
        if let Some(at) = self.last_used.remove(key)? {
            self.recency.remove(at.value())?;
        }
        Ok(())
    }

    /// Marks an entry as the most recently used.
    fn touch(&mut self, key: &[u8]) -> Result<(), redb::Error> {
        if let Some(at) = self.last_used.insert(key, self.seq)? {
            self.recency.remove(at.value())?;
        }
        self.recency.insert(self.seq, key)?;
        self.seq += 1;
        Ok(())
    }
}
