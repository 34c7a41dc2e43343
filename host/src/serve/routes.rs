//! The service's routes: what each endpoint reads, asks of the sandbox,
//! and answers.
//!
//! | route                    | answer                                          |
//! |--------------------------|-------------------------------------------------|
//! | `POST /v1/compile`       | the `.cwasm` bytes; statement in a header       |
//! | `POST /v1/check`         | sandbox vs native compile, JSON (operators)     |
//! | `GET /v1/targets`        | targets and their CPU baselines, JSON           |
//! | `GET /v1/version`        | Kiln's, Wasmtime's and the guests' versions     |
//! | `GET /healthz`           | 200 while the process serves                    |
//! | `GET /readyz`            | 200 while it takes compiles; 503 shutting down  |
//! | `GET /metrics`           | Prometheus text format (`metrics.rs`)           |
//!
//! A compile's settings are query parameters named as `kiln compile`'s
//! flags: `target`, `baseline`, `cpu-feature`, and Wasmtime's option groups
//! `W`/`wasm`, `C`/`codegen`, `O`/`optimize`, `D`/`debug` (each repeatable,
//! each value `KEY[=VAL[,KEY[=VAL]...]]` as after the flag), plus `name`,
//! the input's name in the statement. The artifact's provenance statement
//! (the DSSE envelope that `kiln compile` writes beside the artifact)
//! travels base64-encoded in the `kiln-statement` response header, so the
//! service keeps no state between requests.
//!
//! Every compile's machine code is verified before it is signed and
//! answered, as `kiln compile` does by default; the service has no way to
//! skip it. An artifact whose code breaks a rule is never answered (422
//! `code-verification`, each violation named); the outcome of one that is
//! travels in `kiln-code-verification` and in the statement.

use super::State;
use super::admission::Tenant;
use super::api_error::ApiError;
use super::body::read_capped;
use crate::artifact::sha256_hex;
use crate::{CompileRequest, CompileSettings, Provenance};
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State as Shared};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use kiln_settings::QuerySettings;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// What the request log line says about a compile, beyond the request.
#[derive(Debug, Clone, Default)]
pub struct CompileLog {
    /// The tenant, where there are tenants.
    pub tenant: Option<String>,
    /// The input's SHA-256, hex.
    pub input_sha256: Option<String>,
    /// The target triple.
    pub target: Option<String>,
}

/// A compile's settings, from the query.
struct Settings {
    target: String,
    settings: CompileSettings,
    name: String,
}

fn parse_settings(params: &[(String, String)]) -> Result<Settings, ApiError> {
    let query =
        QuerySettings::from_pairs(params.iter().map(|(k, v)| (k, v.clone()))).map_err(|error| {
            ApiError::invalid_option(format!("{error}; see the README's `kiln serve` section"))
        })?;
    let target = match query
        .target
        .clone()
        .or_else(|| crate::host_triple().map(str::to_string))
    {
        Some(target) => target,
        None => return Err(ApiError::invalid_option("give a `target`")),
    };
    let cpu_features = query.cpu_features();
    let settings = CompileSettings::resolve(query.given, cpu_features).map_err(ApiError::from)?;
    let name = query
        .name
        .filter(|name| !name.is_empty() && name.len() <= 256)
        .unwrap_or_else(|| "upload.wasm".to_string());
    Ok(Settings {
        target,
        settings,
        name,
    })
}

