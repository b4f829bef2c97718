//! WebSocket interop: Python `websockets` and Node `ws` clients (tests/ws-interop/) against
//! the `auth-echo` example, which runs the core driver with JWT authentication.
//!
//! Each client carries an HS256 token minted here in the query, the `Authorization`
//! header or the `tollgate.bearer` subprotocol, exchanges text, binary, fragmented and
//! large messages, and sees the refusals a client can see: 401 with the RFC 6750
//! challenge, 403 for a refused origin, 426 for version 8, and close 1008 with the
//! stable code when refusing after the upgrade or when the token expires.
//!
//! The example is built with `cargo build --example auth-echo` on first use (or taken from the
//! same test run with `TOLLGATE_PREBUILT_EXAMPLES=1`, see `auth_echo`). Install the
//! clients with `scripts/install-test-deps.sh`; overrides: `TOLLGATE_PYTHON` (python with
//! `websockets`; default `.venv/bin/python`), `TOLLGATE_NODE` (node binary). A missing
//! client is reported and skipped, except under `CI=true`, where the test fails.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use common::peers::{Peer, node, peers, python};
use common::provider::repo;

/// Every client process is killed after this long.
const TIMEOUT: Duration = Duration::from_secs(30);

const SECRET: &str = "ws-interop-secret-0123456789abcdef";

/// The `auth-echo` example, built once per test process.
///
/// With `TOLLGATE_PREBUILT_EXAMPLES=1` the binary that the same `cargo test` invocation
/// already built (`target/<profile>/examples/`, beside this test's `deps/`) is used: a
/// second `cargo build` resolves features differently from a workspace test run and
/// rebuilds much of the dependency graph. `scripts/test.sh` sets it; its `cargo test
/// --workspace` always builds the examples together with the tests.
fn auth_echo() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        if std::env::var_os("TOLLGATE_PREBUILT_EXAMPLES").is_some_and(|v| v == "1") {
            let exe = std::env::current_exe().expect("test executable path");
            let prebuilt = exe
                .parent()
                .and_then(Path::parent)
                .map(|profile| profile.join("examples").join("auth-echo"))
                .expect("test executable outside target/<profile>/deps");
            assert!(
                prebuilt.is_file(),
                "TOLLGATE_PREBUILT_EXAMPLES=1 but {} is missing (run the workspace's `cargo test`)",
                prebuilt.display()
            );
            return prebuilt;
        }
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let out = Command::new(cargo)
            .current_dir(repo())
            .args([
                "build",
                "-p",
                "tollgate-tokio",
                "--example",
                "auth-echo",
                "--message-format=json-render-diagnostics",
            ])
            .stderr(Stdio::inherit())
            .output()
            .expect("cannot run cargo");
        assert!(out.status.success(), "building auth-echo failed");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|message| message["target"]["name"] == "auth-echo")
            .find_map(|message| message["executable"].as_str().map(PathBuf::from))
            .expect("cargo did not report the auth-echo executable")
    })
}

