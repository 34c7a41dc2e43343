//! The service's errors as HTTP answers: a status and a JSON body
//! `{ "error": kind, "message": ..., "offset": ... }`.
//!
//! | kind                   | status | from                                   |
//! |------------------------|--------|----------------------------------------|
//! | `invalid-input`        | 400    | the compiler (with the byte offset)    |
//! | `invalid-option`       | 400    | an unknown or malformed setting        |
//! | `unsupported-target`   | 422    | the compiler                           |
//! | `unsupported-feature`  | 422    | the compiler                           |
//! | `code-verification`    | 422    | the machine-code verifier (each        |
//! |                        |        | violation named; no artifact answered) |
//! | `body-too-large`       | 413    | the body cap, while streaming          |
//! | `body-timeout`         | 408    | a body slower than `body_timeout`      |
//! | `time-limit`           | 408    | the sandbox's deadline                 |
//! | `memory-limit`         | 503    | the sandbox's memory cap               |
//! | `output-limit`         | 503    | the sandbox's output cap               |
//! | `overloaded`           | 503    | the queue is full (`Retry-After`)      |
//! | `shutting-down`        | 503    | a compile asked for during shutdown    |
//! | `unauthorized`         | 401    | a missing or unknown token             |
//! | `tenant-busy`          | 429    | the tenant's in-flight quota           |
//! | `rate-limited`         | 429    | the tenant's rate (`Retry-After`)      |
//! | `not-found`            | 404    | an unknown route                       |
//! | `internal`             | 500    | a compiler or sandbox failure          |
//!
//! A limit is 408 when the time ran out and 503 when the service will not
//! spend the memory or output the input needs: neither is the client's
//! syntax, and both may succeed against a service configured otherwise.

use super::admission::Refusal;
use crate::{CompileError, Error, LimitKind};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::time::Duration;

/// An error answer.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The error's kind, the JSON body's `error`.
    pub kind: &'static str,
    /// What went wrong, in plain words.
    pub message: String,
    /// The input's byte offset it concerns, where known.
    pub offset: Option<u64>,
    /// When to try again, for refusals that pass.
    pub retry_after: Option<Duration>,
    /// The limit it hit, for the metrics.
    pub limit: Option<&'static str>,
}

impl ApiError {
    fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            kind,
            message: message.into(),
            offset: None,
            retry_after: None,
            limit: None,
        }
    }

    fn limit(mut self, limit: &'static str) -> Self {
        self.limit = Some(limit);
        self
    }

    /// A body over `cap` bytes.
    pub fn body_too_large(cap: u64) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body-too-large",
            format!("the request body is larger than the {cap}-byte cap"),
        )
        .limit("body")
    }

    /// A body that did not arrive in time.
    pub fn body_timeout(timeout: Duration) -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            "body-timeout",
            format!(
                "the request body did not arrive within {:.1} s",
                timeout.as_secs_f64()
            ),
        )
        .limit("body-time")
    }

    /// A body the connection lost or could not read.
    pub fn body_unreadable(message: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid-input",
            format!("the request body could not be read: {message}"),
        )
    }

    /// A setting that does not parse.
    pub fn invalid_option(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid-option", message)
    }

    /// A compile asked for while the service shuts down.
    pub fn shutting_down() -> Self {
        let mut error = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting-down",
            "the service is shutting down",
        );
        error.retry_after = Some(Duration::from_secs(1));
        error
    }

    /// An unknown route.
    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "no such route")
    }

    /// A failure of the service itself.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }
}

impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::Unauthorized => Self::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "a valid API token is required (Authorization: Bearer TOKEN)",
            ),
            Refusal::TenantBusy { tenant } => {
                let mut error = Self::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "tenant-busy",
                    format!("tenant {tenant} has its most compiles in flight"),
                )
                .limit("tenant-quota");
                error.retry_after = Some(Duration::from_secs(1));
                error
            }
            Refusal::RateLimited {
                tenant,
                retry_after,
            } => {
                let mut error = Self::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate-limited",
                    format!("tenant {tenant} is past its compile rate"),
                )
                .limit("tenant-rate");
                error.retry_after = Some(retry_after);
                error
            }
            Refusal::Overloaded => {
                let mut error = Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "overloaded",
                    "the compile queue is full; try again shortly",
                )
                .limit("queue");
                error.retry_after = Some(Duration::from_secs(1));
                error
            }
        }
    }
}

impl From<Error> for ApiError {
    fn from(error: Error) -> Self {
        let message = error.to_string();
        match error {
            Error::Compile(CompileError::InvalidInput { offset, .. }) => {
                let mut api = Self::new(StatusCode::BAD_REQUEST, "invalid-input", message);
                api.offset = offset;
                api
            }
            Error::Compile(CompileError::UnsupportedTarget { .. }) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unsupported-target",
                message,
            ),
            Error::Compile(CompileError::UnsupportedFeature { .. }) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unsupported-feature",
                message,
            ),
            // The compiler made code that breaks a verifier rule from this
            // input: the same input gets the same refusal, so not 500.
            Error::CodeVerification { .. } => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "code-verification",
                message,
            ),
            Error::Limit(LimitKind::Time { .. }) => {
                Self::new(StatusCode::REQUEST_TIMEOUT, "time-limit", message).limit("time")
            }
            Error::Limit(LimitKind::Memory { .. }) => {
                Self::new(StatusCode::SERVICE_UNAVAILABLE, "memory-limit", message).limit("memory")
            }
            Error::Limit(LimitKind::Output { .. }) => {
                Self::new(StatusCode::SERVICE_UNAVAILABLE, "output-limit", message).limit("output")
            }
            Error::Usage { message } => Self::invalid_option(message),
            _ => Self::internal(message),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({
            "error": self.kind,
            "message": self.message,
            "offset": self.offset,
        });
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(wait) = self.retry_after {
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
        }
        response.extensions_mut().insert(self);
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::artifact::verify_code::{Rule, Violation};

    #[test]
    fn code_that_breaks_a_rule_is_422_naming_the_violation() {
        let error = ApiError::from(Error::CodeVerification {
            violations: vec![Violation {
                function: "wasm[0]::function[2]".to_string(),
                offset: 0x1c,
                rule: Rule::BranchTarget,
                detail: "into the middle of an instruction".to_string(),
            }],
        });
        assert_eq!(error.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(error.kind, "code-verification");
        assert!(
            error.message.contains("wasm[0]::function[2]"),
            "{}",
            error.message
        );
        assert!(error.message.contains(".text+0x1c"), "{}", error.message);
        assert!(
            error.message.contains(Rule::BranchTarget.name()),
            "{}",
            error.message
        );
    }
}
