//! RS256: RSASSA-PKCS1-v1_5 with SHA-256 (RFC 7518 §3.3), without a heap.
//!
//! Verification computes `s^e mod n` on fixed-width `crypto-bigint` Montgomery integers of
//! the smallest width that holds the modulus, builds the one
//! valid EMSA-PKCS1-v1_5 encoding of the message (RFC 8017 §9.2) in a stack buffer and
//! compares the whole block in constant time. The decrypted block is never parsed, so
//! the classic padding-parser forgeries (Bleichenbacher 2006, BERserk) have nothing to
//! bite on.
//!
//! # Key sizes
//!
//! 2048-bit moduli are always supported. The features `rs256-3072` and `rs256-4096` (both
//! default) add 3072- and 4096-bit arithmetic, and with it moduli up to that size; every
//! width is its own copy of the big-integer code (about 6 KB of Cortex-M4 code each), so
//! a device that only meets 2048-bit keys can leave them out. A key above
//! [`MAX_MODULUS_BITS`] is refused with [`KeyError::UnsupportedKeySize`] when it is built.

#[cfg(feature = "rs256-3072")]
use crypto_bigint::U3072;
#[cfg(feature = "rs256-4096")]
use crypto_bigint::U4096;
use crypto_bigint::modular::{FixedMontyForm, FixedMontyParams};
use crypto_bigint::{MontyForm, MontyMultiplier, Odd, U2048, Uint};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::jwt::error::{JwtError, KeyError};

/// Smallest supported modulus, in bits.
pub const MIN_MODULUS_BITS: u32 = 2048;
/// Largest supported modulus, in bits: 4096 with the `rs256-4096` feature, else 3072
/// with `rs256-3072`, else 2048.
pub const MAX_MODULUS_BITS: u32 = if cfg!(feature = "rs256-4096") {
    4096
} else if cfg!(feature = "rs256-3072") {
    3072
} else {
    2048
};
/// Largest supported public exponent, in bits.
///
/// Every exponent in use (3, 65537) is far below; the bound keeps the exponentiation's
/// cost fixed (at most 64 squarings and 64 multiplications) and `e` in a machine word.
pub const MAX_EXPONENT_BITS: u32 = 64;

/// Longest modulus, and so longest signature, in bytes.
pub(crate) const MAX_MODULUS_LEN: usize = (MAX_MODULUS_BITS / 8) as usize;

/// `DigestInfo` DER prefix for SHA-256 (RFC 8017 §9.2, note 1), parameters NULL.
const SHA256_DIGEST_INFO_PREFIX: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];

/// `0x00 ‖ DigestInfo prefix ‖ SHA-256 hash`: the fixed-length tail of the encoding.
const ENCODED_TAIL_LEN: usize = 1 + SHA256_DIGEST_INFO_PREFIX.len() + 32;

/// The modulus at the narrowest width that holds it: arithmetic cost grows with the
/// square of the width, so a 2048-bit key never pays for 4096-bit limbs.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Modulus {
    Bits2048(Odd<U2048>),
    #[cfg(feature = "rs256-3072")]
    Bits3072(Odd<U3072>),
    #[cfg(feature = "rs256-4096")]
    Bits4096(Odd<U4096>),
}

/// An RSA public key (2048 to [`MAX_MODULUS_BITS`] bits) for RS256.
///
/// Holds the modulus and exponent only; Montgomery parameters are derived per
/// verification. That keeps a key at about 530 bytes instead of about 1.6 KB (a key set
/// holds several) for roughly a tenth of the verification time (measured on the host:
/// about 4.6 µs of parameters against 35 µs of exponentiation at 2048 bits).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rs256PublicKey {
    modulus: Modulus,
    /// Length of the modulus in bytes (`k` in RFC 8017); signatures have exactly this length.
    modulus_len: usize,
    exponent: u64,
}

