//! Interop with peer JWT libraries, run as separate processes on keys generated per run:
//! tokens minted by Node `jsonwebtoken` and `jose` and by Python PyJWT verify with
//! `tollgate verify` (and their broken variants fail with the right code), and tokens
//! from `tollgate token` verify in all three libraries.
//!
//! Install the peers with `scripts/install-test-deps.sh`. Overrides: `TOLLGATE_NODE`
//! (node binary), `TOLLGATE_PYTHON` (python with PyJWT; default `.venv/bin/python`).
//! When a peer is missing the tests print why and pass, except under `CI=true`, where
//! they fail.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{Run, keys, now, run, tamper, tg, tollgate, try_run};
use serde_json::{Value, json};

/// A peer library and how to start it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Peer {
    JsonWebToken,
    Jose,
    PyJwt,
}

const ALGS: [&str; 3] = ["HS256", "ES256", "RS256"];
const ISS: &str = "https://issuer.example";
const AUD: &str = "tollgate-interop";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn node() -> String {
    std::env::var("TOLLGATE_NODE").unwrap_or_else(|_| "node".into())
}

fn python() -> String {
    std::env::var("TOLLGATE_PYTHON")
        .unwrap_or_else(|_| repo().join(".venv/bin/python").to_str().unwrap().to_owned())
}

/// Whether `peer` can run here. Missing peers fail the test under `CI=true`.
fn available(peer: Peer) -> bool {
    let problem = match peer {
        Peer::JsonWebToken | Peer::Jose => {
            let module = if peer == Peer::Jose {
                "jose"
            } else {
                "jsonwebtoken"
            };
            let modules = repo().join("tests/js/node_modules").join(module);
            if !modules.is_dir() {
                Some(format!("{} is missing", modules.display()))
            } else {
                match try_run(Command::new(node()).arg("--version"), b"") {
                    Ok(out) if out.code == 0 => None,
                    Ok(out) => Some(format!("{} --version: {out:?}", node())),
                    Err(e) => Some(format!("cannot run {}: {e}", node())),
                }
            }
        }
        Peer::PyJwt => {
            let probe = Command::new(python())
                .args(["-c", "import jwt, cryptography"])
                .output();
            match probe {
                Ok(out) if out.status.success() => None,
                Ok(out) => Some(format!(
                    "{}: {}",
                    python(),
                    String::from_utf8_lossy(&out.stderr).trim()
                )),
                Err(e) => Some(format!("cannot run {}: {e}", python())),
            }
        }
    };
    match problem {
        None => true,
        Some(problem) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!(
                "{peer:?} unavailable under CI=true: {problem}; run scripts/install-test-deps.sh"
            )
        }
        Some(problem) => {
            eprintln!("SKIPPED {peer:?} interop: {problem}; run scripts/install-test-deps.sh");
            false
        }
    }
}

/// The command running `peer`'s helper script with `args`.
fn peer_command(peer: Peer, command: &str, args: &[&str]) -> Command {
    let mut cmd = match peer {
        Peer::JsonWebToken | Peer::Jose => {
            let mut cmd = Command::new(node());
            cmd.current_dir(repo().join("tests/js"))
                .arg("interop.mjs")
                .arg(command);
            cmd.arg(if peer == Peer::Jose {
                "jose"
            } else {
                "jsonwebtoken"
            });
            cmd
        }
        Peer::PyJwt => {
            let mut cmd = Command::new(python());
            // PyJWT warns (on stderr) about HMAC keys below 32 bytes; ours are 64.
            cmd.arg(repo().join("tests/python/interop.py")).arg(command);
            cmd
        }
    };
    cmd.args(args);
    cmd
}

fn peer_run(peer: Peer, command: &str, args: &[&str]) -> Run {
    let run = run(&mut peer_command(peer, command, args), b"");
    assert_eq!(run.code, 0, "{peer:?} {command} {args:?} failed: {run:?}");
    run
}

