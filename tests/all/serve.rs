//! `kiln serve`, the real server on a loopback port: every endpoint, every
//! limit, tenants, the per-tenant cache and graceful shutdown, driven by a
//! plain HTTP client (`tests/support/http.rs`) that can also misbehave.

use crate::cli::{config_dir, fixture_path, kiln, path_str, temp_dir};
use crate::http::{self, Response, connect, head, read_response, request};
use crate::{cache_dir, fixture, limits::slow_module};
use base64::Engine as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const X86: &str = "x86_64-unknown-linux-gnu";
const ALICE: &str = "alice-token-0123456789";
const BOB: &str = "bob-token-0123456789ab";

/// A running `kiln serve`, killed when dropped.
struct Server {
    child: Child,
    addr: SocketAddr,
    log: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Server {
    /// Starts `kiln serve` with `config` (TOML) on a free loopback port.
    fn start(config: &str) -> Self {
        let dir = temp_dir();
        let config_file = dir.path().join("serve.toml");
        std::fs::write(&config_file, config).unwrap();
        let log = dir.path().join("serve.log");
        let mut child = Command::new(env!("CARGO_BIN_EXE_kiln"))
            .args(["serve", "--listen", "127.0.0.1:0", "--log-json", "--config"])
            .arg(&config_file)
            .env("KILN_CACHE_DIR", cache_dir())
            .env("KILN_CONFIG_DIR", config_dir())
            .env("KILN_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("kiln serve starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| {
                panic!(
                    "no address in {line:?}; log: {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                )
            })
            .parse()
            .unwrap();
        Self {
            child,
            addr,
            log,
            _dir: dir,
        }
    }

    fn get(&self, path: &str) -> Response {
        request(self.addr, "GET", path, &[], b"").unwrap()
    }

    fn post(&self, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
        request(self.addr, "POST", path, headers, body).unwrap()
    }

    fn compile(&self, query: &str, body: &[u8]) -> Response {
        self.post(&format!("/v1/compile?{query}"), &[], body)
    }

    /// [`Server::compile`], which must answer 200.
    fn compile_ok(&self, query: &str, body: &[u8]) -> Response {
        let response = self.compile(query, body);
        assert_eq!(
            response.status,
            200,
            "{query}: {}",
            String::from_utf8_lossy(&response.body)
        );
        response
    }

    /// The value of a metric line that starts with `prefix`.
    fn metric(&self, prefix: &str) -> Option<f64> {
        let text = String::from_utf8(self.get("/metrics").body).unwrap();
        text.lines()
            .find(|line| line.starts_with(prefix))
            .and_then(|line| line.rsplit(' ').next()?.parse().ok())
    }

    /// Waits until `prefix`'s metric is `value`.
    fn wait_for_metric(&self, prefix: &str, value: f64) {
        let start = Instant::now();
        while self.metric(prefix) != Some(value) {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "{prefix} never became {value}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Asserts that a good compile still succeeds.
    fn assert_serves(&self) {
        let response = self.compile(&format!("target={X86}"), &fixture("math.wat"));
        assert_eq!(response.status, 200, "{:?}", response.json());
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `kiln compile`'s artifact for a fixture, with extra flags.
fn cli_artifact(name: &str, flags: &[&str]) -> Vec<u8> {
    let dir = temp_dir();
    let out = dir.path().join("out.cwasm");
    let input = fixture_path(name);
    let mut args = vec!["compile", &input, "--target", X86, "-o", path_str(&out)];
    args.extend_from_slice(flags);
    let output = kiln(&args);
    assert!(output.status.success(), "{}", crate::cli::stderr(&output));
    std::fs::read(out).unwrap()
}

#[test]
fn compile_answers_the_cli_artifact_with_a_verifiable_statement() {
    let server = Server::start("");
    let wat = fixture("math.wat");
    let response = server.compile_ok(&format!("target={X86}&name=math.wasm"), &wat);
    assert_eq!(
        response.header("content-type"),
        Some("application/octet-stream")
    );
    assert_eq!(response.body, cli_artifact("math.wat", &[]));
    // Its machine code was verified before it was answered.
    assert_eq!(response.header("kiln-code-verification"), Some("passed"));

    // The statement verifies with `kiln verify`, as one written by `kiln compile`.
    let statement = base64::engine::general_purpose::STANDARD
        .decode(response.header("kiln-statement").expect("a statement"))
        .unwrap();
    let dir = temp_dir();
    let artifact = dir.path().join("math.cwasm");
    std::fs::write(&artifact, &response.body).unwrap();
    std::fs::write(dir.path().join("math.cwasm.intoto.json"), &statement).unwrap();
    let verified = kiln(&["verify", path_str(&artifact), "--target", X86, "--json"]);
    assert!(
        verified.status.success(),
        "{}",
        crate::cli::stderr(&verified)
    );
    let verified: serde_json::Value =
        serde_json::from_str(crate::cli::stdout(&verified).trim()).unwrap();
    assert_eq!(verified["code_verification"]["outcome"], "passed");

    // Settings travel as the CLI's option names.
    let response = server.compile(
        &format!("target={X86}&O=opt-level=0&W=relaxed-simd=n"),
        &wat,
    );
    assert_eq!(response.status, 200);
    assert_eq!(
        response.body,
        cli_artifact("math.wat", &["-O", "opt-level=0", "-W", "relaxed-simd=n"])
    );

    // A component, as text.
    let component =
        br#"(component (core module $m (func (export "f"))) (core instance (instantiate $m)))"#;
    let response = server.compile_ok(&format!("target={X86}"), component);
    assert!(!response.body.is_empty());
}

/// `C=compiler=winch` is the CLI's `-C compiler=winch`: the same bytes,
/// recorded as code the verifier does not read; a proposal Winch lacks is
/// a 422 naming it, and the service goes on serving.
#[test]
fn winch_is_asked_for_as_the_cli_asks_for_it() {
    let server = Server::start("");
    let response = server.compile_ok(
        &format!("target={X86}&C=compiler=winch"),
        &fixture("math.wat"),
    );
    assert_eq!(
        response.body,
        cli_artifact("math.wat", &["-C", "compiler=winch"])
    );
    assert_ne!(response.body, cli_artifact("math.wat", &[]));
    assert_eq!(
        response.header("kiln-code-verification"),
        Some("unsupported-compiler")
    );

    let tail_call = b"(module (func $f) (func (export \"g\") return_call $f))";
    let response = server.compile(&format!("target={X86}&C=compiler=winch"), tail_call);
    assert_eq!(response.status, 422, "{:?}", response.json());
    assert_eq!(response.error_kind(), "unsupported-feature");
    let message = response.json()["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(message.contains("tail-call"), "{message}");
    server.assert_serves();
}

#[test]
fn bad_requests_get_typed_json_errors_and_the_service_keeps_serving() {
    let server = Server::start("");
    let truncated = {
        let mut wasm = wat::parse_bytes(&fixture("primes.wat"))
            .unwrap()
            .into_owned();
        wasm.truncate(wasm.len() / 2);
        wasm
    };
    let cases: [(&str, &[u8], u16, &str); 7] = [
        (
            "target=x86_64-unknown-linux-gnu",
            b"\0asm garbage",
            400,
            "invalid-input",
        ),
        (
            "target=x86_64-unknown-linux-gnu",
            &truncated,
            400,
            "invalid-input",
        ),
        ("target=x86_64-unknown-linux-gnu", b"", 400, "invalid-input"),
        (
            "target=mips-unknown-linux-gnu",
            b"(module)",
            422,
            "unsupported-target",
        ),
        (
            "target=x86_64-unknown-linux-gnu&cpu-feature=has_nothing",
            b"(module)",
            422,
            "unsupported-feature",
        ),
        (
            "target=x86_64-unknown-linux-gnu&W=no-such=1",
            b"(module)",
            400,
            "invalid-option",
        ),
        (
            "target=x86_64-unknown-linux-gnu&frobnicate=1",
            b"(module)",
            400,
            "invalid-option",
        ),
    ];
    for (query, body, status, kind) in cases {
        let response = server.compile(query, body);
        assert_eq!(response.status, status, "{query}: {:?}", response.json());
        assert_eq!(response.error_kind(), kind, "{query}");
        assert!(
            response.json()["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
    // The truncated module's error names a byte offset.
    let response = server.compile(&format!("target={X86}"), &truncated);
    assert!(
        response.json()["offset"].as_u64().is_some(),
        "{:?}",
        response.json()
    );

    assert_eq!(server.get("/nowhere").status, 404);
    assert_eq!(server.get("/nowhere").error_kind(), "not-found");
    assert_eq!(server.get("/v1/compile").status, 405);
    // A response that is not HTTP at all is cut off, not served.
    let mut stream = connect(server.addr, Duration::from_secs(10)).unwrap();
    stream.write_all(b"\x16\x03\x01 not http\r\n\r\n").unwrap();
    let mut rest = Vec::new();
    let _ = stream.read_to_end(&mut rest);
    assert!(!rest.starts_with(b"HTTP/1.1 200"));

    server.assert_serves();
}

#[test]
fn informational_endpoints_answer() {
    let server = Server::start("");
    assert_eq!(server.get("/healthz").status, 200);
    assert_eq!(server.get("/readyz").status, 200);
    let targets = server.get("/v1/targets").json();
    let triples: Vec<&str> = targets["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["triple"].as_str().unwrap())
        .collect();
    assert_eq!(triples, host::TARGETS);
    let version = server.get("/v1/version").json();
    assert_eq!(version["wasmtime"], kiln_settings::WASMTIME_VERSION);
    assert_eq!(
        version["threaded_guest_sha256"],
        host::guest::THREADED_SHA256
    );

    // The operator's check: sandbox and native agree.
    let response = server.post(
        &format!("/v1/check?target={X86}"),
        &[],
        &fixture("math.wat"),
    );
    assert_eq!(response.status, 200, "{:?}", response.json());
    assert_eq!(response.json()["identical"], true);
    // Garbage and truncated input fail the check with the compiler's
    // error; an unknown setting is refused before the body is read.
    let truncated = &fixture("math.wat")[..40];
    for body in [&b"\0asm\x01\0\0\0\xff"[..], truncated] {
        let response = server.post(&format!("/v1/check?target={X86}"), &[], body);
        assert_eq!(response.status, 422, "{:?}", response.json());
        assert_eq!(response.json()["ok"], false);
        assert!(
            response.json()["error"]
                .as_str()
                .is_some_and(|e| !e.is_empty())
        );
    }
    let response = server.post(
        &format!("/v1/check?target={X86}&W=nope=1"),
        &[],
        b"(module)",
    );
    assert_eq!(response.error_kind(), "invalid-option");

    // Metrics count what happened, in Prometheus's text format.
    server.compile(&format!("target={X86}"), &fixture("math.wat"));
    server.compile(&format!("target={X86}"), b"garbage");
    assert_eq!(
        server.metric("kiln_compiles_total{outcome=\"ok\"}"),
        Some(1.0)
    );
    assert_eq!(
        server.metric("kiln_compiles_total{outcome=\"invalid-input\"}"),
        Some(1.0)
    );
    assert!(server.metric("kiln_bytes_out_total").unwrap() > 0.0);
    assert!(
        server.metric("kiln_request_duration_seconds_count{route=\"/v1/compile\"}") == Some(2.0)
    );
    assert_eq!(server.metric("kiln_in_flight"), Some(0.0));
    assert_eq!(server.metric("kiln_queue_depth"), Some(0.0));
    let metrics = server.get("/metrics");
    assert!(
        metrics
            .header("content-type")
            .unwrap()
            .starts_with("text/plain")
    );

    // One JSON log line per request, with the compile's facts.
    let log = server.log();
    let line = log
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find(|line| line["fields"]["route"] == "/v1/compile" && line["fields"]["outcome"] == "ok")
        .unwrap_or_else(|| panic!("no compile log line in {log}"));
    let fields = &line["fields"];
    assert_eq!(fields["target"], X86);
    assert_eq!(fields["status"], 200);
    assert_eq!(fields["input_sha256"].as_str().unwrap().len(), 64);
    assert!(fields["request_id"].as_str().is_some());
    assert!(fields["duration_ms"].as_f64().is_some());
}

#[test]
fn the_body_cap_is_checked_while_streaming() {
    let server = Server::start("max_body = \"64KiB\"\n");
    // Declared too large: refused before any body is sent.
    let mut stream = connect(server.addr, Duration::from_secs(30)).unwrap();
    stream
        .write_all(&head(
            "POST",
            &format!("/v1/compile?target={X86}"),
            &[],
            Some(1 << 30),
        ))
        .unwrap();
    let response = read_response(&mut stream).unwrap();
    assert_eq!(response.status, 413);
    assert_eq!(response.error_kind(), "body-too-large");

    // Chunked, with no length: refused once past the cap, though the
    // client keeps sending.
    let mut stream = connect(server.addr, Duration::from_secs(30)).unwrap();
    stream
        .write_all(&head(
            "POST",
            &format!("/v1/compile?target={X86}"),
            &[("Transfer-Encoding", "chunked")],
            None,
        ))
        .unwrap();
    let chunk = [b'a'; 16 << 10];
    for _ in 0..8 {
        let mut bytes = format!("{:x}\r\n", chunk.len()).into_bytes();
        bytes.extend_from_slice(&chunk);
        bytes.extend_from_slice(b"\r\n");
        if stream.write_all(&bytes).is_err() {
            break;
        }
    }
    let response = read_response(&mut stream).unwrap();
    assert_eq!(response.status, 413);
    assert_eq!(
        server.metric("kiln_limit_hits_total{limit=\"body\"}"),
        Some(2.0)
    );
    server.assert_serves();
}

#[test]
fn sandbox_limits_answer_408_and_503() {
    let slow = slow_module();
    let server = Server::start("[limits]\ntimeout_s = 0.3\n");
    let response = server.compile(&format!("target={X86}"), slow.as_bytes());
    assert_eq!(response.status, 408, "{:?}", response.json());
    assert_eq!(response.error_kind(), "time-limit");

    let server = Server::start("[limits]\nmax_memory = \"8MiB\"\n");
    let response = server.compile(&format!("target={X86}"), slow.as_bytes());
    assert_eq!(response.status, 503, "{:?}", response.json());
    assert_eq!(response.error_kind(), "memory-limit");

    let server = Server::start("[limits]\nmax_output = \"10KiB\"\n");
    let response = server.compile(&format!("target={X86}"), &fixture("primes.wat"));
    assert_eq!(response.status, 503, "{:?}", response.json());
    assert_eq!(response.error_kind(), "output-limit");
    assert_eq!(
        server.metric("kiln_limit_hits_total{limit=\"output\"}"),
        Some(1.0)
    );
    // Still serving small artifacts.
    assert_eq!(
        server.compile(&format!("target={X86}"), b"(module)").status,
        200
    );
}

/// Starts an upload that declares `length` bytes and sends one, holding
/// its place in the queue until the body deadline.
fn stalled_upload(server: &Server, headers: &[(&str, &str)]) -> std::net::TcpStream {
    let mut stream = connect(server.addr, Duration::from_secs(60)).unwrap();
    let mut bytes = head(
        "POST",
        &format!("/v1/compile?target={X86}"),
        headers,
        Some(1000),
    );
    bytes.push(b'(');
    stream.write_all(&bytes).unwrap();
    stream
}

#[test]
fn a_full_queue_answers_503_with_retry_after_and_slow_bodies_408() {
    let server = Server::start("concurrency = 1\nqueue = 0\nbody_timeout_s = 2\n");
    let mut stalled = stalled_upload(&server, &[]);
    server.wait_for_metric("kiln_queue_depth", 1.0);
    let response = server.compile(&format!("target={X86}"), b"(module)");
    assert_eq!(response.status, 503);
    assert_eq!(response.error_kind(), "overloaded");
    assert!(response.header("retry-after").is_some());
    // The stalled body runs out of time and gives its place back.
    let response = read_response(&mut stalled).unwrap();
    assert_eq!(response.status, 408);
    assert_eq!(response.error_kind(), "body-timeout");
    assert_eq!(
        server.compile(&format!("target={X86}"), b"(module)").status,
        200
    );
}

#[test]
fn slow_headers_are_cut_off() {
    let server = Server::start("header_timeout_s = 1\n");
    let mut stream = connect(server.addr, Duration::from_secs(30)).unwrap();
    stream
        .write_all(b"POST /v1/compile HTTP/1.1\r\nHost: kiln\r\n")
        .unwrap();
    let start = Instant::now();
    let mut rest = Vec::new();
    let _ = stream.read_to_end(&mut rest);
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "the connection stayed open"
    );
    assert!(!rest.starts_with(b"HTTP/1.1 200"));
    assert_eq!(server.get("/healthz").status, 200);
}

fn tenants_config(extra: &str) -> String {
    format!(
        "{extra}\n[[tenant]]\nname = \"alice\"\ntoken = \"{ALICE}\"\nmax_in_flight = 1\n\
         rate_per_minute = 600\nburst = 100\n\
         [[tenant]]\nname = \"bob\"\ntoken = \"{BOB}\"\nrate_per_minute = 1\nburst = 2\n"
    )
}

#[test]
fn tokens_quotas_and_rates() {
    let server = Server::start(&tenants_config(""));
    let path = format!("/v1/compile?target={X86}");
    let module = fixture("math.wat");
    assert_eq!(server.post(&path, &[], &module).status, 401);
    assert_eq!(
        server
            .post(
                &path,
                &[("Authorization", "Bearer wrong-token-000000")],
                &module
            )
            .status,
        401
    );
    let alice = format!("Bearer {ALICE}");
    let bob = format!("Bearer {BOB}");
    assert_eq!(
        server
            .post(&path, &[("Authorization", &alice)], &module)
            .status,
        200
    );

    // Alice may have one compile in flight.
    let _held = stalled_upload(&server, &[("Authorization", &alice)]);
    server.wait_for_metric("kiln_queue_depth", 1.0);
    let response = server.post(&path, &[("Authorization", &alice)], &module);
    assert_eq!(response.status, 429);
    assert_eq!(response.error_kind(), "tenant-busy");

    // Bob has a burst of two and then one a minute.
    for _ in 0..2 {
        assert_eq!(
            server
                .post(&path, &[("Authorization", &bob)], &module)
                .status,
            200
        );
    }
    let response = server.post(&path, &[("Authorization", &bob)], &module);
    assert_eq!(response.status, 429);
    assert_eq!(response.error_kind(), "rate-limited");
    let wait: u64 = response.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "Retry-After {wait}");
    // The check endpoint is closed to tenants when no operator token is set.
    let response = server.post(
        &format!("/v1/check?target={X86}"),
        &[("Authorization", &alice)],
        &module,
    );
    assert_eq!(response.status, 401);
}

#[test]
fn one_tenants_cache_never_answers_anothers_compile() {
    let cache = temp_dir();
    let server = Server::start(&tenants_config(&format!(
        "cache = {:?}",
        path_str(cache.path())
    )));
    let path = format!("/v1/compile?target={X86}");
    let module = fixture("primes.wat");
    let hits = |token: &str| {
        let response = server.post(
            &path,
            &[("Authorization", &format!("Bearer {token}"))],
            &module,
        );
        assert_eq!(response.status, 200);
        let hits: u64 = response.header("kiln-cache-hits").unwrap().parse().unwrap();
        (hits, response.body)
    };
    let (first, artifact) = hits(ALICE);
    assert_eq!(first, 0);
    let (again, same) = hits(ALICE);
    assert!(again > 0, "alice's second compile came from her cache");
    assert_eq!(same, artifact);
    let (bob, bobs) = hits(BOB);
    assert_eq!(bob, 0, "bob's compile read alice's entries");
    assert_eq!(bobs, artifact);
}

#[test]
fn sigterm_finishes_in_flight_compiles_and_exits_zero() {
    let mut server = Server::start("grace_s = 60\n");
    let addr = server.addr;
    let slow = slow_module();
    let compile = std::thread::spawn(move || {
        request(
            addr,
            "POST",
            &format!("/v1/compile?target={X86}"),
            &[],
            slow.as_bytes(),
        )
    });
    server.wait_for_metric("kiln_in_flight", 1.0);
    server.terminate();
    let response = compile.join().unwrap().unwrap();
    assert_eq!(response.status, 200, "{:?}", response.json());
    assert!(response.body.starts_with(b"\x7fELF"));
    let status = server.child.wait().unwrap();
    assert!(status.success(), "exit status {status}");
    assert!(
        http::connect(addr, Duration::from_secs(2)).is_err(),
        "still accepting"
    );
}

#[test]
fn http2_without_tls_serves_the_same_artifact() {
    let server = Server::start("");
    let wat = fixture("math.wat");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let body = runtime.block_on(async {
        use http_body_util::{BodyExt, Full};
        let stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        let (mut sender, connection) = hyper::client::conn::http2::handshake(
            hyper_util::rt::TokioExecutor::new(),
            hyper_util::rt::TokioIo::new(stream),
        )
        .await
        .unwrap();
        tokio::spawn(connection);
        let request = hyper::Request::post(format!("http://kiln/v1/compile?target={X86}"))
            .body(Full::new(axum::body::Bytes::from(wat)))
            .unwrap();
        let response = sender.send_request(request).await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.version(), hyper::Version::HTTP_2);
        response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec()
    });
    assert_eq!(body, cli_artifact("math.wat", &[]));
}

#[test]
fn connections_past_the_cap_wait_for_a_free_one() {
    let server = Server::start("max_connections = 1\nheader_timeout_s = 2\n");
    // One connection that sends nothing holds the only place until its
    // head's deadline closes it.
    let mut idle = connect(server.addr, Duration::from_secs(30)).unwrap();
    let start = Instant::now();
    let response = server.get("/healthz");
    let waited = start.elapsed();
    assert_eq!(response.status, 200);
    assert!(
        waited >= Duration::from_millis(1500),
        "served after {waited:?}, while the only connection was held"
    );
    let mut rest = Vec::new();
    let _ = idle.read_to_end(&mut rest);
}

#[test]
fn compile_bombs_and_compiler_panics_leave_the_service_serving() {
    let server = Server::start("[limits]\ntimeout_s = 1\nmax_memory = \"512MiB\"\n");
    let bomb = crate::bombs::catalogue()
        .into_iter()
        .find(|bomb| bomb.name == "wasmtime-4060-deep-loop-nest")
        .expect("the catalogue has the loop nest");
    let response = server.compile(&format!("target={X86}"), &(bomb.build)(1));
    assert_eq!(response.status, 408, "{}: {:?}", bomb.name, response.json());
    assert_eq!(response.error_kind(), "time-limit");

    let response = server.compile(&format!("target={X86}"), &crate::bombs::memflags_overflow());
    assert_eq!(response.status, 500, "{:?}", response.json());
    assert_eq!(response.error_kind(), "internal");
    assert!(
        response.json()["message"]
            .as_str()
            .unwrap()
            .contains("panicked")
    );

    assert_eq!(server.get("/healthz").status, 200);
    server.assert_serves();
}

#[test]
fn a_taken_address_or_a_bad_config_is_a_clear_error() {
    let server = Server::start("");
    let addr = server.addr.to_string();
    let output = kiln(&["serve", "--listen", &addr]);
    assert_eq!(
        output.status.code(),
        Some(5),
        "{}",
        crate::cli::stderr(&output)
    );
    assert!(crate::cli::stderr(&output).contains(&addr));

    let dir = temp_dir();
    for bad in [
        "concurrency = 0",
        "max_body = \"lots\"",
        "nonsense = 1",
        "[[tenant]]\nname = \"a\"\ntoken = \"short\"",
    ] {
        let file = dir.path().join("bad.toml");
        std::fs::write(&file, bad).unwrap();
        let output = kiln(&["serve", "--config", path_str(&file)]);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{bad}: {}",
            crate::cli::stderr(&output)
        );
    }
    server.assert_serves();
}
