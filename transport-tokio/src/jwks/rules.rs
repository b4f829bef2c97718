//! Owned claim rules for verifiers that live as long as the server.

use tollgate::jwt::{Claim, Validation};

/// The claim checks of a long-lived verifier, owned: the core's
/// [`Validation`] borrows its lists, so a verifier keeps these and lends a
/// `Validation` for each token ([`with_validation`](Self::with_validation)).
///
/// Defaults are the core's: `exp` required, 60 s leeway, any issuer, tokens carrying
/// `aud` refused unless an audience is configured, `typ` absent or `JWT`/`at+jwt`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rules {
    issuers: Vec<String>,
    audiences: Vec<String>,
    types: Vec<String>,
    required: Vec<Claim>,
    leeway: Option<u64>,
    max_age: Option<u64>,
}

impl Rules {
    /// The core's default rules.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Accept this issuer (repeat to accept several; none configured accepts any).
    #[must_use]
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuers.push(issuer.into());
        self
    }

    /// Replace the accepted issuers with exactly `issuer`.
    #[must_use]
    pub fn only_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuers = vec![issuer.into()];
        self
    }

    /// Accept this audience (repeat to accept several).
    #[must_use]
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// Accept this header `typ`, and require one.
    #[must_use]
    pub fn accepted_type(mut self, typ: impl Into<String>) -> Self {
        self.types.push(typ.into());
        self
    }

    /// Require this claim besides `exp`.
    #[must_use]
    pub fn require(mut self, claim: Claim) -> Self {
        self.required.push(claim);
        self
    }

    /// Clock skew tolerated for `exp`, `nbf` and `iat`, in seconds.
    #[must_use]
    pub const fn leeway(mut self, secs: u64) -> Self {
        self.leeway = Some(secs);
        self
    }

    /// Refuse tokens whose `iat` is older than this, in seconds.
    #[must_use]
    pub const fn max_age(mut self, secs: u64) -> Self {
        self.max_age = Some(secs);
        self
    }

    /// The accepted issuers.
    #[must_use]
    pub fn issuers(&self) -> &[String] {
        &self.issuers
    }

    /// The accepted audiences.
    #[must_use]
    pub fn audiences(&self) -> &[String] {
        &self.audiences
    }

    /// Runs `f` with the core [`Validation`] these rules describe.
    pub fn with_validation<R>(&self, f: impl FnOnce(&Validation<'_>) -> R) -> R {
        let issuers: Vec<&str> = self.issuers.iter().map(String::as_str).collect();
        let audiences: Vec<&str> = self.audiences.iter().map(String::as_str).collect();
        let types: Vec<&str> = self.types.iter().map(String::as_str).collect();
        let mut validation = Validation::new().issuers(&issuers).audiences(&audiences);
        if !types.is_empty() {
            validation = validation.accepted_types(&types).require_type(true);
        }
        for claim in &self.required {
            validation = validation.require(*claim);
        }
        if let Some(leeway) = self.leeway {
            validation = validation.leeway(leeway);
        }
        if let Some(max_age) = self.max_age {
            validation = validation.max_age(max_age);
        }
        f(&validation)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_reach_the_core_validation() {
        let rules = Rules::new()
            .issuer("a")
            .issuer("b")
            .audience("x")
            .leeway(5)
            .max_age(600)
            .require(Claim::Sub);
        rules.with_validation(|validation| {
            assert_eq!(validation.leeway_secs(), 5);
            assert_eq!(validation.max_age_secs(), Some(600));
            assert!(validation.required().contains(Claim::Sub));
            assert!(validation.required().contains(Claim::Exp));
        });
        assert_eq!(rules.clone().only_issuer("c").issuers(), ["c"]);
        assert_eq!(rules.audiences(), ["x"]);
    }
}
