//! What can go wrong loading or running an artifact.

use kiln_settings::SettingsError;
use std::fmt;
use std::path::PathBuf;

/// Everything that can go wrong in [`crate::load`], [`crate::run`],
/// [`crate::wast`] and the runner program.
#[derive(Debug)]
pub enum RunError {
    /// The options cannot become an engine configuration.
    Settings(SettingsError),
    /// Wasmtime refused to build the engine.
    Engine {
        /// Wasmtime's reason.
        message: String,
    },
    /// Wasmtime refused the artifact: another target, other settings, a CPU
    /// lacking a feature the artifact was built for, or damaged bytes.
    Load {
        /// Wasmtime's reason, with its cause chain.
        message: String,
    },
    /// Running failed: instantiation, a trap, a missing export, bad
    /// arguments.
    Run {
        /// What failed, with its cause chain.
        message: String,
    },
    /// A file could not be read.
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file could not be written.
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A runner request or result that does not parse.
    Protocol {
        /// The file.
        path: PathBuf,
        /// Why it does not parse.
        message: String,
    },
}

impl RunError {
    pub(crate) fn run(error: impl fmt::Display) -> Self {
        Self::Run {
            message: format!("{error:#}"),
        }
    }

    pub(crate) fn read(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Read { path, source }
    }

    pub(crate) fn write(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Write { path, source }
    }
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Settings(error) => error.fmt(f),
            Self::Engine { message } => write!(f, "cannot build the engine: {message}"),
            Self::Load { message } => write!(f, "the artifact does not load: {message}"),
            Self::Run { message } => message.fmt(f),
            Self::Read { path, source } => write!(f, "failed to read {}: {source}", path.display()),
            Self::Write { path, source } => {
                write!(f, "failed to write {}: {source}", path.display())
            }
            Self::Protocol { path, message } => {
                write!(f, "{}: not a runner message: {message}", path.display())
            }
        }
    }
}

impl std::error::Error for RunError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Settings(error) => Some(error),
            Self::Read { source, .. } | Self::Write { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl From<SettingsError> for RunError {
    fn from(error: SettingsError) -> Self {
        Self::Settings(error)
    }
}
