//! The server's [`TokenVerifier`]s over remote key sets and application resolvers.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::{Map, Value};
use tollgate::auth::AuthError;
use tollgate::jwt::{self, Algorithm, JwtError, Key, KeyResolver, Validation, decode_unverified};

use super::error::JwksError;
use super::oidc::discover;
use super::remote::{JwksConfig, RemoteJwks, RemoteKeySet};
use super::rules::Rules;
use crate::handle::Identity;
use crate::verify::{TokenVerifier, VerifyFuture};

/// A JSON object's members, or an empty map for anything else.
fn object(bytes: &[u8]) -> Map<String, Value> {
    match serde_json::from_slice(bytes) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    }
}

/// Verifies `token` with `keys` under `validation` at `now` and returns its
/// [`Identity`] (algorithm, `kid`, every claim).
///
/// # Errors
/// [`AuthError::Jwt`] with the core's verdict.
pub fn verify_identity<K: KeyResolver + ?Sized>(
    token: &str,
    keys: &K,
    validation: &Validation<'_>,
    now: u64,
) -> Result<Identity, AuthError> {
    let mut scratch = vec![0u8; token.len()];
    let verified = jwt::verify(token.as_bytes(), keys, validation, now, &mut scratch)?;
    let header = object(verified.header().json().as_bytes());
    let kid = header.get("kid").and_then(Value::as_str);
    let claims = std::str::from_utf8(verified.payload()).map_err(|_| JwtError::InvalidClaims)?;
    Identity::from_claims_json(verified.header().algorithm().name(), kid, claims)
        .map_err(|_| JwtError::InvalidClaims.into())
}

/// A [`TokenVerifier`] over keys known at start-up: one [`Key`], a JWK, a JWK Set read
/// from a file, or any synchronous [`KeyResolver`] (a secret per user held in memory).
#[derive(Debug, Clone)]
pub struct KeysVerifier<K> {
    keys: K,
    rules: Rules,
}

impl<K: KeyResolver + Send + Sync + 'static> KeysVerifier<K> {
    /// Verifies with `keys` under `rules`.
    #[must_use]
    pub const fn new(keys: K, rules: Rules) -> Self {
        Self { keys, rules }
    }

    /// The keys.
    #[must_use]
    pub const fn keys(&self) -> &K {
        &self.keys
    }
}

impl<K: KeyResolver + Send + Sync + 'static> TokenVerifier for KeysVerifier<K> {
    fn verify<'a>(&'a self, token: &'a str, now: u64) -> VerifyFuture<'a> {
        let verdict = self
            .rules
            .with_validation(|validation| verify_identity(token, &self.keys, validation, now));
        Box::pin(std::future::ready(verdict))
    }
}

/// A [`TokenVerifier`] over a [`RemoteJwks`]: the key is chosen by `kid`/`alg` from the
/// provider's current set; an unknown `kid` triggers a refetch (within the source's
/// cooldown), so tokens signed with a freshly rotated key verify without a restart.
#[derive(Debug, Clone)]
pub struct JwksVerifier {
    source: RemoteJwks,
    rules: Rules,
}

impl JwksVerifier {
    /// Verifies with `source` under `rules`.
    #[must_use]
    pub const fn new(source: RemoteJwks, rules: Rules) -> Self {
        Self { source, rules }
    }

    /// Connects to the JWK Set at `url` ([`RemoteJwks::connect`]).
    ///
    /// # Errors
    /// As [`RemoteJwks::connect`].
    pub async fn from_url(url: &str, rules: Rules, config: JwksConfig) -> Result<Self, JwksError> {
        Ok(Self::new(RemoteJwks::connect(url, config).await?, rules))
    }

    /// OpenID Connect discovery for `issuer` ([`discover`]), then its JWK Set; `iss`
    /// must equal `issuer` (replacing any issuers in `rules`).
    ///
    /// # Errors
    /// As [`discover`] and [`RemoteJwks::connect`].
    pub async fn from_oidc_issuer(
        issuer: &str,
        rules: Rules,
        config: JwksConfig,
    ) -> Result<Self, JwksError> {
        let discovery = discover(issuer, &config).await?;
        let source = RemoteJwks::connect(&discovery.jwks_uri, config).await?;
        Ok(Self::new(source, rules.only_issuer(discovery.issuer)))
    }

    /// The key source.
    #[must_use]
    pub const fn source(&self) -> &RemoteJwks {
        &self.source
    }

    /// The claim rules.
    #[must_use]
    pub const fn rules(&self) -> &Rules {
        &self.rules
    }

    fn verify_with(
        &self,
        keys: &RemoteKeySet,
        token: &str,
        now: u64,
    ) -> Result<Identity, AuthError> {
        self.rules
            .with_validation(|validation| verify_identity(token, keys, validation, now))
    }

