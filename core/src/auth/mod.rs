//! Glue between the handshake and JWT verification: who may connect, and what they are
//! told when they may not.
//!
//! An [`Authenticator`] bundles the key source, the [`Validation`] rules, the places a
//! token may be carried ([`TokenSource`]) and the [`AuthMode`]. It verifies the token of
//! an upgrade request ([`Authenticator::authenticate`]), of a first message
//! ([`message::parse_auth_message`]) or of an in-band refresh
//! ([`Authenticator::verify_refresh`]).
//!
//! Every refusal is an [`AuthError`], and every `AuthError` meets the wire in one place:
//! [`AuthError::rejection`] (the HTTP answer before the upgrade: 401 with an RFC 6750
//! challenge, 400 for conflicting tokens), [`AuthError::close_code`] and
//! [`AuthError::code`] (close 1008 with the stable code as reason, after the upgrade),
//! and [`message::write_unauthorized`] (the first-message reply).
//!
//! A verified connection must be closed with 1008 `expired` once its token expires;
//! [`expiry_deadline`] says when. The core has no clock: the transport arms a timer.
//!
//! # Example
//!
//! An in-band refresh: a fresher token for the same subject moves the deadline; a token
//! for someone else is refused.
//!
//! ```
//! # #[cfg(feature = "hs256")]
//! # fn main() -> Result<(), Box<dyn core::error::Error>> {
//! use tollgate::auth::{AuthError, AuthMessageKind, Authenticator, parse_auth_message};
//! use tollgate::jwt::{Key, Validation, alg::hs256::Hs256Secret};
//! # let signer = Hs256Secret::new(b"0123456789abcdef0123456789abcdef")?;
//! # let b64 = |bytes: &[u8]| {
//! #     let mut out = [0_u8; 256];
//! #     tollgate::base64url::encode(bytes, &mut out).unwrap().to_owned()
//! # };
//! # let mint = |claims: &str| {
//! #     let input = format!("{}.{}", b64(br#"{"alg":"HS256"}"#), b64(claims.as_bytes()));
//! #     format!("{input}.{}", b64(&signer.sign(input.as_bytes())))
//! # };
//!
//! let key = Key::Hs256(Hs256Secret::new(b"0123456789abcdef0123456789abcdef")?);
//! let auth = Authenticator::new(key, Validation::new()); // 60 s leeway
//! let now = 1_700_000_000;
//!
//! let mut scratch = [0_u8; 256];
//! let current = auth.verify(&mint(r#"{"sub":"alice","exp":1700000600}"#), now, &mut scratch)?;
//! assert_eq!(auth.deadline(&current), Some(1_700_000_660));
//!
//! let text = format!(
//!     r#"{{"type":"refresh","token":"{}"}}"#,
//!     mint(r#"{"sub":"alice","exp":1700003600}"#)
//! );
//! let message = parse_auth_message(text.as_bytes())?;
//! assert_eq!(message.kind, AuthMessageKind::Refresh);
//! let mut next = [0_u8; 256];
//! let refreshed = auth.verify_refresh(current.registered(), message.token, now, &mut next)?;
//! assert_eq!(auth.deadline(&refreshed), Some(1_700_003_660));
//!
//! let mallory = mint(r#"{"sub":"mallory","exp":1700003600}"#);
//! let mut other = [0_u8; 256];
//! let refused = auth.verify_refresh(current.registered(), &mallory, now, &mut other);
//! assert_eq!(refused.unwrap_err(), AuthError::SubjectMismatch);
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "hs256"))]
//! # fn main() {}
//! ```

use core::fmt;

use crate::jwt::claims::Claims;
use crate::jwt::{self, JwtError, KeyResolver, Validation, VerifiedToken};
use crate::ws::close::CloseCode;
use crate::ws::handshake::token::DEFAULT_TOKEN_SOURCES;
use crate::ws::handshake::{HandshakeError, Rejection, Request, TokenSource, extract_token};

pub mod message;

pub use message::{AuthMessage, AuthMessageKind, parse_auth_message};

/// Where the server expects the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum AuthMode {
    /// The upgrade request must carry a valid token; without one it is refused.
    Handshake,
    /// A token in the upgrade request is verified as in [`Handshake`](Self::Handshake);
    /// a request without one is upgraded and the first message must be
    /// `{"type":"authenticate","token":"…"}` (socketio-jwt style), answered with
    /// `{"type":"authenticated"}` or `{"type":"unauthorized",…}` and close 1008.
    FirstMessage,
}

