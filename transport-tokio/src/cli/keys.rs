//! Key options: where secrets and keys come from, and the private keys `tollgate token` signs with.
//!
//! Secrets are never taken from the command line itself (they would show in `ps` and shell
//! history): only from an environment variable or a file, byte for byte.

use std::path::{Path, PathBuf};

use clap::Args;
use p256::pkcs8::DecodePrivateKey;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::signature::{SignatureEncoding, Signer};
use tollgate::jwt::key::Algorithm;

use super::UsageError;

/// Files larger than this are refused: no key or JWK Set is anywhere near it.
const MAX_KEY_FILE: u64 = 1 << 20;

/// Where `tollgate token` finds its signing key.
#[derive(Debug, Clone, Args)]
#[group(required = true, multiple = false)]
pub struct SigningKeyArgs {
    /// HS256: read the secret from environment variable VAR (its exact bytes).
    #[arg(long, value_name = "VAR")]
    pub secret_env: Option<String>,
    /// HS256: read the secret from FILE (its exact bytes; no newline is stripped).
    #[arg(long, value_name = "FILE")]
    pub secret_file: Option<PathBuf>,
    /// ES256/RS256: PEM (or DER) private key; P-256 as PKCS#8 or SEC1, RSA as PKCS#8 or PKCS#1.
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
}

/// Where `tollgate verify` and `tollgate serve` find their verification key (at most one
/// option; `verify` requires one). Each option may also come from its `TOLLGATE_*`
/// variable; one from the environment and another on the command line conflict like two
/// options, so that the key in use is never a silent choice.
#[derive(Debug, Clone, Args)]
#[group(multiple = false)]
pub struct VerifyingKeyArgs {
    /// HS256: read the secret from environment variable VAR (its exact bytes).
    #[arg(long, env = "TOLLGATE_SECRET_ENV", value_name = "VAR")]
    pub secret_env: Option<String>,
    /// HS256: read the secret from FILE (its exact bytes; no newline is stripped).
    #[arg(long, env = "TOLLGATE_SECRET_FILE", value_name = "FILE")]
    pub secret_file: Option<PathBuf>,
    /// ES256/RS256: public key in PEM or DER, SubjectPublicKeyInfo or PKCS#1 (RSA).
    #[arg(long, env = "TOLLGATE_KEY", value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// One JWK (JSON object); its kty (and alg, if present) decide the algorithm.
    #[arg(long, env = "TOLLGATE_JWK", value_name = "FILE")]
    pub jwk: Option<PathBuf>,
    /// A JWK Set ({"keys":[...]}); the key is chosen by the token's kid and alg.
    #[arg(long, env = "TOLLGATE_JWKS", value_name = "FILE")]
    pub jwks: Option<PathBuf>,
    /// A JWK Set fetched from URL (https://, or http:// to a loopback address); the key
    /// is chosen by the token's kid and alg. Symmetric keys in it are refused.
    #[arg(long, env = "TOLLGATE_JWKS_URL", value_name = "URL")]
    pub jwks_url: Option<String>,
    /// OpenID Connect discovery: the JWK Set named by
    /// ISSUER/.well-known/openid-configuration, whose issuer must equal ISSUER; iss must
    /// then equal ISSUER unless --iss says otherwise.
    #[arg(long, env = "TOLLGATE_OIDC_ISSUER", value_name = "ISSUER")]
    pub oidc_issuer: Option<String>,
}

impl VerifyingKeyArgs {
    /// Whether the keys come over the network (`--jwks-url`, `--oidc-issuer`).
    #[must_use]
    pub const fn is_remote(&self) -> bool {
        self.jwks_url.is_some() || self.oidc_issuer.is_some()
    }
}

/// Reads a key or secret file, refusing absurd sizes.
///
/// # Errors
/// A [`UsageError`] naming the file when it cannot be read or is too large.
pub fn read_key_file(path: &Path) -> Result<Vec<u8>, UsageError> {
    let what = || format!("cannot read {}", path.display());
    let meta = std::fs::metadata(path).map_err(|e| UsageError::context(what(), e))?;
    if meta.len() > MAX_KEY_FILE {
        return Err(UsageError::context(what(), "file is larger than 1 MiB"));
    }
    std::fs::read(path).map_err(|e| UsageError::context(what(), e))
}

/// Reads an HMAC secret from an environment variable, byte for byte.
///
/// # Errors
/// A [`UsageError`] when the variable is unset or empty.
pub fn read_secret_env(var: &str) -> Result<Vec<u8>, UsageError> {
    let value = std::env::var_os(var)
        .ok_or_else(|| UsageError(format!("environment variable {var} is not set")))?;
    let bytes = os_bytes(value);
    if bytes.is_empty() {
        return Err(UsageError(format!("environment variable {var} is empty")));
    }
    warn_if_short(&bytes);
    Ok(bytes)
}

