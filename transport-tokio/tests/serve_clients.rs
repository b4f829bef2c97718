//! `tollgate serve` (the real binary, with a key from a secret file) against real clients:
//! Python `websockets` and Node `ws`, driven by `tests/ws-interop/steps.py` and `steps.mjs`
//! with a JSON step spec (see steps.py). In-band refresh, first-message authentication,
//! the limits (`--max-message-size`, `--rate-limit`, `--max-connections`), `wss://` with
//! `--tls-cert`/`--tls-key`, the example config file and the `TOLLGATE_*` key variables.
//!
//! Everything listens on 127.0.0.1; servers and clients are killed on drop or after their
//! timeout. Install the clients with `scripts/install-test-deps.sh` (overrides:
//! `TOLLGATE_PYTHON`, `TOLLGATE_NODE`); a missing client is skipped with a note, except under
//! `CI=true`, where the test fails.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use common::peers::{Peer, node, peers, python};
use common::provider::repo;

/// Bound on a server's start and on any single wait of the Rust side.
const TIMEOUT: Duration = Duration::from_secs(20);

/// The HS256 secret, written to the file `--secret-file` names.
const SECRET: &str = "serve-clients-secret-0123456789abcdef";

/// A child process killed on drop.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Reads all of `pipe` on a thread of its own, so the child never blocks writing.
fn drain(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = pipe.read_to_string(&mut text);
        text
    })
}

/// Runs `peer` with `spec` and returns the JSON it printed. The scripts stop themselves
/// after the spec's `timeout` (default 20 s); they are killed five seconds later.
fn run_client(peer: Peer, spec: &Value) -> Value {
    let script = match peer {
        Peer::Python => "steps.py",
        Peer::Node => "steps.mjs",
    };
    let program = match peer {
        Peer::Python => python(),
        Peer::Node => node(),
    };
    let mut child = Killed(
        Command::new(program)
            .arg(repo().join("tests/ws-interop").join(script))
            .arg(spec.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the {peer:?} client: {e}")),
    );
    let stdout = drain(child.0.stdout.take().unwrap());
    let stderr = drain(child.0.stderr.take().unwrap());
    let limit = Duration::from_secs(spec["timeout"].as_u64().unwrap_or(20) + 5);
    let deadline = Instant::now() + limit;
    while child.0.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "{peer:?} client hung: {spec}");
        std::thread::sleep(Duration::from_millis(10));
    }
    let (stdout, stderr) = (stdout.join().unwrap(), stderr.join().unwrap());
    let out: Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|_| {
        panic!("{peer:?} client printed no JSON\nstdout: {stdout}\nstderr: {stderr}")
    });
    let shown: String = out.to_string().chars().take(400).collect();
    eprintln!("{peer:?}: {shown}");
    out
}

/// Runs `spec` on every available client at once.
fn run_all(spec: &Value) -> Vec<(Peer, Value)> {
    let runs: Vec<_> = peers()
        .into_iter()
        .map(|peer| {
            let spec = spec.clone();
            (peer, std::thread::spawn(move || run_client(peer, &spec)))
        })
        .collect();
    runs.into_iter()
        .map(|(peer, run)| (peer, run.join().unwrap()))
        .collect()
}

