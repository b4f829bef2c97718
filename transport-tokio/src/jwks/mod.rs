//! Keys from anywhere: remote JWK Sets that rotate, OpenID Connect discovery, and
//! application lookups (a database, per-tenant secrets).
//!
//! - [`RemoteJwks`] fetches a provider's JWK Set over HTTPS, caches it as long as
//!   `Cache-Control: max-age` says (clamped to [`JwksConfig::min_ttl`] and
//!   [`JwksConfig::max_ttl`]), refreshes it in the background before it expires,
//!   refetches when a token names an unknown `kid` (at most once per
//!   [`JwksConfig::cooldown`], however many such tokens arrive), and keeps serving the last
//!   good set while the provider is down, up to [`JwksConfig::max_staleness`]; after that
//!   tokens are refused with `keys_unavailable`
//!   ([`JwtError::KeysUnavailable`](tollgate::jwt::JwtError::KeysUnavailable)).
//! - Keys a remote set may not contribute are never used: encryption keys (`use: enc`,
//!   `key_ops` without `verify`), RSA keys below 2048 bits and algorithms tollgate does
//!   not implement are skipped by the core's parser ([`JwkSet`](tollgate::jwt::JwkSet));
//!   a document publishing a symmetric (`oct`) key is refused whole, since a published
//!   shared secret is a leaked one.
//! - [`discover`] reads `{issuer}/.well-known/openid-configuration`, insists that its
//!   `issuer` equals the configured one exactly and returns its `jwks_uri`;
//!   [`JwksVerifier::from_oidc_issuer`] then also requires `iss` to equal the issuer.
//! - [`JwksVerifier`], [`ResolverVerifier`] and [`KeysVerifier`] are the server's
//!   [`TokenVerifier`](crate::TokenVerifier)s: over a remote set, over an application's
//!   [`AsyncKeyResolver`], and over keys known at start-up (any synchronous
//!   [`KeyResolver`](tollgate::jwt::KeyResolver)). `tollgate serve` gets the right one for
//!   its key options from [`cli::token_verifier`](crate::cli::token_verifier).
//!
//! Plain `http://` URLs are accepted only for loopback hosts (tests, sidecars); anything
//! else must be `https://` (rustls with the bundled Mozilla roots).
//!
//! # Example
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use tollgate_tokio::TokenVerifier;
//! use tollgate_tokio::jwks::{JwksConfig, JwksVerifier, Rules};
//!
//! // Discovery, then the JWK Set; `iss` must be the issuer, `aud` must be "chat".
//! let verifier = JwksVerifier::from_oidc_issuer(
//!     "https://login.example.com/",
//!     Rules::new().audience("chat"),
//!     JwksConfig::default(),
//! )
//! .await?;
//! # let token = "";
//! # let now = 0;
//! let identity = verifier.verify(token, now).await?;
//! println!("hello {:?}", identity.sub());
//! # Ok(())
//! # }
//! ```

mod error;
mod oidc;
mod remote;
mod rules;
mod verifier;

pub use error::JwksError;
pub use oidc::{Discovery, discover};
pub use remote::{JwksConfig, REMOTE_JWKS_CAPACITY, RemoteJwks, RemoteKeySet};
pub use rules::Rules;
pub use verifier::{
    AsyncKeyResolver, FnResolver, JwksVerifier, KeyRequest, KeysVerifier, ResolveFuture,
    ResolverVerifier, resolver_fn, verify_identity,
};
