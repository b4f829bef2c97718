//! Errors of the opening handshake and the one place where they meet HTTP.
//!
//! [`HandshakeError`] is what a server finds wrong with an upgrade request; its
//! [`status`](HandshakeError::status), [`reason`](HandshakeError::reason) and
//! [`challenge`](HandshakeError::challenge) decide the refusal written by
//! [`Rejection`](super::response::Rejection). [`ResponseError`] is what a client finds
//! wrong with the server's answer. [`WriteError`] covers writing either side's head.

use core::fmt;

use crate::error::BufferTooSmall;

/// The reason phrase of every status code the handshake writes.
///
/// Unknown codes get an empty phrase, which HTTP/1.1 allows.
#[must_use]
pub const fn reason_phrase(status: u16) -> &'static str {
    match status {
        101 => "Switching Protocols",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        405 => "Method Not Allowed",
        426 => "Upgrade Required",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "",
    }
}

/// The `WWW-Authenticate: Bearer` challenge of a refusal (RFC 6750 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Challenge {
    /// No token was presented: plain `Bearer`, no error attribute (RFC 6750 §3.1).
    Bearer,
    /// `Bearer error="invalid_token", error_description="<code>"` (status 401).
    InvalidToken(&'static str),
    /// `Bearer error="invalid_request", error_description="<code>"` (status 400).
    InvalidRequest(&'static str),
}

/// Why a server refuses an upgrade request.
///
/// Map it to the wire with [`status`](Self::status) (or build a
/// [`Rejection`](super::response::Rejection) from it). The choices made here:
/// oversized heads and too many header lines are 431; a method other than `GET` is 405
/// (with `Allow: GET`); HTTP/1.0 and any other malformed request are 400; a missing or
/// unsupported `Sec-WebSocket-Version` is 426 (with `Sec-WebSocket-Version: 13`); a refused
/// or missing-but-required `Origin` is 403; token problems are 401 except two different
/// tokens in one request, which RFC 6750 §3.1 calls `invalid_request` (400).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum HandshakeError {
    /// The bytes are not an HTTP/1.x request (httparse rejected them).
    Malformed,
    /// The request head is longer than the configured maximum.
    RequestTooLarge,
    /// The request has more header lines than the caller's header storage holds.
    TooManyHeaders,
    /// The method is not `GET` (RFC 6455 §4.2.1 item 1).
    MethodNotAllowed,
    /// The request is not HTTP/1.1 (RFC 6455 §4.2.1 item 1).
    UnsupportedHttpVersion,
    /// The request target is not an origin-form path, or carries a fragment (RFC 6455 §3).
    InvalidTarget,
    /// The request announces a body (`Transfer-Encoding`, or a `Content-Length` other
    /// than 0): an upgrade request has none, and bytes after the head are frames, so a
    /// body would be misread by one side or the other.
    UnexpectedBody,
    /// `Host` is absent or empty (RFC 6455 §4.2.1 item 2).
    MissingHost,
    /// A header that may appear once appeared more than once (`Host`, `Origin`,
    /// `Sec-WebSocket-Key`, `Sec-WebSocket-Version`; RFC 6455 §11.3).
    DuplicateHeader,
    /// A header value that must be text is not valid UTF-8.
    InvalidHeaderValue,
    /// `Upgrade` does not list `websocket` (RFC 6455 §4.2.1 item 3).
    MissingUpgrade,
    /// `Connection` does not list `upgrade` (RFC 6455 §4.2.1 item 4).
    MissingConnectionUpgrade,
    /// `Sec-WebSocket-Version` is absent (RFC 6455 §4.2.1 item 6).
    MissingVersion,
    /// `Sec-WebSocket-Version` is not `13` (RFC 6455 §4.4).
    UnsupportedVersion,
    /// `Sec-WebSocket-Key` is absent (RFC 6455 §4.2.1 item 5).
    MissingKey,
    /// `Sec-WebSocket-Key` is not the base64 of exactly 16 bytes (RFC 6455 §4.2.1 item 5).
    InvalidKey,
    /// A `Sec-WebSocket-Protocol` entry is not an HTTP token (RFC 6455 §4.1).
    InvalidProtocol,
    /// `Origin` is not on the allow-list (RFC 6455 §10.2).
    OriginNotAllowed,
    /// The configuration requires `Origin` and the request has none.
    MissingOrigin,
    /// No configured token source carries a token.
    MissingToken,
    /// A token is empty, badly percent-encoded, or has characters outside RFC 6750's
    /// `b64token` (including a raw `+` in a query parameter).
    MalformedToken,
    /// A percent-encoded token does not fit the caller's decode buffer.
    TokenTooLarge,
    /// Two sources (or two occurrences in one source) carry different tokens.
    ConflictingTokens,
}