fn received(out: &Value) -> Vec<String> {
    out["received"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|item| item.as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn close_of(out: &Value) -> (u64, &str) {
    let close = &out["close"];
    (
        close["code"].as_u64().unwrap_or(0),
        close["reason"].as_str().unwrap_or(""),
    )
}

fn now() -> i64 {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    i64::try_from(secs.as_secs()).unwrap()
}

/// An HS256 token over `claims`, signed with [`SECRET`].
fn sign(claims: &Value) -> String {
    common::hs256_token(SECRET, claims)
}

/// A token for `sub` that expires `secs` from now.
fn token(sub: &str, secs: i64) -> String {
    sign(&json!({"sub": sub, "exp": now() + secs}))
}

/// A directory of this test process under the cargo target directory, with the secret
/// file in it.
fn scratch() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("serve-clients-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("secret"), SECRET).unwrap();
    dir
}

fn secret_file() -> String {
    scratch().join("secret").display().to_string()
}

/// A running `tollgate serve`, killed on drop.
struct Serve {
    _child: Killed,
    /// `http://127.0.0.1:PORT` or `https://…`, from the banner.
    base: String,
}

impl Serve {
    /// `tollgate serve --listen 127.0.0.1:0 ARGS` with `env` added to its environment.
    fn start(args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut child = Killed(
            Command::new(env!("CARGO_BIN_EXE_tollgate"))
                .args(["serve", "--listen", "127.0.0.1:0"])
                .args(args)
                .envs(env.iter().copied())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let stdout = child.0.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        // Reads the banner, then keeps the pipe drained for the server's lifetime.
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            for line in lines.by_ref().map_while(Result::ok) {
                if let Some(base) = line.split(" listening on ").nth(1) {
                    let _ = tx.send(base.trim().to_owned());
                    break;
                }
            }
            lines.for_each(drop);
        });
        let base = rx
            .recv_timeout(TIMEOUT)
            .unwrap_or_else(|_| panic!("no banner from tollgate serve {args:?}"));
        Self {
            _child: child,
            base,
        }
    }

    /// `tollgate serve --secret-file FILE --leeway 0 ARGS`.
    fn keyed(args: &[&str]) -> Self {
        let file = secret_file();
        let mut all = vec!["--secret-file", file.as_str(), "--leeway", "0"];
        all.extend_from_slice(args);
        Self::start(&all, &[])
    }

    /// The WebSocket URL, `ws://…/ws` or `wss://…/ws`.
    fn url(&self) -> String {
        format!("{}/ws", self.base.replacen("http", "ws", 1))
    }

    fn addr(&self) -> &str {
        self.base.split("://").nth(1).unwrap()
    }
}

/// Opens a plain WebSocket with `token` in the query and holds it; `Err(status)` when
/// the upgrade is refused.
fn hold(serve: &Serve, token: &str) -> Result<TcpStream, u16> {
    let mut stream = TcpStream::connect(serve.addr()).unwrap();
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    write!(
        stream,
        "GET /ws?token={token} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        serve.addr()
    )
    .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    let status = std::str::from_utf8(&head[9..12]).unwrap().parse().unwrap();
    if status == 101 {
        Ok(stream)
    } else {
        Err(status)
    }
}

#[test]
fn refresh_for_the_same_subject_outlives_the_first_token() {
    let serve = Serve::keyed(&["--echo"]);
    let refresh = json!({"type": "refresh", "token": token("erin", 8)}).to_string();
    // The first token expires within two seconds; the echo after three proves the
    // connection outlived it.
    let spec = json!({
        "url": serve.url(), "token": token("erin", 2), "via": "query",
        "steps": [{"send": refresh}, {"recv": 1}, {"sleep": 3}, {"send": "still here"}, {"recv": 1}],
    });
    for (peer, out) in run_all(&spec) {
        assert_eq!(out["status"], 101, "{peer:?}: {out}");
        assert_eq!(
            received(&out),
            [r#"{"type":"authenticated"}"#, "still here"],
            "{peer:?}: {out}"
        );
        assert_eq!(close_of(&out).0, 1000, "{peer:?}: {out}");
    }
}

#[test]
fn without_refresh_the_token_expiry_closes_1008_expired() {
    let serve = Serve::keyed(&["--echo"]);
    let spec = json!({"url": serve.url(), "token": token("erin", 2), "via": "header", "until_close": true});
    for (peer, out) in run_all(&spec) {
        assert_eq!(close_of(&out), (1008, "expired"), "{peer:?}: {out}");
    }
}

#[test]
fn refresh_with_another_subject_closes_1008_subject_mismatch() {
    let serve = Serve::keyed(&["--echo"]);
    let refresh = json!({"type": "refresh", "token": token("mallory", 60)}).to_string();
    let spec = json!({
        "url": serve.url(), "token": token("erin", 60), "via": "query", "until_close": true,
        "steps": [{"send": refresh}],
    });
    for (peer, out) in run_all(&spec) {
        let got = received(&out);
        assert_eq!(got.len(), 1, "{peer:?}: {out}");
        let reply: Value = serde_json::from_str(&got[0]).unwrap();
        assert_eq!(reply["type"], "unauthorized", "{peer:?}: {out}");
        assert_eq!(reply["code"], "subject_mismatch", "{peer:?}: {out}");
        assert_eq!(
            close_of(&out),
            (1008, "subject_mismatch"),
            "{peer:?}: {out}"
        );
    }
}

#[test]
fn first_message_authentication_then_echo() {
    let serve = Serve::keyed(&["--echo", "--first-message", "2"]);
    let spec = json!({
        "url": serve.url(), "via": "none",
        "steps": [{"auth": token("carol", 60)}, {"recv": 1}, {"send": "hello"}, {"recv": 1}],
    });
    for (peer, out) in run_all(&spec) {
        assert_eq!(
            received(&out),
            [r#"{"type":"authenticated"}"#, "hello"],
            "{peer:?}: {out}"
        );
        assert_eq!(close_of(&out).0, 1000, "{peer:?}: {out}");
    }
}

#[test]
fn first_message_timeout_closes_1008_missing_token() {
    let serve = Serve::keyed(&["--echo", "--first-message", "1"]);
    let spec = json!({"url": serve.url(), "via": "none", "until_close": true});
    let started = Instant::now();
    for (peer, out) in run_all(&spec) {
        let got = received(&out);
        assert_eq!(got.len(), 1, "{peer:?}: {out}");
        let reply: Value = serde_json::from_str(&got[0]).unwrap();
        assert_eq!(reply["type"], "unauthorized", "{peer:?}: {out}");
        assert_eq!(reply["code"], "missing_token", "{peer:?}: {out}");
        assert_eq!(close_of(&out), (1008, "missing_token"), "{peer:?}: {out}");
    }
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn max_message_size_closes_1009_beyond_the_limit() {
    let serve = Serve::keyed(&["--echo", "--max-message-size", "1024"]);
    let spec = json!({
        "url": serve.url(), "token": token("hank", 60), "via": "query", "until_close": true,
        "steps": [{"send_size": 1024}, {"recv": 1}, {"send_size": 1025}],
    });
    for (peer, out) in run_all(&spec) {
        assert_eq!(
            received(&out).len(),
            1,
            "{peer:?}: the limit itself passes: {out}"
        );
        assert_eq!(close_of(&out).0, 1009, "{peer:?}: {out}");
    }
}

#[test]
fn rate_limit_closes_1008_rate_limited() {
    let serve = Serve::keyed(&["--echo", "--rate-limit", "5"]);
    let burst: Vec<Value> = (0..30).map(|n| json!({"send": format!("m{n}")})).collect();
    let spec = json!({
        "url": serve.url(), "token": token("gina", 60), "via": "query",
        "steps": burst, "until_close": true,
    });
    for (peer, out) in run_all(&spec) {
        assert_eq!(close_of(&out), (1008, "rate_limited"), "{peer:?}: {out}");
        assert!(received(&out).len() < 30, "{peer:?}: {out}");
    }
}

#[test]
fn max_connections_refuses_with_503_beyond_the_cap() {
    let serve = Serve::keyed(&["--echo", "--max-connections", "1"]);
    let held = hold(&serve, &token("first", 60)).expect("the first connection is accepted");
    let spec = json!({"url": serve.url(), "token": token("second", 60), "via": "query"});
    for (peer, out) in run_all(&spec) {
        assert_eq!(out["status"], 503, "{peer:?}: {out}");
    }
    drop(held);
    // The slot frees once the server sees the first connection gone.
    let deadline = Instant::now() + TIMEOUT;
    while hold(&serve, &token("third", 60)).is_err() {
        assert!(Instant::now() < deadline, "the slot was never freed");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn wss_with_a_generated_certificate() {
    let dir = scratch();
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
    let (cert, key) = (cert.display().to_string(), key.display().to_string());
    let serve = Serve::keyed(&["--echo", "--tls-cert", &cert, "--tls-key", &key]);
    assert!(
        serve.url().starts_with("wss://127.0.0.1:"),
        "{}",
        serve.url()
    );
    let spec = json!({
        "url": serve.url(), "token": token("tess", 60), "via": "subprotocol", "ca": cert,
        "steps": [{"send": "over tls"}, {"recv": 1}],
    });
    for (peer, out) in run_all(&spec) {
        assert_eq!(out["status"], 101, "{peer:?}: {out}");
        assert_eq!(received(&out), ["over tls"], "{peer:?}: {out}");
        assert_eq!(close_of(&out).0, 1000, "{peer:?}: {out}");
    }
    // Without the certificate among its roots a client refuses the server.
    let untrusting = json!({"url": serve.url(), "token": token("tess", 60), "via": "query"});
    for (peer, out) in run_all(&untrusting) {
        assert!(out["error"].is_string(), "{peer:?}: {out}");
    }
}

#[test]
fn example_config_file_with_environment_and_command_line_on_top() {
    let config = repo().join("transport-tokio/examples/tollgate.toml");
    let config = config.display().to_string();
    // --listen on the command line and TOLLGATE_ECHO beat the file's listen and echo.
    let serve = Serve::start(
        &["--config", &config],
        &[("TOLLGATE_HS256_SECRET", SECRET), ("TOLLGATE_ECHO", "true")],
    );
    let claims = |aud: &str| json!({"sub": "cfg", "iss": "https://auth.example", "aud": aud, "exp": now() + 60});
    let spec = json!({
        "url": serve.url(), "token": sign(&claims("chat")), "via": "header", "until_close": true,
        "steps": [{"send": "from the file"}, {"recv": 1}, {"send_size": 65537}],
    });
    for (peer, out) in run_all(&spec) {
        assert_eq!(received(&out), ["from the file"], "{peer:?}: {out}");
        // max_message_size = 65536 in the file.
        assert_eq!(close_of(&out).0, 1009, "{peer:?}: {out}");
    }
    // aud = ["chat"] in the file.
    let spec = json!({"url": serve.url(), "token": sign(&claims("mail")), "via": "header"});
    for (peer, out) in run_all(&spec) {
        assert_eq!(out["status"], 401, "{peer:?}: {out}");
    }
    // token_from = ["header", "subprotocol"]: the query is not read.
    let spec = json!({"url": serve.url(), "token": sign(&claims("chat")), "via": "query"});
    for (peer, out) in run_all(&spec) {
        assert_eq!(out["status"], 401, "{peer:?}: {out}");
    }
}

#[test]
fn key_from_tollgate_secret_file_leaves_development_mode() {
    let file = secret_file();
    let serve = Serve::start(&["--echo"], &[("TOLLGATE_SECRET_FILE", &file)]);
    let spec = json!({
        "url": serve.url(), "token": token("env", 60), "via": "query",
        "steps": [{"send": "keyed"}, {"recv": 1}],
    });
    for (peer, out) in run_all(&spec) {
        assert_eq!(received(&out), ["keyed"], "{peer:?}: {out}");
    }
    // No development login with a key.
    let mut stream = TcpStream::connect(serve.addr()).unwrap();
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    stream
        .write_all(
            b"POST /login HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}",
        )
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
}
