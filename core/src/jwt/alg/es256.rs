//! ES256: ECDSA on P-256 with SHA-256 (RFC 7518 §3.4), raw 64-byte `r ‖ s` signatures.
//!
//! SKELETON: the bodies below are placeholders to be replaced; the signatures are the contract.

use crate::jwt::error::{JwtError, KeyError};

/// A P-256 public key for ES256.
#[derive(Clone, Debug)]
pub struct Es256PublicKey {
    _placeholder: (),
}

impl Es256PublicKey {
    /// From a SEC1 encoded point (uncompressed `04 ‖ x ‖ y`, or compressed).
    ///
    /// # Errors
    /// [`KeyError::InvalidKey`] when the point is not on the curve or is the identity.
    pub fn from_sec1(_bytes: &[u8]) -> Result<Self, KeyError> {
        Err(KeyError::InvalidKey)
    }

    /// From affine coordinates, each exactly 32 big-endian bytes (JWK `x`, `y`).
    ///
    /// # Errors
    /// [`KeyError::InvalidKey`] for wrong lengths or a point not on the curve.
    pub fn from_affine(_x: &[u8], _y: &[u8]) -> Result<Self, KeyError> {
        Err(KeyError::InvalidKey)
    }

    /// Verifies a raw 64-byte `r ‖ s` signature over `message` (hashed with SHA-256 here).
    ///
    /// # Errors
    /// [`JwtError::InvalidSignature`] for any failure: wrong length, DER encoding, r or s zero or ≥ n.
    pub fn verify(&self, _message: &[u8], _signature: &[u8]) -> Result<(), JwtError> {
        Err(JwtError::InvalidSignature)
    }
}
