//! One JSON Web Key (RFC 7517, RFC 7518 §6) as a verification [`Key`].
//!
//! Accepted: `kty` `oct` (HS256, secret of 32 to 256 bytes: RFC 7518 §3.2 asks for at
//! least the hash size), `EC` with `crv` `P-256` (ES256), `RSA` (RS256). Rules:
//! - `use`, when present, must be `sig`; `key_ops`, when present, must list `verify`
//!   ([`KeyError::UsageNotAllowed`]).
//! - `alg`, when present, must be the one algorithm tollgate ties to the key type
//!   (`HS256`, `ES256`, `RS256`); anything else, including algorithms tollgate does not
//!   implement such as `RS384` or `ES512`, is [`KeyError::AlgorithmMismatch`].
//! - An `EC` or `RSA` key carrying private members (`d`, `p`, `q`, `dp`, `dq`, `qi`,
//!   `oth`) is refused ([`KeyError::UnsupportedKeyType`]): a verifier never needs them,
//!   and refusing keeps private keys out of verifier configuration by mistake.
//! - `kid` is copied (unescaped) into a fixed buffer of [`MAX_KID_LEN`] bytes, so a
//!   parsed key does not borrow the document.
//! - Other members (`x5c`, `x5t`, …) are ignored; duplicate members are malformed.
//!
//! Key material is base64url-decoded into stack buffers (RSA moduli up to 4096 bits).

use core::fmt;

use super::error::{JwtError, KeyError};
use super::header::Header;
use super::json::{self, JsonStr, Value};
use super::key::{Algorithm, Key};
use super::token::KeySource;
use crate::base64url;

/// Longest `kid` kept, in bytes of UTF-8.
pub const MAX_KID_LEN: usize = 128;

/// Shortest accepted `oct` secret (RFC 7518 §3.2: at least the SHA-256 output size).
#[cfg(feature = "hs256")]
const MIN_OCT_LEN: usize = 32;
/// Longest accepted `oct` secret.
#[cfg(feature = "hs256")]
const MAX_OCT_LEN: usize = 256;
/// The largest supported modulus, plus one leading zero byte some encoders add.
#[cfg(feature = "rs256")]
const MAX_MODULUS_LEN: usize = crate::jwt::alg::rs256::MAX_MODULUS_LEN + 1;
/// Longest RSA public exponent passed on to the key constructor.
#[cfg(feature = "rs256")]
const MAX_EXPONENT_LEN: usize = 16;

/// A key ID copied out of a JWK.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Kid {
    bytes: [u8; MAX_KID_LEN],
    len: usize,
}

impl Kid {
    /// Copies `kid`.
    ///
    /// # Errors
    /// [`KeyError::Malformed`] when it is longer than [`MAX_KID_LEN`] bytes.
    pub fn new(kid: &str) -> Result<Self, KeyError> {
        let mut bytes = [0; MAX_KID_LEN];
        bytes
            .get_mut(..kid.len())
            .ok_or(KeyError::Malformed)?
            .copy_from_slice(kid.as_bytes());
        Ok(Self {
            bytes,
            len: kid.len(),
        })
    }

    fn from_json(kid: JsonStr<'_>) -> Result<Self, KeyError> {
        let mut bytes = [0; MAX_KID_LEN];
        let len = kid
            .unescape_into(&mut bytes)
            .map_err(|_| KeyError::Malformed)?
            .len();
        Ok(Self { bytes, len })
    }

    /// The key ID.
    #[must_use]
    pub fn as_str(&self) -> &str {
        self.bytes
            .get(..self.len)
            .and_then(|b| core::str::from_utf8(b).ok())
            .unwrap_or("")
    }
}

impl fmt::Debug for Kid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// A verification key with its optional key ID.
#[derive(Clone, Debug)]
pub struct Jwk {
    key: Key,
    kid: Option<Kid>,
}

/// Member names read from a JWK, in the order of the slots in [`Jwk::parse`].
const NAMES: [&str; 11] = [
    "kty", "use", "key_ops", "alg", "kid", "crv", "x", "y", "n", "e", "k",
];
/// Private-key members of EC and RSA JWKs.
const PRIVATE: [&str; 7] = ["d", "p", "q", "dp", "dq", "qi", "oth"];