    async fn verify_token(&self, token: &str, now: u64) -> Result<Identity, AuthError> {
        let keys = self.source.keys().await?;
        match self.verify_with(&keys, token, now) {
            Err(AuthError::Jwt(JwtError::UnknownKey)) => {
                match self.source.keys_after_unknown_key(&keys).await {
                    Some(newer) => self.verify_with(&newer, token, now),
                    None => Err(JwtError::UnknownKey.into()),
                }
            }
            verdict => verdict,
        }
    }
}

impl TokenVerifier for JwksVerifier {
    fn verify<'a>(&'a self, token: &'a str, now: u64) -> VerifyFuture<'a> {
        Box::pin(self.verify_token(token, now))
    }
}

/// What an [`AsyncKeyResolver`] is asked: the token's unverified header and claims.
///
/// Nothing here is authenticated: use it to *find* a key the application already
/// trusts (by `kid`, tenant, subject), never to build one.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyRequest {
    /// The header's `alg`; the returned key must be of this algorithm.
    pub alg: Algorithm,
    /// The header's `kid`.
    pub kid: Option<String>,
    /// The whole header.
    pub header: Map<String, Value>,
    /// The whole (unverified) claims object.
    pub claims: Map<String, Value>,
}

impl KeyRequest {
    /// An unverified claim by name.
    #[must_use]
    pub fn claim(&self, name: &str) -> Option<&Value> {
        self.claims.get(name)
    }
}

/// The future an [`AsyncKeyResolver`] returns.
pub type ResolveFuture<'a> = Pin<Box<dyn Future<Output = Result<Key, JwtError>> + Send + 'a>>;

/// Looks a verification key up asynchronously: a database, a per-tenant secret store,
/// a key service. The key it returns decides the algorithm, as everywhere.
pub trait AsyncKeyResolver: Send + Sync + 'static {
    /// The key for this token.
    ///
    /// # Errors
    /// [`JwtError::UnknownKey`] when there is none; [`JwtError::KeysUnavailable`] when
    /// the store cannot be reached.
    fn resolve(&self, request: KeyRequest) -> ResolveFuture<'_>;
}

/// An [`AsyncKeyResolver`] made of a closure ([`resolver_fn`]).
#[derive(Debug, Clone)]
pub struct FnResolver<F>(F);

/// Wraps `f` (`KeyRequest -> impl Future<Output = Result<Key, JwtError>>`) as an
/// [`AsyncKeyResolver`].
pub fn resolver_fn<F, Fut>(f: F) -> FnResolver<F>
where
    F: Fn(KeyRequest) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Key, JwtError>> + Send + 'static,
{
    FnResolver(f)
}

impl<F, Fut> AsyncKeyResolver for FnResolver<F>
where
    F: Fn(KeyRequest) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Key, JwtError>> + Send + 'static,
{
    fn resolve(&self, request: KeyRequest) -> ResolveFuture<'_> {
        Box::pin((self.0)(request))
    }
}

impl<R: AsyncKeyResolver + ?Sized> AsyncKeyResolver for Arc<R> {
    fn resolve(&self, request: KeyRequest) -> ResolveFuture<'_> {
        (**self).resolve(request)
    }
}

/// A [`TokenVerifier`] that asks an [`AsyncKeyResolver`] for the key of each token, then
/// verifies with it.
#[derive(Debug, Clone)]
pub struct ResolverVerifier<R> {
    resolver: R,
    rules: Rules,
}

impl<R: AsyncKeyResolver> ResolverVerifier<R> {
    /// Verifies with keys from `resolver` under `rules`.
    #[must_use]
    pub const fn new(resolver: R, rules: Rules) -> Self {
        Self { resolver, rules }
    }

    /// The unverified header and claims, once the token's form and header rules pass.
    fn request(&self, token: &str) -> Result<KeyRequest, JwtError> {
        let mut scratch = vec![0u8; token.len()];
        self.rules.with_validation(|validation| {
            let unverified = decode_unverified(token.as_bytes(), validation, &mut scratch)?;
            let header = object(unverified.header().json().as_bytes());
            Ok(KeyRequest {
                alg: unverified.header().algorithm(),
                kid: header.get("kid").and_then(Value::as_str).map(str::to_owned),
                header,
                claims: unverified.payload().map(object).unwrap_or_default(),
            })
        })
    }

    async fn verify_token(&self, token: &str, now: u64) -> Result<Identity, AuthError> {
        let request = self.request(token)?;
        let key = self.resolver.resolve(request).await?;
        self.rules
            .with_validation(|validation| verify_identity(token, &key, validation, now))
    }
}

impl<R: AsyncKeyResolver> TokenVerifier for ResolverVerifier<R> {
    fn verify<'a>(&'a self, token: &'a str, now: u64) -> VerifyFuture<'a> {
        Box::pin(self.verify_token(token, now))
    }
}
