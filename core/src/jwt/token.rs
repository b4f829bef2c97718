//! The verification pipeline: compact serialization → header → key → signature →
//! payload → claims.
//!
//! Order matters for safety and cost: the length limit comes before any work, the key
//! is chosen by the verifier (the header only *names* an algorithm, which must equal
//! the key's), the signature is checked over the byte-exact first two segments
//! (RFC 7515 §5.2), and the payload JSON is parsed only once the signature holds.

use serde::Deserialize;

use super::claims::Claims;
use super::error::JwtError;
use super::header::Header;
use super::key::Key;
use super::resolve::{KeyResolver, Resolved, resolve};
use super::validate::Validation;
use crate::base64url;

/// Longest raw signature accepted: an RSA signature for the largest supported modulus
/// (256 to 512 bytes, see the `rs256-*` features), else an ES256 one.
#[cfg(feature = "rs256")]
const MAX_SIGNATURE_LEN: usize = crate::jwt::alg::rs256::MAX_MODULUS_LEN;
#[cfg(not(feature = "rs256"))]
const MAX_SIGNATURE_LEN: usize = 64;

/// Chooses the verification key for a token from its header.
///
/// The pipeline then insists that the chosen key's algorithm equals the header's `alg`
/// ([`JwtError::AlgorithmMismatch`]), so an implementation may ignore `alg` when it has
/// a single candidate. Implemented for one [`Key`], for a parsed JWK
/// ([`Jwk`](super::jwk::Jwk)) and for a JWK Set ([`JwkSet`](super::jwks::JwkSet)).
/// Every `KeySource` is a [`KeyResolver`], the wider trait the verify functions take,
/// whose implementations may also look at the unverified claims.
pub trait KeySource {
    /// The key that should verify the token with this header.
    ///
    /// # Errors
    /// [`JwtError::UnknownKey`] when no key fits (or the choice is ambiguous); an
    /// implementation may also answer [`JwtError::AlgorithmMismatch`].
    fn select(&self, header: &Header<'_>) -> Result<&Key, JwtError>;
}

impl KeySource for Key {
    fn select(&self, _header: &Header<'_>) -> Result<&Key, JwtError> {
        Ok(self)
    }
}

impl<T: KeySource + ?Sized> KeySource for &T {
    fn select(&self, header: &Header<'_>) -> Result<&Key, JwtError> {
        (**self).select(header)
    }
}

/// The three segments of a compact JWS, still base64url-encoded.
#[derive(Clone, Copy, Debug)]
pub struct CompactParts<'t> {
    header: &'t [u8],
    payload: &'t [u8],
    signature: &'t [u8],
    signing_input: &'t [u8],
}

impl<'t> CompactParts<'t> {
    /// Splits `token` into exactly three `.`-separated segments.
    ///
    /// # Errors
    /// [`JwtError::Malformed`] for any other number of segments.
    pub fn split(token: &'t [u8]) -> Result<Self, JwtError> {
        let [first, second] = two_dots(token).ok_or(JwtError::Malformed)?;
        let header = token.get(..first).ok_or(JwtError::Malformed)?;
        let payload = token.get(first + 1..second).ok_or(JwtError::Malformed)?;
        let signature = token.get(second + 1..).ok_or(JwtError::Malformed)?;
        let signing_input = token.get(..second).ok_or(JwtError::Malformed)?;
        Ok(Self {
            header,
            payload,
            signature,
            signing_input,
        })
    }

    /// The encoded protected header.
    #[must_use]
    pub const fn header(&self) -> &'t [u8] {
        self.header
    }

    /// The encoded payload.
    #[must_use]
    pub const fn payload(&self) -> &'t [u8] {
        self.payload
    }

    /// The encoded signature.
    #[must_use]
    pub const fn signature(&self) -> &'t [u8] {
        self.signature
    }

    /// `header '.' payload`, byte for byte as received: what the signature covers.
    #[must_use]
    pub const fn signing_input(&self) -> &'t [u8] {
        self.signing_input
    }
}

