//! ES256: ECDSA on P-256 with SHA-256 (RFC 7518 §3.4), raw 64-byte `r ‖ s` signatures.
//!
//! The curve arithmetic is `p256`'s; this module only enforces the JWS encoding rules
//! and keeps every failure opaque.

use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};

use crate::jwt::error::{JwtError, KeyError};

/// Length of one P-256 field element or scalar in bytes.
const COORDINATE_LEN: usize = 32;

/// Length of a JWS ES256 signature: `r ‖ s`, each a 32-byte big-endian scalar (RFC 7518 §3.4).
pub const SIGNATURE_LEN: usize = 2 * COORDINATE_LEN;

/// A P-256 public key for ES256.
///
/// Always a valid curve point other than the identity: every constructor checks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Es256PublicKey {
    key: VerifyingKey,
}

impl Es256PublicKey {
    /// From a SEC1 encoded point (uncompressed `04 ‖ x ‖ y`, or compressed).
    ///
    /// # Errors
    /// [`KeyError::InvalidKey`] when the point is not on the curve or is the identity.
    pub fn from_sec1(bytes: &[u8]) -> Result<Self, KeyError> {
        VerifyingKey::from_sec1_bytes(bytes)
            .map(|key| Self { key })
            .map_err(|_| KeyError::InvalidKey)
    }

    /// From affine coordinates, each exactly 32 big-endian bytes (JWK `x`, `y`).
    ///
    /// # Errors
    /// [`KeyError::InvalidKey`] for wrong lengths or a point not on the curve.
    pub fn from_affine(x: &[u8], y: &[u8]) -> Result<Self, KeyError> {
        // RFC 7518 §6.2.1.2: the coordinates are full-length octet strings, so a short
        // (leading-zero-stripped) value is an encoding error, not a smaller number.
        if x.len() != COORDINATE_LEN || y.len() != COORDINATE_LEN {
            return Err(KeyError::InvalidKey);
        }
        let mut sec1 = [0u8; 1 + 2 * COORDINATE_LEN];
        let (tag, coordinates) = sec1.split_at_mut(1);
        let (x_out, y_out) = coordinates.split_at_mut(COORDINATE_LEN);
        tag.fill(0x04);
        x_out.copy_from_slice(x);
        y_out.copy_from_slice(y);
        Self::from_sec1(&sec1)
    }

    /// Verifies a raw 64-byte `r ‖ s` signature over `message` (hashed with SHA-256 here).
    ///
    /// # Errors
    /// [`JwtError::InvalidSignature`] for any failure: wrong length, DER encoding, r or s zero or ≥ n.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), JwtError> {
        // A DER `ECDSA-Sig-Value` is never exactly 64 bytes for P-256 (its SEQUENCE and two
        // INTEGER headers alone add 6), so the length check refuses it.
        if signature.len() != SIGNATURE_LEN {
            return Err(JwtError::InvalidSignature);
        }
        // `from_slice` refuses r or s equal to 0 or ≥ n: without that check a zero
        // signature verifies under every key (CVE-2022-21449).
        let signature = Signature::from_slice(signature).map_err(|_| JwtError::InvalidSignature)?;
        self.key
            .verify(message, &signature)
            .map_err(|_| JwtError::InvalidSignature)
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use base64ct::{Base64UrlUnpadded, Encoding};
    use std::vec;
    use std::vec::Vec;

    // RFC 7515 Appendix A.3.
    const A3_X: &str = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
    const A3_Y: &str = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";
    const A3_SIGNING_INPUT: &[u8] = b"eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
    const A3_SIGNATURE: &str =
        "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";

    // The order n of the P-256 base point.
    const N: [u8; 32] = [
        0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63,
        0x25, 0x51,
    ];

    fn decode(s: &str) -> Vec<u8> {
        let mut buf = [0u8; 128];
        Base64UrlUnpadded::decode(s, &mut buf).unwrap().to_vec()
    }

    fn a3_key() -> Es256PublicKey {
        Es256PublicKey::from_affine(&decode(A3_X), &decode(A3_Y)).unwrap()
    }

    #[test]
    fn rfc7515_a3_signature_verifies() {
        let signature = decode(A3_SIGNATURE);
        assert_eq!(a3_key().verify(A3_SIGNING_INPUT, &signature), Ok(()));
    }