impl HandshakeError {
    /// The HTTP status code of the refusal.
    #[must_use]
    pub const fn status(self) -> u16 {
        match self {
            Self::RequestTooLarge | Self::TooManyHeaders => 431,
            Self::MethodNotAllowed => 405,
            Self::MissingVersion | Self::UnsupportedVersion => 426,
            Self::OriginNotAllowed | Self::MissingOrigin => 403,
            Self::MissingToken | Self::MalformedToken | Self::TokenTooLarge => 401,
            Self::Malformed
            | Self::UnsupportedHttpVersion
            | Self::InvalidTarget
            | Self::UnexpectedBody
            | Self::MissingHost
            | Self::DuplicateHeader
            | Self::InvalidHeaderValue
            | Self::MissingUpgrade
            | Self::MissingConnectionUpgrade
            | Self::MissingKey
            | Self::InvalidKey
            | Self::InvalidProtocol
            | Self::ConflictingTokens => 400,
        }
    }

    /// The reason phrase that goes with [`status`](Self::status).
    #[must_use]
    pub const fn reason(self) -> &'static str {
        reason_phrase(self.status())
    }

    /// The `WWW-Authenticate` challenge owed with the refusal, if any.
    #[must_use]
    pub const fn challenge(self) -> Option<Challenge> {
        match self {
            Self::MissingToken => Some(Challenge::Bearer),
            Self::MalformedToken | Self::TokenTooLarge => {
                Some(Challenge::InvalidToken(self.code()))
            }
            Self::ConflictingTokens => Some(Challenge::InvalidRequest(self.code())),
            _ => None,
        }
    }

    /// A stable `snake_case` code, safe to send to clients.
    ///
    /// Token codes match [`JwtError::code`](crate::jwt::error::JwtError::code) where both
    /// name the same failure (`malformed`, `token_too_large`).
    #[must_use]
    pub const fn code(self) -> &'static str {
        match self {
            Self::Malformed => "malformed_request",
            Self::RequestTooLarge => "request_too_large",
            Self::TooManyHeaders => "too_many_headers",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::UnsupportedHttpVersion => "unsupported_http_version",
            Self::InvalidTarget => "invalid_target",
            Self::UnexpectedBody => "unexpected_body",
            Self::MissingHost => "missing_host",
            Self::DuplicateHeader => "duplicate_header",
            Self::InvalidHeaderValue => "invalid_header_value",
            Self::MissingUpgrade => "missing_upgrade",
            Self::MissingConnectionUpgrade => "missing_connection_upgrade",
            Self::MissingVersion => "missing_version",
            Self::UnsupportedVersion => "unsupported_version",
            Self::MissingKey => "missing_key",
            Self::InvalidKey => "invalid_key",
            Self::InvalidProtocol => "invalid_protocol",
            Self::OriginNotAllowed => "origin_not_allowed",
            Self::MissingOrigin => "missing_origin",
            Self::MissingToken => "missing_token",
            Self::MalformedToken => "malformed",
            Self::TokenTooLarge => "token_too_large",
            Self::ConflictingTokens => "conflicting_tokens",
        }
    }

    /// A short human-readable sentence (no internal details); also the refusal body.
    #[must_use]
    pub const fn message(self) -> &'static str {
        match self {
            Self::Malformed => "request is not valid HTTP/1.1",
            Self::RequestTooLarge => "request head is too large",
            Self::TooManyHeaders => "request has too many header lines",
            Self::MethodNotAllowed => "WebSocket upgrades must use GET",
            Self::UnsupportedHttpVersion => "WebSocket upgrades need HTTP/1.1",
            Self::InvalidTarget => "request target must be a path without fragment",
            Self::UnexpectedBody => "an upgrade request has no body",
            Self::MissingHost => "Host header is missing",
            Self::DuplicateHeader => "a single-valued header appears more than once",
            Self::InvalidHeaderValue => "a header value is not valid text",
            Self::MissingUpgrade => "Upgrade header does not name websocket",
            Self::MissingConnectionUpgrade => "Connection header does not name upgrade",
            Self::MissingVersion => "Sec-WebSocket-Version header is missing",
            Self::UnsupportedVersion => "only WebSocket version 13 is supported",
            Self::MissingKey => "Sec-WebSocket-Key header is missing",
            Self::InvalidKey => "Sec-WebSocket-Key is not 16 base64-encoded bytes",
            Self::InvalidProtocol => "a Sec-WebSocket-Protocol entry is not a token",
            Self::OriginNotAllowed => "origin is not allowed",
            Self::MissingOrigin => "Origin header is required",
            Self::MissingToken => "no access token in the request",
            Self::MalformedToken => "access token is malformed",
            Self::TokenTooLarge => "access token is too large",
            Self::ConflictingTokens => "request carries two different access tokens",
        }
    }
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl core::error::Error for HandshakeError {}

