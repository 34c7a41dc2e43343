//! `kiln serve`: the compile service (`host::serve`), configured from a
//! file and flags.

use clap::Args;
use host::serve::{ServeConfig, run};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

/// Serve compiles over HTTP: `POST /v1/compile?target=T` with the wasm as
/// the body answers the `.cwasm` bytes, its signed statement in the
/// `kiln-statement` header. Stops on SIGTERM, finishing in-flight compiles.
#[derive(Args)]
pub struct ServeCommand {
    /// The address to listen on (port 0: any free port); overrides the file.
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// The service's TOML configuration (limits, tenants, queue; see the README).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Keep an incremental cache per tenant in DIR; overrides the file.
    #[arg(long, value_name = "DIR")]
    cache: Option<PathBuf>,
    /// Sign statements with this private key; overrides the file.
    #[arg(long, value_name = "FILE")]
    key: Option<PathBuf>,
    /// Write log lines as JSON.
    #[arg(long)]
    log_json: bool,
}

impl ServeCommand {
    pub fn execute(self) -> Result<ExitCode, host::Error> {
        let usage = |message: String| host::Error::Usage { message };
        let mut config = match &self.config {
            Some(path) => ServeConfig::from_file(path).map_err(|e| usage(e.to_string()))?,
            None => ServeConfig::default(),
        };
        if let Some(listen) = self.listen {
            config.listen = listen;
        }
        if let Some(cache) = self.cache {
            config.cache = Some(cache);
        }
        if let Some(key) = self.key {
            config.key = Some(key);
        }
        config.log_json |= self.log_json;
        match run(config) {
            Ok(()) => Ok(ExitCode::SUCCESS),
            Err(host::serve::ServeError::Setup(error)) => Err(error),
            Err(host::serve::ServeError::Config(error)) => Err(usage(error.to_string())),
            // The address is taken, or the process may not listen there.
            Err(error) => {
                eprintln!("error: {error}");
                Ok(ExitCode::from(5))
            }
        }
    }
}