    #[test]
    fn rfc7515_a3_modified_input_or_signature_fails() {
        let key = a3_key();
        let signature = decode(A3_SIGNATURE);
        let mut input = A3_SIGNING_INPUT.to_vec();
        input[0] ^= 1;
        assert_eq!(
            key.verify(&input, &signature),
            Err(JwtError::InvalidSignature)
        );
        for index in [0, 31, 32, 63] {
            let mut bad = signature.clone();
            bad[index] ^= 0x80;
            assert_eq!(
                key.verify(A3_SIGNING_INPUT, &bad),
                Err(JwtError::InvalidSignature)
            );
        }
    }

    #[test]
    fn signature_of_wrong_length_is_rejected() {
        let key = a3_key();
        let signature = decode(A3_SIGNATURE);
        for len in [0, 1, 63, 65, 72] {
            let mut sig = signature.clone();
            sig.resize(len, 0);
            assert_eq!(
                key.verify(A3_SIGNING_INPUT, &sig),
                Err(JwtError::InvalidSignature)
            );
        }
    }

    #[test]
    fn der_encoded_signature_is_rejected() {
        let key = a3_key();
        let raw = decode(A3_SIGNATURE);
        let signature = Signature::from_slice(&raw).unwrap();
        let der = signature.to_der();
        assert_eq!(
            key.verify(A3_SIGNING_INPUT, der.as_bytes()),
            Err(JwtError::InvalidSignature)
        );
    }

    #[test]
    fn psychic_signatures_zero_and_order_are_rejected() {
        // CVE-2022-21449: r = s = 0 must never verify; r = s = n is the same value mod n.
        let key = a3_key();
        let zero = [0u8; 64];
        let mut order = [0u8; 64];
        order[..32].copy_from_slice(&N);
        order[32..].copy_from_slice(&N);
        let mut zero_r = decode(A3_SIGNATURE);
        zero_r[..32].fill(0);
        let mut n_s = decode(A3_SIGNATURE);
        n_s[32..].copy_from_slice(&N);
        for sig in [&zero[..], &order[..], &zero_r[..], &n_s[..]] {
            assert_eq!(
                key.verify(A3_SIGNING_INPUT, sig),
                Err(JwtError::InvalidSignature)
            );
            assert_eq!(key.verify(b"", sig), Err(JwtError::InvalidSignature));
        }
    }

    #[test]
    fn affine_coordinates_must_be_32_bytes() {
        let x = decode(A3_X);
        let y = decode(A3_Y);
        assert_eq!(
            Es256PublicKey::from_affine(&x[1..], &y),
            Err(KeyError::InvalidKey)
        );
        let mut long_x = vec![0];
        long_x.extend_from_slice(&x);
        assert_eq!(
            Es256PublicKey::from_affine(&long_x, &y),
            Err(KeyError::InvalidKey)
        );
    }

    #[test]
    fn point_off_the_curve_is_rejected() {
        let x = decode(A3_X);
        let mut y = decode(A3_Y);
        y[31] ^= 1;
        assert_eq!(
            Es256PublicKey::from_affine(&x, &y),
            Err(KeyError::InvalidKey)
        );
    }

    #[test]
    fn identity_and_garbage_sec1_are_rejected() {
        for bytes in [&[0x00][..], &[], &[0x04], &[0x05; 65], &[0x04; 64]] {
            assert_eq!(Es256PublicKey::from_sec1(bytes), Err(KeyError::InvalidKey));
        }
    }

    #[test]
    fn compressed_and_uncompressed_sec1_give_the_same_key() {
        let x = decode(A3_X);
        let y = decode(A3_Y);
        let mut uncompressed = vec![0x04];
        uncompressed.extend_from_slice(&x);
        uncompressed.extend_from_slice(&y);
        let mut compressed = vec![0x02 | (y[31] & 1)];
        compressed.extend_from_slice(&x);
        let a = Es256PublicKey::from_sec1(&uncompressed).unwrap();
        let b = Es256PublicKey::from_sec1(&compressed).unwrap();
        assert_eq!(a, b);
        assert_eq!(a, a3_key());
    }
}
