//! Shared by the `tollgate` CLI tests: running the binary (and peers) with a timeout, and
//! keys generated once per test process.
#![allow(dead_code, reason = "each test binary uses a different part")]

pub mod peers;
pub mod provider;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use base64ct::{Base64UrlUnpadded, Encoding};
use p256::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use rsa::pkcs1::{EncodeRsaPrivateKey, EncodeRsaPublicKey};
use rsa::traits::PublicKeyParts;
use serde_json::{Value, json};

/// Every child process is killed after this long.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// What a finished process left behind.
#[derive(Debug)]
pub struct Run {
    /// Exit status code.
    pub code: i32,
    /// Standard output, as text.
    pub stdout: String,
    /// Standard error, as text.
    pub stderr: String,
}

impl Run {
    /// Standard output parsed as one JSON value (panics with the whole run otherwise).
    pub fn json(&self) -> Value {
        serde_json::from_str(self.stdout.trim_end())
            .unwrap_or_else(|e| panic!("stdout is not one JSON value ({e}): {self:?}"))
    }

    /// Asserts `tollgate verify` accepted the token and returns its JSON verdict.
    pub fn valid(&self) -> Value {
        assert_eq!(self.code, 0, "expected a valid token: {self:?}");
        let json = self.json();
        assert_eq!(json["valid"], true, "{self:?}");
        json
    }

    /// Asserts `tollgate verify` rejected the token with `code`.
    pub fn invalid(&self, code: &str) {
        assert_eq!(self.code, 1, "expected exit 1 ({code}): {self:?}");
        let json = self.json();
        assert_eq!(json["valid"], false, "{self:?}");
        assert_eq!(json["error"], code, "{self:?}");
        assert!(json["message"].is_string(), "{self:?}");
        assert_eq!(json.as_object().unwrap().len(), 3, "{self:?}");
    }

    /// Asserts a usage or key error: exit 2, nothing on stdout, a message on stderr.
    pub fn usage_error(&self) {
        assert_eq!(self.code, 2, "expected exit 2: {self:?}");
        assert!(self.stdout.is_empty(), "{self:?}");
        assert!(!self.stderr.trim().is_empty(), "{self:?}");
    }

    /// The one line a successful `tollgate token` printed.
    pub fn token(&self) -> String {
        assert_eq!(self.code, 0, "token failed: {self:?}");
        let token = self.stdout.strip_suffix('\n').unwrap_or(&self.stdout);
        assert!(!token.contains(['\n', ' ']), "{self:?}");
        token.to_owned()
    }
}

/// Runs `command` with `stdin`, killing it after [`TIMEOUT`]; panics if it cannot start.
pub fn run(command: &mut Command, stdin: &[u8]) -> Run {
    try_run(command, stdin).unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"))
}

/// Runs `command` with `stdin`, killing it after [`TIMEOUT`].
///
/// # Errors
/// When the process cannot be started.
pub fn try_run(command: &mut Command, stdin: &[u8]) -> std::io::Result<Run> {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut input = child.stdin.take().unwrap();
    let stdin = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        // A child that exits without reading its stdin closes the pipe: not a test failure.
        let _ = input.write_all(&stdin);
    });
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = Vec::new();
        out.read_to_end(&mut s).map(|_| s)
    });
    let err = std::thread::spawn(move || {
        let mut s = Vec::new();
        err.read_to_end(&mut s).map(|_| s)
    });
    let deadline = Instant::now() + TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{command:?} timed out after {TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    writer.join().unwrap();
    Ok(Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.join().unwrap().unwrap()).unwrap(),
        stderr: String::from_utf8_lossy(&err.join().unwrap().unwrap()).into_owned(),
    })
}

/// The `tollgate` binary under test.
pub fn tollgate(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tollgate"));
    command.args(args);
    command
}

/// Runs `tollgate ARGS` with empty stdin.
pub fn tg(args: &[&str]) -> Run {
    run(&mut tollgate(args), b"")
}

/// The current Unix time.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Keys generated for this test process, written in every format the CLI reads.
pub struct Keys {
    /// The directory holding them.
    pub dir: PathBuf,
}

/// The HMAC secret in `hs.secret` and `$TOLLGATE_TEST_SECRET`.
pub const SECRET_ENV: &str = "TOLLGATE_TEST_SECRET";

impl Keys {
    /// Path of a key file: `hs.secret`, `hs2.secret`, `ec.pk8.pem`, `ec.sec1.pem`,
    /// `ec.pub.pem`, `ec.pub.der`, `ec.jwk.json`, `ec2.*`, `rsa.pk8.pem`, `rsa.pkcs1.pem`,
    /// `rsa.pub.pem`, `rsa.pub.pkcs1.pem`, `rsa.pub.der`, `rsa.jwk.json`, `rsa2.*`,
    /// `jwks.json` (ec as `ec-1`, rsa as `rsa-1`), `hs.jwk.json`.
    pub fn path(&self, name: &str) -> String {
        self.dir.join(name).to_str().unwrap().to_owned()
    }

    /// The HMAC secret.
    pub fn secret(&self) -> Vec<u8> {
        std::fs::read(self.dir.join("hs.secret")).unwrap()
    }
}

/// The keys of this process, generated on first use.
pub fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(generate_keys)
}

