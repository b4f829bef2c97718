//! Choosing the verification key from what the token says about itself: [`KeyResolver`].
//!
//! A [`KeySource`] looks at the header only (`kid`, `alg`): one key, a JWK, a JWK Set.
//! Some applications choose the key from the *claims* instead, such as a secret per
//! user or per tenant (the socketio-jwt pattern). A [`KeyResolver`] may ask for the
//! unverified payload ([`KeyResolver::needs_claims`]); every `KeySource` is a
//! `KeyResolver` that does not.
//!
//! Nothing a resolver sees is authenticated yet: it only *names* the key. The pipeline
//! still insists that the chosen key's algorithm equals the header's `alg`, verifies the
//! signature with that key, and checks the claims afterwards. A resolver must therefore
//! map attacker-chosen values to keys the application already trusts, never build a key
//! out of them.
//!
//! # Example
//!
//! A secret per user, chosen by the unverified `sub`:
//!
//! ```
//! # #[cfg(feature = "hs256")]
//! # fn main() -> Result<(), Box<dyn core::error::Error>> {
//! use tollgate::jwt::{self, JwtError, Key, KeyResolver, UnverifiedToken, Validation};
//! use tollgate::jwt::alg::hs256::Hs256Secret;
//!
//! struct PerUser {
//!     alice: Key,
//!     bob: Key,
//! }
//!
//! impl KeyResolver for PerUser {
//!     fn needs_claims(&self) -> bool {
//!         true
//!     }
//!
//!     fn resolve(&self, token: &UnverifiedToken<'_>) -> Result<&Key, JwtError> {
//!         let sub = token.claims().and_then(|claims| claims.sub());
//!         match sub {
//!             Some(sub) if sub == "alice" => Ok(&self.alice),
//!             Some(sub) if sub == "bob" => Ok(&self.bob),
//!             _ => Err(JwtError::UnknownKey),
//!         }
//!     }
//! }
//!
//! let keys = PerUser {
//!     alice: Key::Hs256(Hs256Secret::new(&[0xA1; 32])?),
//!     bob: Key::Hs256(Hs256Secret::new(&[0xB0; 32])?),
//! };
//! // {"alg":"HS256"} . {"sub":"alice","exp":2000000000}, signed with alice's secret.
//! let token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSIsImV4cCI6MjAwMDAwMDAwMH0\
//!     .DPXph92uMJYK_g4xbtLBySJUm2plvgu0TP98TnRGET0";
//! let mut scratch = [0u8; 128];
//! let verified = jwt::verify(token.as_bytes(), &keys, &Validation::new(), 1_700_000_000, &mut scratch)?;
//! assert!(verified.registered().sub().is_some_and(|sub| sub == "alice"));
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "hs256"))]
//! # fn main() {}
//! ```

use super::claims::Claims;
use super::error::JwtError;
use super::header::Header;
use super::key::Key;
use super::token::{CompactParts, KeySource};
use super::validate::Validation;
use crate::base64url;

/// What a token says about itself before its signature is checked.
///
/// The header is always there. The payload and its registered claims are there when
/// the resolver asked for them ([`KeyResolver::needs_claims`]) or the token was read
/// with [`decode_unverified`]; `claims` is `None` when the payload is not a JSON claims
/// object (possible for a bare JWS).
#[derive(Clone, Copy, Debug)]
pub struct UnverifiedToken<'t> {
    header: Header<'t>,
    payload: Option<&'t [u8]>,
    claims: Option<Claims<'t>>,
}

impl<'t> UnverifiedToken<'t> {
    /// A header without payload, as a header-only resolver sees it.
    #[must_use]
    pub const fn from_header(header: Header<'t>) -> Self {
        Self {
            header,
            payload: None,
            claims: None,
        }
    }

    /// A header with its decoded payload; the registered claims are parsed from it when
    /// it is a JSON claims object.
    #[must_use]
    pub fn with_payload(header: Header<'t>, payload: &'t [u8]) -> Self {
        Self {
            header,
            payload: Some(payload),
            claims: Claims::parse(payload).ok(),
        }
    }