/// Why a request or response head could not be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum WriteError {
    /// The output buffer is too small for the head.
    BufferTooSmall,
    /// A caller-supplied host, path, header, protocol, token or error code would break
    /// the HTTP framing (control characters, CR/LF, quotes, non-token names).
    InvalidHeader,
}

impl From<BufferTooSmall> for WriteError {
    fn from(_: BufferTooSmall) -> Self {
        Self::BufferTooSmall
    }
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::BufferTooSmall => "output buffer too small for the handshake",
            Self::InvalidHeader => {
                "a handshake field contains characters HTTP does not allow there"
            }
        })
    }
}

impl core::error::Error for WriteError {}

/// How many bytes of a refusal's `error_description` [`Rejected`] keeps.
pub const DESCRIPTION_CAPACITY: usize = 64;

/// A server's non-101 answer to our upgrade request.
///
/// Kept inline (no borrow of the response buffer) so that [`ResponseError`] stays `Copy`
/// and `'static`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Rejected {
    status: u16,
    description: [u8; DESCRIPTION_CAPACITY],
    description_len: u8,
}

impl Rejected {
    /// A refusal with `status` and an optional RFC 6750 `error_description`.
    ///
    /// Descriptions longer than [`DESCRIPTION_CAPACITY`] are cut; characters outside
    /// RFC 6750's `error_description` set end the description there.
    #[must_use]
    pub fn new(status: u16, description: Option<&[u8]>) -> Self {
        let mut out = Self {
            status,
            description: [0; DESCRIPTION_CAPACITY],
            description_len: 0,
        };
        let Some(description) = description else {
            return out;
        };
        let mut len = 0_u8;
        for (slot, &byte) in out.description.iter_mut().zip(description) {
            if !is_description_char(byte) {
                break;
            }
            *slot = byte;
            len = len.saturating_add(1);
        }
        out.description_len = len;
        out
    }

    /// The HTTP status code the server answered with.
    #[must_use]
    pub const fn status(&self) -> u16 {
        self.status
    }

    /// The `error_description` of the `WWW-Authenticate: Bearer` challenge, if the
    /// server sent one (for a tollgate server: a stable code such as `expired`).
    #[must_use]
    pub fn error_description(&self) -> Option<&str> {
        let bytes = self.description.get(..usize::from(self.description_len))?;
        if bytes.is_empty() {
            return None;
        }
        core::str::from_utf8(bytes).ok()
    }
}

/// RFC 6750 §3: `error_description` is `%x20-21 / %x23-5B / %x5D-7E`.
pub(crate) const fn is_description_char(byte: u8) -> bool {
    matches!(byte, 0x20..=0x21 | 0x23..=0x5B | 0x5D..=0x7E)
}

/// Why a client refuses the server's answer to its upgrade request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum ResponseError {
    /// The bytes are not an HTTP/1.x response (httparse rejected them).
    Malformed,
    /// The response head is longer than the configured maximum.
    ResponseTooLarge,
    /// The response has more header lines than the caller's header storage holds.
    TooManyHeaders,
    /// The response is not HTTP/1.1.
    UnsupportedHttpVersion,
    /// The server answered with a status other than 101 (RFC 6455 §4.1, item 1 of the
    /// client's checks).
    Rejected(Rejected),
    /// `Upgrade` does not name `websocket` (RFC 6455 §4.1 item 2).
    MissingUpgrade,
    /// `Connection` does not name `upgrade` (RFC 6455 §4.1 item 3).
    MissingConnectionUpgrade,
    /// `Sec-WebSocket-Accept` is absent or appears twice (RFC 6455 §4.1 item 4).
    MissingAccept,
    /// `Sec-WebSocket-Accept` is not the value our key calls for (RFC 6455 §4.1 item 4).
    AcceptMismatch,
    /// The server chose a subprotocol we did not offer, the token entry, or several
    /// (RFC 6455 §4.1 item 6).
    UnexpectedProtocol,
    /// The server accepted an extension we did not offer (RFC 6455 §4.1 item 5).
    UnexpectedExtension,
}

impl fmt::Display for ResponseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed => f.write_str("response is not valid HTTP/1.1"),
            Self::ResponseTooLarge => f.write_str("response head is too large"),
            Self::TooManyHeaders => f.write_str("response has too many header lines"),
            Self::UnsupportedHttpVersion => f.write_str("response is not HTTP/1.1"),
            Self::Rejected(rejected) => {
                write!(
                    f,
                    "server refused the upgrade with status {}",
                    rejected.status()
                )?;
                if let Some(description) = rejected.error_description() {
                    write!(f, " ({description})")?;
                }
                Ok(())
            }
            Self::MissingUpgrade => f.write_str("response Upgrade header does not name websocket"),
            Self::MissingConnectionUpgrade => {
                f.write_str("response Connection header does not name upgrade")
            }
            Self::MissingAccept => f.write_str("response lacks a single Sec-WebSocket-Accept"),
            Self::AcceptMismatch => f.write_str("Sec-WebSocket-Accept does not match our key"),
            Self::UnexpectedProtocol => f.write_str("server chose a subprotocol we did not offer"),
            Self::UnexpectedExtension => f.write_str("server chose an extension we did not offer"),
        }
    }
}

