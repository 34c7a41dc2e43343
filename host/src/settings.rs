//! Compile settings as a caller gives them, resolved once for any target.
//!
//! The CLI takes Wasmtime's `-O/-C/-D/-W/-S` groups and `--config` file,
//! and the service takes the same names as query parameters; both hand
//! them here as [`GivenOptions`] plus a baseline and CPU features, and get
//! [`CompileSettings`], from which [`CompileSettings::options`] makes the
//! [`Options`] of any target. Parsing is Wasmtime's own (`kiln-settings`),
//! so an option means here what it means to `wasmtime compile`.

use crate::{Error, GivenOptions, Options, WasmtimeOptions};

/// Given options, resolved: the options for any target.
#[derive(Debug, Clone)]
pub struct CompileSettings {
    cpu_features: Vec<String>,
    wasmtime: WasmtimeOptions,
    /// The options as given, for the provenance statement.
    pub given: GivenOptions,
    /// The given options that cannot change an artifact (WASI's, logging),
    /// which were dropped; a caller may say so.
    pub ignored: Vec<String>,
}

impl CompileSettings {
    /// Resolves `given` with Wasmtime's parser; `cpu_features` are a
    /// baseline name and Cranelift CPU features or presets, in order.
    ///
    /// # Errors
    ///
    /// [`Error::Usage`] naming an unknown option or a value that does not
    /// parse.
    pub fn resolve(given: GivenOptions, cpu_features: Vec<String>) -> Result<Self, Error> {
        let (wasmtime, ignored) =
            WasmtimeOptions::from_given(&given).map_err(|error| Error::Usage {
                message: error.to_string(),
            })?;
        Ok(Self {
            cpu_features,
            wasmtime,
            given,
            ignored,
        })
    }

    /// The options for `triple`.
    pub fn options(&self, triple: &str) -> Options {
        Options {
            triple: triple.to_string(),
            cpu_features: self.cpu_features.clone(),
            wasmtime: self.wasmtime.clone(),
        }
    }
}