    /// The parsed (unverified) header.
    #[must_use]
    pub const fn header(&self) -> &Header<'t> {
        &self.header
    }

    /// The decoded (unverified) payload bytes, if they were decoded.
    #[must_use]
    pub const fn payload(&self) -> Option<&'t [u8]> {
        self.payload
    }

    /// The (unverified) registered claims, if the payload was decoded and is a JSON
    /// claims object. Custom claims can be read from [`payload`](Self::payload).
    #[must_use]
    pub const fn claims(&self) -> Option<&Claims<'t>> {
        self.claims.as_ref()
    }
}

/// Chooses the verification key for a token from its unverified header and, when it
/// asks for them, its unverified claims.
///
/// Implemented for every [`KeySource`] (header only). The chosen key decides the
/// algorithm: the pipeline refuses a token whose `alg` differs from the key's
/// ([`JwtError::AlgorithmMismatch`]).
pub trait KeyResolver {
    /// Whether [`resolve`](Self::resolve) needs the payload. When `false` (the default)
    /// the payload is decoded only after the key is chosen and parsed only once the
    /// signature holds.
    fn needs_claims(&self) -> bool {
        false
    }

    /// The key that should verify this token.
    ///
    /// # Errors
    /// [`JwtError::UnknownKey`] when no key fits; [`JwtError::KeysUnavailable`] when the
    /// keys cannot be consulted right now; an implementation may also answer
    /// [`JwtError::AlgorithmMismatch`].
    fn resolve(&self, token: &UnverifiedToken<'_>) -> Result<&Key, JwtError>;
}

impl<T: KeySource + ?Sized> KeyResolver for T {
    fn resolve(&self, token: &UnverifiedToken<'_>) -> Result<&Key, JwtError> {
        self.select(token.header())
    }
}

/// A token whose header passed the `validation` header rules and whose key was chosen;
/// the signature is still to be checked.
pub(super) struct Resolved<'t, 's, 'k> {
    pub(super) parts: CompactParts<'t>,
    pub(super) header: Header<'s>,
    pub(super) payload: &'s [u8],
    pub(super) claims: Option<Claims<'s>>,
    pub(super) key: &'k Key,
}

/// Splits `token`, decodes and checks its header, asks `keys` for the key (decoding
/// the payload first if the resolver wants it) and checks the key's algorithm.
///
/// `jwt` says whether the payload must be a claims object: then a resolver that
/// wants claims makes a payload that is not one fail here.
pub(super) fn resolve<'t, 's, 'k, K: KeyResolver + ?Sized>(
    token: &'t [u8],
    keys: &'k K,
    validation: &Validation<'_>,
    scratch: &'s mut [u8],
    jwt: bool,
) -> Result<Resolved<'t, 's, 'k>, JwtError> {
    let (parts, header, payload_buf) = decode_header(token, validation, scratch)?;
    let (payload, claims, key) = if keys.needs_claims() {
        let payload: &'s [u8] =
            base64url::decode(parts.payload(), payload_buf).map_err(|_| JwtError::Malformed)?;
        let claims = match Claims::parse(payload) {
            Ok(claims) => Some(claims),
            Err(error) if jwt => return Err(error),
            Err(_) => None,
        };
        let unverified = UnverifiedToken {
            header,
            payload: Some(payload),
            claims,
        };
        (payload, claims, keys.resolve(&unverified)?)
    } else {
        let key = keys.resolve(&UnverifiedToken::from_header(header))?;
        let payload: &'s [u8] =
            base64url::decode(parts.payload(), payload_buf).map_err(|_| JwtError::Malformed)?;
        (payload, None, key)
    };
    if key.algorithm() != header.algorithm() {
        return Err(JwtError::AlgorithmMismatch);
    }
    Ok(Resolved {
        parts,
        header,
        payload,
        claims,
        key,
    })
}

