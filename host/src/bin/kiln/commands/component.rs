//! `kiln component`: writes out a compiler component this `kiln` embeds,
//! for hosts other than Kiln's own: jco and a browser (the npm package in
//! `js/`), or any `wasi:http` host (`--http`).

use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

/// Write the compiler component this kiln embeds: the `kiln:compiler` WIT
/// export (`wit/compiler.wit`) by default, or with `--http` the same
/// compiler as a `wasi:http` incoming handler (`POST /compile?target=T`),
/// for `wasmtime serve -Scli` and other `wasi:http` hosts.
#[derive(Args)]
pub struct ComponentCommand {
    /// The `wasi:http` handler build instead of the `kiln:compiler` one.
    #[arg(long)]
    http: bool,
    /// Where to write the component (written atomically).
    #[arg(short, long, value_name = "FILE")]
    output: PathBuf,
    /// Print the component's SHA-256 and size instead of nothing.
    #[arg(long)]
    json: bool,
}

impl ComponentCommand {
    pub fn execute(self) -> Result<ExitCode, host::Error> {
        let (bytes, sha256, world) = if self.http {
            (
                host::guest::HTTP_COMPONENT,
                host::guest::HTTP_SHA256,
                "kiln:http-compiler/http-compiler",
            )
        } else {
            (
                host::guest::GUEST_COMPONENT,
                host::guest::GUEST_SHA256,
                "kiln:compiler/kiln",
            )
        };
        host::write_atomically(&self.output, bytes)?;
        if self.json {
            println!(
                "{}",
                serde_json::json!({
                    "output": self.output,
                    "world": world,
                    "bytes": bytes.len(),
                    "sha256": sha256,
                })
            );
        }
        Ok(ExitCode::SUCCESS)
    }
}