/// Why a connection was not authenticated.
///
/// The token-extraction failures of the handshake, every [`JwtError`], and the two
/// failures that only in-band messages can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum AuthError {
    /// No configured source carries a token (401 with a plain `Bearer` challenge,
    /// RFC 6750 §3.1: no error code when no credentials were sent).
    MissingToken,
    /// The token is empty, badly percent-encoded, or not an RFC 6750 `b64token`.
    MalformedToken,
    /// The percent-decoded token does not fit the decode buffer.
    TokenTooLarge,
    /// Two sources carry different tokens (400 `invalid_request`).
    ConflictingTokens,
    /// The token did not verify or its claims were refused.
    Jwt(JwtError),
    /// A refreshed token names another subject than the connection's, or either has no
    /// `sub` to compare.
    SubjectMismatch,
    /// The first message is not `{"type":"authenticate","token":"…"}` (or a refresh).
    InvalidAuthMessage,
}

impl AuthError {
    /// The stable `snake_case` code: the `error_description` of the 401, the reason of
    /// the 1008 close frame and the `code` of the first-message reply.
    #[must_use]
    pub const fn code(self) -> &'static str {
        match self {
            Self::MissingToken => HandshakeError::MissingToken.code(),
            Self::MalformedToken => HandshakeError::MalformedToken.code(),
            Self::TokenTooLarge => HandshakeError::TokenTooLarge.code(),
            Self::ConflictingTokens => HandshakeError::ConflictingTokens.code(),
            Self::Jwt(error) => error.code(),
            Self::SubjectMismatch => "subject_mismatch",
            Self::InvalidAuthMessage => "invalid_auth_message",
        }
    }

    /// A short human-readable sentence without internal details.
    #[must_use]
    pub const fn message(self) -> &'static str {
        match self {
            Self::MissingToken => HandshakeError::MissingToken.message(),
            Self::MalformedToken => HandshakeError::MalformedToken.message(),
            Self::TokenTooLarge => HandshakeError::TokenTooLarge.message(),
            Self::ConflictingTokens => HandshakeError::ConflictingTokens.message(),
            Self::Jwt(error) => error.message(),
            Self::SubjectMismatch => "token subject differs from the connection's",
            Self::InvalidAuthMessage => "expected an authenticate message",
        }
    }

    /// The HTTP refusal of an upgrade request: 401 with
    /// `WWW-Authenticate: Bearer error="invalid_token", error_description="<code>"`, a
    /// plain `Bearer` challenge for a missing token, 400 `invalid_request` for
    /// conflicting tokens, 503 (no challenge) when the keys are unavailable.
    #[must_use]
    pub const fn rejection(self) -> Rejection {
        match self {
            Self::Jwt(JwtError::KeysUnavailable) => Rejection::unavailable(self.code()),
            Self::MissingToken => Rejection::from_error(HandshakeError::MissingToken),
            Self::MalformedToken => Rejection::from_error(HandshakeError::MalformedToken),
            Self::TokenTooLarge => Rejection::from_error(HandshakeError::TokenTooLarge),
            Self::ConflictingTokens => Rejection::from_error(HandshakeError::ConflictingTokens),
            Self::Jwt(_) | Self::SubjectMismatch | Self::InvalidAuthMessage => {
                Rejection::invalid_token(self.code())
            }
        }
    }

    /// The close code of a refusal after the upgrade, with [`code`](Self::code) as the
    /// reason: 1008 (policy violation), or 1013 (try again later) when the keys are
    /// unavailable, since the token may be fine.
    #[must_use]
    pub const fn close_code(self) -> CloseCode {
        match self {
            Self::Jwt(JwtError::KeysUnavailable) => CloseCode::TRY_AGAIN_LATER,
            _ => CloseCode::POLICY_VIOLATION,
        }
    }

    /// The error of a token found expired after the connection was accepted (close 1008
    /// `expired` at the [`expiry_deadline`]).
    pub const EXPIRED: Self = Self::Jwt(JwtError::Expired);
}

impl From<JwtError> for AuthError {
    fn from(error: JwtError) -> Self {
        Self::Jwt(error)
    }
}

impl From<HandshakeError> for AuthError {
    /// Token extraction only fails with the four token errors; any other handshake
    /// error counts as a malformed token.
    fn from(error: HandshakeError) -> Self {
        match error {
            HandshakeError::MissingToken => Self::MissingToken,
            HandshakeError::TokenTooLarge => Self::TokenTooLarge,
            HandshakeError::ConflictingTokens => Self::ConflictingTokens,
            _ => Self::MalformedToken,
        }
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl core::error::Error for AuthError {}

/// Key source, validation rules, token sources and mode: everything that decides
/// whether a connection is let in. `const`-constructible for a `static`.
///
/// `K` is a [`KeyResolver`]: a [`Key`](crate::jwt::Key), a [`Jwk`](crate::jwt::Jwk), a
/// reference to a [`JwkSet`](crate::jwt::JwkSet) (cheap to share), or an application's
/// resolver choosing keys by claims.
#[derive(Debug, Clone, Copy)]
pub struct Authenticator<'a, K> {
    keys: K,
    validation: Validation<'a>,
    sources: &'a [TokenSource<'a>],
    mode: AuthMode,
}

