//! [`StaticVerifier`]: a [`TokenVerifier`] over key material fixed at startup.

use std::fmt;
use std::future::ready;

use tollgate::auth::AuthError;
use tollgate::jwt::validate::DEFAULT_TYPES;
use tollgate::jwt::{self, Claim, ClaimSet, Jwk, JwkSet, JwtError, Key, KeySource, Validation};

use crate::handle::Identity;
use crate::verify::{TokenVerifier, VerifyFuture};

/// Verifies tokens with owned core keys (one [`Key`], a [`Jwk`] or a [`JwkSet`]) and
/// owned validation rules (the core's [`Validation`], whose lists borrow).
///
/// Defaults are the core's: `exp` required, 60 s leeway, any issuer, only tokens
/// without `aud`, `typ` absent or `JWT`/`at+jwt`, tokens up to 8 KiB.
///
/// ```
/// use tollgate::jwt::{Claim, Key, alg::hs256::Hs256Secret};
/// use tollgate_tokio::server::StaticVerifier;
///
/// let key = Key::Hs256(Hs256Secret::new(b"0123456789abcdef0123456789abcdef")?);
/// let verifier = StaticVerifier::new(key)
///     .with_issuers(["https://issuer.example"])
///     .with_audiences(["chat"])
///     .with_required(Claim::Sub)
///     .with_leeway(5);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct StaticVerifier {
    keys: Box<dyn KeySource + Send + Sync>,
    rules: Rules,
}

/// The owned counterpart of [`Validation`].
#[derive(Debug, Clone)]
struct Rules {
    max_token_len: usize,
    leeway: u64,
    max_age: Option<u64>,
    required: ClaimSet,
    issuers: Vec<String>,
    audiences: Vec<String>,
    types: Vec<String>,
    require_type: bool,
}

impl fmt::Debug for StaticVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticVerifier")
            .field("rules", &self.rules)
            .finish_non_exhaustive()
    }
}

impl StaticVerifier {
    /// Verify with one key (its algorithm is the only one accepted).
    #[must_use]
    pub fn new(key: Key) -> Self {
        Self::from_source(key)
    }

    /// Verify with one JWK (its `kid`, when set, must match the token's).
    #[must_use]
    pub fn from_jwk(jwk: Jwk) -> Self {
        Self::from_source(jwk)
    }

    /// Verify with a JWK Set: the key is chosen by the token's `kid` and `alg`.
    #[must_use]
    pub fn from_jwk_set<const N: usize>(set: JwkSet<N>) -> Self {
        Self::from_source(set)
    }

    fn from_source(keys: impl KeySource + Send + Sync + 'static) -> Self {
        let defaults = Validation::new();
        Self {
            keys: Box::new(keys),
            rules: Rules {
                max_token_len: defaults.max_token_len_bytes(),
                leeway: defaults.leeway_secs(),
                max_age: None,
                required: defaults.required(),
                issuers: Vec::new(),
                audiences: Vec::new(),
                types: DEFAULT_TYPES.iter().map(|&t| t.to_owned()).collect(),
                require_type: false,
            },
        }
    }

    /// Accept only these issuers (`iss` becomes required).
    #[must_use]
    pub fn with_issuers<I: IntoIterator<Item = S>, S: Into<String>>(mut self, issuers: I) -> Self {
        self.rules.issuers = issuers.into_iter().map(Into::into).collect();
        self
    }

