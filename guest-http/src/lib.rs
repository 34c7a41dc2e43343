//! The compiler as a `wasi:http` incoming handler: the guest's second
//! component build (world `http-compiler` in `wit/http/`), for any host
//! that serves `wasi:http/proxy` components (`wasmtime serve`, `jco
//! serve`, edge platforms). It is `kiln-guest`'s compiler with this
//! handler as its export instead of `kiln:compiler`.
//!
//! | request                         | answer                                   |
//! |---------------------------------|------------------------------------------|
//! | `POST /compile?target=T&...`    | 200, the `.cwasm` bytes                  |
//! | `GET /targets`                  | 200, the target triples, JSON            |
//! | `GET /version`                  | 200, Kiln's and Wasmtime's versions      |
//! | any other path                  | 404, JSON error                          |
//! | another method on a known path  | 405, JSON error                          |
//!
//! The body of `POST /compile` is the input, binary or text, module or
//! component; its settings are query parameters with `kiln compile`'s flag
//! names (`kiln_settings::QuerySettings`, the grammar `kiln serve` takes
//! too). The artifact answers with `kiln-artifact-kind`,
//! `kiln-function-count` and `kiln-code-bytes` headers beside it.
//!
//! Errors are JSON, `{"error": KIND, "message": ..., "offset": N|null}`,
//! with the statuses `kiln serve` gives the same kinds: 400
//! `invalid-input` (with the byte offset) and `invalid-option`, 422
//! `unsupported-target` and `unsupported-feature`, 413 `body-too-large`, 500
//! `internal`.
//!
//! The body is capped while it is read: a declared `content-length` over
//! the cap is refused before a byte is read, and a body without one stops
//! being read at the cap. The cap is `KILN_HTTP_MAX_BODY` (bytes) from the
//! handler's environment, 64 MiB when unset (the service's default). The
//! host's own limits (time, memory) bound the compile itself; a panic in
//! the compiler traps the instance, and the host answers 500.

#![cfg(all(target_arch = "wasm32", target_os = "wasi"))]

use kiln_guest::{ArtifactKind, CompileError, Options, TARGETS};
use kiln_settings::{QuerySettings, WasmtimeOptions};
use std::io::Write as _;
use wasi::http::types::{
    Fields, IncomingRequest, Method, OutgoingBody, OutgoingResponse, ResponseOutparam,
};
use wasi::io::streams::StreamError;

wasi::http::proxy::export!(Handler);

/// The body cap when `KILN_HTTP_MAX_BODY` is unset.
const DEFAULT_MAX_BODY: u64 = 64 << 20;
/// How much one read of the body asks for.
const READ_CHUNK: u64 = 64 << 10;

struct Handler;

impl wasi::exports::http::incoming_handler::Guest for Handler {
    fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
        kiln_guest::install_panic_hook();
        kiln_guest::quiet_cranelift_timing();
        let reply = match route(&request) {
            Ok(reply) | Err(reply) => reply,
        };
        reply.send(response_out);
    }
}

/// A response ready to send.
struct Reply {
    status: u16,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

impl Reply {
    fn json(status: u16, value: &serde_json::Value) -> Self {
        Self {
            status,
            headers: vec![("content-type".into(), b"application/json".to_vec())],
            body: value.to_string().into_bytes(),
        }
    }

    fn error(status: u16, kind: &str, message: impl Into<String>, offset: Option<u64>) -> Self {
        Self::json(
            status,
            &serde_json::json!({ "error": kind, "message": message.into(), "offset": offset }),
        )
    }

