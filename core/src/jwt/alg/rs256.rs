//! RS256: RSASSA-PKCS1-v1_5 with SHA-256 (RFC 7518 §3.3), without a heap.
//!
//! SKELETON: the bodies below are placeholders to be replaced; the signatures are the contract.

use crate::jwt::error::{JwtError, KeyError};

/// An RSA public key (2048 to 4096 bits) for RS256.
#[derive(Clone, Debug)]
pub struct Rs256PublicKey {
    _placeholder: (),
}

impl Rs256PublicKey {
    /// From the big-endian modulus `n` and public exponent `e` (leading zero bytes allowed).
    ///
    /// # Errors
    /// [`KeyError::UnsupportedKeySize`] for moduli under 2048 or over 4096 bits,
    /// [`KeyError::InvalidKey`] for an even modulus or an unusable exponent.
    pub fn from_components(_n: &[u8], _e: &[u8]) -> Result<Self, KeyError> {
        Err(KeyError::InvalidKey)
    }

    /// Verifies a PKCS#1 v1.5 SHA-256 signature over `message`.
    ///
    /// # Errors
    /// [`JwtError::InvalidSignature`] for any failure (length, `s ≥ n`, encoding mismatch).
    pub fn verify(&self, _message: &[u8], _signature: &[u8]) -> Result<(), JwtError> {
        Err(JwtError::InvalidSignature)
    }
}