/// The positions of the two dots of `bytes`, or `None` unless it has exactly two.
///
/// One pass, sixteen bytes at a time (the split is on the hot path): a chunk is looked
/// at byte by byte only when the has-zero-byte test says it holds a dot.
fn two_dots(bytes: &[u8]) -> Option<[usize; 2]> {
    const DOTS: u64 = u64::from_ne_bytes([b'.'; 8]);
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    let mut dots = [None, None];
    let mut record = |at: usize| match dots {
        [None, _] => {
            dots[0] = Some(at);
            true
        }
        [Some(_), None] => {
            dots[1] = Some(at);
            true
        }
        [Some(_), Some(_)] => false,
    };
    let (chunks, rest) = bytes.as_chunks::<16>();
    for (index, chunk) in chunks.iter().enumerate() {
        let halves = [chunk.first_chunk::<8>(), chunk.last_chunk::<8>()];
        let [low, high] = halves.map(|half| {
            let x = u64::from_ne_bytes(half.copied().unwrap_or_default()) ^ DOTS;
            x.wrapping_sub(ONES) & !x
        });
        if (low | high) & HIGHS != 0 {
            for (at, _) in chunk.iter().enumerate().filter(|(_, b)| **b == b'.') {
                if !record(index * 16 + at) {
                    return None;
                }
            }
        }
    }
    for (at, _) in rest.iter().enumerate().filter(|(_, b)| **b == b'.') {
        if !record(chunks.len() * 16 + at) {
            return None;
        }
    }
    match dots {
        [Some(first), Some(second)] => Some([first, second]),
        _ => None,
    }
}

/// A compact JWS whose signature verified.
#[derive(Clone, Copy, Debug)]
pub struct VerifiedJws<'s> {
    header: Header<'s>,
    payload: &'s [u8],
}

impl<'s> VerifiedJws<'s> {
    /// The parsed header.
    #[must_use]
    pub const fn header(&self) -> &Header<'s> {
        &self.header
    }

    /// The decoded payload bytes (in the caller's scratch buffer).
    #[must_use]
    pub const fn payload(&self) -> &'s [u8] {
        self.payload
    }
}

/// A JWT whose signature verified and whose claims passed the [`Validation`].
#[derive(Clone, Copy, Debug)]
pub struct VerifiedToken<'s> {
    header: Header<'s>,
    claims: Claims<'s>,
    payload: &'s [u8],
}

impl<'s> VerifiedToken<'s> {
    /// The parsed header.
    #[must_use]
    pub const fn header(&self) -> &Header<'s> {
        &self.header
    }

    /// The registered claims.
    #[must_use]
    pub const fn registered(&self) -> &Claims<'s> {
        &self.claims
    }

    /// The decoded payload JSON (in the caller's scratch buffer).
    #[must_use]
    pub const fn payload(&self) -> &'s [u8] {
        self.payload
    }

    /// Deserializes the payload into the caller's type with `serde-json-core`.
    ///
    /// `&'s str` fields borrow from the scratch buffer when the JSON string has no
    /// escapes; strings with escapes are unescaped into `escape_buf` (sized for the
    /// longest one) and so need an owned field type (for example `heapless::String`).
    ///
    /// # Errors
    /// [`JwtError::InvalidClaims`] when the payload does not fit `T` or an escaped
    /// string is longer than `escape_buf`.
    pub fn claims<T: Deserialize<'s>>(&self, escape_buf: &mut [u8]) -> Result<T, JwtError> {
        serde_json_core::from_slice_escaped(self.payload, escape_buf)
            .map(|(value, _consumed)| value)
            .map_err(|_| JwtError::InvalidClaims)
    }
}

/// Verifies the signature of a compact JWS and returns its header and decoded payload.
///
/// `scratch` receives the decoded header and payload; `token.len()` bytes always
/// suffice. Of `validation`, only the token length limit and the `typ` rules apply.
/// `keys` is any [`KeyResolver`]: every [`KeySource`] is one.
///
/// # Errors
/// [`JwtError::TokenTooLarge`] (checked first, before any decoding),
/// [`JwtError::Malformed`], [`JwtError::BufferTooSmall`], the header errors of
/// [`Header::parse`], [`JwtError::InvalidType`], the key-selection errors of
/// [`KeyResolver::resolve`], [`JwtError::AlgorithmMismatch`], [`JwtError::InvalidSignature`].
pub fn verify_jws<'s, K: KeyResolver + ?Sized>(
    token: &[u8],
    keys: &K,
    validation: &Validation<'_>,
    scratch: &'s mut [u8],
) -> Result<VerifiedJws<'s>, JwtError> {
    let resolved = resolve(token, keys, validation, scratch, false)?;
    check_signature(&resolved)?;
    Ok(VerifiedJws {
        header: resolved.header,
        payload: resolved.payload,
    })
}

