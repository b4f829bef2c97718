//! A JWKS provider for the remote-key tests: a tiny HTTP/1.1 server on 127.0.0.1 that
//! the tests rotate, slow down and take down, plus keys published as JWKs and tokens
//! signed with them.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64ct::{Base64UrlUnpadded, Encoding};
use p256::pkcs8::{EncodePrivateKey, LineEnding};
use rsa::traits::PublicKeyParts;
use serde_json::{Value, json};
use tollgate::auth::AuthError;
use tollgate::jwt::JwtError;
use tollgate_tokio::cli::SigningKey;
use tollgate_tokio::jwks::JwksConfig;

use super::now;

// ---------------------------------------------------------------------------------------
// The provider: a tiny HTTP/1.1 server on a thread, one connection at a time.

/// What the provider serves and what it has seen.
#[derive(Default)]
pub struct ProviderState {
    routes: HashMap<String, (String, Option<String>)>,
    hits: HashMap<String, usize>,
    down: bool,
    delay: Duration,
}

/// A JWKS (and OpenID configuration) provider on a loopback port, one connection at a
/// time, `Connection: close`.
#[derive(Clone)]
pub struct Provider {
    addr: SocketAddr,
    state: Arc<Mutex<ProviderState>>,
}

impl Provider {
    /// Binds 127.0.0.1:0 and serves on a thread until the process ends.
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(ProviderState::default()));
        let shared = Arc::clone(&state);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let mut head = Vec::new();
                let mut byte = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16384 {
                    match stream.read(&mut byte) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => head.extend_from_slice(&byte[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&head);
                let path = head.split(' ').nth(1).unwrap_or("/").to_owned();
                let (delay, answer) = {
                    let mut state = shared.lock().unwrap();
                    *state.hits.entry(path.clone()).or_default() += 1;
                    let answer = if state.down {
                        None
                    } else {
                        state.routes.get(&path).cloned()
                    };
                    (state.delay, answer)
                };
                std::thread::sleep(delay);
                let response = match answer {
                    Some((body, cache)) => format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        cache.map(|c| format!("Cache-Control: {c}\r\n")).unwrap_or_default(),
                        body.len()
                    ),
                    None => "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".into(),
                };
                let _ = stream.write_all(response.as_bytes());
            }
        });
        Self { addr, state }
    }

    /// `http://127.0.0.1:PORT`, usable as an issuer.
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base())
    }

    /// Serves `body` at `path` from now on, with an optional `Cache-Control`.
    pub fn serve(&self, path: &str, body: &Value, cache_control: Option<&str>) {
        self.state.lock().unwrap().routes.insert(
            path.into(),
            (body.to_string(), cache_control.map(str::to_owned)),
        );
    }

    /// How many requests `path` received.
    pub fn hits(&self, path: &str) -> usize {
        self.state
            .lock()
            .unwrap()
            .hits
            .get(path)
            .copied()
            .unwrap_or(0)
    }

    /// While down, every request is answered 503.
    pub fn set_down(&self, down: bool) {
        self.state.lock().unwrap().down = down;
    }

    /// Waits this long before answering each request.
    pub fn set_delay(&self, delay: Duration) {
        self.state.lock().unwrap().delay = delay;
    }
}

// ---------------------------------------------------------------------------------------
// Keys and tokens.

/// Unpadded base64url.
pub fn b64(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

/// A signing key with the public JWK it is published as.
pub struct TestKey {
    /// Signs tokens.
    pub signer: SigningKey,
    /// The public JWK.
    pub jwk: Value,
}

/// A fresh P-256 key published with `use: sig`, `alg: ES256`.
pub fn ec_key(kid: &str) -> TestKey {
    let mut rng = getrandom::rand_core::UnwrapErr(getrandom::SysRng);
    let secret = <p256::SecretKey as p256::elliptic_curve::Generate>::generate_from_rng(&mut rng);
    let point = secret.public_key().to_sec1_bytes();
    let (x, y) = point[1..].split_at(32);
    let pem = secret.to_pkcs8_pem(LineEnding::LF).unwrap();
    TestKey {
        signer: SigningKey::from_private_key(pem.as_bytes()).unwrap(),
        jwk: json!({"kty": "EC", "crv": "P-256", "x": b64(x), "y": b64(y), "kid": kid, "use": "sig", "alg": "ES256"}),
    }
}

/// An RSA key published with `alg: RS256`.
pub fn rsa_key(kid: &str, private: &rsa::RsaPrivateKey) -> TestKey {
    let public = private.to_public_key();
    let pem = private.to_pkcs8_pem(LineEnding::LF).unwrap();
    TestKey {
        signer: SigningKey::from_private_key(pem.as_bytes()).unwrap(),
        jwk: json!({"kty": "RSA", "n": b64(&public.n_bytes()), "e": b64(&public.e_bytes()), "kid": kid, "alg": "RS256"}),
    }
}

/// The 2048-bit RSA key of the benchmark fixtures (generating one is slow in tests).
pub fn rsa_2048(kid: &str) -> TestKey {
    let pem = std::fs::read_to_string(repo().join("benches/fixtures/rs256-private.pem")).unwrap();
    let private = <rsa::RsaPrivateKey as rsa::pkcs8::DecodePrivateKey>::from_pkcs8_pem(&pem)
        .or_else(|_| <rsa::RsaPrivateKey as rsa::pkcs1::DecodeRsaPrivateKey>::from_pkcs1_pem(&pem))
        .unwrap();
    rsa_key(kid, &private)
}

/// A compact JWS over `header` and `claims`.
pub fn sign_with(signer: &SigningKey, header: &Value, claims: &Value) -> String {
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let signature = signer.sign(input.as_bytes()).unwrap();
    format!("{input}.{}", b64(&signature))
}

impl TestKey {
    /// A token over `claims` naming this key's `kid` and algorithm.
    pub fn token(&self, claims: &Value) -> String {
        let alg = self.signer.algorithm().name();
        sign_with(
            &self.signer,
            &json!({"alg": alg, "kid": self.jwk["kid"]}),
            claims,
        )
    }
}

/// Claims valid for ten minutes.
pub fn claims() -> Value {
    json!({"sub": "alice", "exp": now() + 600})
}

/// A JWK Set publishing `keys`.
pub fn jwks(keys: &[&TestKey]) -> Value {
    json!({"keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>()})
}

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Defaults with this cooldown and a 5 s timeout.
pub fn quick(cooldown_ms: u64) -> JwksConfig {
    JwksConfig {
        cooldown: Duration::from_millis(cooldown_ms),
        timeout: Duration::from_secs(5),
        ..JwksConfig::default()
    }
}

/// The JWT error of a refused verification (panics on anything else).
pub fn jwt_error(result: Result<tollgate_tokio::Identity, AuthError>) -> JwtError {
    match result {
        Err(AuthError::Jwt(error)) => error,
        other => panic!("expected a JWT error, got {other:?}"),
    }
}

/// Where the provider serves the key set.
pub const JWKS: &str = "/jwks.json";

/// Where an OpenID provider serves its configuration (below the issuer).
pub const DISCOVERY: &str = "/.well-known/openid-configuration";
