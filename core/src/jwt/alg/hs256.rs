//! HS256: HMAC with SHA-256 (RFC 7518 §3.2), tag compared in constant time.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::jwt::error::{JwtError, KeyError};

type HmacSha256 = Hmac<Sha256>;

/// An HS256 shared secret.
///
/// The HMAC key schedule (inner and outer padded blocks) is computed once here, so each
/// verification only hashes the signing input. The secret bytes themselves are not kept.
#[derive(Clone)]
pub struct Hs256Secret {
    mac: HmacSha256,
}

impl core::fmt::Debug for Hs256Secret {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Hs256Secret(..)")
    }
}

impl Hs256Secret {
    /// Builds a secret from raw bytes.
    ///
    /// # Errors
    /// [`KeyError::EmptySecret`] for an empty secret, and
    /// [`KeyError::SecretLooksLikePublicKey`] when the bytes look like a PEM, DER or JWK
    /// public key: a server configured with its verification key as an HMAC secret would
    /// otherwise accept tokens forged with that (public) key.
    pub fn new(secret: &[u8]) -> Result<Self, KeyError> {
        if secret.is_empty() {
            return Err(KeyError::EmptySecret);
        }
        if crate::jwt::key::looks_like_public_key(secret) {
            return Err(KeyError::SecretLooksLikePublicKey);
        }
        Self::new_unchecked_shape(secret)
    }

    /// Builds a secret from bytes already known to be a symmetric key (a JWK of `kty: oct`).
    pub(crate) fn new_unchecked_shape(secret: &[u8]) -> Result<Self, KeyError> {
        if secret.is_empty() {
            return Err(KeyError::EmptySecret);
        }
        HmacSha256::new_from_slice(secret)
            .map(|mac| Self { mac })
            .map_err(|_| KeyError::Malformed)
    }

    /// Verifies a 32-byte HMAC-SHA256 `tag` over `message` in constant time.
    ///
    /// # Errors
    /// [`JwtError::InvalidSignature`] when the tag is wrong or not 32 bytes long.
    pub fn verify(&self, message: &[u8], tag: &[u8]) -> Result<(), JwtError> {
        let mut mac = self.mac.clone();
        mac.update(message);
        mac.verify_slice(tag)
            .map_err(|_| JwtError::InvalidSignature)
    }

    /// Computes the 32-byte HMAC-SHA256 tag of `message`.
    #[must_use]
    pub fn sign(&self, message: &[u8]) -> [u8; 32] {
        let mut mac = self.mac.clone();
        mac.update(message);
        mac.finalize().into_bytes().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 4231 test case 2.
    #[test]
    fn rfc4231_case_2() {
        let key = Hs256Secret::new(b"Jefe").unwrap();
        let tag = key.sign(b"what do ya want for nothing?");
        let expected = [
            0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e, 0x6a, 0x04, 0x24, 0x26, 0x08, 0x95,
            0x75, 0xc7, 0x5a, 0x00, 0x3f, 0x08, 0x9d, 0x27, 0x39, 0x83, 0x9d, 0xec, 0x58, 0xb9,
            0x64, 0xec, 0x38, 0x43,
        ];
        assert_eq!(tag, expected);
        assert!(
            key.verify(b"what do ya want for nothing?", &expected)
                .is_ok()
        );
        let mut bad = expected;
        bad[31] ^= 1;
        assert_eq!(
            key.verify(b"what do ya want for nothing?", &bad),
            Err(JwtError::InvalidSignature)
        );
        assert_eq!(
            key.verify(b"what do ya want for nothing?", &expected[..31]),
            Err(JwtError::InvalidSignature)
        );
    }

    #[test]
    fn empty_secret_rejected() {
        assert_eq!(Hs256Secret::new(b"").unwrap_err(), KeyError::EmptySecret);
    }
}
