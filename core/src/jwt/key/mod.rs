//! Verification keys: the key decides the algorithm.
//!
//! Contract shared by the JWT pipeline (`jwt::verify*`) and the key parsers:
//! - [`Algorithm`]: the closed set of algorithms tollgate implements (`none` is absent).
//! - [`Key`]: one typed verification key; `Key::algorithm()` is the only algorithm it verifies.
//! - `Key::verify_signature(signing_input, signature)` checks the raw JWS signature bytes.
//! - [`Key::from_public_key_der`] / [`Key::from_public_key_pem`]: public keys from
//!   `SubjectPublicKeyInfo` (RSA, P-256) or PKCS#1 `RSAPublicKey`, parsed without a heap.
//! - [`looks_like_public_key`]: the guard that keeps public keys out of HMAC secrets.
//!
//! ```text
//!  PEM ──pem::Pem (base64ct, stack buffer)──► DER ──spki (der::Reader)──► n, e │ SEC1 point
//!                                                                             │
//!                      Rs256PublicKey::from_components / Es256PublicKey::from_sec1
//! ```

mod der;
mod pem;
mod spki;

use self::pem::Pem;
use self::spki::DerKey;
use super::error::{JwtError, KeyError};

/// A JWS algorithm tollgate implements. `none` is deliberately unrepresentable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Algorithm {
    /// HMAC with SHA-256.
    HS256,
    /// ECDSA P-256 with SHA-256, signature as raw 64-byte `r ‖ s`.
    ES256,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
}

impl Algorithm {
    /// Parses the exact, case-sensitive JOSE name (`"HS256"`, `"ES256"`, `"RS256"`).
    ///
    /// # Errors
    /// [`JwtError::UnsupportedAlgorithm`] for every other name, including any spelling of `none`.
    pub fn from_name(name: &str) -> Result<Self, JwtError> {
        match name {
            "HS256" => Ok(Self::HS256),
            "ES256" => Ok(Self::ES256),
            "RS256" => Ok(Self::RS256),
            _ => Err(JwtError::UnsupportedAlgorithm),
        }
    }

    /// The JOSE name.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::HS256 => "HS256",
            Self::ES256 => "ES256",
            Self::RS256 => "RS256",
        }
    }
}

/// One typed verification key. The key decides the algorithm: a key verifies only
/// tokens whose header `alg` equals [`Key::algorithm`].
///
/// Sizes on a 64-bit host: about 536 bytes (the RSA variant: a modulus of up to 4096
/// bits), against 144 for HS256 and 72 for ES256. Boxing is not an option without a heap.
#[derive(Clone, Debug)]
#[non_exhaustive]
#[allow(
    clippy::large_enum_variant,
    reason = "no heap to box into; the RSA variant is the modulus itself"
)]
pub enum Key {
    /// An HMAC-SHA256 shared secret.
    #[cfg(feature = "hs256")]
    Hs256(crate::jwt::alg::hs256::Hs256Secret),
    /// A P-256 public key.
    #[cfg(feature = "es256")]
    Es256(crate::jwt::alg::es256::Es256PublicKey),
    /// An RSA public key.
    #[cfg(feature = "rs256")]
    Rs256(crate::jwt::alg::rs256::Rs256PublicKey),
}

/// Size of the stack buffer in which a PEM body is decoded: its base64 text plus the
/// decoded DER. A 4096-bit RSA `SubjectPublicKeyInfo` needs 736 + 550 bytes; this
/// leaves margin for larger exponents and then some.
pub const PEM_SCRATCH_LEN: usize = 1536;

impl Key {
    /// Parses a DER public key: a `SubjectPublicKeyInfo` (RFC 5280) holding an RSA key
    /// (`rsaEncryption`, NULL parameters) or a P-256 key (`id-ecPublicKey`,
    /// `prime256v1`), or a PKCS#1 `RSAPublicKey`.
    ///
    /// # Errors
    /// [`KeyError::Malformed`] for anything that is not strict DER of those shapes
    /// (trailing data included), [`KeyError::UnsupportedKeyType`] for private keys,
    /// certificates, other algorithms or curves (Ed25519, P-384, …) or an algorithm
    /// whose feature is off, [`KeyError::UnsupportedKeySize`] and [`KeyError::InvalidKey`] as in
    /// [`Rs256PublicKey::from_components`](crate::jwt::alg::rs256::Rs256PublicKey::from_components)
    /// and [`Es256PublicKey::from_sec1`](crate::jwt::alg::es256::Es256PublicKey::from_sec1).
    pub fn from_public_key_der(der: &[u8]) -> Result<Self, KeyError> {
        Self::from_der_key(spki::parse_any(der)?)
    }

