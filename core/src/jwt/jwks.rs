//! A JWK Set (RFC 7517 §5) in a fixed-capacity, heap-free container.
//!
//! Loading keeps every key tollgate can verify with and skips, without failing, keys it
//! cannot use (encryption keys, other key types or algorithms, invalid material): a
//! provider's set may legitimately hold those. Each kept key owns a copy of its `kid`
//! (see [`Jwk`]), so the set does not borrow the document and can outlive it.
//!
//! Two whole-set rules refuse a document outright: a set mixing symmetric (`oct`) keys
//! with entries of any other key type (a published key set holding a shared secret means the secret leaked;
//! refused as [`KeyError::Malformed`]), and more usable keys than the capacity
//! ([`KeyError::CapacityExceeded`]).
//!
//! Selection ([`KeySource`]): a token with a `kid` gets the one key with that `kid` and
//! the token's algorithm; a token without `kid` gets the only key of its algorithm.
//! No match, or several, is [`JwtError::UnknownKey`]. A `kid` shared by several entries
//! of the document (usable or not) is ambiguous: tokens naming it are refused with
//! [`JwtError::UnknownKey`] rather than guessed at. A `kid` known only for another algorithm is
//! [`JwtError::AlgorithmMismatch`].

use super::error::{JwtError, KeyError};
use super::header::Header;
use super::json::{self, JsonObject, JsonStr, Value};
use super::jwk::Jwk;
use super::key::{Algorithm, Key};
use super::token::KeySource;

/// The string value of member `name` of a validated object, if it is a string.
fn member<'a>(object: JsonObject<'a>, name: &str) -> Option<JsonStr<'a>> {
    let mut found = None;
    json::parse_object(object.raw().as_bytes(), |key, value| {
        if let Value::String(s) = value
            && key == name
        {
            found = Some(s);
        }
    })
    .ok()?;
    found
}

/// Up to `N` verification keys with their key IDs.
#[derive(Clone, Debug)]
pub struct JwkSet<const N: usize> {
    keys: [Option<Jwk>; N],
    /// Keys whose `kid` several entries of the document share.
    ambiguous: [bool; N],
    len: usize,
    skipped: usize,
}

impl<const N: usize> Default for JwkSet<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> JwkSet<N> {
    /// An empty set.
    #[must_use]
    pub fn new() -> Self {
        Self {
            keys: core::array::from_fn(|_| None),
            ambiguous: [false; N],
            len: 0,
            skipped: 0,
        }
    }

    /// Parses a JWK Set document (`{"keys":[...]}`).
    ///
    /// # Errors
    /// See [`load_json`](Self::load_json).
    pub fn from_json(json: &[u8]) -> Result<Self, KeyError> {
        let mut set = Self::new();
        set.load_json(json)?;
        Ok(set)
    }

    /// Replaces the contents with the keys of a JWK Set document, in place (large sets
    /// need not be moved on the stack). On error the set is left empty.
    ///
    /// # Errors
    /// [`KeyError::Malformed`] when the document is not a JSON object with a `keys` array
    /// of objects, or mixes `oct` with asymmetric keys; [`KeyError::CapacityExceeded`]
    /// for more than `N` usable keys.
    pub fn load_json(&mut self, json: &[u8]) -> Result<(), KeyError> {
        self.clear();
        let result = self.load_inner(json);
        if result.is_err() {
            self.clear();
        }
        result
    }