impl Rs256PublicKey {
    /// From the big-endian modulus `n` and public exponent `e` (leading zero bytes allowed).
    ///
    /// The exponent must be odd, at least 3 and at most [`MAX_EXPONENT_BITS`] bits long.
    ///
    /// # Errors
    /// [`KeyError::UnsupportedKeySize`] for moduli under 2048 or over [`MAX_MODULUS_BITS`] bits or an
    /// exponent over 64 bits, [`KeyError::InvalidKey`] for an even modulus or an exponent
    /// that is even or below 3.
    pub fn from_components(n: &[u8], e: &[u8]) -> Result<Self, KeyError> {
        let n = strip_leading_zeros(n);
        let bits = bit_length(n);
        if !(MIN_MODULUS_BITS..=MAX_MODULUS_BITS).contains(&bits) {
            return Err(KeyError::UnsupportedKeySize);
        }
        let exponent = exponent_from_bytes(e)?;
        if has_roca_fingerprint(n) {
            return Err(KeyError::InvalidKey);
        }
        let modulus = match bits {
            ..=2048 => Modulus::Bits2048(odd_from_be(n)?),
            #[cfg(feature = "rs256-3072")]
            ..=3072 => Modulus::Bits3072(odd_from_be(n)?),
            #[cfg(feature = "rs256-4096")]
            ..=4096 => Modulus::Bits4096(odd_from_be(n)?),
            _ => return Err(KeyError::UnsupportedKeySize),
        };
        Ok(Self {
            modulus,
            modulus_len: n.len(),
            exponent,
        })
    }

    /// The modulus length in bits.
    #[must_use]
    pub fn modulus_bits(&self) -> u32 {
        match &self.modulus {
            Modulus::Bits2048(n) => n.as_ref().bits_vartime(),
            #[cfg(feature = "rs256-3072")]
            Modulus::Bits3072(n) => n.as_ref().bits_vartime(),
            #[cfg(feature = "rs256-4096")]
            Modulus::Bits4096(n) => n.as_ref().bits_vartime(),
        }
    }

    /// The public exponent.
    #[must_use]
    pub fn exponent(&self) -> u64 {
        self.exponent
    }

    /// Verifies a PKCS#1 v1.5 SHA-256 signature over `message`.
    ///
    /// # Errors
    /// [`JwtError::InvalidSignature`] for any failure (length, `s ≥ n`, encoding mismatch).
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), JwtError> {
        // RFC 8017 §8.2.2 step 1: the signature is exactly k octets, so leading zeros are
        // neither stripped nor added.
        if signature.len() != self.modulus_len {
            return Err(JwtError::InvalidSignature);
        }
        let hash = Sha256::digest(message).into();
        match &self.modulus {
            Modulus::Bits2048(n) => check_signature(n, self.exponent, signature, &hash),
            #[cfg(feature = "rs256-3072")]
            Modulus::Bits3072(n) => check_signature(n, self.exponent, signature, &hash),
            #[cfg(feature = "rs256-4096")]
            Modulus::Bits4096(n) => check_signature(n, self.exponent, signature, &hash),
        }
    }
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    bytes.get(start..).unwrap_or_default()
}

/// Bit length of a big-endian magnitude without leading zero bytes.
fn bit_length(magnitude: &[u8]) -> u32 {
    match magnitude.split_first() {
        None => 0,
        Some((&first, rest)) => u32::try_from(rest.len())
            .ok()
            .and_then(|len| len.checked_mul(8))
            .and_then(|bits| bits.checked_add(8 - first.leading_zeros()))
            .unwrap_or(u32::MAX),
    }
}

fn exponent_from_bytes(e: &[u8]) -> Result<u64, KeyError> {
    let e = strip_leading_zeros(e);
    let mut word = [0u8; 8];
    let start = word
        .len()
        .checked_sub(e.len())
        .ok_or(KeyError::UnsupportedKeySize)?;
    word.get_mut(start..)
        .ok_or(KeyError::UnsupportedKeySize)?
        .copy_from_slice(e);
    let exponent = u64::from_be_bytes(word);
    // e = 1 makes every s its own signature; an even e is not an RSA exponent at all.
    if exponent < 3 || exponent % 2 == 0 {
        return Err(KeyError::InvalidKey);
    }
    Ok(exponent)
}