/// A `tollgate` command with the test secret in its environment.
pub fn with_secret(args: &[&str]) -> Command {
    let mut command = tollgate(args);
    command.env(SECRET_ENV, String::from_utf8(keys().secret()).unwrap());
    command
}

fn random_hex(len: usize) -> String {
    let mut bytes = vec![0u8; len];
    getrandom::fill(&mut bytes).unwrap();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn b64(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

/// An HS256 token (`{"alg":"HS256","typ":"JWT"}`) over `claims`, signed with `secret`.
pub fn hs256_token(secret: &str, claims: &Value) -> String {
    let header = b64(br#"{"alg":"HS256","typ":"JWT"}"#);
    let input = format!("{header}.{}", b64(claims.to_string().as_bytes()));
    let tag = tollgate::jwt::alg::hs256::Hs256Secret::new(secret.as_bytes())
        .unwrap()
        .sign(input.as_bytes());
    format!("{input}.{}", b64(&tag))
}

fn write(dir: &Path, name: &str, bytes: impl AsRef<[u8]>) {
    std::fs::write(dir.join(name), bytes).unwrap();
}

fn ec_key(dir: &Path, name: &str, kid: &str) -> Value {
    let mut rng = getrandom::rand_core::UnwrapErr(getrandom::SysRng);
    let secret = <p256::SecretKey as p256::elliptic_curve::Generate>::generate_from_rng(&mut rng);
    let public = secret.public_key();
    write(
        dir,
        &format!("{name}.pk8.pem"),
        secret.to_pkcs8_pem(LineEnding::LF).unwrap().as_bytes(),
    );
    write(
        dir,
        &format!("{name}.sec1.pem"),
        secret.to_sec1_pem(LineEnding::LF).unwrap().as_bytes(),
    );
    write(
        dir,
        &format!("{name}.pub.pem"),
        public.to_public_key_pem(LineEnding::LF).unwrap(),
    );
    write(
        dir,
        &format!("{name}.pub.der"),
        public.to_public_key_der().unwrap().as_bytes(),
    );
    let point = public.to_sec1_bytes();
    let (x, y) = point[1..].split_at(32);
    let jwk = json!({"kty": "EC", "crv": "P-256", "x": b64(x), "y": b64(y), "kid": kid, "alg": "ES256", "use": "sig"});
    write(dir, &format!("{name}.jwk.json"), jwk.to_string());
    jwk
}

fn rsa_key(dir: &Path, name: &str, kid: &str) -> Value {
    let mut rng = getrandom::rand_core::UnwrapErr(getrandom::SysRng);
    let private = rsa::RsaPrivateKey::new(&mut rng, 2048).unwrap();
    let public = private.to_public_key();
    write(
        dir,
        &format!("{name}.pk8.pem"),
        private.to_pkcs8_pem(LineEnding::LF).unwrap().as_bytes(),
    );
    write(
        dir,
        &format!("{name}.pkcs1.pem"),
        private.to_pkcs1_pem(LineEnding::LF).unwrap().as_bytes(),
    );
    write(
        dir,
        &format!("{name}.pub.pem"),
        public.to_public_key_pem(LineEnding::LF).unwrap(),
    );
    write(
        dir,
        &format!("{name}.pub.pkcs1.pem"),
        public.to_pkcs1_pem(LineEnding::LF).unwrap(),
    );
    write(
        dir,
        &format!("{name}.pub.der"),
        public.to_public_key_der().unwrap().as_bytes(),
    );
    let jwk = json!({"kty": "RSA", "n": b64(&public.n_bytes()), "e": b64(&public.e_bytes()), "kid": kid, "alg": "RS256"});
    write(dir, &format!("{name}.jwk.json"), jwk.to_string());
    jwk
}

fn generate_keys() -> Keys {
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-keys-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let secret = random_hex(32);
    write(&dir, "hs.secret", &secret);
    write(&dir, "hs2.secret", random_hex(32));
    write(
        &dir,
        "hs.jwk.json",
        json!({"kty": "oct", "k": b64(secret.as_bytes()), "kid": "hs-1", "alg": "HS256"})
            .to_string(),
    );
    let ec = ec_key(&dir, "ec", "ec-1");
    ec_key(&dir, "ec2", "ec-2");
    let rsa = rsa_key(&dir, "rsa", "rsa-1");
    rsa_key(&dir, "rsa2", "rsa-2");
    let other = ec_key(&dir, "ec3", "ec-3");
    write(
        &dir,
        "jwks.json",
        json!({"keys": [ec, rsa, other]}).to_string(),
    );
    Keys { dir }
}

/// Splits a compact token into its three segments.
pub fn segments(token: &str) -> [String; 3] {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "{token}");
    [parts[0].into(), parts[1].into(), parts[2].into()]
}

/// The token with one character of the payload segment changed (still valid base64url).
pub fn tamper(token: &str) -> String {
    let [header, payload, signature] = segments(token);
    let mut bytes = payload.into_bytes();
    let mid = bytes.len() / 2;
    bytes[mid] = if bytes[mid] == b'A' { b'B' } else { b'A' };
    format!("{header}.{}.{signature}", String::from_utf8(bytes).unwrap())
}

/// Decodes a base64url segment as JSON.
pub fn decode_segment(segment: &str) -> Value {
    serde_json::from_slice(&Base64UrlUnpadded::decode_vec(segment).unwrap()).unwrap()
}
