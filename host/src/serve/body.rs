//! Reading a request body under the service's cap and deadline.
//!
//! The cap is checked as the body streams in, never after: a declared
//! `Content-Length` over the cap is refused before a byte is read, and a
//! chunked (or lying) body is refused at the first frame that would take
//! it past the cap, so an upload can never make the service hold more than
//! the cap. The deadline covers the whole body, so a client that trickles
//! a byte at a time (slowloris on the body) is cut off at it.

use super::api_error::ApiError;
use axum::body::Body;
use axum::http::{HeaderMap, header};
use http_body_util::BodyExt;
use std::time::Duration;

/// Reads `body` whole, at most `cap` bytes, within `timeout`.
///
/// # Errors
///
/// 413 over the cap, 408 past the deadline, 400 when the connection fails
/// mid-body.
pub async fn read_capped(
    headers: &HeaderMap,
    body: Body,
    cap: u64,
    timeout: Duration,
) -> Result<Vec<u8>, ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|text| text.parse::<u64>().ok());
    if declared.is_some_and(|length| length > cap) {
        return Err(ApiError::body_too_large(cap));
    }
    // Never reserve more than the cap, whatever a client declares.
    let reserve = declared.unwrap_or(0).min(cap).min(16 << 20);
    let mut bytes = Vec::with_capacity(usize::try_from(reserve).unwrap_or(0));
    let read = async {
        let mut body = body;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(ApiError::body_unreadable)?;
            if let Ok(data) = frame.into_data() {
                if bytes.len() as u64 + data.len() as u64 > cap {
                    return Err(ApiError::body_too_large(cap));
                }
                bytes.extend_from_slice(&data);
            }
        }
        Ok(())
    };
    match tokio::time::timeout(timeout, read).await {
        Ok(Ok(())) => Ok(bytes),
        Ok(Err(error)) => Err(error),
        Err(_) => Err(ApiError::body_timeout(timeout)),
    }
}
