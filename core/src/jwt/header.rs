//! The JOSE header (RFC 7515 §4): `alg`, `kid`, `typ`, `cty`, `crit`.
//!
//! Members tollgate does not use (`jwk`, `jku`, `x5u`, `x5c`, …) are ignored: keys come
//! only from the verifier's configuration, never from the token.

use super::error::JwtError;
use super::json::{self, JsonStr, Value};
use super::key::Algorithm;

/// A parsed JOSE header, borrowing the decoded header JSON.
#[derive(Clone, Copy, Debug)]
pub struct Header<'a> {
    alg: Algorithm,
    kid: Option<JsonStr<'a>>,
    typ: Option<JsonStr<'a>>,
    cty: Option<JsonStr<'a>>,
    json: &'a str,
}

impl<'a> Header<'a> {
    /// Parses the decoded header JSON.
    ///
    /// # Errors
    /// - [`JwtError::Malformed`]: not a JSON object, duplicate members, `alg` absent or
    ///   not a string, `kid`/`cty` not strings, `crit` not an array.
    /// - [`JwtError::UnsupportedAlgorithm`]: `alg` is not `HS256`, `ES256` or `RS256`
    ///   (compared exactly, so every spelling of `none` lands here).
    /// - [`JwtError::UnsupportedCriticalHeader`]: `crit` is present (tollgate implements
    ///   no extensions, and RFC 7515 §4.1.11 forbids an empty list).
    /// - [`JwtError::InvalidType`]: `typ` is not a string.
    pub fn parse(json: &'a [u8]) -> Result<Self, JwtError> {
        let mut alg = None;
        let mut kid = None;
        let mut typ = None;
        let mut cty = None;
        let mut crit = None;
        let text = json::parse_object(json, |name, value| match name.raw() {
            "alg" => alg = Some(value),
            "kid" => kid = Some(value),
            "typ" => typ = Some(value),
            "cty" => cty = Some(value),
            "crit" => crit = Some(value),
            // Escaped spellings of the names we read must not slip past as "unknown".
            _ if name.has_escapes() => match () {
                () if name == "alg" => alg = Some(value),
                () if name == "kid" => kid = Some(value),
                () if name == "typ" => typ = Some(value),
                () if name == "cty" => cty = Some(value),
                () if name == "crit" => crit = Some(value),
                () => {}
            },
            _ => {}
        })
        .map_err(|_| JwtError::Malformed)?;

        let alg = match alg {
            Some(Value::String(name)) => algorithm_from_json(name)?,
            _ => return Err(JwtError::Malformed),
        };
        match crit {
            None => {}
            Some(Value::Array(_)) => return Err(JwtError::UnsupportedCriticalHeader),
            Some(_) => return Err(JwtError::Malformed),
        }
        let kid = optional_string(kid).ok_or(JwtError::Malformed)?;
        let cty = optional_string(cty).ok_or(JwtError::Malformed)?;
        let typ = optional_string(typ).ok_or(JwtError::InvalidType)?;
        Ok(Self {
            alg,
            kid,
            typ,
            cty,
            json: text,
        })
    }

    /// The algorithm the token claims (the key must agree).
    #[must_use]
    pub const fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// The key ID, if any.
    #[must_use]
    pub const fn kid(&self) -> Option<JsonStr<'a>> {
        self.kid
    }

    /// The media type of the whole token (`typ`), if any.
    #[must_use]
    pub const fn typ(&self) -> Option<JsonStr<'a>> {
        self.typ
    }

    /// The media type of the payload (`cty`), if any.
    #[must_use]
    pub const fn content_type(&self) -> Option<JsonStr<'a>> {
        self.cty
    }

    /// The decoded header JSON.
    #[must_use]
    pub const fn json(&self) -> &'a str {
        self.json
    }
}