impl Jwk {
    /// Pairs a key with an optional key ID (for building a [`JwkSet`](super::jwks::JwkSet)
    /// by hand).
    ///
    /// # Errors
    /// [`KeyError::Malformed`] when `kid` is longer than [`MAX_KID_LEN`] bytes.
    pub fn new(key: Key, kid: Option<&str>) -> Result<Self, KeyError> {
        let kid = kid.map(Kid::new).transpose()?;
        Ok(Self { key, kid })
    }

    /// Parses one JWK (a JSON object).
    ///
    /// # Errors
    /// - [`KeyError::Malformed`]: invalid JSON, missing or mistyped members, bad base64url.
    /// - [`KeyError::UnsupportedKeyType`]: `kty` other than `oct`/`EC`/`RSA` (or its
    ///   algorithm compiled out), a curve other than P-256, private members present.
    /// - [`KeyError::UsageNotAllowed`], [`KeyError::AlgorithmMismatch`]: see the module
    ///   documentation.
    /// - [`KeyError::UnsupportedKeySize`]: `oct` secret shorter than 32 or longer than
    ///   256 bytes, RSA modulus or exponent too long; the key constructors' own errors
    ///   (RSA size limits, invalid EC points, …) pass through.
    /// - [`KeyError::EmptySecret`]: `k` is empty.
    pub fn parse(json: &[u8]) -> Result<Self, KeyError> {
        let mut slots: [Option<Value<'_>>; 11] = [None; 11];
        let mut private = false;
        json::parse_object(json, |name, value| {
            if let Some(slot) = json::name_index(name, &NAMES).and_then(|i| slots.get_mut(i)) {
                *slot = Some(value);
            } else if json::name_index(name, &PRIVATE).is_some() {
                private = true;
            }
        })
        .map_err(|_| KeyError::Malformed)?;
        let [kty, usage, key_ops, alg, kid, crv, x, y, n, e, k] = slots;

        let kty = string(kty)?.ok_or(KeyError::Malformed)?;
        check_usage(string(usage)?, key_ops)?;
        let algorithm = if kty == "oct" {
            Algorithm::HS256
        } else if kty == "EC" {
            Algorithm::ES256
        } else if kty == "RSA" {
            Algorithm::RS256
        } else {
            return Err(KeyError::UnsupportedKeyType);
        };
        if let Some(alg) = string(alg)?
            && alg != algorithm.name()
        {
            return Err(KeyError::AlgorithmMismatch);
        }
        if private && algorithm != Algorithm::HS256 {
            return Err(KeyError::UnsupportedKeyType);
        }
        let kid = string(kid)?.map(Kid::from_json).transpose()?;
        let key = match algorithm {
            Algorithm::HS256 => oct_key(required(k)?)?,
            Algorithm::ES256 => ec_key(required(crv)?, required(x)?, required(y)?)?,
            Algorithm::RS256 => rsa_key(required(n)?, required(e)?)?,
        };
        Ok(Self { key, kid })
    }

    /// The verification key.
    #[must_use]
    pub const fn key(&self) -> &Key {
        &self.key
    }

    /// The key ID, if the JWK had one.
    #[must_use]
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_ref().map(Kid::as_str)
    }

    /// The algorithm the key verifies.
    #[must_use]
    pub fn algorithm(&self) -> Algorithm {
        self.key.algorithm()
    }

    /// The key, dropping the ID.
    #[must_use]
    pub fn into_key(self) -> Key {
        self.key
    }

    /// Whether this key answers to the token's `kid`.
    pub(crate) fn kid_matches(&self, kid: JsonStr<'_>) -> bool {
        self.kid().is_some_and(|own| kid == own)
    }
}

/// A single JWK verifies any token, except one naming a different `kid` when the JWK
/// has one ([`JwtError::UnknownKey`]).
impl KeySource for Jwk {
    fn select(&self, header: &Header<'_>) -> Result<&Key, JwtError> {
        match (header.kid(), self.kid.is_some()) {
            (Some(kid), true) if !self.kid_matches(kid) => Err(JwtError::UnknownKey),
            _ => Ok(&self.key),
        }
    }
}

