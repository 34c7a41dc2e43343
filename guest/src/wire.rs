//! How a compile request and its answer cross the boundary of the threaded
//! guest (a core module, so there is no component ABI to lean on).
//!
//! Both directions are [postcard] bytes of the library's own types. The
//! input itself travels raw: it is the one large buffer, and the host writes
//! it straight into the guest's memory.
//!
//! [postcard]: https://docs.rs/postcard

use crate::{Artifact, CompileError, Options};
use serde::{Deserialize, Serialize};

/// What the host asks of one compile, besides the input bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// The options the artifact is compiled with.
    pub options: Options,
    /// How many threads the compile may use; 1 compiles on the calling
    /// thread alone.
    pub jobs: u32,
    /// Whether to use the host's incremental cache (the `cache_*` imports).
    pub cache: bool,
}

/// The guest's answer.
pub type Response = Result<Artifact, CompileError>;

/// Why bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireError(pub String);

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "malformed message across the guest boundary: {}", self.0)
    }
}

impl std::error::Error for WireError {}

/// Encodes a request or a response.
pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Serialising these plain types into a growable buffer cannot fail.
    postcard::to_allocvec(value).unwrap_or_default()
}

/// Decodes a request or a response.
///
/// # Errors
///
/// [`WireError`] when `bytes` is not a complete encoding of `T`.
pub fn decode<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, WireError> {
    postcard::from_bytes(bytes).map_err(|e| WireError(e.to_string()))
}