    fn load_inner(&mut self, json: &[u8]) -> Result<(), KeyError> {
        let mut keys = None;
        json::parse_object(json, |name, value| {
            if name == "keys" {
                keys = Some(value);
            }
        })
        .map_err(|_| KeyError::Malformed)?;
        let Some(Value::Array(keys)) = keys else {
            return Err(KeyError::Malformed);
        };
        let mut asymmetric = false;
        for element in keys {
            let Value::Object(object) = element else {
                return Err(KeyError::Malformed);
            };
            // Judged on every entry, usable or not: any non-`oct` entry marks a key set
            // meant for publication.
            asymmetric |= member(object, "kty").is_some_and(|kty| kty != "oct");
            match Jwk::parse(object.raw().as_bytes()) {
                Ok(jwk) => self.push(jwk)?,
                Err(_) => self.skipped += 1,
            }
        }
        if asymmetric && self.iter().any(|k| k.algorithm() == Algorithm::HS256) {
            return Err(KeyError::Malformed);
        }
        // A kid used by several entries (even unusable ones) names no key reliably.
        for (jwk, ambiguous) in self.keys.iter().zip(self.ambiguous.iter_mut()) {
            if let Some(kid) = jwk.as_ref().and_then(Jwk::kid) {
                let uses = keys
                    .iter()
                    .filter(|element| match element {
                        Value::Object(object) => member(*object, "kid").is_some_and(|k| k == kid),
                        _ => false,
                    })
                    .count();
                *ambiguous = uses > 1;
            }
        }
        Ok(())
    }

    /// Adds a key.
    ///
    /// # Errors
    /// [`KeyError::CapacityExceeded`] when the set already holds `N` keys.
    pub fn push(&mut self, jwk: Jwk) -> Result<(), KeyError> {
        let slot = self
            .keys
            .get_mut(self.len)
            .ok_or(KeyError::CapacityExceeded)?;
        *slot = Some(jwk);
        self.len += 1;
        Ok(())
    }

    /// Removes every key.
    pub fn clear(&mut self) {
        self.keys.iter_mut().for_each(|slot| *slot = None);
        self.ambiguous = [false; N];
        self.len = 0;
        self.skipped = 0;
    }

    /// The number of keys held.
    #[must_use]
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Whether the set holds no key.
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How many keys of the last loaded document were skipped as unusable.
    #[must_use]
    pub const fn skipped(&self) -> usize {
        self.skipped
    }

    /// The keys held, in document order.
    pub fn iter(&self) -> impl Iterator<Item = &Jwk> {
        self.keys.iter().filter_map(Option::as_ref)
    }
}

impl<const N: usize> KeySource for JwkSet<N> {
    fn select(&self, header: &Header<'_>) -> Result<&Key, JwtError> {
        let alg = header.algorithm();
        let mut found = None;
        let mut matches = 0usize;
        let mut other_algorithm = false;
        let entries = self.keys.iter().zip(self.ambiguous.iter());
        for (jwk, &ambiguous) in entries.filter_map(|(k, a)| Some((k.as_ref()?, a))) {
            let named = match header.kid() {
                Some(kid) => jwk.kid_matches(kid),
                None => true,
            };
            if !named {
                continue;
            }
            if ambiguous && header.kid().is_some() {
                return Err(JwtError::UnknownKey);
            }
            if jwk.algorithm() == alg {
                matches += 1;
                found = Some(jwk.key());
            } else {
                other_algorithm = true;
            }
        }
        match (matches, found) {
            (1, Some(key)) => Ok(key),
            (0, _) if other_algorithm && header.kid().is_some() => Err(JwtError::AlgorithmMismatch),
            _ => Err(JwtError::UnknownKey),
        }
    }
}

// The fixtures are `oct` keys.
#[cfg(all(test, feature = "hs256"))]
mod tests {
    extern crate std;
    use super::*;
    use std::format;

    const K1: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
    const K2: &str = "AQECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";