/// HS256 secrets shorter than this are used, with a warning: RFC 7518 §3.2 requires a key
/// of at least the hash's size (256 bits).
pub const MIN_HS256_SECRET: usize = 32;

/// Prints a warning on stderr for a secret shorter than [`MIN_HS256_SECRET`] (existing
/// deployments keep working; a brute-forced short secret forges any token).
fn warn_if_short(secret: &[u8]) {
    if secret.len() < MIN_HS256_SECRET {
        eprintln!(
            "tollgate: warning: the HS256 secret is {} bytes; RFC 7518 section 3.2 requires at least {MIN_HS256_SECRET} (256 bits)",
            secret.len()
        );
    }
}

/// Reads an HMAC secret from a file, byte for byte.
///
/// # Errors
/// A [`UsageError`] when the file cannot be read or is empty.
pub fn read_secret_file(path: &Path) -> Result<Vec<u8>, UsageError> {
    let bytes = read_key_file(path)?;
    if bytes.is_empty() {
        return Err(UsageError(format!(
            "secret file {} is empty",
            path.display()
        )));
    }
    warn_if_short(&bytes);
    Ok(bytes)
}

#[cfg(unix)]
pub(crate) fn os_bytes(s: std::ffi::OsString) -> Vec<u8> {
    std::os::unix::ffi::OsStringExt::into_vec(s)
}

#[cfg(not(unix))]
pub(crate) fn os_bytes(s: std::ffi::OsString) -> Vec<u8> {
    s.to_string_lossy().into_owned().into_bytes()
}

/// A key `tollgate token` signs with. Each variant signs exactly one algorithm.
#[derive(Clone)]
pub enum SigningKey {
    /// An HMAC-SHA256 secret.
    Hs256(Vec<u8>),
    /// A P-256 private key.
    Es256(p256::ecdsa::SigningKey),
    /// An RSA private key (PKCS#1 v1.5 with SHA-256).
    Rs256(Box<rsa::pkcs1v15::SigningKey<sha2::Sha256>>),
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey::{}(..)", self.algorithm().name())
    }
}

impl SigningKey {
    /// Loads the signing key selected by the options.
    ///
    /// # Errors
    /// A [`UsageError`] when the file or variable cannot be read or holds no usable key.
    pub fn load(args: &SigningKeyArgs) -> Result<Self, UsageError> {
        if let Some(var) = &args.secret_env {
            return Ok(Self::Hs256(read_secret_env(var)?));
        }
        if let Some(path) = &args.secret_file {
            return Ok(Self::Hs256(read_secret_file(path)?));
        }
        match &args.key {
            Some(path) => Self::from_private_key(&read_key_file(path)?)
                .map_err(|e| UsageError::context(path.display(), e)),
            None => Err(UsageError("no signing key given".into())),
        }
    }

    /// Parses a P-256 or RSA private key: PEM (PKCS#8, SEC1 or PKCS#1) or the same as DER.
    ///
    /// # Errors
    /// A [`UsageError`] when no supported private key is found.
    pub fn from_private_key(bytes: &[u8]) -> Result<Self, UsageError> {
        let es256 = |k: p256::ecdsa::SigningKey| Self::Es256(k);
        let rs256 =
            |k: rsa::RsaPrivateKey| Self::Rs256(Box::new(rsa::pkcs1v15::SigningKey::new(k)));
        if let Ok(text) = std::str::from_utf8(bytes)
            && text.trim_start().starts_with("-----BEGIN")
        {
            let text = text.trim_start();
            let parsed = if text.starts_with("-----BEGIN PRIVATE KEY-----") {
                p256::ecdsa::SigningKey::from_pkcs8_pem(text)
                    .map(es256)
                    .ok()
                    .or_else(|| rsa::RsaPrivateKey::from_pkcs8_pem(text).map(rs256).ok())
            } else if text.starts_with("-----BEGIN EC PRIVATE KEY-----") {
                p256::SecretKey::from_sec1_pem(text)
                    .map(|k| es256(k.into()))
                    .ok()
            } else if text.starts_with("-----BEGIN RSA PRIVATE KEY-----") {
                rsa::RsaPrivateKey::from_pkcs1_pem(text).map(rs256).ok()
            } else {
                return Err(UsageError(
                    "expected a PEM private key (PRIVATE KEY, EC PRIVATE KEY or RSA PRIVATE KEY)"
                        .into(),
                ));
            };
            return parsed.ok_or_else(|| {
                UsageError("not a P-256 or RSA private key (PEM could not be parsed)".into())
            });
        }
        p256::ecdsa::SigningKey::from_pkcs8_der(bytes)
            .map(es256)
            .ok()
            .or_else(|| {
                p256::SecretKey::from_sec1_der(bytes)
                    .map(|k| es256(k.into()))
                    .ok()
            })
            .or_else(|| rsa::RsaPrivateKey::from_pkcs8_der(bytes).map(rs256).ok())
            .or_else(|| rsa::RsaPrivateKey::from_pkcs1_der(bytes).map(rs256).ok())
            .ok_or_else(|| UsageError("not a P-256 or RSA private key in PEM or DER".into()))
    }