impl<'a, K: KeyResolver> Authenticator<'a, K> {
    /// Verify with `keys` under `validation`, tokens taken from the
    /// [`DEFAULT_TOKEN_SOURCES`] in [`AuthMode::Handshake`].
    #[must_use]
    pub const fn new(keys: K, validation: Validation<'a>) -> Self {
        Self {
            keys,
            validation,
            sources: &DEFAULT_TOKEN_SOURCES,
            mode: AuthMode::Handshake,
        }
    }

    /// Look for the token in these sources, in order. The driver also uses them to
    /// answer a subprotocol marker, overriding the handshake configuration's sources.
    #[must_use]
    pub const fn with_token_sources(mut self, sources: &'a [TokenSource<'a>]) -> Self {
        self.sources = sources;
        self
    }

    /// Set the [`AuthMode`].
    #[must_use]
    pub const fn with_mode(mut self, mode: AuthMode) -> Self {
        self.mode = mode;
        self
    }

    /// The key source.
    #[must_use]
    pub const fn keys(&self) -> &K {
        &self.keys
    }

    /// The validation rules.
    #[must_use]
    pub const fn validation(&self) -> &Validation<'a> {
        &self.validation
    }

    /// The token sources, in order.
    #[must_use]
    pub const fn token_sources(&self) -> &'a [TokenSource<'a>] {
        self.sources
    }

    /// The mode.
    #[must_use]
    pub const fn mode(&self) -> AuthMode {
        self.mode
    }

    /// Extracts the token of an upgrade request and verifies it at `now` (Unix
    /// seconds).
    ///
    /// `decode_buf` receives a percent-decoded query token (the token's length
    /// suffices); `scratch` receives the decoded header and payload the result borrows
    /// (the token's length suffices).
    ///
    /// # Errors
    /// [`AuthError::MissingToken`], [`AuthError::MalformedToken`],
    /// [`AuthError::TokenTooLarge`], [`AuthError::ConflictingTokens`] from extraction,
    /// then [`AuthError::Jwt`] from verification.
    pub fn authenticate<'s>(
        &self,
        request: &Request<'_, '_>,
        now: u64,
        decode_buf: &mut [u8],
        scratch: &'s mut [u8],
    ) -> Result<VerifiedToken<'s>, AuthError> {
        let token = extract_token(request, self.sources, decode_buf)?;
        self.verify(token.as_str(), now, scratch)
    }

    /// Verifies a token received in-band (first message) at `now`.
    ///
    /// # Errors
    /// [`AuthError::Jwt`].
    pub fn verify<'s>(
        &self,
        token: &str,
        now: u64,
        scratch: &'s mut [u8],
    ) -> Result<VerifiedToken<'s>, AuthError> {
        Ok(jwt::verify(
            token.as_bytes(),
            &self.keys,
            &self.validation,
            now,
            scratch,
        )?)
    }

    /// Verifies a refreshed token for a connection whose current claims are `current`:
    /// it must verify and name the same subject ([`check_refresh`]).
    ///
    /// # Errors
    /// [`AuthError::Jwt`], then [`AuthError::SubjectMismatch`].
    pub fn verify_refresh<'s>(
        &self,
        current: &Claims<'_>,
        token: &str,
        now: u64,
        scratch: &'s mut [u8],
    ) -> Result<VerifiedToken<'s>, AuthError> {
        let refreshed = self.verify(token, now, scratch)?;
        check_refresh(current, refreshed.registered())?;
        Ok(refreshed)
    }

    /// When a connection authenticated with `token` must be closed with 1008 `expired`:
    /// [`expiry_deadline`] with this authenticator's leeway.
    #[must_use]
    pub fn deadline(&self, token: &VerifiedToken<'_>) -> Option<u64> {
        expiry_deadline(token.registered(), self.validation.leeway_secs())
    }
}

/// The Unix second from which a connection authenticated with `claims` must be closed
/// (1008, reason [`AuthError::EXPIRED`]'s code): `exp + leeway`, the first second at
/// which [`jwt::verify`] would call the token expired. `None` without `exp`.
#[must_use]
pub fn expiry_deadline(claims: &Claims<'_>, leeway: u64) -> Option<u64> {
    let exp = claims.exp()?;
    let deadline = i128::from(exp.ceil()) + i128::from(leeway);
    Some(u64::try_from(deadline.max(0)).unwrap_or(u64::MAX))
}

/// The in-band refresh rule: a new token is accepted for a connection only when both
/// tokens carry a `sub` and the subjects are equal (compared unescaped). A token without
/// subject cannot prove it is the same principal, so it is refused too.
///
/// # Errors
/// [`AuthError::SubjectMismatch`].
pub fn check_refresh(current: &Claims<'_>, refreshed: &Claims<'_>) -> Result<(), AuthError> {
    match (current.sub(), refreshed.sub()) {
        (Some(current), Some(refreshed)) if current == refreshed => Ok(()),
        _ => Err(AuthError::SubjectMismatch),
    }
}

#[cfg(test)]
mod tests;
