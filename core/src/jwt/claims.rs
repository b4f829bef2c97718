//! Registered JWT claims (RFC 7519 §4.1), borrowed from the decoded payload.
//!
//! Only the registered claims are read here; custom claims are deserialized by the
//! caller with [`VerifiedToken::claims`](super::token::VerifiedToken::claims).

use super::error::JwtError;
use super::json::{self, JsonArray, JsonNumber, JsonStr, Value};

/// A NumericDate (RFC 7519 §2): seconds since the Unix epoch, integer or fractional.
///
/// Kept as its floor plus whether a fraction was present, which is exact for every
/// comparison against whole-second `now` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct NumericDate {
    floor: i64,
    fractional: bool,
}

impl NumericDate {
    /// A whole-second date.
    #[must_use]
    pub const fn from_secs(secs: i64) -> Self {
        Self {
            floor: secs,
            fractional: false,
        }
    }

    fn from_json(number: JsonNumber<'_>) -> Self {
        let (floor, fractional) = number.to_floor_and_fraction();
        Self { floor, fractional }
    }

    /// The largest whole second not after this date.
    #[must_use]
    pub const fn floor(&self) -> i64 {
        self.floor
    }

    /// The smallest whole second not before this date.
    #[must_use]
    pub const fn ceil(&self) -> i64 {
        if self.fractional {
            self.floor.saturating_add(1)
        } else {
            self.floor
        }
    }

    /// Whether the JSON value had a non-zero fractional part.
    #[must_use]
    pub const fn is_fractional(&self) -> bool {
        self.fractional
    }
}

/// The `aud` claim: one string or an array of strings.
#[derive(Clone, Copy, Debug)]
pub enum Audience<'a> {
    /// `"aud": "x"`
    One(JsonStr<'a>),
    /// `"aud": ["x", "y"]` (every element checked to be a string when parsed).
    Many(JsonArray<'a>),
}

impl<'a> Audience<'a> {
    /// The audiences in order.
    pub fn iter(&self) -> impl Iterator<Item = JsonStr<'a>> + 'a {
        let (one, many) = match *self {
            Self::One(s) => (Some(s), None),
            Self::Many(array) => (None, Some(array.iter())),
        };
        one.into_iter()
            .chain(many.into_iter().flatten().filter_map(|v| match v {
                Value::String(s) => Some(s),
                _ => None,
            }))
    }

    /// Whether `audience` is one of them.
    #[must_use]
    pub fn contains(&self, audience: &str) -> bool {
        self.iter().any(|aud| aud == audience)
    }
}

/// The registered claims of a JWT payload, borrowed from the decoded payload.
#[derive(Clone, Copy, Debug)]
pub struct Claims<'a> {
    exp: Option<NumericDate>,
    nbf: Option<NumericDate>,
    iat: Option<NumericDate>,
    iss: Option<JsonStr<'a>>,
    sub: Option<JsonStr<'a>>,
    jti: Option<JsonStr<'a>>,
    aud: Option<Audience<'a>>,
    json: &'a str,
}

impl<'a> Claims<'a> {
    /// Parses the decoded payload JSON and type-checks the registered claims.
    ///
    /// # Errors
    /// - [`JwtError::Malformed`]: not a single JSON object (duplicate members, invalid
    ///   UTF-8, trailing data, …).
    /// - [`JwtError::InvalidClaim`]: `exp`/`nbf`/`iat` not numbers, `iss`/`sub`/`jti` not
    ///   strings, `aud` neither a string nor an array of strings.
    pub fn parse(json: &'a [u8]) -> Result<Self, JwtError> {
        let mut raw: [Option<Value<'a>>; 7] = [None; 7];
        let text = json::parse_object(json, |name, value| {
            // Byte patterns compile to a length test and a few byte compares.
            let index = match name.as_str().map(str::as_bytes) {
                Some(b"exp") => Some(0),
                Some(b"nbf") => Some(1),
                Some(b"iat") => Some(2),
                Some(b"iss") => Some(3),
                Some(b"sub") => Some(4),
                Some(b"jti") => Some(5),
                Some(b"aud") => Some(6),
                Some(_) => None,
                None => json::name_index(name, &NAMES),
            };
            if let Some(slot) = index.and_then(|i| raw.get_mut(i)) {
                *slot = Some(value);
            }
        })
        .map_err(|_| JwtError::Malformed)?;
        let [exp, nbf, iat, iss, sub, jti, aud] = raw;
        Ok(Self {
            exp: date(exp)?,
            nbf: date(nbf)?,
            iat: date(iat)?,
            iss: string(iss)?,
            sub: string(sub)?,
            jti: string(jti)?,
            aud: audience(aud)?,
            json: text,
        })
    }

    /// `exp`: the expiration time.
    #[must_use]
    pub const fn exp(&self) -> Option<NumericDate> {
        self.exp
    }

    /// `nbf`: the time before which the token must not be accepted.
    #[must_use]
    pub const fn nbf(&self) -> Option<NumericDate> {
        self.nbf
    }

    /// `iat`: the issue time.
    #[must_use]
    pub const fn iat(&self) -> Option<NumericDate> {
        self.iat
    }

    /// `iss`: the issuer.
    #[must_use]
    pub const fn iss(&self) -> Option<JsonStr<'a>> {
        self.iss
    }

