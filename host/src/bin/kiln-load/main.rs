//! `kiln-load`: the hostile half of the compile service's load test.
//!
//! While a real load generator (`wrk`, `scripts/load-test.sh`) sends good
//! compiles and checks their artifacts, this client sends, for a fixed
//! time and from a few threads at once, the requests a service for
//! untrusted uploads must survive, and checks every answer:
//!
//! | kind             | sent                                      | expected           |
//! |------------------|-------------------------------------------|--------------------|
//! | `garbage`        | random bytes                              | 400 invalid-input  |
//! | `truncated`      | a valid module cut short                  | 400 invalid-input  |
//! | `oversized`      | a declared length over the cap            | 413                |
//! | `oversized-chunked` | chunks past the cap, no length         | 413                |
//! | `bomb`           | a compile bomb (`tests/support/bombs.rs`) | 408 or 503 (limit) |
//! | `crash`          | a valid module Cranelift panics on        | 500 internal       |
//! | `slow-upload`    | a body trickled past the body deadline    | 408                |
//! | `slow-headers`   | a head that never ends                    | connection closed  |
//! | `disconnect`     | a good compile, dropped mid-response      | (the server lives) |
//!
//! Behind a load balancer a replica may die mid-request, and the balancer
//! has deadlines of its own; its own 408/502/503/504 (no Kiln JSON body)
//! is then an honest answer, counted apart (`balancer`), never as a right
//! or a corrupt answer. It prints one JSON
//! object: counts per kind, wrong answers with what came back.

#[path = "../../../../tests/support/bombs.rs"]
#[allow(dead_code)]
mod bombs;
#[path = "../../../../tests/support/http.rs"]
#[allow(dead_code)]
mod http;
#[path = "../../../../tests/support/noise.rs"]
mod noise;

use clap::Parser;
use serde_json::json;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Send hostile requests to a `kiln serve` for a while and check every answer.
#[derive(Parser)]
struct Args {
    /// The service's address (`127.0.0.1:8080`).
    #[arg(long)]
    addr: SocketAddr,
    /// How long to run, in seconds.
    #[arg(long, default_value_t = 30.0)]
    seconds: f64,
    /// Threads sending at once.
    #[arg(long, default_value_t = 4)]
    threads: usize,
    /// The service's body cap, in bytes.
    #[arg(long, default_value_t = 8 << 20)]
    max_body: u64,
    /// The service's body deadline, in seconds.
    #[arg(long, default_value_t = 5.0)]
    body_timeout: f64,
    /// A valid module to truncate and to compile-then-drop.
    #[arg(long)]
    module: PathBuf,
    /// The target triple.
    #[arg(long, default_value = "x86_64-unknown-linux-gnu")]
    target: String,
    /// Leave out these kinds (comma-separated).
    #[arg(long, default_value = "")]
    skip: String,
}

/// What one hostile request got.
enum Outcome {
    Right,
    Balancer,
    Wrong(String),
}

/// Answers of one kind, by outcome.
#[derive(Default)]
struct Counts {
    right: u64,
    balancer: u64,
    wrong: u64,
}

const KINDS: [&str; 10] = [
    "garbage",
    "truncated",
    "oversized",
    "oversized-chunked",
    "bomb",
    "slow-upload",
    "slow-headers",
    "disconnect",
    "garbage-h2",
    "crash",
];