    fn header(json: &str) -> Header<'_> {
        Header::parse(json.as_bytes()).unwrap()
    }

    fn set(keys: &str) -> Result<JwkSet<4>, KeyError> {
        JwkSet::from_json(format!(r#"{{"keys":[{keys}]}}"#).as_bytes())
    }

    #[test]
    fn unusable_keys_skipped() {
        let s = set(&format!(
            r#"{{"kty":"oct","k":"{K1}","kid":"a"}},{{"kty":"oct","k":"{K2}","use":"enc"}},{{"kty":"oct"}},{{"kty":"oct","k":"{K2}","alg":"HS512"}}"#
        ))
        .unwrap();
        assert_eq!((s.len(), s.skipped()), (1, 3));
    }

    #[test]
    fn select_by_kid_and_alg() {
        let s = set(&format!(
            r#"{{"kty":"oct","k":"{K1}","kid":"a"}},{{"kty":"oct","k":"{K2}","kid":"b"}}"#
        ))
        .unwrap();
        assert!(s.select(&header(r#"{"alg":"HS256","kid":"b"}"#)).is_ok());
        assert_eq!(
            s.select(&header(r#"{"alg":"HS256","kid":"c"}"#))
                .unwrap_err(),
            JwtError::UnknownKey
        );
        // Two HS256 keys and no kid: ambiguous.
        assert_eq!(
            s.select(&header(r#"{"alg":"HS256"}"#)).unwrap_err(),
            JwtError::UnknownKey
        );
        assert_eq!(
            s.select(&header(r#"{"alg":"RS256","kid":"a"}"#))
                .unwrap_err(),
            JwtError::AlgorithmMismatch
        );
    }

    #[test]
    fn single_key_of_the_alg_chosen_without_kid() {
        let s = set(&format!(r#"{{"kty":"oct","k":"{K1}","kid":"a"}}"#)).unwrap();
        assert!(s.select(&header(r#"{"alg":"HS256"}"#)).is_ok());
        assert_eq!(
            s.select(&header(r#"{"alg":"ES256"}"#)).unwrap_err(),
            JwtError::UnknownKey
        );
    }

    #[test]
    fn duplicate_kid_is_ambiguous() {
        let s = set(&format!(
            r#"{{"kty":"oct","k":"{K1}","kid":"a"}},{{"kty":"oct","k":"{K2}","kid":"a"}}"#
        ))
        .unwrap();
        assert_eq!(
            s.select(&header(r#"{"alg":"HS256","kid":"a"}"#))
                .unwrap_err(),
            JwtError::UnknownKey
        );
    }

    #[test]
    fn kid_shared_with_an_unusable_entry_is_ambiguous() {
        let s = set(&format!(
            r#"{{"kty":"oct","k":"{K1}","kid":"a"}},{{"kty":"oct","k":"x","kid":"a"}}"#
        ))
        .unwrap();
        assert_eq!((s.len(), s.skipped()), (1, 1));
        assert_eq!(
            s.select(&header(r#"{"alg":"HS256","kid":"a"}"#))
                .unwrap_err(),
            JwtError::UnknownKey
        );
        assert!(s.select(&header(r#"{"alg":"HS256"}"#)).is_ok());
    }

    #[test]
    fn secret_beside_asymmetric_entries_refused() {
        let mixed = format!(
            r#"{{"kty":"oct","k":"{K1}"}},{{"kty":"RSA","use":"enc","n":"AQAB","e":"AQAB"}}"#
        );
        assert_eq!(set(&mixed).unwrap_err(), KeyError::Malformed);
    }

    #[test]
    fn escaped_kid_matches() {
        let s = set(&format!(r#"{{"kty":"oct","k":"{K1}","kid":"\u0061/b"}}"#)).unwrap();
        assert!(s.select(&header(r#"{"alg":"HS256","kid":"a\/b"}"#)).is_ok());
    }

    #[test]
    fn capacity_enforced() {
        let one = format!(r#"{{"kty":"oct","k":"{K1}"}}"#);
        let five = [one.as_str(); 5].join(",");
        assert_eq!(set(&five).unwrap_err(), KeyError::CapacityExceeded);
    }

    #[test]
    fn malformed_documents() {
        for json in [
            r#"{}"#,
            r#"{"keys":{}}"#,
            r#"{"keys":[1]}"#,
            r#"[]"#,
            r#"{"keys":[],"keys":[]}"#,
        ] {
            assert_eq!(
                JwkSet::<2>::from_json(json.as_bytes()).unwrap_err(),
                KeyError::Malformed,
                "{json}"
            );
        }
        assert!(
            JwkSet::<2>::from_json(br#"{"keys":[]}"#)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn load_failure_leaves_set_empty() {
        let mut s = set(&format!(r#"{{"kty":"oct","k":"{K1}"}}"#)).unwrap();
        assert_eq!(s.load_json(b"{}"), Err(KeyError::Malformed));
        assert!(s.is_empty());
    }
}