    fn send(mut self, out: ResponseOutparam) {
        self.headers.push((
            "content-length".into(),
            self.body.len().to_string().into_bytes(),
        ));
        let headers = Fields::from_list(&self.headers).unwrap_or_else(|_| Fields::new());
        let response = OutgoingResponse::new(headers);
        let _ = response.set_status_code(self.status);
        let Ok(body) = response.body() else {
            return;
        };
        ResponseOutparam::set(out, Ok(response));
        if let Ok(mut stream) = body.write() {
            // A client that went away is not the handler's failure.
            let _ = stream
                .write_all(&self.body)
                .and_then(|()| std::io::Write::flush(&mut stream));
        }
        let _ = OutgoingBody::finish(body, None);
    }
}

fn route(request: &IncomingRequest) -> Result<Reply, Reply> {
    let path_with_query = request.path_with_query().unwrap_or_default();
    let (path, query) = path_with_query
        .split_once('?')
        .unwrap_or((&path_with_query, ""));
    let method = request.method();
    match (path, &method) {
        ("/compile", Method::Post) => compile(request, query),
        ("/targets", Method::Get) => Ok(Reply::json(200, &serde_json::json!(TARGETS))),
        ("/version", Method::Get) => Ok(Reply::json(
            200,
            &serde_json::json!({ "kiln": kiln_guest::version(), "wasmtime": kiln_settings::WASMTIME_VERSION }),
        )),
        ("/compile" | "/targets" | "/version", _) => Err(Reply::error(
            405,
            "method-not-allowed",
            format!("{path} does not take {}", method_name(&method)),
            None,
        )),
        _ => Err(Reply::error(
            404,
            "not-found",
            format!("no route {path}; POST /compile, GET /targets, GET /version"),
            None,
        )),
    }
}

fn compile(request: &IncomingRequest, query: &str) -> Result<Reply, Reply> {
    let options = options(query)?;
    let input = read_body(request)?;
    let artifact = kiln_guest::compile(&input, &options).map_err(compile_error)?;
    let kind: &[u8] = match artifact.kind {
        ArtifactKind::Module => b"module",
        ArtifactKind::Component => b"component",
    };
    Ok(Reply {
        status: 200,
        headers: vec![
            ("content-type".into(), b"application/octet-stream".to_vec()),
            ("kiln-artifact-kind".into(), kind.to_vec()),
            (
                "kiln-function-count".into(),
                artifact.function_count.to_string().into_bytes(),
            ),
            (
                "kiln-code-bytes".into(),
                artifact.code_bytes.to_string().into_bytes(),
            ),
        ],
        body: artifact.bytes,
    })
}

/// The compile's options from the query string.
fn options(query: &str) -> Result<Options, Reply> {
    let invalid = |message: String| Reply::error(400, "invalid-option", message, None);
    let settings = QuerySettings::from_pairs(form_urlencoded::parse(query.as_bytes()))
        .map_err(|error| invalid(error.to_string()))?;
    let Some(triple) = settings.target.clone() else {
        return Err(invalid(format!(
            "give a `target` query parameter, one of: {}",
            TARGETS.join(", ")
        )));
    };
    let (wasmtime, _ignored) =
        WasmtimeOptions::from_given(&settings.given).map_err(|error| invalid(error.to_string()))?;
    Ok(Options {
        triple,
        cpu_features: settings.cpu_features(),
        wasmtime,
    })
}

/// The request's body, refused past the cap.
fn read_body(request: &IncomingRequest) -> Result<Vec<u8>, Reply> {
    let cap = max_body();
    let too_large = || {
        Reply::error(
            413,
            "body-too-large",
            format!("the body is over the handler's cap of {cap} bytes"),
            None,
        )
    };
    let declared = request
        .headers()
        .get("content-length")
        .first()
        .and_then(|value| std::str::from_utf8(value).ok()?.trim().parse::<u64>().ok());
    if declared.is_some_and(|length| length > cap) {
        return Err(too_large());
    }
    let unreadable = || {
        Reply::error(
            400,
            "invalid-input",
            "the request body cannot be read",
            None,
        )
    };
    let body = request.consume().map_err(|()| unreadable())?;
    let stream = body.stream().map_err(|()| unreadable())?;
    let mut input = Vec::with_capacity(declared.unwrap_or(0).min(cap) as usize);
    loop {
        match stream.blocking_read(READ_CHUNK) {
            Ok(chunk) => {
                if input.len() as u64 + chunk.len() as u64 > cap {
                    return Err(too_large());
                }
                input.extend_from_slice(&chunk);
            }
            Err(StreamError::Closed) => break,
            Err(StreamError::LastOperationFailed(error)) => {
                return Err(Reply::error(
                    400,
                    "invalid-input",
                    format!("reading the body failed: {}", error.to_debug_string()),
                    None,
                ));
            }
        }
    }
    Ok(input)
}

fn max_body() -> u64 {
    std::env::var("KILN_HTTP_MAX_BODY")
        .ok()
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(DEFAULT_MAX_BODY)
}

fn compile_error(error: CompileError) -> Reply {
    match error {
        CompileError::InvalidInput { message, offset } => {
            Reply::error(400, "invalid-input", message, offset)
        }
        // Its `Display` is the message, supported targets named.
        error @ CompileError::UnsupportedTarget { .. } => {
            Reply::error(422, "unsupported-target", error.to_string(), None)
        }
        CompileError::UnsupportedFeature { message } => {
            Reply::error(422, "unsupported-feature", message, None)
        }
        CompileError::Internal { message } => Reply::error(500, "internal", message, None),
    }
}

fn method_name(method: &Method) -> String {
    match method {
        Method::Get => "GET".into(),
        Method::Head => "HEAD".into(),
        Method::Post => "POST".into(),
        Method::Put => "PUT".into(),
        Method::Delete => "DELETE".into(),
        Method::Connect => "CONNECT".into(),
        Method::Options => "OPTIONS".into(),
        Method::Trace => "TRACE".into(),
        Method::Patch => "PATCH".into(),
        Method::Other(other) => other.clone(),
    }
}