/// The modulus as an odd fixed-width integer. `n` must fit in `LIMBS` (checked by the caller).
fn odd_from_be<const LIMBS: usize>(n: &[u8]) -> Result<Odd<Uint<LIMBS>>, KeyError> {
    if n.len() > Uint::<LIMBS>::BYTES {
        return Err(KeyError::UnsupportedKeySize);
    }
    Odd::new(Uint::<LIMBS>::from_be_slice_truncated(
        n,
        Uint::<LIMBS>::BITS,
    ))
    .into_option()
    .ok_or(KeyError::InvalidKey)
}

/// Writes `EM = 0x00 ‖ 0x01 ‖ 0xFF… ‖ 0x00 ‖ DigestInfo(SHA-256, hash)` into `em`, whose
/// length is the modulus length `k` (RFC 8017 §9.2).
fn encode_pkcs1v15_sha256(hash: &[u8; 32], em: &mut [u8]) -> Result<(), JwtError> {
    let (header, rest) = em
        .split_at_mut_checked(2)
        .ok_or(JwtError::InvalidSignature)?;
    let padding_len = rest
        .len()
        .checked_sub(ENCODED_TAIL_LEN)
        .ok_or(JwtError::InvalidSignature)?;
    let (padding, tail) = rest
        .split_at_mut_checked(padding_len)
        .ok_or(JwtError::InvalidSignature)?;
    let (separator, digest_info) = tail
        .split_at_mut_checked(1)
        .ok_or(JwtError::InvalidSignature)?;
    let (prefix, digest) = digest_info
        .split_at_mut_checked(SHA256_DIGEST_INFO_PREFIX.len())
        .ok_or(JwtError::InvalidSignature)?;
    header.copy_from_slice(&[0x00, 0x01]);
    padding.fill(0xff);
    separator.fill(0x00);
    prefix.copy_from_slice(&SHA256_DIGEST_INFO_PREFIX);
    digest.copy_from_slice(hash);
    Ok(())
}

/// Checks `signature` (exactly `k` bytes, the modulus length) against the SHA-256
/// `hash` of the message with the key `(n, exponent)`.
///
/// Never inlined: inlined into `verify`, the three widths' Montgomery forms would share
/// one stack frame, and a 2048-bit verification would reserve the 4096-bit one. The
/// parameters are computed here, in a frame that holds little else, because their
/// computation is the deepest point of a verification; the signature, the result and
/// the expected encoding live in [`signature_matches`], called afterwards.
#[inline(never)]
fn check_signature<const LIMBS: usize>(
    n: &Odd<Uint<LIMBS>>,
    exponent: u64,
    signature: &[u8],
    hash: &[u8; 32],
) -> Result<(), JwtError> {
    signature_matches(&montgomery_params(n), exponent, signature, hash)
}

/// RSAVP1 (`m = s^e mod n`, RFC 8017 §5.2.2) and a constant-time comparison of `m`, as
/// `k` big-endian bytes, with the EMSA-PKCS1-v1_5 encoding of `hash`.
#[inline(never)]
fn signature_matches<const LIMBS: usize>(
    params: &FixedMontyParams<LIMBS>,
    exponent: u64,
    signature: &[u8],
    hash: &[u8; 32],
) -> Result<(), JwtError> {
    if signature.len() > Uint::<LIMBS>::BYTES {
        return Err(JwtError::InvalidSignature);
    }
    let s = Uint::<LIMBS>::from_be_slice_truncated(signature, Uint::<LIMBS>::BITS);
    if s >= *params.modulus().as_ref() {
        return Err(JwtError::InvalidSignature);
    }
    let mut expected = [0u8; MAX_MODULUS_LEN];
    let expected = expected
        .get_mut(..signature.len())
        .ok_or(JwtError::InvalidSignature)?;
    encode_pkcs1v15_sha256(hash, expected)?;
    let m = pow_public(&s, exponent, params).to_be_bytes();
    // m < n < 2^(8k), so the bytes above the k-byte window are zero; comparing them too
    // costs nothing and leaves no unchecked byte.
    let (high, low) = m
        .as_slice()
        .split_at_checked(Uint::<LIMBS>::BYTES - expected.len())
        .ok_or(JwtError::InvalidSignature)?;
    let high_is_zero = high.iter().fold(0u8, |acc, &b| acc | b).ct_eq(&0);
    if bool::from(high_is_zero & low.ct_eq(expected)) {
        Ok(())
    } else {
        Err(JwtError::InvalidSignature)
    }
}

