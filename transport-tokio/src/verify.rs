//! How the server turns a token into an [`Identity`]: the [`TokenVerifier`] trait.
//!
//! The server never looks at keys itself. It hands every token it extracted (from the
//! upgrade request, a first `authenticate` message or an in-band refresh) to a
//! `TokenVerifier` together with the current time. Fixed keys, remote JWKS documents
//! and application lookups (a database, per-tenant secrets) are all verifiers.

use std::future::Future;
use std::pin::Pin;

use tollgate::auth::AuthError;

use crate::handle::Identity;

/// The future a [`TokenVerifier`] returns.
pub type VerifyFuture<'a> = Pin<Box<dyn Future<Output = Result<Identity, AuthError>> + Send + 'a>>;

/// Verifies a compact JWT and returns the identity it proves.
///
/// Implementations decide which key verifies the token (the key decides the algorithm,
/// never the header alone) and apply the claim checks (`exp`, `nbf`, `iss`, `aud`, with
/// leeway) at `now` (Unix seconds).
pub trait TokenVerifier: Send + Sync + 'static {
    /// Verify `token` at `now`.
    ///
    /// # Errors
    /// The [`AuthError`] whose stable code the client is told.
    fn verify<'a>(&'a self, token: &'a str, now: u64) -> VerifyFuture<'a>;

    /// The clock skew, in seconds, this verifier tolerates on `exp`: a live connection
    /// is closed with 1008 `expired` at `exp + leeway`, the moment its token would stop
    /// verifying. Defaults to 0.
    fn leeway_secs(&self) -> u64 {
        0
    }
}
