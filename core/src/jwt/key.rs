//! Verification keys: the key decides the algorithm.
//!
//! Contract shared by the JWT pipeline (`jwt::verify*`) and the key parsers:
//! - [`Algorithm`]: the closed set of algorithms tollgate implements (`none` is absent).
//! - [`Key`]: one typed verification key; `Key::algorithm()` is the only algorithm it verifies.
//! - `Key::verify_signature(signing_input, signature)` checks the raw JWS signature bytes.

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

/// Placeholder so the skeleton compiles; replaced by the key implementation.
#[derive(Debug)]
pub struct Key {
    _private: (),
}

impl Key {
    /// The one algorithm this key verifies.
    #[must_use]
    pub fn algorithm(&self) -> Algorithm {
        Algorithm::HS256
    }

    /// Verifies `signature` over `signing_input`.
    ///
    /// # Errors
    /// [`JwtError::InvalidSignature`] when the signature does not verify.
    pub fn verify_signature(&self, _signing_input: &[u8], _signature: &[u8]) -> Result<(), JwtError> {
        Err(JwtError::InvalidSignature)
    }

    #[doc(hidden)]
    pub fn _placeholder() -> Result<Self, KeyError> {
        Err(KeyError::Malformed)
    }
}