/// A running `auth-echo`, killed when dropped.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(args: &[&str]) -> Self {
        let mut child = Command::new(auth_echo())
            .arg("127.0.0.1:0")
            .args(args)
            .env("TOLLGATE_SECRET", SECRET)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start auth-echo");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("auth-echo said {line:?}"))
            .to_owned();
        Self { child, url }
    }

    fn addr(&self) -> &str {
        self.url.strip_prefix("ws://").unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn now() -> i64 {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    i64::try_from(secs.as_secs()).unwrap()
}

/// An HS256 token for `claims`, signed with `secret`.
fn sign(secret: &str, claims: &Value) -> String {
    common::hs256_token(secret, claims)
}

/// A token for `alice` that expires `exp` seconds from now.
fn token(exp: i64) -> String {
    sign(SECRET, &json!({"sub": "alice", "exp": now() + exp}))
}

/// Runs `peer`'s client against `url` with `args`, returning the JSON it printed.
fn client(peer: Peer, url: &str, args: &[&str]) -> Value {
    let dir = repo().join("tests/ws-interop");
    let mut command = match peer {
        Peer::Python => {
            let mut c = Command::new(python());
            c.arg(dir.join("client.py"));
            c
        }
        Peer::Node => {
            let mut c = Command::new(node());
            c.arg(dir.join("client.mjs"));
            c
        }
    };
    command.arg(url).args(args);
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
    let deadline = Instant::now() + TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{peer:?} client timed out: {command:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let (mut stdout, mut stderr) = (String::new(), String::new());
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(
        status.success(),
        "{peer:?} client failed ({status}): {stdout}\n{stderr}"
    );
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("{peer:?} printed no JSON ({e}): {stdout}\n{stderr}"))
}

/// Asserts a refusal with `status` and, when given, the RFC 6750 challenge.
fn assert_refused(result: &Value, status: u16, challenge: Option<&str>) {
    assert_eq!(result["status"], status, "{result}");
    if let Some(challenge) = challenge {
        assert_eq!(result["www_authenticate"], challenge, "{result}");
    }
}

fn invalid_token(code: &str) -> String {
    format!(r#"Bearer error="invalid_token", error_description="{code}""#)
}

#[test]
fn token_in_query_header_or_subprotocol_lets_every_message_kind_echo() {
    let server = Server::start(&[]);
    let token = token(300);
    for peer in peers() {
        for via in ["query", "header", "subprotocol"] {
            let result = client(
                peer,
                &server.url,
                &["--token", &token, "--via", via, "--echo"],
            );
            assert_eq!(result["status"], 101, "{peer:?} {via}: {result}");
            assert_eq!(result["echo"], "ok", "{peer:?} {via}: {result}");
            assert_eq!(result["close"]["code"], 1000, "{peer:?} {via}: {result}");
            // The server answers the marker, never the token.
            let protocol = if via == "subprotocol" {
                json!("tollgate.bearer")
            } else {
                Value::Null
            };
            assert_eq!(result["protocol"], protocol, "{peer:?} {via}: {result}");
        }
    }
}

#[test]
fn bad_or_missing_token_is_refused_with_401_and_its_code() {
    let server = Server::start(&["--leeway", "0"]);
    let forged = sign(
        "another-secret-another-secret",
        &json!({"exp": now() + 300}),
    );
    let expired = token(-120);
    for peer in peers() {
        for via in ["query", "header", "subprotocol"] {
            let result = client(peer, &server.url, &["--token", &forged, "--via", via]);
            assert_refused(&result, 401, Some(&invalid_token("invalid_signature")));
        }
        let result = client(peer, &server.url, &["--token", &expired, "--via", "header"]);
        assert_refused(&result, 401, Some(&invalid_token("expired")));
        let result = client(peer, &server.url, &["--via", "none"]);
        assert_refused(&result, 401, Some("Bearer"));
    }
}

#[test]
fn audience_and_issuer_rules_refuse_other_tokens_with_401() {
    let server = Server::start(&["--aud", "chat", "--iss", "https://issuer.example"]);
    let exp = now() + 300;
    let good = sign(
        SECRET,
        &json!({"exp": exp, "aud": "chat", "iss": "https://issuer.example"}),
    );
    let wrong_aud = sign(
        SECRET,
        &json!({"exp": exp, "aud": "mail", "iss": "https://issuer.example"}),
    );
    let wrong_iss = sign(
        SECRET,
        &json!({"exp": exp, "aud": "chat", "iss": "https://evil.example"}),
    );
    for peer in peers() {
        let result = client(peer, &server.url, &["--token", &good, "--echo"]);
        assert_eq!(result["echo"], "ok", "{peer:?}: {result}");
        let result = client(peer, &server.url, &["--token", &wrong_aud]);
        assert_refused(&result, 401, Some(&invalid_token("invalid_audience")));
        let result = client(peer, &server.url, &["--token", &wrong_iss]);
        assert_refused(&result, 401, Some(&invalid_token("invalid_issuer")));
    }
}

#[test]
fn origin_not_on_the_allow_list_is_refused_with_403() {
    let server = Server::start(&["--allowed-origin", "https://app.example"]);
    let token = token(300);
    for peer in peers() {
        let args = ["--token", &token, "--origin", "https://evil.example"];
        assert_refused(&client(peer, &server.url, &args), 403, None);
        let args = [
            "--token",
            &token,
            "--origin",
            "https://app.example",
            "--echo",
        ];
        let result = client(peer, &server.url, &args);
        assert_eq!(result["echo"], "ok", "{peer:?}: {result}");
    }
}

#[test]
fn websocket_version_8_is_refused_with_426() {
    let server = Server::start(&[]);
    let token = token(300);
    if peers().contains(&Peer::Node) {
        let args = ["--token", &token, "--protocol-version", "8"];
        assert_refused(&client(Peer::Node, &server.url, &args), 426, None);
    }
    // The same by hand, for the header that tells the client what to use.
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    write!(
        stream,
        "GET /?token={token} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n",
        server.addr()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 426 "), "{answer}");
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("sec-websocket-version: 13\r\n"),
        "{answer}"
    );
}

#[test]
fn refusal_after_upgrade_closes_with_1008_and_the_code() {
    let server = Server::start(&["--refuse-after-upgrade", "--leeway", "0"]);
    let expired = token(-120);
    let forged = sign(
        "another-secret-another-secret",
        &json!({"exp": now() + 300}),
    );
    for peer in peers() {
        for (token, code) in [(&expired, "expired"), (&forged, "invalid_signature")] {
            let args = ["--token", token, "--via", "subprotocol", "--wait-close"];
            let result = client(peer, &server.url, &args);
            assert_eq!(result["status"], 101, "{peer:?}: {result}");
            assert_eq!(result["close"], json!({"code": 1008, "reason": code}));
        }
        let result = client(peer, &server.url, &["--token", &token(300), "--echo"]);
        assert_eq!(result["echo"], "ok", "{peer:?}: {result}");
    }
}

#[test]
fn connection_is_closed_with_1008_expired_when_the_token_expires() {
    let server = Server::start(&["--leeway", "0"]);
    let peers = peers();
    // Both clients at once: each waits up to five seconds.
    let token = token(5);
    let waits: Vec<_> = peers
        .iter()
        .map(|&peer| {
            let (url, token) = (server.url.clone(), token.clone());
            std::thread::spawn(move || client(peer, &url, &["--token", &token, "--wait-close"]))
        })
        .collect();
    for (peer, wait) in peers.iter().zip(waits) {
        let result = wait.join().unwrap();
        assert_eq!(result["status"], 101, "{peer:?}: {result}");
        assert_eq!(
            result["close"],
            json!({"code": 1008, "reason": "expired"}),
            "{peer:?}: {result}"
        );
    }
}