fn string(value: Option<Value<'_>>) -> Result<Option<JsonStr<'_>>, KeyError> {
    match value {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(KeyError::Malformed),
    }
}

fn required(value: Option<Value<'_>>) -> Result<JsonStr<'_>, KeyError> {
    string(value)?.ok_or(KeyError::Malformed)
}

fn check_usage(usage: Option<JsonStr<'_>>, key_ops: Option<Value<'_>>) -> Result<(), KeyError> {
    if usage.is_some_and(|u| u != "sig") {
        return Err(KeyError::UsageNotAllowed);
    }
    match key_ops {
        None => Ok(()),
        Some(Value::Array(ops)) => {
            let mut verify = false;
            for (index, op) in ops.iter().enumerate() {
                let Value::String(op) = op else {
                    return Err(KeyError::Malformed);
                };
                // RFC 7517 §4.3: duplicate values MUST NOT be present.
                if ops
                    .iter()
                    .take(index)
                    .any(|earlier| matches!(earlier, Value::String(e) if e == op))
                {
                    return Err(KeyError::Malformed);
                }
                verify |= op == "verify";
            }
            if verify {
                Ok(())
            } else {
                Err(KeyError::UsageNotAllowed)
            }
        }
        Some(_) => Err(KeyError::Malformed),
    }
}

/// Decodes a base64url member; `too_long` is reported when it exceeds `buf`.
fn decode_member<'b>(
    value: JsonStr<'_>,
    buf: &'b mut [u8],
    too_long: KeyError,
) -> Result<&'b [u8], KeyError> {
    // Key material never needs escapes; refusing them keeps decoding borrow-only.
    let text = value.as_str().ok_or(KeyError::Malformed)?;
    match base64url::decode(text.as_bytes(), buf) {
        Ok(bytes) => Ok(bytes),
        Err(base64url::DecodeError::BufferTooSmall) => Err(too_long),
        Err(_) => Err(KeyError::Malformed),
    }
}

#[cfg(feature = "hs256")]
fn oct_key(k: JsonStr<'_>) -> Result<Key, KeyError> {
    let mut buf = [0u8; MAX_OCT_LEN];
    let secret = decode_member(k, &mut buf, KeyError::UnsupportedKeySize)?;
    if secret.is_empty() {
        return Err(KeyError::EmptySecret);
    }
    if secret.len() < MIN_OCT_LEN {
        return Err(KeyError::UnsupportedKeySize);
    }
    crate::jwt::alg::hs256::Hs256Secret::new_unchecked_shape(secret).map(Key::Hs256)
}

#[cfg(not(feature = "hs256"))]
fn oct_key(_k: JsonStr<'_>) -> Result<Key, KeyError> {
    Err(KeyError::UnsupportedKeyType)
}

#[cfg(feature = "es256")]
fn ec_key(crv: JsonStr<'_>, x: JsonStr<'_>, y: JsonStr<'_>) -> Result<Key, KeyError> {
    if crv != "P-256" {
        return Err(KeyError::UnsupportedKeyType);
    }
    let (mut xb, mut yb) = ([0u8; 32], [0u8; 32]);
    let x = decode_member(x, &mut xb, KeyError::InvalidKey)?;
    let y = decode_member(y, &mut yb, KeyError::InvalidKey)?;
    crate::jwt::alg::es256::Es256PublicKey::from_affine(x, y).map(Key::Es256)
}

#[cfg(not(feature = "es256"))]
fn ec_key(_crv: JsonStr<'_>, _x: JsonStr<'_>, _y: JsonStr<'_>) -> Result<Key, KeyError> {
    Err(KeyError::UnsupportedKeyType)
}

#[cfg(feature = "rs256")]
fn rsa_key(n: JsonStr<'_>, e: JsonStr<'_>) -> Result<Key, KeyError> {
    let mut nb = [0u8; MAX_MODULUS_LEN];
    let mut eb = [0u8; MAX_EXPONENT_LEN];
    let n = decode_member(n, &mut nb, KeyError::UnsupportedKeySize)?;
    let e = decode_member(e, &mut eb, KeyError::UnsupportedKeySize)?;
    crate::jwt::alg::rs256::Rs256PublicKey::from_components(n, e).map(Key::Rs256)
}

#[cfg(not(feature = "rs256"))]
fn rsa_key(_n: JsonStr<'_>, _e: JsonStr<'_>) -> Result<Key, KeyError> {
    Err(KeyError::UnsupportedKeyType)
}

// The fixtures are `oct` keys.
#[cfg(all(test, feature = "hs256"))]
mod tests {
    extern crate std;
    use super::*;
    use std::format;

    const K32: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";

