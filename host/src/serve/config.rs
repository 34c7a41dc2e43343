//! The service's configuration: `kiln serve --config FILE` (TOML), with
//! a default for every setting so that no file is needed on loopback.
//!
//! ```toml
//! listen = "127.0.0.1:8080"
//! max_body = "64MiB"          # request bodies, checked while streaming
//! concurrency = 2             # compiles running at once
//! queue = 32                  # compiles waiting for a slot; past it, 503
//! jobs = 2                    # threads one compile may use
//! header_timeout_s = 10       # a request's head must arrive within this
//! body_timeout_s = 60         # and its body within this
//! grace_s = 30                # in-flight compiles finish within this on SIGTERM
//! max_connections = 1024
//! cache = "/var/cache/kiln"   # per-tenant incremental cache (optional)
//! cache_size = "1GiB"
//! key = "/etc/kiln/signing.key"  # default: the config directory's key
//! operator_token = "..."      # needed by POST /v1/check when set
//! log_json = false
//!
//! [limits]                    # per compile, as `kiln compile`'s flags
//! timeout_s = 120
//! max_memory = "3GiB"
//! max_output = "256MiB"
//!
//! [[tenant]]                  # with tenants, every request needs a token
//! name = "alice"
//! token = "secret-token-of-alice"
//! max_in_flight = 2           # compiles at once (quota)
//! rate_per_minute = 120       # sustained compiles per minute
//! burst = 10                  # compiles allowed at once above the rate
//! ```

use crate::{Limits, parse_size};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What was wrong with a configuration.
#[derive(Debug)]
pub enum ConfigError {
    /// The file could not be read.
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML for this schema.
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message, with the line and column.
        message: String,
    },
    /// A value is out of range or does not parse.
    Invalid {
        /// The setting, as written in the file.
        setting: String,
        /// What is wrong with it.
        message: String,
    },
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Read { path, source } => write!(f, "reading {}: {source}", path.display()),
            Self::Parse { path, message } => write!(f, "{}: {message}", path.display()),
            Self::Invalid { setting, message } => write!(f, "`{setting}`: {message}"),
        }
    }
}

impl std::error::Error for ConfigError {}

/// One tenant: who may compile, with which token, and how much.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TenantConfig {
    /// The tenant's name: its cache entries' key and its metrics' label.
    pub name: String,
    /// The API token that identifies it (`Authorization: Bearer TOKEN`).
    pub token: String,
    /// Most compiles of this tenant running or queued at once.
    #[serde(default = "default_tenant_in_flight")]
    pub max_in_flight: usize,
    /// Sustained compiles per minute.
    #[serde(default = "default_rate")]
    pub rate_per_minute: f64,
    /// Compiles allowed at once above the sustained rate.
    #[serde(default = "default_burst")]
    pub burst: f64,
}

/// The file's schema; sizes are text (`64MiB`), times seconds.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<SocketAddr>,
    max_body: Option<String>,
    concurrency: Option<usize>,
    queue: Option<usize>,
    jobs: Option<usize>,
    header_timeout_s: Option<f64>,
    body_timeout_s: Option<f64>,
    grace_s: Option<f64>,
    max_connections: Option<usize>,
    cache: Option<PathBuf>,
    cache_size: Option<String>,
    key: Option<PathBuf>,
    operator_token: Option<String>,
    log_json: Option<bool>,
    limits: Option<FileLimits>,
    #[serde(default)]
    tenant: Vec<TenantConfig>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileLimits {
    timeout_s: Option<f64>,
    max_memory: Option<String>,
    max_output: Option<String>,
}