/// The Montgomery parameters of `n`.
///
/// Never inlined, like [`pow_public`]: computing them takes a double-width square and a
/// division whose temporaries would otherwise share `check_signature`'s frame with the
/// exponentiation's (measured on a Cortex-M4 at 2048 bits: 10.8 KB of stack for the
/// whole verification with both inlined, see `footprint/`).
#[inline(never)]
fn montgomery_params<const LIMBS: usize>(n: &Odd<Uint<LIMBS>>) -> FixedMontyParams<LIMBS> {
    FixedMontyParams::new_vartime(*n)
}

/// `base^exponent mod n` by left-to-right square-and-multiply over the exponent's bits.
///
/// The exponent is public, so variable time is fine. For e = 65537 this is 16 squarings
/// and one multiplication; on a Cortex-M4 it measured faster and used far less stack than
/// `pow_vartime`, whose windowed table holds many Montgomery forms.
#[inline(never)]
fn pow_public<const LIMBS: usize>(
    base: &Uint<LIMBS>,
    exponent: u64,
    params: &FixedMontyParams<LIMBS>,
) -> Uint<LIMBS> {
    let base = FixedMontyForm::new(base, params);
    let mut acc = base;
    // In place: `square`/`mul` return a fresh form with a copy of the parameters each
    // time, and those temporaries cost kilobytes of stack at these widths.
    let mut multiplier = <FixedMontyForm<LIMBS> as MontyForm>::Multiplier::from(params);
    let top_bit = u64::BITS - 1 - exponent.leading_zeros();
    for bit in (0..top_bit).rev() {
        multiplier.square_assign(&mut acc);
        if (exponent >> bit) & 1 == 1 {
            multiplier.mul_assign(&mut acc, &base);
        }
    }
    acc.retrieve()
}

/// The small primes of the ROCA fingerprint (CVE-2017-15361, Nemec et al., CCS 2017).
const ROCA_PRIMES: [u32; 38] = [
    3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97,
    101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167,
];