    /// Accept tokens whose `aud` names one of these (`aud` becomes required).
    #[must_use]
    pub fn with_audiences<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        audiences: I,
    ) -> Self {
        self.rules.audiences = audiences.into_iter().map(Into::into).collect();
        self
    }

    /// Clock skew tolerated, in seconds; also delays the `expired` close of a live
    /// connection by as much.
    #[must_use]
    pub fn with_leeway(mut self, secs: u64) -> Self {
        self.rules.leeway = secs;
        self
    }

    /// Require `claim` in addition to `exp`.
    #[must_use]
    pub fn with_required(mut self, claim: Claim) -> Self {
        self.rules.required = self.rules.required.with(claim);
        self
    }

    /// Replace the required claims (the default is `exp` alone).
    #[must_use]
    pub fn with_required_claims(mut self, claims: ClaimSet) -> Self {
        self.rules.required = claims;
        self
    }

    /// Refuse tokens issued more than `secs` ago.
    #[must_use]
    pub fn with_max_age(mut self, secs: u64) -> Self {
        self.rules.max_age = Some(secs);
        self
    }

    /// The accepted header `typ` values (empty: any), and whether `typ` is required.
    #[must_use]
    pub fn with_types<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        types: I,
        required: bool,
    ) -> Self {
        self.rules.types = types.into_iter().map(Into::into).collect();
        self.rules.require_type = required;
        self
    }

    /// Refuse tokens longer than `bytes` before decoding them.
    #[must_use]
    pub fn with_max_token_len(mut self, bytes: usize) -> Self {
        self.rules.max_token_len = bytes;
        self
    }

    /// Verifies `token` at `now` (Unix seconds), synchronously.
    ///
    /// # Errors
    /// [`AuthError::Jwt`] with the reason the token was refused.
    pub fn verify_now(&self, token: &str, now: u64) -> Result<Identity, AuthError> {
        let rules = &self.rules;
        let issuers: Vec<&str> = rules.issuers.iter().map(String::as_str).collect();
        let audiences: Vec<&str> = rules.audiences.iter().map(String::as_str).collect();
        let types: Vec<&str> = rules.types.iter().map(String::as_str).collect();
        let mut validation = Validation::new()
            .max_token_len(rules.max_token_len)
            .leeway(rules.leeway)
            .required_claims(rules.required)
            .issuers(&issuers)
            .audiences(&audiences)
            .accepted_types(&types)
            .require_type(rules.require_type);
        if let Some(age) = rules.max_age {
            validation = validation.max_age(age);
        }
        if token.len() > rules.max_token_len {
            return Err(JwtError::TokenTooLarge.into());
        }
        let mut scratch = vec![0_u8; token.len()];
        let verified = jwt::verify(
            token.as_bytes(),
            &*self.keys,
            &validation,
            now,
            &mut scratch,
        )?;
        let header = verified.header();
        let kid = header.kid().map(|kid| kid.chars().collect::<String>());
        let claims =
            std::str::from_utf8(verified.payload()).map_err(|_| JwtError::InvalidClaims)?;
        Identity::from_claims_json(header.algorithm().name(), kid.as_deref(), claims)
            .map_err(|_| JwtError::InvalidClaims.into())
    }
}

impl TokenVerifier for StaticVerifier {
    fn verify<'a>(&'a self, token: &'a str, now: u64) -> VerifyFuture<'a> {
        Box::pin(ready(self.verify_now(token, now)))
    }

    fn leeway_secs(&self) -> u64 {
        self.rules.leeway
    }
}

#[cfg(test)]
mod tests {
    use tollgate::jwt::alg::hs256::Hs256Secret;

    use super::*;

    const NOW: u64 = 1_700_000_000;

    fn secret(byte: u8) -> Hs256Secret {
        Hs256Secret::new(&[byte; 32]).unwrap()
    }

    fn b64(bytes: &[u8]) -> String {
        let mut out = vec![0_u8; bytes.len() * 2 + 4];
        tollgate::base64url::encode(bytes, &mut out)
            .unwrap()
            .to_owned()
    }

    fn mint(signer: &Hs256Secret, header: &str, claims: &str) -> String {
        let input = format!("{}.{}", b64(header.as_bytes()), b64(claims.as_bytes()));
        format!("{input}.{}", b64(&signer.sign(input.as_bytes())))
    }