    /// The one algorithm this key signs.
    #[must_use]
    pub fn algorithm(&self) -> Algorithm {
        match self {
            Self::Hs256(_) => Algorithm::HS256,
            Self::Es256(_) => Algorithm::ES256,
            Self::Rs256(_) => Algorithm::RS256,
        }
    }

    /// Signs `message` (the JWS signing input), returning the raw JWS signature bytes.
    ///
    /// # Errors
    /// A [`UsageError`] when the primitive refuses (an empty HMAC secret, an RSA failure).
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, UsageError> {
        match self {
            Self::Hs256(secret) => {
                use hmac::{KeyInit, Mac};
                let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret)
                    .map_err(|e| UsageError::context("HMAC key", e))?;
                mac.update(message);
                Ok(mac.finalize().into_bytes().to_vec())
            }
            Self::Es256(key) => {
                let signature: p256::ecdsa::Signature = key
                    .try_sign(message)
                    .map_err(|e| UsageError::context("ES256 signing", e))?;
                Ok(signature.to_bytes().to_vec())
            }
            Self::Rs256(key) => {
                let signature = key
                    .try_sign(message)
                    .map_err(|e| UsageError::context("RS256 signing", e))?;
                Ok(signature.to_vec())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
    use rsa::pkcs1::EncodeRsaPrivateKey;

    fn ec_secret() -> p256::SecretKey {
        let mut rng = getrandom::rand_core::UnwrapErr(getrandom::SysRng);
        <p256::SecretKey as p256::elliptic_curve::Generate>::generate_from_rng(&mut rng)
    }

    #[test]
    fn p256_private_key_in_pkcs8_and_sec1_pem_and_der() {
        let secret = ec_secret();
        let encodings: [Vec<u8>; 4] = [
            secret
                .to_pkcs8_pem(LineEnding::LF)
                .unwrap()
                .as_bytes()
                .to_vec(),
            secret
                .to_sec1_pem(LineEnding::CRLF)
                .unwrap()
                .as_bytes()
                .to_vec(),
            secret.to_pkcs8_der().unwrap().as_bytes().to_vec(),
            secret.to_sec1_der().unwrap().to_vec(),
        ];
        for bytes in encodings {
            let key = SigningKey::from_private_key(&bytes).unwrap();
            assert_eq!(key.algorithm(), Algorithm::ES256);
            assert_eq!(key.sign(b"input").unwrap().len(), 64);
        }
    }

    #[test]
    fn rsa_private_key_in_pkcs8_and_pkcs1_pem() {
        let mut rng = getrandom::rand_core::UnwrapErr(getrandom::SysRng);
        let private = rsa::RsaPrivateKey::new(&mut rng, 2048).unwrap();
        for pem in [
            private.to_pkcs8_pem(LineEnding::LF).unwrap(),
            private.to_pkcs1_pem(LineEnding::LF).unwrap(),
        ] {
            let key = SigningKey::from_private_key(pem.as_bytes()).unwrap();
            assert_eq!(key.algorithm(), Algorithm::RS256);
            assert_eq!(key.sign(b"input").unwrap().len(), 256);
        }
    }

    #[test]
    fn public_keys_and_garbage_are_not_signing_keys() {
        let public = ec_secret()
            .public_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap();
        for bytes in [
            public.as_bytes(),
            b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
            b"-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n",
            b"not a key",
            b"",
        ] {
            assert!(SigningKey::from_private_key(bytes).is_err(), "{bytes:?}");
        }
    }

    #[test]
    fn empty_secret_file_is_refused() {
        let path =
            std::env::temp_dir().join(format!("tollgate-empty-secret-{}", std::process::id()));
        std::fs::write(&path, b"").unwrap();
        let result = read_secret_file(&path);
        std::fs::remove_file(&path).unwrap();
        assert!(result.is_err());
    }
}