/// `Some(None)` when absent, `Some(Some(s))` for a string, `None` for any other type.
fn optional_string(value: Option<Value<'_>>) -> Option<Option<JsonStr<'_>>> {
    match value {
        None => Some(None),
        Some(Value::String(s)) => Some(Some(s)),
        Some(_) => None,
    }
}

fn algorithm_from_json(name: JsonStr<'_>) -> Result<Algorithm, JwtError> {
    match name.as_str() {
        Some(plain) => Algorithm::from_name(plain),
        None => [Algorithm::HS256, Algorithm::ES256, Algorithm::RS256]
            .into_iter()
            .find(|alg| name == alg.name())
            .ok_or(JwtError::UnsupportedAlgorithm),
    }
}

/// Whether `typ` names one of `accepted`, per RFC 7515 §4.1.9: media types compare
/// case-insensitively and a value without `/` means `application/<value>`.
pub(crate) fn typ_matches(typ: JsonStr<'_>, accepted: &[&str]) -> bool {
    // An escaped `typ` is unescaped on the stack; one too long to match anything sane
    // is simply not accepted.
    let mut buf = [0u8; MAX_ESCAPED_TYP];
    let Some(plain) = typ.as_str().or_else(|| typ.unescape_into(&mut buf).ok()) else {
        return false;
    };
    let subtype = strip_application(plain);
    !subtype.contains('/')
        && accepted
            .iter()
            .any(|want| strip_application(want).eq_ignore_ascii_case(subtype))
}

/// Longest escaped `typ` value compared.
const MAX_ESCAPED_TYP: usize = 64;

/// `media_type` without a leading, case-insensitive `application/`.
fn strip_application(media_type: &str) -> &str {
    const PREFIX: &str = "application/";
    match media_type.get(..PREFIX.len()) {
        Some(head) if head.eq_ignore_ascii_case(PREFIX) => {
            media_type.get(PREFIX.len()..).unwrap_or("")
        }
        _ => media_type,
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::format;

    fn parse(json: &str) -> Result<Header<'_>, JwtError> {
        Header::parse(json.as_bytes())
    }

    fn typ_of(json: &str) -> JsonStr<'_> {
        parse(json).unwrap().typ().unwrap()
    }

    #[test]
    fn reads_alg_kid_typ_cty() {
        let h = parse(r#"{"alg":"HS256","kid":"k1","typ":"JWT","cty":"x","jwk":{"kty":"oct"}}"#)
            .unwrap();
        assert_eq!(h.algorithm(), Algorithm::HS256);
        assert!(h.kid().unwrap() == "k1");
        assert!(h.typ().unwrap() == "JWT");
        assert!(h.content_type().unwrap() == "x");
    }

    #[test]
    fn none_in_any_spelling_is_unsupported() {
        for alg in [
            "none", "None", "NONE", "nOnE", "hs256", "HS384", "PS256", "", "HS256 ",
        ] {
            let json = format!(r#"{{"alg":"{alg}"}}"#);
            assert_eq!(
                parse(&json).unwrap_err(),
                JwtError::UnsupportedAlgorithm,
                "{alg}"
            );
        }
    }

    #[test]
    fn escaped_alg_is_unescaped_before_matching() {
        assert_eq!(
            parse(r#"{"alg":"HS\u0032\u00356"}"#).unwrap().algorithm(),
            Algorithm::HS256
        );
        assert_eq!(
            parse(r#"{"alg":"n\u006fne"}"#).unwrap_err(),
            JwtError::UnsupportedAlgorithm
        );
    }

    #[test]
    fn escaped_member_names_are_recognised() {
        assert_eq!(
            parse(r#"{"alg":"HS256","\u0063rit":["b64"]}"#).unwrap_err(),
            JwtError::UnsupportedCriticalHeader
        );
        assert_eq!(
            parse(r#"{"alg":"HS256","\u0061lg":"none"}"#).unwrap_err(),
            JwtError::Malformed
        );
    }

    #[test]
    fn alg_missing_or_not_a_string_is_malformed() {
        assert_eq!(parse(r#"{"typ":"JWT"}"#).unwrap_err(), JwtError::Malformed);
        assert_eq!(parse(r#"{"alg":256}"#).unwrap_err(), JwtError::Malformed);
        assert_eq!(parse(r#"{"alg":null}"#).unwrap_err(), JwtError::Malformed);
    }

    #[test]
    fn crit_variants_rejected() {
        assert_eq!(
            parse(r#"{"alg":"HS256","crit":["exp"]}"#).unwrap_err(),
            JwtError::UnsupportedCriticalHeader
        );
        assert_eq!(
            parse(r#"{"alg":"HS256","crit":[]}"#).unwrap_err(),
            JwtError::UnsupportedCriticalHeader
        );
        assert_eq!(
            parse(r#"{"alg":"HS256","crit":"exp"}"#).unwrap_err(),
            JwtError::Malformed
        );
        assert_eq!(
            parse(r#"{"alg":"HS256","crit":null}"#).unwrap_err(),
            JwtError::Malformed
        );
    }

    #[test]
    fn wrong_member_types_rejected() {
        assert_eq!(
            parse(r#"{"alg":"HS256","kid":1}"#).unwrap_err(),
            JwtError::Malformed
        );
        assert_eq!(
            parse(r#"{"alg":"HS256","typ":1}"#).unwrap_err(),
            JwtError::InvalidType
        );
    }

    #[test]
    fn duplicate_members_rejected() {
        assert_eq!(
            parse(r#"{"alg":"HS256","alg":"HS256"}"#).unwrap_err(),
            JwtError::Malformed
        );
    }

    #[test]
    fn typ_comparison_follows_rfc7515() {
        let accepted = ["JWT", "at+jwt"];
        for ok in [
            "JWT",
            "jwt",
            "application/jwt",
            "Application/JWT",
            "at+JWT",
            "application/at+jwt",
        ] {
            let json = format!(r#"{{"alg":"HS256","typ":"{ok}"}}"#);
            assert!(typ_matches(typ_of(&json), &accepted), "{ok}");
        }
        for bad in [
            "",
            "JWS",
            "text/jwt",
            "application/",
            "application/x/jwt",
            "jwt+at",
            "JWT ",
        ] {
            let json = format!(r#"{{"alg":"HS256","typ":"{bad}"}}"#);
            assert!(!typ_matches(typ_of(&json), &accepted), "{bad}");
        }
        assert!(typ_matches(
            typ_of(r#"{"alg":"HS256","typ":"jwt"}"#),
            &["application/JWT"]
        ));
    }
}