impl core::error::Error for ResponseError {}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [HandshakeError; 23] = [
        HandshakeError::Malformed,
        HandshakeError::RequestTooLarge,
        HandshakeError::TooManyHeaders,
        HandshakeError::MethodNotAllowed,
        HandshakeError::UnsupportedHttpVersion,
        HandshakeError::InvalidTarget,
        HandshakeError::UnexpectedBody,
        HandshakeError::MissingHost,
        HandshakeError::DuplicateHeader,
        HandshakeError::InvalidHeaderValue,
        HandshakeError::MissingUpgrade,
        HandshakeError::MissingConnectionUpgrade,
        HandshakeError::MissingVersion,
        HandshakeError::UnsupportedVersion,
        HandshakeError::MissingKey,
        HandshakeError::InvalidKey,
        HandshakeError::InvalidProtocol,
        HandshakeError::OriginNotAllowed,
        HandshakeError::MissingOrigin,
        HandshakeError::MissingToken,
        HandshakeError::MalformedToken,
        HandshakeError::TokenTooLarge,
        HandshakeError::ConflictingTokens,
    ];

    #[test]
    fn statuses_match_the_documented_table() {
        let expected = |error: HandshakeError| match error {
            HandshakeError::RequestTooLarge | HandshakeError::TooManyHeaders => 431,
            HandshakeError::MethodNotAllowed => 405,
            HandshakeError::MissingVersion | HandshakeError::UnsupportedVersion => 426,
            HandshakeError::OriginNotAllowed | HandshakeError::MissingOrigin => 403,
            HandshakeError::MissingToken
            | HandshakeError::MalformedToken
            | HandshakeError::TokenTooLarge => 401,
            _ => 400,
        };
        for error in ALL {
            assert_eq!(error.status(), expected(error), "{error:?}");
        }
    }

    #[test]
    fn every_status_has_a_reason_phrase() {
        for error in ALL {
            assert!(!error.reason().is_empty(), "{error:?}");
            assert!(!error.message().is_empty());
        }
    }

    #[test]
    fn codes_are_unique_snake_case() {
        for (i, a) in ALL.iter().enumerate() {
            assert!(
                a.code()
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{a:?}"
            );
            assert!(ALL.iter().skip(i + 1).all(|b| b.code() != a.code()));
        }
    }

    #[test]
    fn token_failures_carry_bearer_challenges() {
        for error in ALL {
            match error.status() {
                401 => assert!(error.challenge().is_some(), "{error:?}"),
                400 if error == HandshakeError::ConflictingTokens => {
                    assert_eq!(
                        error.challenge(),
                        Some(Challenge::InvalidRequest("conflicting_tokens"))
                    );
                }
                _ => assert_eq!(error.challenge(), None, "{error:?}"),
            }
        }
        assert_eq!(
            HandshakeError::MissingToken.challenge(),
            Some(Challenge::Bearer)
        );
        assert_eq!(
            HandshakeError::MalformedToken.challenge(),
            Some(Challenge::InvalidToken("malformed"))
        );
    }

    #[test]
    fn token_codes_match_jwt_codes() {
        use crate::jwt::error::JwtError;
        assert_eq!(
            HandshakeError::MalformedToken.code(),
            JwtError::Malformed.code()
        );
        assert_eq!(
            HandshakeError::TokenTooLarge.code(),
            JwtError::TokenTooLarge.code()
        );
    }

    #[test]
    fn rejected_keeps_a_valid_description() {
        let rejected = Rejected::new(401, Some(b"expired"));
        assert_eq!(rejected.status(), 401);
        assert_eq!(rejected.error_description(), Some("expired"));
        assert_eq!(Rejected::new(403, None).error_description(), None);
        assert_eq!(Rejected::new(401, Some(b"")).error_description(), None);
    }

    #[test]
    fn rejected_cuts_descriptions_at_capacity_and_invalid_bytes() {
        let long = [b'a'; DESCRIPTION_CAPACITY + 10];
        let kept = Rejected::new(401, Some(&long))
            .error_description()
            .map(str::len);
        assert_eq!(kept, Some(DESCRIPTION_CAPACITY));
        assert_eq!(
            Rejected::new(401, Some(b"abc\"def")).error_description(),
            Some("abc")
        );
        assert_eq!(
            Rejected::new(401, Some(b"\xffabc")).error_description(),
            None
        );
    }
}