/// The length check, the split, and the header decoded into `scratch` and checked
/// against `validation`; returns the rest of `scratch`, big enough for the payload.
fn decode_header<'t, 's>(
    token: &'t [u8],
    validation: &Validation<'_>,
    scratch: &'s mut [u8],
) -> Result<(CompactParts<'t>, Header<'s>, &'s mut [u8]), JwtError> {
    if token.len() > validation.max_token_len_bytes() {
        return Err(JwtError::TokenTooLarge);
    }
    let parts = CompactParts::split(token)?;
    let header_len =
        base64url::decoded_len(parts.header().len()).map_err(|_| JwtError::Malformed)?;
    let payload_len =
        base64url::decoded_len(parts.payload().len()).map_err(|_| JwtError::Malformed)?;
    if scratch.len() < header_len + payload_len {
        return Err(JwtError::BufferTooSmall);
    }
    let (header_buf, payload_buf) = scratch
        .split_at_mut_checked(header_len)
        .ok_or(JwtError::BufferTooSmall)?;
    let header_json: &'s [u8] =
        base64url::decode(parts.header(), header_buf).map_err(|_| JwtError::Malformed)?;
    let header = Header::parse(header_json)?;
    validation.validate_header(&header)?;
    Ok((parts, header, payload_buf))
}

/// Decodes a token's header and payload **without verifying anything but their form**:
/// for routing and for asynchronous key lookups that must know the `kid`, the issuer or
/// the subject before they can fetch the key. Never trust what it returns; verify the
/// token with the key it leads to.
///
/// `scratch` receives the decoded header and payload (`token.len()` bytes suffice). Of
/// `validation`, the token length limit and the `typ`/`crit` rules apply.
///
/// # Errors
/// [`JwtError::TokenTooLarge`], [`JwtError::Malformed`], [`JwtError::BufferTooSmall`],
/// the errors of [`Header::parse`] and [`JwtError::InvalidType`].
pub fn decode_unverified<'s>(
    token: &[u8],
    validation: &Validation<'_>,
    scratch: &'s mut [u8],
) -> Result<UnverifiedToken<'s>, JwtError> {
    let (parts, header, payload_buf) = decode_header(token, validation, scratch)?;
    let payload: &'s [u8] =
        base64url::decode(parts.payload(), payload_buf).map_err(|_| JwtError::Malformed)?;
    Ok(UnverifiedToken::with_payload(header, payload))
}

#[cfg(all(test, feature = "hs256"))]
mod tests {
    extern crate std;
    use super::*;
    use crate::jwt::alg::hs256::Hs256Secret;
    use crate::jwt::{verify, verify_jws};
    use hmac::{KeyInit, Mac};

    const ALICE: [u8; 32] = [0xA1; 32];
    const BOB: [u8; 32] = [0xB0; 32];