fn main() {
    let args = Args::parse();
    let module = std::fs::read(&args.module).expect("reading --module");
    let bombs: Vec<(String, Vec<u8>)> = bombs::catalogue()
        .into_iter()
        .map(|bomb| (bomb.name.to_string(), (bomb.build)(1)))
        .filter(|(_, bytes)| (bytes.len() as u64) < args.max_body)
        .collect();
    let skip: Vec<&str> = args.skip.split(',').filter(|s| !s.is_empty()).collect();
    let kinds: Vec<&str> = KINDS
        .iter()
        .copied()
        .filter(|k| !skip.contains(k))
        .collect();
    let deadline = Instant::now() + Duration::from_secs_f64(args.seconds);
    let tally: Arc<Mutex<BTreeMap<String, Counts>>> = Arc::default();
    let wrong: Arc<Mutex<Vec<String>>> = Arc::default();
    std::thread::scope(|scope| {
        for thread in 0..args.threads {
            let (args, module, bombs, kinds) = (&args, &module, &bombs, &kinds);
            let (tally, wrong) = (tally.clone(), wrong.clone());
            scope.spawn(move || {
                let mut turn = thread;
                while Instant::now() < deadline {
                    let kind = kinds[turn % kinds.len()];
                    turn += args.threads.max(1);
                    let outcome = send(kind, turn, args, module, bombs);
                    let mut tally = tally.lock().unwrap();
                    let entry = tally.entry(kind.to_string()).or_default();
                    match outcome {
                        Outcome::Right => entry.right += 1,
                        Outcome::Balancer => entry.balancer += 1,
                        Outcome::Wrong(what) => {
                            entry.wrong += 1;
                            wrong.lock().unwrap().push(format!("{kind}: {what}"));
                        }
                    }
                }
            });
        }
    });
    let tally = tally.lock().unwrap();
    let kinds: serde_json::Map<String, serde_json::Value> = tally
        .iter()
        .map(|(kind, counts)| {
            let json = json!({
                "right": counts.right,
                "balancer": counts.balancer,
                "wrong": counts.wrong,
            });
            (kind.clone(), json)
        })
        .collect();
    let wrong = wrong.lock().unwrap();
    let total_wrong: u64 = tally.values().map(|counts| counts.wrong).sum();
    println!(
        "{}",
        json!({
            "kinds": kinds,
            "wrong": total_wrong,
            "wrong_examples": wrong.iter().take(20).collect::<Vec<_>>(),
        })
    );
    std::process::exit(i32::from(total_wrong > 0));
}