/// Everything the service runs with.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// The address to listen on (port 0: any free port, printed at start).
    pub listen: SocketAddr,
    /// Largest request body, in bytes.
    pub max_body: u64,
    /// Compiles running at once.
    pub concurrency: usize,
    /// Compiles waiting for a slot, at most; more get 503.
    pub queue: usize,
    /// Threads one compile may use.
    pub jobs: usize,
    /// Time for a request's head to arrive (slow clients are cut off).
    pub header_timeout: Duration,
    /// Time for a request's body to arrive.
    pub body_timeout: Duration,
    /// Time in-flight requests get to finish after SIGTERM.
    pub grace: Duration,
    /// Open connections at once, at most; more wait to be accepted.
    pub max_connections: usize,
    /// Per-compile sandbox limits.
    pub limits: Limits,
    /// The incremental cache's directory, if any.
    pub cache: Option<PathBuf>,
    /// Most compiled code the cache keeps.
    pub cache_size: u64,
    /// The signing key's file; `None`: the config directory's default key.
    pub key: Option<PathBuf>,
    /// The token `POST /v1/check` needs; without one, the check is open
    /// only on a service without tenants.
    pub operator_token: Option<String>,
    /// Log lines as JSON.
    pub log_json: bool,
    /// Tenants; empty: no tokens, every request is the `default` tenant's.
    pub tenants: Vec<TenantConfig>,
}

impl Default for ServeConfig {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            max_body: 64 << 20,
            concurrency: cores,
            queue: 32,
            jobs: cores,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(60),
            grace: Duration::from_secs(30),
            max_connections: 1024,
            limits: Limits::default(),
            cache: None,
            cache_size: crate::cache::DEFAULT_MAX_BYTES,
            key: None,
            operator_token: None,
            log_json: false,
            tenants: Vec::new(),
        }
    }
}

impl ServeConfig {
    /// Reads a configuration file over the defaults.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] naming the file or the setting that is wrong.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_toml(&text).map_err(|error| match error {
            ConfigError::Parse { message, .. } => ConfigError::Parse {
                path: path.to_owned(),
                message,
            },
            other => other,
        })
    }

    /// Parses a configuration's text over the defaults.
    ///
    /// # Errors
    ///
    /// As [`ServeConfig::from_file`].
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let file: FileConfig = toml::from_str(text).map_err(|error| ConfigError::Parse {
            path: PathBuf::new(),
            message: error.to_string(),
        })?;
        let mut config = Self::default();
        let limits = file.limits.unwrap_or_default();
        set(&mut config.listen, file.listen);
        set(&mut config.max_body, size("max_body", file.max_body)?);
        set(&mut config.concurrency, file.concurrency);
        set(&mut config.queue, file.queue);
        set(&mut config.jobs, file.jobs);
        set(
            &mut config.header_timeout,
            seconds("header_timeout_s", file.header_timeout_s)?,
        );
        set(
            &mut config.body_timeout,
            seconds("body_timeout_s", file.body_timeout_s)?,
        );
        set(&mut config.grace, seconds("grace_s", file.grace_s)?);
        set(&mut config.max_connections, file.max_connections);
        set(
            &mut config.limits.timeout,
            time_limit("limits.timeout_s", limits.timeout_s)?,
        );
        set(
            &mut config.limits.max_memory,
            size("limits.max_memory", limits.max_memory)?,
        );
        set(
            &mut config.limits.max_output,
            size("limits.max_output", limits.max_output)?,
        );
        set(&mut config.cache_size, size("cache_size", file.cache_size)?);
        config.cache = file.cache;
        config.key = file.key;
        config.operator_token = file.operator_token;
        set(&mut config.log_json, file.log_json);
        config.tenants = file.tenant;
        config.validate()?;
        Ok(config)
    }

    /// Checks what no file or flag may set: zero slots, duplicate tenants.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`] naming the setting.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |setting: &str, message: &str| {
            Err(ConfigError::Invalid {
                setting: setting.to_string(),
                message: message.to_string(),
            })
        };
        for (setting, value) in [
            ("concurrency", self.concurrency),
            ("jobs", self.jobs),
            ("max_connections", self.max_connections),
        ] {
            if value == 0 {
                return invalid(setting, "must be at least 1");
            }
        }
        let mut names = std::collections::BTreeSet::new();
        let mut tokens = std::collections::BTreeSet::new();
        for tenant in &self.tenants {
            if tenant.name.is_empty() || tenant.name.len() > 128 || tenant.name.contains('\0') {
                return invalid("tenant.name", "must be 1 to 128 bytes with no NUL");
            }
            if tenant.token.len() < 16 {
                return invalid("tenant.token", "must be at least 16 characters");
            }
            if !names.insert(&tenant.name) {
                return invalid("tenant.name", "names must be unique");
            }
            if !tokens.insert(&tenant.token) {
                return invalid("tenant.token", "tokens must be unique");
            }
            if tenant.max_in_flight == 0 {
                return invalid("tenant.max_in_flight", "must be at least 1");
            }
            if !(tenant.rate_per_minute > 0.0 && tenant.rate_per_minute.is_finite()) {
                return invalid("tenant.rate_per_minute", "must be a positive number");
            }
            if !(tenant.burst >= 1.0 && tenant.burst.is_finite()) {
                return invalid("tenant.burst", "must be at least 1");
            }
        }
        Ok(())
    }
}