    /// `sub`: the subject.
    #[must_use]
    pub const fn sub(&self) -> Option<JsonStr<'a>> {
        self.sub
    }

    /// `jti`: the token ID.
    #[must_use]
    pub const fn jti(&self) -> Option<JsonStr<'a>> {
        self.jti
    }

    /// `aud`: the audience(s).
    #[must_use]
    pub const fn aud(&self) -> Option<Audience<'a>> {
        self.aud
    }

    /// The decoded payload JSON.
    #[must_use]
    pub const fn json(&self) -> &'a str {
        self.json
    }

    /// Whether `claim` is present.
    #[must_use]
    pub const fn has(&self, claim: Claim) -> bool {
        match claim {
            Claim::Exp => self.exp.is_some(),
            Claim::Nbf => self.nbf.is_some(),
            Claim::Iat => self.iat.is_some(),
            Claim::Iss => self.iss.is_some(),
            Claim::Sub => self.sub.is_some(),
            Claim::Aud => self.aud.is_some(),
            Claim::Jti => self.jti.is_some(),
        }
    }
}

/// Member names in the order of `Claims::parse`'s slots.
const NAMES: [&str; 7] = ["exp", "nbf", "iat", "iss", "sub", "jti", "aud"];

fn date(value: Option<Value<'_>>) -> Result<Option<NumericDate>, JwtError> {
    match value {
        None => Ok(None),
        Some(Value::Number(n)) => Ok(Some(NumericDate::from_json(n))),
        Some(_) => Err(JwtError::InvalidClaim),
    }
}

fn string(value: Option<Value<'_>>) -> Result<Option<JsonStr<'_>>, JwtError> {
    match value {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(JwtError::InvalidClaim),
    }
}

fn audience(value: Option<Value<'_>>) -> Result<Option<Audience<'_>>, JwtError> {
    match value {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(Audience::One(s))),
        Some(Value::Array(array)) => {
            if array.iter().all(|v| matches!(v, Value::String(_))) {
                Ok(Some(Audience::Many(array)))
            } else {
                Err(JwtError::InvalidClaim)
            }
        }
        Some(_) => Err(JwtError::InvalidClaim),
    }
}

/// A registered claim name, for [`ClaimSet`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Claim {
    /// `exp`
    Exp,
    /// `nbf`
    Nbf,
    /// `iat`
    Iat,
    /// `iss`
    Iss,
    /// `sub`
    Sub,
    /// `aud`
    Aud,
    /// `jti`
    Jti,
}

impl Claim {
    /// Every registered claim tollgate knows.
    pub const ALL: [Claim; 7] = [
        Claim::Exp,
        Claim::Nbf,
        Claim::Iat,
        Claim::Iss,
        Claim::Sub,
        Claim::Aud,
        Claim::Jti,
    ];

    /// The JSON member name.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Exp => "exp",
            Self::Nbf => "nbf",
            Self::Iat => "iat",
            Self::Iss => "iss",
            Self::Sub => "sub",
            Self::Aud => "aud",
            Self::Jti => "jti",
        }
    }

    /// The claim with JSON member name `name`, if it is a registered one.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }

    const fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// A set of registered claims (for the required-claims list).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ClaimSet(u8);