/// The signature of a resolved token, checked with its key.
fn check_signature(resolved: &Resolved<'_, '_, '_>) -> Result<(), JwtError> {
    let mut signature = [0u8; MAX_SIGNATURE_LEN];
    let signature = match base64url::decode(resolved.parts.signature(), &mut signature) {
        Ok(sig) => sig,
        Err(base64url::DecodeError::BufferTooSmall) => return Err(JwtError::InvalidSignature),
        Err(_) => return Err(JwtError::Malformed),
    };
    resolved
        .key
        .verify_signature(resolved.parts.signing_input(), signature)
}

/// Verifies a JWT: the JWS signature, then the JSON claims against `validation` at time
/// `now` (Unix seconds).
///
/// `scratch` receives the decoded header and payload; `token.len()` bytes always
/// suffice. The returned token borrows it. `keys` is any [`KeyResolver`]; one that
/// [needs the claims](KeyResolver::needs_claims) gets them parsed before the signature
/// check (and they are not parsed twice).
///
/// # Errors
/// Everything [`verify_jws`] returns, then the errors of [`Claims::parse`] and
/// [`Validation::validate_claims`].
pub fn verify<'s, K: KeyResolver + ?Sized>(
    token: &[u8],
    keys: &K,
    validation: &Validation<'_>,
    now: u64,
    scratch: &'s mut [u8],
) -> Result<VerifiedToken<'s>, JwtError> {
    let resolved = resolve(token, keys, validation, scratch, true)?;
    check_signature(&resolved)?;
    let claims = match resolved.claims {
        Some(claims) => claims,
        None => Claims::parse(resolved.payload)?,
    };
    validation.validate_claims(&claims, now)?;
    Ok(VerifiedToken {
        header: resolved.header,
        claims,
        payload: resolved.payload,
    })
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

    #[test]
    fn two_dots_matches_a_byte_loop_at_every_pair_of_offsets() {
        let reference = |bytes: &[u8]| {
            let dots: std::vec::Vec<usize> =
                (0..bytes.len()).filter(|&i| bytes[i] == b'.').collect();
            match dots[..] {
                [a, b] => Some([a, b]),
                _ => None,
            }
        };
        let mut bytes = [b'a'; 40];
        assert_eq!(two_dots(&bytes), None);
        for first in 0..bytes.len() {
            bytes[first] = b'.';
            for second in first + 1..bytes.len() {
                bytes[second] = b'.';
                for len in [second + 1, bytes.len()] {
                    assert_eq!(two_dots(&bytes[..len]), Some([first, second]));
                }
                // A third dot anywhere, or one differing by a bit (0xAE, '/'), or none.
                for other in (0..bytes.len()).filter(|i| *i != first && *i != second) {
                    for byte in [b'.', 0xAE, b'/'] {
                        bytes[other] = byte;
                        assert_eq!(two_dots(&bytes), reference(&bytes));
                        bytes[other] = b'a';
                    }
                }
                bytes[second] = b'a';
            }
            assert_eq!(two_dots(&bytes), None);
            bytes[first] = b'a';
        }
    }

    #[test]
    fn split_requires_exactly_three_segments() {
        let parts = CompactParts::split(b"a.b.c").unwrap();
        assert_eq!(
            (
                parts.header(),
                parts.payload(),
                parts.signature(),
                parts.signing_input()
            ),
            (&b"a"[..], &b"b"[..], &b"c"[..], &b"a.b"[..])
        );
        let empty = CompactParts::split(b"..").unwrap();
        assert_eq!(empty.signing_input(), b".");
        for bad in [&b""[..], b"a", b"a.b", b"a.b.c.d", b"a.b.c.", b"...."] {
            assert!(CompactParts::split(bad).is_err(), "{bad:?}");
        }
    }
}