    /// Parses a PEM public key: `-----BEGIN PUBLIC KEY-----` (`SubjectPublicKeyInfo`) or
    /// `-----BEGIN RSA PUBLIC KEY-----` (PKCS#1). The body is decoded into a
    /// [`PEM_SCRATCH_LEN`]-byte stack buffer.
    ///
    /// # Errors
    /// [`KeyError::UnsupportedKeyType`] for private keys, certificates and any other
    /// label; [`KeyError::UnsupportedKeySize`] for a body too long for any supported key;
    /// [`KeyError::Malformed`] for bad armour or base64, or DER that does not match the
    /// label; otherwise as [`Key::from_public_key_der`].
    pub fn from_public_key_pem(pem: &[u8]) -> Result<Self, KeyError> {
        let pem = Pem::parse(pem)?;
        let parse: fn(&[u8]) -> Result<DerKey<'_>, KeyError> = match pem.label {
            b"PUBLIC KEY" => spki::parse_spki,
            b"RSA PUBLIC KEY" => spki::parse_rsa_public_key,
            _ => return Err(KeyError::UnsupportedKeyType),
        };
        let mut scratch = [0u8; PEM_SCRATCH_LEN];
        let der = pem.decode_into(&mut scratch).map_err(|e| match e {
            KeyError::BufferTooSmall => KeyError::UnsupportedKeySize,
            other => other,
        })?;
        Self::from_der_key(parse(der)?)
    }

    /// Parses a public key file in either form: PEM when it starts (after whitespace)
    /// with `-----BEGIN`, DER otherwise.
    ///
    /// # Errors
    /// As [`Key::from_public_key_pem`] or [`Key::from_public_key_der`].
    pub fn from_public_key(bytes: &[u8]) -> Result<Self, KeyError> {
        if bytes.trim_ascii_start().starts_with(b"-----BEGIN") {
            Self::from_public_key_pem(bytes)
        } else {
            Self::from_public_key_der(bytes)
        }
    }

    fn from_der_key(key: DerKey<'_>) -> Result<Self, KeyError> {
        match key {
            #[cfg(feature = "rs256")]
            DerKey::Rsa { n, e } => Ok(Self::Rs256(
                crate::jwt::alg::rs256::Rs256PublicKey::from_components(n, e)?,
            )),
            #[cfg(feature = "es256")]
            DerKey::P256 { point } => Ok(Self::Es256(
                crate::jwt::alg::es256::Es256PublicKey::from_sec1(point)?,
            )),
            _ => Err(KeyError::UnsupportedKeyType),
        }
    }

    /// The one algorithm this key verifies.
    #[must_use]
    pub fn algorithm(&self) -> Algorithm {
        // `*self` so the match stays exhaustive when no algorithm feature is enabled.
        match *self {
            #[cfg(feature = "hs256")]
            Self::Hs256(_) => Algorithm::HS256,
            #[cfg(feature = "es256")]
            Self::Es256(_) => Algorithm::ES256,
            #[cfg(feature = "rs256")]
            Self::Rs256(_) => Algorithm::RS256,
        }
    }

    /// Verifies the raw JWS `signature` over `signing_input` with this key's algorithm.
    ///
    /// # Errors
    /// [`JwtError::InvalidSignature`] when the signature does not verify.
    pub fn verify_signature(&self, signing_input: &[u8], signature: &[u8]) -> Result<(), JwtError> {
        match *self {
            #[cfg(feature = "hs256")]
            Self::Hs256(ref k) => verify_hs256(k, signing_input, signature),
            #[cfg(feature = "es256")]
            Self::Es256(ref k) => verify_es256(k, signing_input, signature),
            #[cfg(feature = "rs256")]
            Self::Rs256(ref k) => verify_rs256(k, signing_input, signature),
        }
    }
}

/// HS256 verification in a stack frame of its own.
///
/// Inlined into [`Key::verify_signature`], the HMAC states (about 450 bytes on a
/// Cortex-M4) would sit in the frame that is live during every RS256 and ES256
/// verification too, on top of their own deep frames.
#[cfg(feature = "hs256")]
#[inline(never)]
fn verify_hs256(
    key: &crate::jwt::alg::hs256::Hs256Secret,
    signing_input: &[u8],
    signature: &[u8],
) -> Result<(), JwtError> {
    key.verify(signing_input, signature)
}

/// ES256 verification in a stack frame of its own.
///
/// Inlined into [`Key::verify_signature`], the P-256 and RSA verifications would share
/// one frame with the HMAC one, and every HS256 verification would reserve theirs
/// (measured on a Cortex-M4: a 5.4 KB frame under HS256's 1.3 KB path).
#[cfg(feature = "es256")]
#[inline(never)]
fn verify_es256(
    key: &crate::jwt::alg::es256::Es256PublicKey,
    signing_input: &[u8],
    signature: &[u8],
) -> Result<(), JwtError> {
    key.verify(signing_input, signature)
}

/// RS256 verification in a stack frame of its own (see [`verify_es256`]).
#[cfg(feature = "rs256")]
#[inline(never)]
fn verify_rs256(
    key: &crate::jwt::alg::rs256::Rs256PublicKey,
    signing_input: &[u8],
    signature: &[u8],
) -> Result<(), JwtError> {
    key.verify(signing_input, signature)
}

/// Whether `bytes` look like a public key in PEM, DER or JWK form, so that they are
/// refused as an HMAC secret (the classic RS256→HS256 key-confusion attack).
///
/// True for:
/// - PEM armour of any label (`-----BEGIN` after leading whitespace);
/// - DER that parses as a `SubjectPublicKeyInfo` of any algorithm, a PKCS#1
///   `RSAPublicKey`, an X.509 certificate, or a PKCS#8 / PKCS#1 / SEC1 private key (a
///   key file is never a shared secret), with or without surrounding whitespace;
/// - a JSON object (a JWK or JWK Set): UTF-8 text that starts with `{` and ends with `}`
///   after trimming whitespace. Requiring both braces keeps random binary secrets from
///   being refused merely for starting with the byte `0x7b`.
#[must_use]
pub fn looks_like_public_key(bytes: &[u8]) -> bool {
    let trimmed = bytes.trim_ascii();
    trimmed.starts_with(b"-----BEGIN")
        || looks_like_json_object(trimmed)
        || spki::parse_any(bytes).is_ok()
        || spki::parse_any(trimmed).is_ok()
}

fn looks_like_json_object(trimmed: &[u8]) -> bool {
    trimmed.starts_with(b"{") && trimmed.ends_with(b"}") && core::str::from_utf8(trimmed).is_ok()
}

#[cfg(all(test, feature = "hs256", feature = "es256", feature = "rs256"))]
mod tests;