fn set<T>(slot: &mut T, value: Option<T>) {
    if let Some(value) = value {
        *slot = value;
    }
}

fn size(setting: &str, text: Option<String>) -> Result<Option<u64>, ConfigError> {
    text.map(|text| {
        parse_size(&text).map_err(|message| ConfigError::Invalid {
            setting: setting.to_string(),
            message,
        })
    })
    .transpose()
}

/// A compile's time limit, held to the CLI's rule for `--timeout`.
fn time_limit(setting: &str, value: Option<f64>) -> Result<Option<Duration>, ConfigError> {
    value
        .map(|value| {
            crate::timeout_from_secs(value).map_err(|message| ConfigError::Invalid {
                setting: setting.to_string(),
                message,
            })
        })
        .transpose()
}

fn seconds(setting: &str, value: Option<f64>) -> Result<Option<Duration>, ConfigError> {
    value
        .map(|value| {
            Duration::try_from_secs_f64(value).map_err(|_| ConfigError::Invalid {
                setting: setting.to_string(),
                message: format!("{value} is not a number of seconds"),
            })
        })
        .transpose()
}

fn default_tenant_in_flight() -> usize {
    4
}

fn default_rate() -> f64 {
    600.0
}

fn default_burst() -> f64 {
    20.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_overrides_defaults_and_checks_values() {
        let config = ServeConfig::from_toml(
            "max_body = \"1MiB\"\nqueue = 3\n[limits]\ntimeout_s = 2.5\n\
             [[tenant]]\nname = \"a\"\ntoken = \"0123456789abcdef\"\n",
        )
        .unwrap();
        assert_eq!(config.max_body, 1 << 20);
        assert_eq!(config.queue, 3);
        assert_eq!(config.limits.timeout, Duration::from_millis(2500));
        assert_eq!(config.tenants[0].max_in_flight, 4);

        for bad in [
            "max_body = \"lots\"",
            "concurrency = 0",
            "nonsense = 1",
            "[limits]\ntimeout_s = -1",
            "[limits]\ntimeout_s = 0",
            "[limits]\ntimeout_s = 1e30",
            "[limits]\ntimeout_s = nan",
            "[limits]\ntimeout_s = inf",
            "[[tenant]]\nname = \"a\"\ntoken = \"short\"",
            "[[tenant]]\nname = \"a\"\ntoken = \"0123456789abcdef\"\n\
             [[tenant]]\nname = \"b\"\ntoken = \"0123456789abcdef\"",
            "listen = [1, 2]",
        ] {
            assert!(ServeConfig::from_toml(bad).is_err(), "{bad} accepted");
        }
    }
}
