//! Key parsing: DER, PEM, JWK, JWK Set and the key-confusion guard.

use crate::jwt::alg::hs256::Hs256Secret;
use crate::jwt::key::looks_like_public_key;
use crate::jwt::{Jwk, JwkSet, Key, KeyError};

/// Every key parser on the same bytes: no panic, and the parsers agree with
/// `looks_like_public_key` (whatever parses as a public key is refused as an HMAC secret).
pub fn keys(data: &[u8]) {
    let der = Key::from_public_key_der(data);
    let pem = Key::from_public_key_pem(data);
    let any = Key::from_public_key(data);
    let jwk = Jwk::parse(data);
    let set = JwkSet::<4>::from_json(data);
    let looks = looks_like_public_key(data);
    let secret = Hs256Secret::new(data);

    let is_pem = data.trim_ascii_start().starts_with(b"-----BEGIN");
    let expected_any = if is_pem { &pem } else { &der };
    assert_eq!(
        any.as_ref().map(Key::algorithm).map_err(|e| *e),
        expected_any.as_ref().map(Key::algorithm).map_err(|e| *e),
        "from_public_key picks PEM or DER by the armour"
    );
    if der.is_ok() || pem.is_ok() {
        assert!(looks, "a parsed public key must be refused as a secret");
    }
    if jwk.is_ok() || set.is_ok() {
        assert!(looks, "a JWK document must be refused as a secret");
    }
    match secret {
        Ok(_) => assert!(!looks),
        Err(error) => assert!(matches!(
            error,
            KeyError::EmptySecret | KeyError::SecretLooksLikePublicKey
        )),
    }
    if let Ok(set) = &set {
        assert!(set.len() <= 4);
        assert_eq!(set.iter().count(), set.len());
        assert_eq!(set.is_empty(), set.iter().next().is_none());
    }
    // A parsed key verifies (and refuses) without panicking.
    for key in [der.ok(), pem.ok(), jwk.ok().map(Jwk::into_key)]
        .into_iter()
        .flatten()
    {
        let signature = data.get(..data.len().min(512)).unwrap_or_default();
        let _ = key.verify_signature(b"signing input", signature);
    }
}
