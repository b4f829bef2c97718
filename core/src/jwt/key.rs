//! Verification keys: the key decides the algorithm.
//!
//! Contract shared by the JWT pipeline (`jwt::verify*`) and the key parsers:
//! - [`Algorithm`]: the closed set of algorithms tollgate implements (`none` is absent).
//! - [`Key`]: one typed verification key; `Key::algorithm()` is the only algorithm it verifies.
//! - `Key::verify_signature(signing_input, signature)` checks the raw JWS signature bytes.

use super::error::JwtError;

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
#[derive(Clone, Debug)]
#[non_exhaustive]
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

impl Key {
    /// The one algorithm this key verifies.
    #[must_use]
    pub fn algorithm(&self) -> Algorithm {
        match self {
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
        match self {
            #[cfg(feature = "hs256")]
            Self::Hs256(k) => k.verify(signing_input, signature),
            #[cfg(feature = "es256")]
            Self::Es256(k) => k.verify(signing_input, signature),
            #[cfg(feature = "rs256")]
            Self::Rs256(k) => k.verify(signing_input, signature),
        }
    }
}

/// Whether `bytes` look like a public key in PEM, DER or JWK form, so that they are
/// refused as an HMAC secret (the classic RS256→HS256 key-confusion attack).
///
/// SKELETON: to be completed with the DER parser (SPKI / PKCS#1 detection).
#[must_use]
pub fn looks_like_public_key(bytes: &[u8]) -> bool {
    let trimmed = bytes.trim_ascii_start();
    trimmed.starts_with(b"-----BEGIN") || trimmed.starts_with(b"{")
}