/// Whether the big-endian modulus `n` has the structure of a key generated by the flawed
/// Infineon RSALib (ROCA): such moduli are `k·M + (65537^a mod M)`, so `n mod p` lies in the
/// subgroup generated by 65537 for every small prime `p` of `M`. A random modulus passes
/// all 38 checks with negligible probability; a ROCA key's private key is recoverable, so
/// it is refused.
fn has_roca_fingerprint(n: &[u8]) -> bool {
    ROCA_PRIMES.iter().all(|&p| {
        let residue = n.iter().fold(0u32, |r, &b| ((r << 8) | u32::from(b)) % p);
        let generator = 65537 % p;
        let mut power = 1;
        // The subgroup generated by 65537 mod p has at most p - 1 elements.
        for _ in 0..p {
            if power == residue {
                return true;
            }
            power = power * generator % p;
        }
        false
    })
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use base64ct::{Base64UrlUnpadded, Encoding};
    use std::vec::Vec;

    // RFC 7515 Appendix A.2.
    const A2_N: &str = "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ";
    const A2_E: &str = "AQAB";
    const A2_SIGNING_INPUT: &[u8] = b"eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
    const A2_SIGNATURE: &str = "cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw";

    fn decode(s: &str) -> Vec<u8> {
        let mut buf = [0u8; 1024];
        Base64UrlUnpadded::decode(s, &mut buf).unwrap().to_vec()
    }

    fn a2_key() -> Rs256PublicKey {
        Rs256PublicKey::from_components(&decode(A2_N), &decode(A2_E)).unwrap()
    }

    #[test]
    fn rfc7515_a2_signature_verifies() {
        let key = a2_key();
        assert_eq!(key.modulus_bits(), 2048);
        assert_eq!(key.exponent(), 65537);
        assert_eq!(key.verify(A2_SIGNING_INPUT, &decode(A2_SIGNATURE)), Ok(()));
    }

    #[test]
    fn rfc7515_a2_modified_input_or_signature_fails() {
        let key = a2_key();
        let signature = decode(A2_SIGNATURE);
        let mut input = A2_SIGNING_INPUT.to_vec();
        input[10] ^= 1;
        assert_eq!(
            key.verify(&input, &signature),
            Err(JwtError::InvalidSignature)
        );
        for index in [0, 100, 255] {
            let mut bad = signature.clone();
            bad[index] ^= 1;
            assert_eq!(
                key.verify(A2_SIGNING_INPUT, &bad),
                Err(JwtError::InvalidSignature)
            );
        }
    }

    #[test]
    fn signature_must_have_the_modulus_length() {
        let key = a2_key();
        let signature = decode(A2_SIGNATURE);
        let mut padded = std::vec![0u8];
        padded.extend_from_slice(&signature);
        for sig in [&padded[..], &signature[1..], &[], &[0u8; 512][..]] {
            assert_eq!(
                key.verify(A2_SIGNING_INPUT, sig),
                Err(JwtError::InvalidSignature)
            );
        }
    }

    #[test]
    fn signature_not_below_the_modulus_is_rejected() {
        let key = a2_key();
        let n = decode(A2_N);
        // s = n is 0 mod n and s = n + small would verify as s - n if unreduced input slipped through.
        assert_eq!(
            key.verify(A2_SIGNING_INPUT, &n),
            Err(JwtError::InvalidSignature)
        );
        assert_eq!(
            key.verify(A2_SIGNING_INPUT, &[0xff; 256]),
            Err(JwtError::InvalidSignature)
        );
    }

    #[test]
    fn trivial_signatures_zero_and_one_are_rejected() {
        let key = a2_key();
        let zero = [0u8; 256];
        let mut one = [0u8; 256];
        one[255] = 1;
        for sig in [&zero, &one] {
            assert_eq!(key.verify(b"", sig), Err(JwtError::InvalidSignature));
        }
    }

    #[test]
    fn modulus_outside_2048_to_max_bits_is_unsupported() {
        let mut small = [0xffu8; 256];
        small[0] = 0x7f; // 2047 bits
        assert_eq!(
            Rs256PublicKey::from_components(&small, &[1, 0, 1]),
            Err(KeyError::UnsupportedKeySize)
        );
        let mut large = std::vec![0xffu8; MAX_MODULUS_LEN + 1];
        large[0] = 0x01; // MAX_MODULUS_BITS + 1 bits
        assert_eq!(
            Rs256PublicKey::from_components(&large, &[1, 0, 1]),
            Err(KeyError::UnsupportedKeySize)
        );
        assert_eq!(
            Rs256PublicKey::from_components(&[], &[3]),
            Err(KeyError::UnsupportedKeySize)
        );
        let mut padded_2048 = std::vec![0u8; 3];
        padded_2048.extend_from_slice(&[0xff; 256]);
        assert!(Rs256PublicKey::from_components(&padded_2048, &[3]).is_ok());
        let largest = Rs256PublicKey::from_components(&[0xff; MAX_MODULUS_LEN], &[3]).unwrap();
        assert_eq!(largest.modulus_bits(), MAX_MODULUS_BITS);
    }

    #[test]
    fn max_modulus_bits_follows_the_width_features() {
        let expected = match (cfg!(feature = "rs256-3072"), cfg!(feature = "rs256-4096")) {
            (_, true) => 4096,
            (true, false) => 3072,
            (false, false) => 2048,
        };
        assert_eq!(MAX_MODULUS_BITS, expected);
        for bits in [2056, 3072, 3080, 4096] {
            let n = std::vec![0xffu8; bits / 8];
            let key = Rs256PublicKey::from_components(&n, &[1, 0, 1]);
            if bits <= MAX_MODULUS_BITS as usize {
                assert_eq!(key.unwrap().modulus_bits() as usize, bits);
            } else {
                assert_eq!(key, Err(KeyError::UnsupportedKeySize), "{bits} bits");
            }
        }
    }

    #[test]
    fn width_is_the_smallest_that_fits() {
        let key = Rs256PublicKey::from_components(&[0xff; 256], &[3]).unwrap();
        assert!(matches!(key.modulus, Modulus::Bits2048(_)));
        #[cfg(feature = "rs256-3072")]
        {
            let key = Rs256PublicKey::from_components(&[0xff; 257], &[3]).unwrap();
            assert!(matches!(key.modulus, Modulus::Bits3072(_)));
            assert_eq!(key.modulus_bits(), 2056);
        }
        #[cfg(all(feature = "rs256-4096", not(feature = "rs256-3072")))]
        {
            let key = Rs256PublicKey::from_components(&[0xff; 257], &[3]).unwrap();
            assert!(matches!(key.modulus, Modulus::Bits4096(_)));
        }
        #[cfg(feature = "rs256-4096")]
        {
            let key = Rs256PublicKey::from_components(&[0xff; 385], &[3]).unwrap();
            assert!(matches!(key.modulus, Modulus::Bits4096(_)));
        }
    }

    #[test]
    fn even_modulus_is_invalid() {
        let mut n = [0xffu8; 256];
        n[255] = 0xfe;
        assert_eq!(
            Rs256PublicKey::from_components(&n, &[1, 0, 1]),
            Err(KeyError::InvalidKey)
        );
    }

    #[test]
    fn exponent_must_be_odd_at_least_3_and_fit_64_bits() {
        let n = [0xffu8; 256];
        for e in [&[][..], &[0], &[1], &[2], &[1, 0, 0], &[0, 0, 1]] {
            assert_eq!(
                Rs256PublicKey::from_components(&n, e),
                Err(KeyError::InvalidKey)
            );
        }
        assert_eq!(
            Rs256PublicKey::from_components(&n, &[1; 9]),
            Err(KeyError::UnsupportedKeySize)
        );
        let mut e = std::vec![0u8; 4];
        e.extend_from_slice(&[0xff; 8]);
        let key = Rs256PublicKey::from_components(&n, &e).unwrap();
        assert_eq!(key.exponent(), u64::MAX);
        assert_eq!(
            Rs256PublicKey::from_components(&n, &[0, 0, 3])
                .unwrap()
                .exponent(),
            3
        );
    }

    #[test]
    fn encoding_matches_rfc8017_layout() {
        let hash = [0xabu8; 32];
        let mut em = [0u8; 256];
        encode_pkcs1v15_sha256(&hash, &mut em).unwrap();
        assert_eq!(&em[..2], &[0x00, 0x01]);
        assert!(em[2..256 - 52].iter().all(|&b| b == 0xff));
        assert_eq!(em[256 - 52], 0x00);
        assert_eq!(&em[256 - 51..256 - 32], &SHA256_DIGEST_INFO_PREFIX);
        assert_eq!(&em[256 - 32..], &hash);
        assert_eq!(
            encode_pkcs1v15_sha256(&hash, &mut [0u8; 53]),
            Err(JwtError::InvalidSignature)
        );
    }

    #[test]
    fn square_and_multiply_matches_pow_vartime() {
        let n = Odd::new(U2048::from_be_slice(&decode(A2_N))).unwrap();
        let params = FixedMontyParams::new_vartime(n);
        let base = U2048::from_be_slice(&decode(A2_SIGNATURE));
        for e in [
            3u64,
            5,
            17,
            65537,
            0xffff_ffff_ffff_ffff,
            0x8000_0000_0000_0001,
        ] {
            let expected = FixedMontyForm::new(&base, &params)
                .pow_vartime(&crypto_bigint::U64::from_u64(e))
                .retrieve();
            assert_eq!(pow_public(&base, e, &params), expected, "e = {e}");
        }
    }
}