fn send(
    kind: &str,
    turn: usize,
    args: &Args,
    module: &[u8],
    bombs: &[(String, Vec<u8>)],
) -> Outcome {
    let path = format!("/v1/compile?target={}", args.target);
    let expect = |response: std::io::Result<http::Response>, statuses: &[u16], kinds: &[&str]| {
        match response {
            Ok(response)
                if matches!(response.status, 408 | 502 | 503 | 504)
                    && response.error_kind().is_empty() =>
            {
                Outcome::Balancer
            }
            Ok(response) if statuses.contains(&response.status) => {
                let kind = response.error_kind();
                if kinds.is_empty() || kinds.contains(&kind.as_str()) {
                    Outcome::Right
                } else {
                    Outcome::Wrong(format!("{} {kind}", response.status))
                }
            }
            Ok(response) => Outcome::Wrong(format!(
                "{} {}",
                response.status,
                String::from_utf8_lossy(&response.body[..response.body.len().min(200)])
            )),
            Err(error) => Outcome::Wrong(format!("no answer: {error}")),
        }
    };
    match kind {
        "garbage" => {
            let body = noise::noise(turn as u64, 1 + turn % 4096);
            expect(
                http::request(args.addr, "POST", &path, &[], &body),
                &[400],
                &["invalid-input"],
            )
        }
        "garbage-h2" => {
            // An HTTP/2 preface followed by noise: the connection is
            // refused, and nothing else happens.
            match raw_exchange(
                args.addr,
                &[
                    b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".as_slice(),
                    &noise::noise(turn as u64, 512),
                ]
                .concat(),
            ) {
                Ok(_) => Outcome::Right,
                Err(error) => Outcome::Wrong(format!("{error}")),
            }
        }
        "truncated" => {
            // Binary or text, a module cut short is refused at an offset.
            let cut = 8 + turn % module.len().saturating_sub(9).max(1);
            let cut = cut.min(module.len().saturating_sub(1));
            expect(
                http::request(args.addr, "POST", &path, &[], &module[..cut]),
                &[400],
                &["invalid-input"],
            )
        }
        "oversized" => {
            let response =
                http::connect(args.addr, Duration::from_secs(30)).and_then(|mut stream| {
                    stream.write_all(&http::head(
                        "POST",
                        &path,
                        &[],
                        Some((args.max_body + 1) as usize),
                    ))?;
                    http::read_response(&mut stream)
                });
            expect(response, &[413], &["body-too-large"])
        }
        "oversized-chunked" => {
            let response =
                http::connect(args.addr, Duration::from_secs(30)).and_then(|mut stream| {
                    stream.write_all(&http::head(
                        "POST",
                        &path,
                        &[("Transfer-Encoding", "chunked")],
                        None,
                    ))?;
                    let chunk = vec![b'x'; 256 << 10];
                    let mut sent = 0u64;
                    while sent <= args.max_body {
                        let mut bytes = format!("{:x}\r\n", chunk.len()).into_bytes();
                        bytes.extend_from_slice(&chunk);
                        bytes.extend_from_slice(b"\r\n");
                        if stream.write_all(&bytes).is_err() {
                            break;
                        }
                        sent += chunk.len() as u64;
                    }
                    // The end of the body: a client that sent too much
                    // and finished, whose answer must still be the 413.
                    let _ = stream.write_all(b"0\r\n\r\n");
                    http::read_response(&mut stream)
                });
            expect(response, &[413], &["body-too-large"])
        }
        "bomb" => {
            let (_, bytes) = &bombs[turn % bombs.len()];
            expect(
                http::request(args.addr, "POST", &path, &[], bytes),
                &[408, 503],
                &["time-limit", "memory-limit", "output-limit", "overloaded"],
            )
        }
        "crash" => expect(
            http::request(args.addr, "POST", &path, &[], &bombs::memflags_overflow()),
            &[500],
            &["internal"],
        ),
        "slow-upload" => {
            let response =
                http::connect(args.addr, Duration::from_secs(60)).and_then(|mut stream| {
                    stream.write_all(&http::head("POST", &path, &[], Some(4096)))?;
                    let until = Instant::now() + Duration::from_secs_f64(args.body_timeout + 2.0);
                    while Instant::now() < until {
                        if stream.write_all(b"(").is_err() {
                            break;
                        }
                        std::thread::sleep(Duration::from_millis(250));
                    }
                    http::read_response(&mut stream)
                });
            expect(response, &[408, 503], &["body-timeout", "overloaded"])
        }
        "slow-headers" => {
            let result =
                http::connect(args.addr, Duration::from_secs(60)).and_then(|mut stream| {
                    stream.write_all(b"POST /v1/compile HTTP/1.1\r\nHost: kiln\r\n")?;
                    let mut rest = Vec::new();
                    let _ = stream.read_to_end(&mut rest);
                    Ok(rest)
                });
            match result {
                Ok(rest) if !rest.starts_with(b"HTTP/1.1 2") => Outcome::Right,
                Ok(_) => Outcome::Wrong("a 2xx to half a head".to_string()),
                Err(error) => Outcome::Wrong(format!("{error}")),
            }
        }
        "disconnect" => {
            let result =
                http::connect(args.addr, Duration::from_secs(60)).and_then(|mut stream| {
                    let mut bytes = http::head("POST", &path, &[], Some(module.len()));
                    bytes.extend_from_slice(module);
                    stream.write_all(&bytes)?;
                    let mut first = [0; 16];
                    stream.read(&mut first)
                });
            match result {
                Ok(_) => Outcome::Right,
                Err(error) => Outcome::Wrong(format!("{error}")),
            }
        }
        other => Outcome::Wrong(format!("unknown kind {other}")),
    }
}

/// Writes `bytes` and reads until the server closes.
fn raw_exchange(addr: SocketAddr, bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut stream = http::connect(addr, Duration::from_secs(30))?;
    let _ = stream.write_all(bytes);
    let mut rest = Vec::new();
    match stream.read_to_end(&mut rest) {
        Ok(_) => Ok(rest),
        Err(error) if error.kind() == std::io::ErrorKind::ConnectionReset => Ok(rest),
        Err(error) => Err(error),
    }
}