impl ClaimSet {
    /// No claims.
    pub const EMPTY: Self = Self(0);

    /// The set plus `claim`.
    #[must_use]
    pub const fn with(self, claim: Claim) -> Self {
        Self(self.0 | claim.bit())
    }

    /// The set minus `claim`.
    #[must_use]
    pub const fn without(self, claim: Claim) -> Self {
        Self(self.0 & !claim.bit())
    }

    /// Whether `claim` is in the set.
    #[must_use]
    pub const fn contains(self, claim: Claim) -> bool {
        self.0 & claim.bit() != 0
    }

    /// The claims in the set.
    pub fn iter(self) -> impl Iterator<Item = Claim> {
        Claim::ALL.into_iter().filter(move |c| self.contains(*c))
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    fn parse(json: &str) -> Result<Claims<'_>, JwtError> {
        Claims::parse(json.as_bytes())
    }

    #[test]
    fn registered_claims_read_and_borrowed() {
        let c = parse(r#"{"iss":"me","sub":"u1","jti":"j","aud":"a","exp":10,"nbf":5.5,"iat":1e1,"x":{"y":1}}"#)
            .unwrap();
        assert_eq!(c.iss().unwrap().as_str(), Some("me"));
        assert!(c.sub().unwrap() == "u1");
        assert!(c.jti().unwrap() == "j");
        assert!(c.aud().unwrap().contains("a"));
        assert_eq!(c.exp(), Some(NumericDate::from_secs(10)));
        assert_eq!(c.nbf().unwrap().floor(), 5);
        assert_eq!(c.nbf().unwrap().ceil(), 6);
        assert_eq!(c.iat(), Some(NumericDate::from_secs(10)));
        assert!(c.has(Claim::Exp) && !parse("{}").unwrap().has(Claim::Exp));
    }

    #[test]
    fn audience_array_iterates_strings() {
        let c = parse(r#"{"aud":["a","b\u0063"]}"#).unwrap();
        let aud = c.aud().unwrap();
        assert!(aud.contains("bc") && aud.contains("a") && !aud.contains("c"));
        assert_eq!(aud.iter().count(), 2);
        assert_eq!(
            parse(r#"{"aud":[]}"#)
                .unwrap()
                .aud()
                .unwrap()
                .iter()
                .count(),
            0
        );
    }

    #[test]
    fn wrong_claim_types_are_invalid_claim() {
        for json in [
            r#"{"exp":"10"}"#,
            r#"{"exp":true}"#,
            r#"{"exp":null}"#,
            r#"{"nbf":[1]}"#,
            r#"{"iat":{}}"#,
            r#"{"iss":1}"#,
            r#"{"sub":null}"#,
            r#"{"jti":false}"#,
            r#"{"aud":1}"#,
            r#"{"aud":["a",1]}"#,
            r#"{"aud":[["a"]]}"#,
        ] {
            assert_eq!(parse(json).unwrap_err(), JwtError::InvalidClaim, "{json}");
        }
    }

    #[test]
    fn malformed_payloads_rejected() {
        for json in [
            "",
            "[]",
            r#"{"exp":1,"exp":2}"#,
            r#"{"a":1} x"#,
            "\u{feff}{}",
        ] {
            assert_eq!(parse(json).unwrap_err(), JwtError::Malformed, "{json:?}");
        }
    }

    #[test]
    fn escaped_claim_names_are_recognised() {
        assert_eq!(
            parse(r#"{"\u0065xp":"x"}"#).unwrap_err(),
            JwtError::InvalidClaim
        );
        assert_eq!(
            parse(r#"{"exp":1,"\u0065xp":2}"#).unwrap_err(),
            JwtError::Malformed
        );
    }

    #[test]
    fn claim_set_operations() {
        let set = ClaimSet::EMPTY
            .with(Claim::Exp)
            .with(Claim::Aud)
            .without(Claim::Exp);
        assert_eq!(set.iter().collect::<Vec<_>>(), [Claim::Aud]);
        assert_eq!(Claim::from_name("jti"), Some(Claim::Jti));
        assert_eq!(Claim::from_name("foo"), None);
    }
}
