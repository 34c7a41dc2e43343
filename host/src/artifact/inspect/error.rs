//! Why an artifact could not be read: one typed error for every table,
//! naming the table and the byte offset in the file where reading stopped.
//!
//! A damaged artifact is ordinary input here (a truncated download, a bit
//! flip on disk, a hostile file), so every reader returns this error and
//! none panics; `kiln inspect` exits 1 with its text.

use std::fmt;

/// Why bytes could not be inspected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InspectError {
    /// Not a Wasmtime precompiled module or component.
    NotAnArtifact,
    /// A Wasmtime artifact whose settings record cannot be read.
    BadRecord {
        /// What is wrong with it.
        message: String,
    },
    /// A table (an ELF section, or the ELF structure itself) that cannot be
    /// decoded.
    Malformed {
        /// The table: an ELF section name such as `.wasmtime.traps`, or `ELF`.
        table: &'static str,
        /// The byte offset in the file where decoding failed.
        offset: u64,
        /// What is wrong, in plain words.
        message: String,
    },
}

impl InspectError {
    /// A [`InspectError::Malformed`] error.
    pub(crate) fn malformed(table: &'static str, offset: u64, message: impl Into<String>) -> Self {
        Self::Malformed {
            table,
            offset,
            message: message.into(),
        }
    }
}

impl fmt::Display for InspectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotAnArtifact => write!(f, "not a Wasmtime precompiled module or component"),
            Self::BadRecord { message } => {
                write!(f, "unreadable .wasmtime.engine section: {message}")
            }
            Self::Malformed {
                table,
                offset,
                message,
            } => write!(
                f,
                "unreadable {table}: {message} (at file offset {offset:#x})"
            ),
        }
    }
}

impl std::error::Error for InspectError {}
