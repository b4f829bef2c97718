//! Tokens from Node `jose`, signed with keys `jose` exported and a loopback HTTP provider
//! publishes as a JWK Set, authenticate a real Node `ws` client against the `tollgate serve
//! --jwks-url` binary (port 0 on 127.0.0.1, address read from its banner); tokens signed by
//! a key outside the set, or expired, are refused with 401 and their code.
//!
//! Node, `jose` and `ws` come from `scripts/install-test-deps.sh`; when missing the tests are
//! reported and skipped, except under `CI=true`, where they fail.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};

use common::peers::{jose, node, node_with};
use common::provider::{JWKS, Provider, repo};
use common::{now, run};

/// Every wait on the server is bounded by this (the clients by [`common::TIMEOUT`]).
const TIMEOUT: Duration = Duration::from_secs(20);

const ISSUER: &str = "https://issuer.example";
const AUDIENCE: &str = "chat";

/// The keys `jose` signs with: algorithm, key file (from [`common::keys`]) and published kid.
const PUBLISHED: [(&str, &str, &str); 2] =
    [("ES256", "ec", "jose-ec"), ("RS256", "rsa", "jose-rsa")];

// ---------------------------------------------------------------------------------------
// Node: `jose` for keys and tokens, `ws` (tests/ws-interop/steps.mjs) as the client.

/// Whether Node, `jose` and `ws` are installed; missing is a failure under `CI=true`.
fn node_available() -> bool {
    node_with(&["jose", "ws"], "jwks serve test")
}

/// The public JWK `jose` exports for the key in `name.pub.pem`.
fn jose_jwk(alg: &str, name: &str, kid: &str) -> Value {
    let path = common::keys().path(&format!("{name}.pub.pem"));
    serde_json::from_str(&jose(&["jwk", &path, kid, alg])).unwrap()
}

/// A token `jose` signs with the private key in `name.pk8.pem`, naming `kid`.
fn jose_token(alg: &str, name: &str, kid: &str, claims: &Value) -> String {
    let path = common::keys().path(&format!("{name}.pk8.pem"));
    let header = json!({"kid": kid}).to_string();
    jose(&["sign", "jose", alg, &path, &claims.to_string(), &header])
}

/// Claims the server accepts for ten minutes.
fn claims(sub: &str) -> Value {
    json!({"iss": ISSUER, "aud": AUDIENCE, "sub": sub, "exp": now() + 600})
}

/// Runs the Node `ws` client on `spec` (see tests/ws-interop/steps.py) and returns what it
/// printed.
fn client(spec: &Value) -> Value {
    let mut command = Command::new(node());
    command
        .arg(repo().join("tests/ws-interop/steps.mjs"))
        .arg(spec.to_string());
    let out = run(&mut command, b"");
    assert_eq!(out.code, 0, "client failed: {out:?}");
    out.json()
}

// ---------------------------------------------------------------------------------------
// The server and the provider.

/// A running `tollgate serve`, killed on drop.
struct Serve {
    child: Child,
    addr: String,
}

impl Serve {
    fn start(args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tollgate"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let (found, addr) = mpsc::channel();
        // Reads to the end, so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in stdout.lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.split("listening on http://").nth(1) {
                    let _ = found.send(rest.trim().to_owned());
                }
            }
        });
        let addr = addr.recv_timeout(TIMEOUT);
        let mut serve = Self {
            child,
            addr: String::new(),
        };
        match addr {
            Ok(addr) => serve.addr = addr,
            Err(e) => {
                let status = serve.child.try_wait().unwrap();
                panic!("no banner from tollgate serve {args:?} ({e}), exit: {status:?}");
            }
        }
        serve
    }

    fn url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A provider publishing the keys `jose` exported, and `tollgate serve --jwks-url` on it.
fn serve_published_keys() -> (Provider, Serve) {
    let provider = Provider::start();
    let keys: Vec<Value> = PUBLISHED
        .iter()
        .map(|(alg, name, kid)| jose_jwk(alg, name, kid))
        .collect();
    provider.serve(JWKS, &json!({"keys": keys}), Some("max-age=300"));
    let serve = Serve::start(&[
        "--jwks-url",
        &provider.url(JWKS),
        "--iss",
        ISSUER,
        "--aud",
        AUDIENCE,
        "--echo",
    ]);
    assert!(
        provider.hits(JWKS) >= 1,
        "the keys were fetched at start-up"
    );
    (provider, serve)
}

/// Asserts the client was refused with 401 and the RFC 6750 challenge naming `code`.
fn assert_refused(result: &Value, code: &str) {
    assert_eq!(result["status"], 401, "{result}");
    let challenge = result["www_authenticate"].as_str().unwrap_or_default();
    assert!(challenge.starts_with("Bearer"), "{result}");
    assert!(challenge.contains(r#"error="invalid_token""#), "{result}");
    assert!(
        challenge.contains(&format!(r#"error_description="{code}""#)),
        "{result}"
    );
}

// ---------------------------------------------------------------------------------------
// The tests.

#[test]
fn jose_tokens_for_published_keys_connect_and_echo() {
    if !node_available() {
        return;
    }
    let (_provider, serve) = serve_published_keys();
    for (alg, name, kid) in PUBLISHED {
        let token = jose_token(alg, name, kid, &claims(&format!("from-jose-{alg}")));
        let text = format!("hello over {alg}");
        let spec = json!({
            "url": serve.url(), "token": token, "via": "query", "timeout": 15,
            "steps": [{"send": text}, {"recv": 1}],
        });
        let result = client(&spec);
        assert_eq!(result["status"], 101, "{alg}: {result}");
        assert_eq!(result["received"], json!([text]), "{alg}: {result}");
        assert_eq!(result["close"]["code"], 1000, "{alg}: {result}");
    }
}

#[test]
fn jose_tokens_of_an_unknown_key_or_expired_are_refused_with_401() {
    if !node_available() {
        return;
    }
    let (_provider, serve) = serve_published_keys();
    // `ec2` is a P-256 key the set does not publish.
    let unknown = jose_token("ES256", "ec2", "jose-other", &claims("mallory"));
    let expired = jose_token(
        "ES256",
        "ec",
        "jose-ec",
        &json!({"iss": ISSUER, "aud": AUDIENCE, "sub": "late", "exp": now() - 3600}),
    );
    for (token, code) in [(unknown, "unknown_key"), (expired, "expired")] {
        let spec = json!({
            "url": serve.url(), "token": token, "via": "query", "timeout": 15,
            "steps": [{"send": "never echoed"}, {"recv": 1}],
        });
        assert_refused(&client(&spec), code);
    }
}