/// Private (signing) and public (verifying) key files for `alg`, and tollgate's key option.
fn key_files(alg: &str) -> (String, String, &'static str) {
    let k = keys();
    match alg {
        "HS256" => (k.path("hs.secret"), k.path("hs.secret"), "--secret-file"),
        "ES256" => (k.path("ec.pk8.pem"), k.path("ec.pub.pem"), "--key"),
        "RS256" => (k.path("rsa.pk8.pem"), k.path("rsa.pub.pem"), "--key"),
        _ => unreachable!(),
    }
}

fn wrong_public_key(alg: &str) -> String {
    let k = keys();
    match alg {
        "HS256" => k.path("hs2.secret"),
        "ES256" => k.path("ec2.pub.pem"),
        _ => k.path("rsa2.pub.pem"),
    }
}

fn peer_sign(peer: Peer, alg: &str, private: &str, claims: &Value) -> String {
    let header = json!({"kid": "interop-1"}).to_string();
    peer_run(peer, "sign", &[alg, private, &claims.to_string(), &header]).token()
}

fn claims(exp_offset: i64) -> Value {
    let now = now() as i64;
    json!({"sub": "alice", "iss": ISS, "aud": AUD, "iat": now, "exp": now + exp_offset, "role": "admin"})
}

fn tollgate_verify(key_option: &str, key: &str, token: &str) -> Run {
    tg(&["verify", key_option, key, "--iss", ISS, "--aud", AUD, token])
}

/// Tokens from `peer` verify with tollgate; tampered, wrongly keyed, expired, wrong-audience
/// and wrong-issuer ones fail with their codes and exit 1.
fn peer_tokens_verify_in_tollgate(peer: Peer) {
    if !available(peer) {
        return;
    }
    for alg in ALGS {
        let (private, public, option) = key_files(alg);
        let good = peer_sign(peer, alg, &private, &claims(600));
        let json = tollgate_verify(option, &public, &good).valid();
        assert_eq!(json["alg"], alg, "{peer:?}");
        assert_eq!(json["kid"], "interop-1", "{peer:?}");
        assert_eq!(json["claims"]["sub"], "alice", "{peer:?}");
        assert_eq!(json["claims"]["role"], "admin", "{peer:?}");

        tollgate_verify(option, &public, &tamper(&good)).invalid("invalid_signature");
        tollgate_verify(option, &wrong_public_key(alg), &good).invalid("invalid_signature");
        let expired = peer_sign(peer, alg, &private, &claims(-3600));
        tollgate_verify(option, &public, &expired).invalid("expired");
        let mut wrong_aud = claims(600);
        wrong_aud["aud"] = json!("somebody-else");
        tollgate_verify(option, &public, &peer_sign(peer, alg, &private, &wrong_aud))
            .invalid("invalid_audience");
        let mut wrong_iss = claims(600);
        wrong_iss["iss"] = json!("https://evil.example");
        tollgate_verify(option, &public, &peer_sign(peer, alg, &private, &wrong_iss))
            .invalid("invalid_issuer");
    }
}

/// Tokens from `tollgate token` verify in `peer`, which also checks issuer and audience.
fn tollgate_tokens_verify_in_peer(peer: Peer) {
    if !available(peer) {
        return;
    }
    for alg in ALGS {
        let (private, public, option) = key_files(alg);
        let option = if option == "--secret-file" {
            "--secret-file"
        } else {
            "--key"
        };
        let token = tg(&[
            "token",
            option,
            &private,
            "--alg",
            alg,
            "--sub",
            "bob",
            "--iss",
            ISS,
            "--aud",
            AUD,
            "--kid",
            "tg-1",
            "--claim",
            "scope=[\"read\",\"write\"]",
        ])
        .token();
        let options = json!({"issuer": ISS, "audience": AUD}).to_string();
        let verdict = peer_run(peer, "verify", &[alg, &public, &token, &options]).json();
        assert_eq!(verdict["valid"], true, "{peer:?} {alg}: {verdict}");
        assert_eq!(verdict["claims"]["sub"], "bob");
        assert_eq!(verdict["claims"]["scope"], json!(["read", "write"]));

        // The peer must reject what tollgate rejects, too: a sanity check of the harness.
        let verdict = peer_run(peer, "verify", &[alg, &public, &tamper(&token), &options]).json();
        assert_eq!(
            verdict["valid"], false,
            "{peer:?} {alg} accepted a tampered token"
        );
        let expired = tg(&[
            "token",
            option,
            &private,
            "--alg",
            alg,
            "--iss",
            ISS,
            "--aud",
            AUD,
            "--exp=-3600",
        ])
        .token();
        let verdict = peer_run(peer, "verify", &[alg, &public, &expired, &options]).json();
        assert_eq!(
            verdict["valid"], false,
            "{peer:?} {alg} accepted an expired token"
        );
    }
}