    fn sign(header: &str, payload: &str, secret: &[u8]) -> std::string::String {
        let b64 = |bytes: &[u8]| {
            let mut out = [0u8; 512];
            std::string::String::from(base64url::encode(bytes, &mut out).unwrap())
        };
        let input = std::format!("{}.{}", b64(header.as_bytes()), b64(payload.as_bytes()));
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret).unwrap();
        mac.update(input.as_bytes());
        std::format!("{input}.{}", b64(&mac.finalize().into_bytes()))
    }

    /// A secret per user, chosen by `sub`, counting how often it was asked.
    struct PerUser {
        alice: Key,
        bob: Key,
        asked: core::cell::Cell<usize>,
    }

    impl PerUser {
        fn new() -> Self {
            Self {
                alice: Key::Hs256(Hs256Secret::new(&ALICE).unwrap()),
                bob: Key::Hs256(Hs256Secret::new(&BOB).unwrap()),
                asked: core::cell::Cell::new(0),
            }
        }
    }

    impl KeyResolver for PerUser {
        fn needs_claims(&self) -> bool {
            true
        }

        fn resolve(&self, token: &UnverifiedToken<'_>) -> Result<&Key, JwtError> {
            self.asked.set(self.asked.get() + 1);
            match token.claims().and_then(Claims::sub) {
                Some(sub) if sub == "alice" => Ok(&self.alice),
                Some(sub) if sub == "bob" => Ok(&self.bob),
                _ => Err(JwtError::UnknownKey),
            }
        }
    }

    const HS: &str = r#"{"alg":"HS256"}"#;

    #[test]
    fn claims_choose_the_key_per_user() {
        let keys = PerUser::new();
        let mut scratch = [0u8; 256];
        for (sub, secret) in [("alice", ALICE), ("bob", BOB)] {
            let token = sign(HS, &std::format!(r#"{{"sub":"{sub}","exp":99}}"#), &secret);
            let verified =
                verify(token.as_bytes(), &keys, &Validation::new(), 0, &mut scratch).unwrap();
            assert!(verified.registered().sub().is_some_and(|s| s == sub));
        }
    }

    #[test]
    fn a_claim_naming_another_user_does_not_verify() {
        let keys = PerUser::new();
        let mut scratch = [0u8; 256];
        // Signed with alice's secret but claiming to be bob: bob's key refuses it.
        let token = sign(HS, r#"{"sub":"bob","exp":99}"#, &ALICE);
        let result = verify(token.as_bytes(), &keys, &Validation::new(), 0, &mut scratch);
        assert_eq!(result.unwrap_err(), JwtError::InvalidSignature);
        let token = sign(HS, r#"{"sub":"carol","exp":99}"#, &ALICE);
        let result = verify(token.as_bytes(), &keys, &Validation::new(), 0, &mut scratch);
        assert_eq!(result.unwrap_err(), JwtError::UnknownKey);
    }

    #[test]
    fn the_resolved_key_still_decides_the_algorithm() {
        let keys = PerUser::new();
        let mut scratch = [0u8; 256];
        let token = sign(r#"{"alg":"ES256"}"#, r#"{"sub":"alice","exp":99}"#, &ALICE);
        let result = verify(token.as_bytes(), &keys, &Validation::new(), 0, &mut scratch);
        assert_eq!(result.unwrap_err(), JwtError::AlgorithmMismatch);
    }

    #[test]
    fn a_payload_that_is_not_claims_fails_a_jwt_but_reaches_a_jws_resolver_as_none() {
        let keys = PerUser::new();
        let mut scratch = [0u8; 256];
        let token = sign(HS, "not json", &ALICE);
        let result = verify(token.as_bytes(), &keys, &Validation::new(), 0, &mut scratch);
        assert_eq!(result.unwrap_err(), JwtError::Malformed);
        assert_eq!(keys.asked.get(), 0);
        let result = verify_jws(token.as_bytes(), &keys, &Validation::new(), &mut scratch);
        assert_eq!(result.unwrap_err(), JwtError::UnknownKey);
        assert_eq!(keys.asked.get(), 1);
    }

    #[test]
    fn header_only_sources_never_see_the_payload() {
        struct Spy(Key, core::cell::Cell<bool>);
        impl KeySource for Spy {
            fn select(&self, _header: &Header<'_>) -> Result<&Key, JwtError> {
                self.1.set(true);
                Ok(&self.0)
            }
        }
        let spy = Spy(
            Key::Hs256(Hs256Secret::new(&ALICE).unwrap()),
            core::cell::Cell::new(false),
        );
        assert!(!spy.needs_claims());
        let token = sign(HS, r#"{"sub":"x","exp":99}"#, &ALICE);
        let mut scratch = [0u8; 256];
        let header = decode_unverified(token.as_bytes(), &Validation::new(), &mut scratch)
            .unwrap()
            .header()
            .algorithm();
        assert_eq!(header, crate::jwt::Algorithm::HS256);
        let unverified = UnverifiedToken::from_header(Header::parse(HS.as_bytes()).unwrap());
        assert!(unverified.payload().is_none() && unverified.claims().is_none());
        assert!(spy.resolve(&unverified).is_ok());
        assert!(spy.1.get());
    }

    #[test]
    fn decode_unverified_reads_claims_without_checking_the_signature() {
        let token = sign(
            HS,
            r#"{"sub":"mallory","exp":1}"#,
            b"not the right secret at all....",
        );
        let mut scratch = [0u8; 256];
        let unverified =
            decode_unverified(token.as_bytes(), &Validation::new(), &mut scratch).unwrap();
        assert!(
            unverified
                .claims()
                .and_then(Claims::sub)
                .is_some_and(|s| s == "mallory")
        );
        assert_eq!(
            decode_unverified(b"a.b", &Validation::new(), &mut scratch).unwrap_err(),
            JwtError::Malformed
        );
        let short = Validation::new().max_token_len(8);
        assert_eq!(
            decode_unverified(token.as_bytes(), &short, &mut scratch).unwrap_err(),
            JwtError::TokenTooLarge
        );
    }
}