fn query(
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Vec<(String, String)>, ApiError> {
    query
        .map(|Query(params)| params)
        .map_err(|rejection| ApiError::invalid_option(rejection.body_text()))
}

fn authorization(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
}

/// Reads an admitted request's body under the service's cap and deadline,
/// counting its bytes.
async fn read_body(state: &State, headers: &HeaderMap, body: Body) -> Result<Vec<u8>, ApiError> {
    let input = read_capped(
        headers,
        body,
        state.config.max_body,
        state.config.body_timeout,
    )
    .await?;
    state.metrics.bytes_in(input.len());
    Ok(input)
}

/// `POST /v1/compile`.
pub async fn compile(
    Shared(state): Shared<Arc<State>>,
    params: Result<Query<Vec<(String, String)>>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let mut log = CompileLog::default();
    let result = compile_inner(&state, params, &headers, body, &mut log).await;
    let mut response = match result {
        Ok(response) => response,
        Err(error) => {
            state.metrics.compile(error.kind);
            error.into_response()
        }
    };
    response.extensions_mut().insert(log);
    response
}

async fn compile_inner(
    state: &Arc<State>,
    params: Result<Query<Vec<(String, String)>>, QueryRejection>,
    headers: &HeaderMap,
    body: Body,
    log: &mut CompileLog,
) -> Result<Response, ApiError> {
    if state.shutting_down.load(Ordering::Acquire) {
        return Err(ApiError::shutting_down());
    }
    let tenant: Option<Arc<Tenant>> = state.admission.authenticate(authorization(headers))?;
    log.tenant = tenant.as_ref().map(|tenant| tenant.name.clone());
    let settings = parse_settings(&query(params)?)?;
    log.target = Some(settings.target.clone());
    let ticket = state.admission.admit(tenant)?;
    let input = read_body(state, headers, body).await?;
    log.input_sha256 = Some(sha256_hex(&input));

    let _slot = ticket.slot().await;
    let tenant_name = ticket
        .tenant()
        .unwrap_or(super::admission::DEFAULT_TENANT)
        .to_string();
    let worker = state.clone();
    let compiled = tokio::task::spawn_blocking(move || {
        let options = settings.settings.options(&settings.target);
        let artifact_name = format!(
            "{}.cwasm",
            settings
                .name
                .strip_suffix(".wasm")
                .unwrap_or(&settings.name)
        );
        let provenance = Provenance {
            key: &worker.key,
            given: &settings.settings.given,
            input_name: &settings.name,
            artifact_name: &artifact_name,
        };
        // Always: an upload's artifact is never answered unverified.
        let mut request = CompileRequest::new(&input, &options)
            .provenance(provenance)
            .verify_code(true);
        if let Some(cache) = &worker.cache {
            request = request.cache(cache, &tenant_name);
        }
        worker.sandbox.compile(&request)
    })
    .await
    .map_err(|error| ApiError::internal(format!("the compile task failed: {error}")))?
    .map_err(ApiError::from)?;
    drop(ticket);

    state.metrics.compile("ok");
    state.metrics.compiled(
        compiled.duration,
        compiled.stats.cache_hits,
        compiled.stats.cache_misses,
    );
    state.metrics.bytes_out(compiled.artifact.bytes.len());
    let statement = compiled
        .statement
        .as_deref()
        .map(|json| base64::engine::general_purpose::STANDARD.encode(json))
        .unwrap_or_default();
    let artifact_sha256 = sha256_hex(&compiled.artifact.bytes);
    let mut response = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/octet-stream")],
        compiled.artifact.bytes,
    )
        .into_response();
    let headers = response.headers_mut();
    for (name, value) in [
        ("kiln-statement", statement),
        ("kiln-artifact-sha256", artifact_sha256),
        (
            "kiln-input-sha256",
            log.input_sha256.clone().unwrap_or_default(),
        ),
        ("kiln-cache-hits", compiled.stats.cache_hits.to_string()),
        (
            "kiln-code-verification",
            compiled.code_verification.outcome.name().to_string(),
        ),
        (
            "kiln-compile-ms",
            format!("{:.1}", compiled.duration.as_secs_f64() * 1000.0),
        ),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    Ok(response)
}

/// `POST /v1/check`: the sandboxed compile against a native one, for
/// operators. The native compile runs Cranelift outside the sandbox on
/// the body, which is why it needs the operator's token whenever tokens
/// are configured (and is off when tenants exist and no operator token
/// does).
pub async fn check(
    Shared(state): Shared<Arc<State>>,
    params: Result<Query<Vec<(String, String)>>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match check_inner(&state, params, &headers, body).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

async fn check_inner(
    state: &Arc<State>,
    params: Result<Query<Vec<(String, String)>>, QueryRejection>,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    if state.shutting_down.load(Ordering::Acquire) {
        return Err(ApiError::shutting_down());
    }
    let allowed = match &state.config.operator_token {
        Some(token) => super::admission::bearer(authorization(headers)).is_some_and(|given| {
            super::admission::constant_time_eq(given.as_bytes(), token.as_bytes())
        }),
        None => !state.admission.needs_token(),
    };
    if !allowed {
        return Err(super::admission::Refusal::Unauthorized.into());
    }
    let settings = parse_settings(&query(params)?)?;
    let ticket = state.admission.admit(None)?;
    let input = read_body(state, headers, body).await?;
    let _slot = ticket.slot().await;
    let worker = state.clone();
    let report = tokio::task::spawn_blocking(move || {
        let options = settings.settings.options(&settings.target);
        crate::verify::check(&worker.sandbox, &input, &options)
    })
    .await
    .map_err(|error| ApiError::internal(format!("the check task failed: {error}")))?;
    let status = if report.ok {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok((status, axum::Json(report)).into_response())
}

/// `GET /v1/targets`.
pub async fn targets() -> Response {
    let targets: Vec<_> = crate::TARGETS
        .iter()
        .map(|target| {
            let baselines: Vec<_> = kiln_settings::baselines_for(target)
                .map(|b| json!({ "name": b.name, "description": b.description }))
                .collect();
            json!({ "triple": target, "baselines": baselines })
        })
        .collect();
    axum::Json(json!({ "targets": targets })).into_response()
}

/// `GET /v1/version`.
pub async fn version() -> Response {
    axum::Json(json!({
        "kiln": env!("CARGO_PKG_VERSION"),
        "wasmtime": kiln_settings::WASMTIME_VERSION,
        "threaded_guest_sha256": crate::guest::THREADED_SHA256,
    }))
    .into_response()
}

/// `GET /healthz`.
pub async fn healthz() -> &'static str {
    "ok\n"
}

/// `GET /readyz`.
pub async fn readyz(Shared(state): Shared<Arc<State>>) -> Response {
    if state.shutting_down.load(Ordering::Acquire) {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response();
    }
    (StatusCode::OK, "ready\n").into_response()
}

/// `GET /metrics`.
pub async fn metrics(Shared(state): Shared<Arc<State>>) -> Response {
    let running = state.admission.running();
    let queued = state.admission.admitted().saturating_sub(running);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(queued, running),
    )
        .into_response()
}

/// Anything else.
pub async fn not_found() -> Response {
    ApiError::not_found().into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn settings_take_the_cli_names() {
        let settings = parse_settings(&pairs(&[
            ("target", "aarch64-unknown-linux-gnu"),
            ("W", "simd=n"),
            ("optimize", "opt-level=0"),
            ("name", "app.wasm"),
        ]))
        .unwrap();
        assert_eq!(settings.target, "aarch64-unknown-linux-gnu");
        assert_eq!(settings.name, "app.wasm");
        assert_eq!(settings.settings.given.wasm, ["simd=n"]);

        for bad in [
            &[("W", "no-such-option=1")][..],
            &[("bogus", "1")][..],
            &[("O", "opt-level=banana")][..],
        ] {
            let error = parse_settings(&pairs(bad)).err().expect("refused");
            assert_eq!(error.status, StatusCode::BAD_REQUEST, "{bad:?}");
            assert_eq!(error.kind, "invalid-option");
        }
    }
}