#[test]
fn jsonwebtoken_tokens_verify_in_tollgate() {
    peer_tokens_verify_in_tollgate(Peer::JsonWebToken);
}

#[test]
fn jose_tokens_verify_in_tollgate() {
    peer_tokens_verify_in_tollgate(Peer::Jose);
}

#[test]
fn pyjwt_tokens_verify_in_tollgate() {
    peer_tokens_verify_in_tollgate(Peer::PyJwt);
}

#[test]
fn tollgate_tokens_verify_in_jsonwebtoken() {
    tollgate_tokens_verify_in_peer(Peer::JsonWebToken);
}

#[test]
fn tollgate_tokens_verify_in_jose() {
    tollgate_tokens_verify_in_peer(Peer::Jose);
}

#[test]
fn tollgate_tokens_verify_in_pyjwt() {
    tollgate_tokens_verify_in_peer(Peer::PyJwt);
}

/// JWKs exported by `jose` (from the PEM public keys) work as `--jwk` and in a `--jwks` set.
#[test]
fn jose_exported_jwks_verify_jose_tokens() {
    if !available(Peer::Jose) {
        return;
    }
    let dir = &keys().dir;
    let mut set = Vec::new();
    for (alg, kid) in [("ES256", "jose-ec"), ("RS256", "jose-rsa")] {
        let (private, public, _) = key_files(alg);
        let mut cmd = Command::new(node());
        cmd.current_dir(repo().join("tests/js"))
            .args(["interop.mjs", "jwk", &public, kid, alg]);
        let jwk = run(&mut cmd, b"").json();
        assert_eq!(jwk["kid"], kid, "{jwk}");
        let jwk_file = dir.join(format!("{kid}.jwk.json"));
        std::fs::write(&jwk_file, jwk.to_string()).unwrap();
        set.push(jwk);
        let token = peer_run(
            Peer::Jose,
            "sign",
            &[
                alg,
                &private,
                &claims(600).to_string(),
                &json!({"kid": kid}).to_string(),
            ],
        )
        .token();
        tollgate_verify("--jwk", jwk_file.to_str().unwrap(), &token).valid();
    }
    let jwks_file = dir.join("jose.jwks.json");
    std::fs::write(&jwks_file, json!({"keys": set}).to_string()).unwrap();
    for (alg, kid) in [("ES256", "jose-ec"), ("RS256", "jose-rsa")] {
        let (private, _, _) = key_files(alg);
        let token = peer_run(
            Peer::Jose,
            "sign",
            &[
                alg,
                &private,
                &claims(600).to_string(),
                &json!({"kid": kid}).to_string(),
            ],
        )
        .token();
        let json = tollgate_verify("--jwks", jwks_file.to_str().unwrap(), &token).valid();
        assert_eq!(json["kid"], kid);
    }
}

/// A PyJWT token piped through stdin the way a shell does (`echo "$TOKEN" | tollgate verify -`).
#[test]
fn pyjwt_token_through_stdin() {
    if !available(Peer::PyJwt) {
        return;
    }
    let (private, public, option) = key_files("ES256");
    let token = peer_sign(Peer::PyJwt, "ES256", &private, &claims(600));
    let mut cmd = tollgate(&["verify", option, &public, "--iss", ISS, "--aud", AUD, "-"]);
    run(&mut cmd, format!("{token}\n").as_bytes()).valid();
}