    #[test]
    fn identity_carries_header_and_every_claim() {
        let verifier = StaticVerifier::new(Key::Hs256(secret(1)));
        let token = mint(
            &secret(1),
            r#"{"alg":"HS256","kid":"k\u0031"}"#,
            r#"{"sub":"alice","exp":1700000600,"roles":["admin"],"n":{"deep":true}}"#,
        );
        let identity = verifier.verify_now(&token, NOW).unwrap();
        assert_eq!(identity.alg(), "HS256");
        assert_eq!(identity.kid(), Some("k1"));
        assert_eq!(identity.sub(), Some("alice"));
        assert_eq!(identity.exp(), Some(1_700_000_600));
        assert_eq!(identity.roles("roles"), ["admin"]);
        assert_eq!(
            identity.claim("n"),
            Some(&serde_json::json!({"deep": true}))
        );
    }

    #[test]
    fn claim_rules_are_applied_with_their_stable_codes() {
        let verifier = StaticVerifier::new(Key::Hs256(secret(1)))
            .with_issuers(["https://issuer.example"])
            .with_leeway(0);
        let signer = secret(1);
        let wrong_issuer = mint(
            &signer,
            r#"{"alg":"HS256"}"#,
            r#"{"iss":"https://evil.example","exp":1700000600}"#,
        );
        let error = verifier.verify_now(&wrong_issuer, NOW).unwrap_err();
        assert_eq!(error.code(), "invalid_issuer");
        let expired = mint(
            &signer,
            r#"{"alg":"HS256"}"#,
            r#"{"iss":"https://issuer.example","exp":1700000000}"#,
        );
        assert_eq!(
            verifier.verify_now(&expired, NOW).unwrap_err().code(),
            "expired"
        );
        assert_eq!(verifier.leeway_secs(), 0);
    }

    #[test]
    fn forged_signature_is_refused_opaquely() {
        let verifier = StaticVerifier::new(Key::Hs256(secret(1)));
        let forged = mint(&secret(2), r#"{"alg":"HS256"}"#, r#"{"exp":1700000600}"#);
        assert_eq!(
            verifier.verify_now(&forged, NOW).unwrap_err().code(),
            "invalid_signature"
        );
    }

    #[test]
    fn jwk_set_selects_the_key_by_kid() {
        let mut set = JwkSet::<4>::new();
        set.push(Jwk::new(Key::Hs256(secret(1)), Some("one")).unwrap())
            .unwrap();
        set.push(Jwk::new(Key::Hs256(secret(2)), Some("two")).unwrap())
            .unwrap();
        let verifier = StaticVerifier::from_jwk_set(set);
        let token = mint(
            &secret(2),
            r#"{"alg":"HS256","kid":"two"}"#,
            r#"{"exp":1700000600}"#,
        );
        assert_eq!(verifier.verify_now(&token, NOW).unwrap().kid(), Some("two"));
        let unknown = mint(
            &secret(2),
            r#"{"alg":"HS256","kid":"three"}"#,
            r#"{"exp":1700000600}"#,
        );
        assert_eq!(
            verifier.verify_now(&unknown, NOW).unwrap_err().code(),
            JwtError::UnknownKey.code()
        );
    }

    #[test]
    fn oversized_token_is_refused_before_decoding() {
        let verifier = StaticVerifier::new(Key::Hs256(secret(1))).with_max_token_len(16);
        let token = mint(&secret(1), r#"{"alg":"HS256"}"#, r#"{"exp":1700000600}"#);
        assert_eq!(
            verifier.verify_now(&token, NOW).unwrap_err(),
            AuthError::Jwt(JwtError::TokenTooLarge)
        );
    }

    #[test]
    fn fractional_exp_expires_at_the_next_second() {
        let verifier = StaticVerifier::new(Key::Hs256(secret(1)));
        let token = mint(&secret(1), r#"{"alg":"HS256"}"#, r#"{"exp":1700000600.25}"#);
        assert_eq!(
            verifier.verify_now(&token, NOW).unwrap().exp(),
            Some(1_700_000_601)
        );
    }
}