    fn oct(extra: &str) -> Result<Jwk, KeyError> {
        Jwk::parse(format!(r#"{{"kty":"oct","k":"{K32}"{extra}}}"#).as_bytes())
    }

    #[test]
    fn oct_key_parsed_with_kid() {
        let jwk = oct(r#","kid":"k\u00e9","alg":"HS256","use":"sig","key_ops":["verify","sign"]"#)
            .unwrap();
        assert_eq!(jwk.kid(), Some("ké"));
        assert_eq!(jwk.algorithm(), Algorithm::HS256);
    }

    #[test]
    fn use_other_than_sig_not_allowed() {
        assert_eq!(
            oct(r#","use":"enc""#).unwrap_err(),
            KeyError::UsageNotAllowed
        );
        assert_eq!(oct(r#","use":1"#).unwrap_err(), KeyError::Malformed);
    }

    #[test]
    fn key_ops_without_verify_not_allowed() {
        assert_eq!(
            oct(r#","key_ops":["sign"]"#).unwrap_err(),
            KeyError::UsageNotAllowed
        );
        assert_eq!(
            oct(r#","key_ops":[]"#).unwrap_err(),
            KeyError::UsageNotAllowed
        );
        assert_eq!(
            oct(r#","key_ops":["sign, verify"]"#).unwrap_err(),
            KeyError::UsageNotAllowed
        );
        assert_eq!(
            oct(r#","key_ops":"verify""#).unwrap_err(),
            KeyError::Malformed
        );
        assert_eq!(
            oct(r#","key_ops":["verify","verify"]"#).unwrap_err(),
            KeyError::Malformed
        );
    }

    #[test]
    fn alg_must_match_key_type() {
        for alg in ["HS384", "HS512", "RS256", "A256GCM", "none"] {
            let extra = format!(r#","alg":"{alg}""#);
            assert_eq!(
                oct(&extra).unwrap_err(),
                KeyError::AlgorithmMismatch,
                "{alg}"
            );
        }
    }

    #[test]
    fn oct_secret_size_limits() {
        let short = r#"{"kty":"oct","k":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg"}"#;
        assert_eq!(
            Jwk::parse(short.as_bytes()).unwrap_err(),
            KeyError::UnsupportedKeySize
        );
        let empty = r#"{"kty":"oct","k":""}"#;
        assert_eq!(
            Jwk::parse(empty.as_bytes()).unwrap_err(),
            KeyError::EmptySecret
        );
        let padded = format!(r#"{{"kty":"oct","k":"{K32}="}}"#);
        assert_eq!(
            Jwk::parse(padded.as_bytes()).unwrap_err(),
            KeyError::Malformed
        );
    }

    #[test]
    fn unsupported_key_types() {
        for json in [
            r#"{"kty":"OKP","crv":"Ed25519","x":"AA"}"#,
            r#"{"kty":"EC","crv":"P-384","x":"AA","y":"AA"}"#,
            r#"{"kty":"EC","crv":"P-256","x":"AA","y":"AA","d":"AA"}"#,
            r#"{"kty":"RSA","n":"AQAB","e":"AQAB","d":"AQAB"}"#,
            r#"{"kty":"oct ","k":"AA"}"#,
        ] {
            assert_eq!(
                Jwk::parse(json.as_bytes()).unwrap_err(),
                KeyError::UnsupportedKeyType,
                "{json}"
            );
        }
    }

    #[test]
    fn malformed_jwks() {
        for json in [
            r#"{"k":"AA"}"#,
            r#"{"kty":1}"#,
            r#"{"kty":"oct"}"#,
            r#"{"kty":"oct","k":"AA","k":"AA"}"#,
            r#"{"kty":"RSA","e":"AQAB"}"#,
            r#"{"kty":"EC","x":"AA","y":"AA"}"#,
            "[]",
        ] {
            assert_eq!(
                Jwk::parse(json.as_bytes()).unwrap_err(),
                KeyError::Malformed,
                "{json}"
            );
        }
    }

    #[cfg(feature = "rs256")]
    #[test]
    fn oversized_rsa_modulus_refused_before_construction() {
        let n = "A".repeat(700);
        let json = format!(r#"{{"kty":"RSA","n":"{n}","e":"AQAB"}}"#);
        assert_eq!(
            Jwk::parse(json.as_bytes()).unwrap_err(),
            KeyError::UnsupportedKeySize
        );
    }

    #[test]
    fn long_kid_refused() {
        let kid = "k".repeat(MAX_KID_LEN + 1);
        assert_eq!(
            oct(&format!(r#","kid":"{kid}""#)).unwrap_err(),
            KeyError::Malformed
        );
        let kid = "k".repeat(MAX_KID_LEN);
        assert_eq!(
            oct(&format!(r#","kid":"{kid}""#))
                .unwrap()
                .kid()
                .unwrap()
                .len(),
            MAX_KID_LEN
        );
    }
}
