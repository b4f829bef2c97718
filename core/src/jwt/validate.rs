//! What a token must satisfy besides its signature: the [`Validation`] rules.
//!
//! Defaults (see [`Validation::new`]): tokens up to 8 KiB, `exp` required, 60 s leeway
//! (as the `jsonwebtoken` crate), `typ` optional but, when present, `JWT` or `at+jwt`.
//! Issuer and audience checks are off until configured, except that a token carrying
//! `aud` is refused when no audience is configured (RFC 7519 §4.1.3: a recipient that
//! does not identify itself with a value in `aud` must reject the token; `jsonwebtoken`
//! and PyJWT do the same).
//!
//! Times are compared exactly, also for fractional NumericDates: with leeway `L`, a
//! token is expired once `now ≥ exp + L`, not yet valid while `now + L < nbf`, issued in
//! the future when `iat > now + L`, and too old when `now > iat + max_age + L`.

use super::claims::{Claim, ClaimSet, Claims};
use super::error::JwtError;
use super::header::{self, Header};

/// Default for [`Validation::max_token_len`]: 8 KiB.
pub const DEFAULT_MAX_TOKEN_LEN: usize = 8 * 1024;

/// Default for [`Validation::leeway`]: 60 seconds.
pub const DEFAULT_LEEWAY: u64 = 60;

/// Default for [`Validation::accepted_types`]: `JWT` and `at+jwt` (RFC 9068).
pub const DEFAULT_TYPES: &[&str] = &["JWT", "at+jwt"];

/// Token validation rules, built with `const` builder methods so a configuration can
/// live in a `static`.
///
/// ```
/// use tollgate::jwt::{claims::Claim, validate::Validation};
///
/// static RULES: Validation<'static> = Validation::new()
///     .issuers(&["https://issuer.example"])
///     .audiences(&["my-api"])
///     .require(Claim::Sub)
///     .leeway(30);
/// assert_eq!(RULES.leeway_secs(), 30);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Validation<'a> {
    max_token_len: usize,
    leeway: u64,
    max_age: Option<u64>,
    required: ClaimSet,
    issuers: &'a [&'a str],
    audiences: &'a [&'a str],
    types: &'a [&'a str],
    require_type: bool,
}

impl Default for Validation<'_> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'a> Validation<'a> {
    /// The defaults: 8 KiB tokens, `exp` required, 60 s leeway, any issuer, no
    /// audience, `typ` optional and `JWT` or `at+jwt` when present, no maximum age.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            max_token_len: DEFAULT_MAX_TOKEN_LEN,
            leeway: DEFAULT_LEEWAY,
            max_age: None,
            required: ClaimSet::EMPTY.with(Claim::Exp),
            issuers: &[],
            audiences: &[],
            types: DEFAULT_TYPES,
            require_type: false,
        }
    }

    /// Tokens longer than `len` bytes are refused with [`JwtError::TokenTooLarge`] before
    /// anything is decoded.
    #[must_use]
    pub const fn max_token_len(mut self, len: usize) -> Self {
        self.max_token_len = len;
        self
    }

    /// Clock skew tolerated on `exp`, `nbf`, `iat` and the maximum age, in seconds.
    #[must_use]
    pub const fn leeway(mut self, secs: u64) -> Self {
        self.leeway = secs;
        self
    }

    /// Refuse tokens issued more than `secs` ago ([`JwtError::TooOld`]); makes `iat`
    /// required.
    #[must_use]
    pub const fn max_age(mut self, secs: u64) -> Self {
        self.max_age = Some(secs);
        self
    }

    /// Adds `claim` to the required claims.
    #[must_use]
    pub const fn require(mut self, claim: Claim) -> Self {
        self.required = self.required.with(claim);
        self
    }

    /// Replaces the required claims (the default is `exp` alone).
    #[must_use]
    pub const fn required_claims(mut self, claims: ClaimSet) -> Self {
        self.required = claims;
        self
    }

    /// Accept only these issuers (`iss` becomes required). Empty: any issuer.
    #[must_use]
    pub const fn issuers(mut self, issuers: &'a [&'a str]) -> Self {
        self.issuers = issuers;
        self
    }

    /// Accept tokens whose `aud` names at least one of these (`aud` becomes required).
    /// Empty: only tokens without `aud`.
    #[must_use]
    pub const fn audiences(mut self, audiences: &'a [&'a str]) -> Self {
        self.audiences = audiences;
        self
    }

    /// The accepted header `typ` values, compared as media types (case-insensitive,
    /// optional `application/` prefix). Empty: any `typ`.
    #[must_use]
    pub const fn accepted_types(mut self, types: &'a [&'a str]) -> Self {
        self.types = types;
        self
    }

    /// Whether a header without `typ` is refused ([`JwtError::InvalidType`]).
    #[must_use]
    pub const fn require_type(mut self, required: bool) -> Self {
        self.require_type = required;
        self
    }

    /// The maximum token length in bytes.
    #[must_use]
    pub const fn max_token_len_bytes(&self) -> usize {
        self.max_token_len
    }

    /// The leeway in seconds.
    #[must_use]
    pub const fn leeway_secs(&self) -> u64 {
        self.leeway
    }

    /// The maximum age in seconds, if any.
    #[must_use]
    pub const fn max_age_secs(&self) -> Option<u64> {
        self.max_age
    }

    /// The claims that must be present (configured issuers, audiences and maximum age
    /// add `iss`, `aud` and `iat`).
    #[must_use]
    pub const fn required(&self) -> ClaimSet {
        let mut set = self.required;
        if !self.issuers.is_empty() {
            set = set.with(Claim::Iss);
        }
        if !self.audiences.is_empty() {
            set = set.with(Claim::Aud);
        }
        if self.max_age.is_some() {
            set = set.with(Claim::Iat);
        }
        set
    }

    /// Checks the header's `typ` against the accepted types.
    ///
    /// # Errors
    /// [`JwtError::InvalidType`] when `typ` is present and not accepted, or absent while
    /// required.
    pub fn validate_header(&self, header: &Header<'_>) -> Result<(), JwtError> {
        match header.typ() {
            None if self.require_type => Err(JwtError::InvalidType),
            None => Ok(()),
            Some(_) if self.types.is_empty() => Ok(()),
            Some(typ) if header::typ_matches(typ, self.types) => Ok(()),
            Some(_) => Err(JwtError::InvalidType),
        }
    }

    /// Checks the registered claims at time `now` (Unix seconds).
    ///
    /// # Errors
    /// In this order: [`JwtError::MissingClaim`], [`JwtError::Expired`],
    /// [`JwtError::NotYetValid`], [`JwtError::IssuedInFuture`], [`JwtError::TooOld`],
    /// [`JwtError::InvalidIssuer`], [`JwtError::InvalidAudience`].
    pub fn validate_claims(&self, claims: &Claims<'_>, now: u64) -> Result<(), JwtError> {
        if self.required().iter().any(|claim| !claims.has(claim)) {
            return Err(JwtError::MissingClaim);
        }
        let now = i128::from(now);
        let leeway = i128::from(self.leeway);
        if let Some(exp) = claims.exp()
            && now >= i128::from(exp.ceil()) + leeway
        {
            return Err(JwtError::Expired);
        }
        if let Some(nbf) = claims.nbf()
            && now + leeway < i128::from(nbf.ceil())
        {
            return Err(JwtError::NotYetValid);
        }
        if let Some(iat) = claims.iat() {
            if i128::from(iat.ceil()) > now + leeway {
                return Err(JwtError::IssuedInFuture);
            }
            if let Some(max_age) = self.max_age
                && now > i128::from(iat.floor()) + i128::from(max_age) + leeway
            {
                return Err(JwtError::TooOld);
            }
        }
        if !self.issuers.is_empty() {
            let accepted = claims
                .iss()
                .is_some_and(|iss| self.issuers.iter().any(|want| iss == *want));
            if !accepted {
                return Err(JwtError::InvalidIssuer);
            }
        }
        if let Some(aud) = claims.aud()
            && !self.audiences.iter().any(|want| aud.contains(want))
        {
            return Err(JwtError::InvalidAudience);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_700_000_000;

    fn check(rules: &Validation<'_>, json: &str) -> Result<(), JwtError> {
        rules.validate_claims(&Claims::parse(json.as_bytes()).unwrap(), NOW)
    }

    #[test]
    fn exp_required_by_default() {
        assert_eq!(check(&Validation::new(), "{}"), Err(JwtError::MissingClaim));
        let none = Validation::new().required_claims(ClaimSet::EMPTY);
        assert_eq!(check(&none, "{}"), Ok(()));
    }

    #[test]
    fn exp_boundary_with_leeway() {
        let strict = Validation::new().leeway(0);
        assert_eq!(check(&strict, r#"{"exp":1700000001}"#), Ok(()));
        assert_eq!(
            check(&strict, r#"{"exp":1700000000}"#),
            Err(JwtError::Expired)
        );
        assert_eq!(check(&strict, r#"{"exp":1700000000.5}"#), Ok(()));
        assert_eq!(
            check(&strict, r#"{"exp":1699999999.5}"#),
            Err(JwtError::Expired)
        );
        let lenient = Validation::new();
        assert_eq!(check(&lenient, r#"{"exp":1699999941}"#), Ok(()));
        assert_eq!(
            check(&lenient, r#"{"exp":1699999940}"#),
            Err(JwtError::Expired)
        );
        assert_eq!(check(&lenient, r#"{"exp":-1e300}"#), Err(JwtError::Expired));
        assert_eq!(check(&lenient, r#"{"exp":1e300}"#), Ok(()));
    }

    #[test]
    fn nbf_boundary_with_leeway() {
        let rules = Validation::new()
            .required_claims(ClaimSet::EMPTY)
            .leeway(10);
        assert_eq!(check(&rules, r#"{"nbf":1700000010}"#), Ok(()));
        assert_eq!(
            check(&rules, r#"{"nbf":1700000010.5}"#),
            Err(JwtError::NotYetValid)
        );
        assert_eq!(
            check(&rules, r#"{"nbf":1700000011}"#),
            Err(JwtError::NotYetValid)
        );
    }

    #[test]
    fn iat_in_future_beyond_leeway() {
        let rules = Validation::new().required_claims(ClaimSet::EMPTY).leeway(5);
        assert_eq!(check(&rules, r#"{"iat":1700000005}"#), Ok(()));
        assert_eq!(
            check(&rules, r#"{"iat":1700000005.1}"#),
            Err(JwtError::IssuedInFuture)
        );
    }

    #[test]
    fn max_age_from_iat() {
        let rules = Validation::new()
            .required_claims(ClaimSet::EMPTY)
            .leeway(0)
            .max_age(100);
        assert_eq!(check(&rules, r#"{"iat":1699999900}"#), Ok(()));
        assert_eq!(check(&rules, r#"{"iat":1699999900.5}"#), Ok(()));
        assert_eq!(
            check(&rules, r#"{"iat":1699999899.5}"#),
            Err(JwtError::TooOld)
        );
        assert_eq!(
            check(&rules, r#"{"iat":1699999899}"#),
            Err(JwtError::TooOld)
        );
        assert_eq!(check(&rules, "{}"), Err(JwtError::MissingClaim));
    }

    #[test]
    fn issuer_set() {
        let rules = Validation::new()
            .required_claims(ClaimSet::EMPTY)
            .issuers(&["a", "b"]);
        assert_eq!(check(&rules, r#"{"iss":"b"}"#), Ok(()));
        assert_eq!(check(&rules, r#"{"iss":"\u0061"}"#), Ok(()));
        assert_eq!(
            check(&rules, r#"{"iss":"c"}"#),
            Err(JwtError::InvalidIssuer)
        );
        assert_eq!(
            check(&rules, r#"{"iss":"A"}"#),
            Err(JwtError::InvalidIssuer)
        );
        assert_eq!(check(&rules, "{}"), Err(JwtError::MissingClaim));
    }

    #[test]
    fn audience_string_or_array() {
        let rules = Validation::new()
            .required_claims(ClaimSet::EMPTY)
            .audiences(&["api", "web"]);
        assert_eq!(check(&rules, r#"{"aud":"web"}"#), Ok(()));
        assert_eq!(check(&rules, r#"{"aud":["x","api"]}"#), Ok(()));
        assert_eq!(
            check(&rules, r#"{"aud":["x"]}"#),
            Err(JwtError::InvalidAudience)
        );
        assert_eq!(
            check(&rules, r#"{"aud":[]}"#),
            Err(JwtError::InvalidAudience)
        );
        assert_eq!(
            check(&rules, r#"{"aud":"API"}"#),
            Err(JwtError::InvalidAudience)
        );
        assert_eq!(check(&rules, "{}"), Err(JwtError::MissingClaim));
    }

    #[test]
    fn audience_present_but_none_configured_is_refused() {
        let rules = Validation::new().required_claims(ClaimSet::EMPTY);
        assert_eq!(
            check(&rules, r#"{"aud":"api"}"#),
            Err(JwtError::InvalidAudience)
        );
    }

    #[test]
    fn required_claims_list() {
        let rules = Validation::new()
            .required_claims(ClaimSet::EMPTY)
            .require(Claim::Sub)
            .require(Claim::Jti)
            .require(Claim::Nbf);
        assert_eq!(check(&rules, r#"{"sub":"s","jti":"j","nbf":1}"#), Ok(()));
        assert_eq!(
            check(&rules, r#"{"sub":"s","nbf":1}"#),
            Err(JwtError::MissingClaim)
        );
        assert_eq!(rules.required().iter().count(), 3);
    }

    #[test]
    fn header_typ_rules() {
        let h = |json: &'static str| Header::parse(json.as_bytes()).unwrap();
        let default = Validation::new();
        assert_eq!(default.validate_header(&h(r#"{"alg":"HS256"}"#)), Ok(()));
        assert_eq!(
            default.validate_header(&h(r#"{"alg":"HS256","typ":"at+jwt"}"#)),
            Ok(())
        );
        assert_eq!(
            default.validate_header(&h(r#"{"alg":"HS256","typ":"JOSE"}"#)),
            Err(JwtError::InvalidType)
        );
        let required = Validation::new().require_type(true);
        assert_eq!(
            required.validate_header(&h(r#"{"alg":"HS256"}"#)),
            Err(JwtError::InvalidType)
        );
        let custom = Validation::new().accepted_types(&["dpop+jwt"]);
        assert_eq!(
            custom.validate_header(&h(r#"{"alg":"HS256","typ":"JWT"}"#)),
            Err(JwtError::InvalidType)
        );
        let any = Validation::new().accepted_types(&[]);
        assert_eq!(
            any.validate_header(&h(r#"{"alg":"HS256","typ":"x/y"}"#)),
            Ok(())
        );
    }
}
