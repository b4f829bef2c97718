//! Finding the access token in an upgrade request: query parameter, `Authorization:
//! Bearer`, `Sec-WebSocket-Protocol`, cookie.
//!
//! Sources are consulted in the caller's order; tokens in sources that are not
//! configured are ignored. Every configured source is read in full: two *different*
//! tokens anywhere are refused ([`HandshakeError::ConflictingTokens`]), the same token
//! twice (a browser sending it as cookie and query) is fine. The token is checked
//! against RFC 6750's `b64token` syntax and returned borrowed; verifying it is the JWT
//! core's job.
//!
//! Query values are percent-decoded into a caller buffer only when they contain `%`.
//! A raw `+` in a query value is refused as malformed: form encoding reads it as a space
//! and RFC 3986 as a plus, JWTs never contain it, and guessing would let two parsers
//! disagree about the token; a literal plus must be sent as `%2B`. Cookie values are not
//! percent-decoded (RFC 6265 leaves their encoding to the application; JWTs need none),
//! only surrounding double quotes are removed.
//!
//! Reading tokens from cookies exposes the endpoint to cross-site WebSocket hijacking:
//! configure [`TokenSource::Cookie`] only together with an `Origin` allow-list.

use super::error::HandshakeError;
use super::http;
use super::server::Request;

/// The default query parameter name, `token`.
pub const DEFAULT_QUERY_PARAMETER: &str = "token";

/// The default marker subprotocol, `tollgate.bearer`: a client offers
/// `Sec-WebSocket-Protocol: tollgate.bearer, <token>`.
pub const DEFAULT_PROTOCOL_MARKER: &str = "tollgate.bearer";

/// The default sources, in order: `Authorization: Bearer`, the `tollgate.bearer`
/// subprotocol, the `token` query parameter. Cookies are opt-in (see the module docs).
pub const DEFAULT_TOKEN_SOURCES: [TokenSource<'static>; 3] = [
    TokenSource::AuthorizationBearer,
    TokenSource::Subprotocol {
        marker: DEFAULT_PROTOCOL_MARKER,
    },
    TokenSource::Query {
        name: DEFAULT_QUERY_PARAMETER,
    },
];

/// One place a token may be carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum TokenSource<'a> {
    /// The query parameter `name` (matched exactly, before decoding), percent-decoded.
    Query {
        /// Parameter name, e.g. [`DEFAULT_QUERY_PARAMETER`].
        name: &'a str,
    },
    /// `Authorization: Bearer <token>`, scheme matched ignoring case (RFC 6750 §2.1).
    AuthorizationBearer,
    /// The `Sec-WebSocket-Protocol` entry right after `marker`; the server answers with
    /// the marker or an application protocol, never the token.
    Subprotocol {
        /// Marker protocol name, e.g. [`DEFAULT_PROTOCOL_MARKER`].
        marker: &'a str,
    },
    /// The cookie `name` in `Cookie: a=b; name=<token>`.
    Cookie {
        /// Cookie name.
        name: &'a str,
    },
}

impl<'a> TokenSource<'a> {
    /// Which kind of source this is, without its configuration.
    #[must_use]
    pub const fn kind(&self) -> TokenSourceKind {
        match self {
            Self::Query { .. } => TokenSourceKind::Query,
            Self::AuthorizationBearer => TokenSourceKind::AuthorizationBearer,
            Self::Subprotocol { .. } => TokenSourceKind::Subprotocol,
            Self::Cookie { .. } => TokenSourceKind::Cookie,
        }
    }

    /// The marker protocol of a [`Subprotocol`](Self::Subprotocol) source.
    #[must_use]
    pub const fn marker(&self) -> Option<&'a str> {
        match self {
            Self::Subprotocol { marker } => Some(marker),
            _ => None,
        }
    }
}

/// Which kind of source a token came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum TokenSourceKind {
    /// A query parameter.
    Query,
    /// `Authorization: Bearer`.
    AuthorizationBearer,
    /// `Sec-WebSocket-Protocol`.
    Subprotocol,
    /// A cookie.
    Cookie,
}

/// An extracted, syntactically valid (RFC 6750 `b64token`), not yet verified token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token<'a> {
    value: &'a str,
    source: TokenSourceKind,
}

impl<'a> Token<'a> {
    /// The token text, borrowed from the request or the caller's decode buffer; hand it
    /// to the JWT verifier.
    #[must_use]
    pub const fn as_str(&self) -> &'a str {
        self.value
    }

    /// The first configured source that carried it.
    #[must_use]
    pub const fn source(&self) -> TokenSourceKind {
        self.source
    }
}

/// Find the one token carried by `request` in `sources`.
///
/// `decode_buf` receives a percent-decoded query value; it is untouched when no
/// candidate needs decoding. A JWT never needs more than its encoded length.
///
/// # Errors
///
/// - [`HandshakeError::MissingToken`] when no configured source carries a token (401,
///   plain `Bearer` challenge).
/// - [`HandshakeError::MalformedToken`] for an empty token, a bad `%` escape, a raw `+` in
///   a query value, a `Bearer` scheme without token, a marker without a following entry,
///   or characters outside `b64token`.
/// - [`HandshakeError::TokenTooLarge`] when the decoded value does not fit `decode_buf`.
/// - [`HandshakeError::ConflictingTokens`] when two candidates differ.
pub fn extract_token<'r>(
    request: &Request<'_, 'r>,
    sources: &[TokenSource<'_>],
    decode_buf: &'r mut [u8],
) -> Result<Token<'r>, HandshakeError> {
    let mut extraction = Extraction {
        found: None,
        decode_buf: Some(decode_buf),
    };
    for source in sources {
        visit_candidates(request, source, |candidate| {
            extraction.offer(candidate, source.kind())
        })?;
    }
    extraction.found.ok_or(HandshakeError::MissingToken)
}

/// A token as it appears on the wire.
#[derive(Clone, Copy)]
enum Candidate<'b> {
    /// Used as is.
    Plain(&'b [u8]),
    /// A query value: percent escapes, raw `+` refused.
    Query(&'b [u8]),
}

struct Extraction<'r> {
    found: Option<Token<'r>>,
    decode_buf: Option<&'r mut [u8]>,
}

impl<'r> Extraction<'r> {
    fn offer(
        &mut self,
        candidate: Candidate<'r>,
        source: TokenSourceKind,
    ) -> Result<(), HandshakeError> {
        if let Some(found) = self.found {
            return if same_token(candidate, found.value.as_bytes())? {
                Ok(())
            } else {
                Err(HandshakeError::ConflictingTokens)
            };
        }
        let bytes = match candidate {
            Candidate::Query(raw) if raw.contains(&b'%') => {
                let buf = self
                    .decode_buf
                    .take()
                    .ok_or(HandshakeError::TokenTooLarge)?;
                percent_decode_into(raw, buf)?
            }
            Candidate::Query(raw) if raw.contains(&b'+') => {
                return Err(HandshakeError::MalformedToken);
            }
            Candidate::Query(raw) | Candidate::Plain(raw) => raw,
        };
        if !is_b64token(bytes) {
            return Err(HandshakeError::MalformedToken);
        }
        let value = core::str::from_utf8(bytes).map_err(|_| HandshakeError::MalformedToken)?;
        self.found = Some(Token { value, source });
        Ok(())
    }
}

fn same_token(candidate: Candidate<'_>, found: &[u8]) -> Result<bool, HandshakeError> {
    match candidate {
        Candidate::Plain(raw) => Ok(raw == found),
        Candidate::Query(raw) => {
            let mut expected = found.iter();
            for byte in PercentDecode::new(raw) {
                if Some(&byte?) != expected.next() {
                    return Ok(false);
                }
            }
            Ok(expected.next().is_none())
        }
    }
}

fn visit_candidates<'r>(
    request: &Request<'_, 'r>,
    source: &TokenSource<'_>,
    mut visit: impl FnMut(Candidate<'r>) -> Result<(), HandshakeError>,
) -> Result<(), HandshakeError> {
    match *source {
        TokenSource::Query { name } => {
            let pairs = request.query().into_iter().flat_map(|q| q.split('&'));
            for pair in pairs {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                if key == name {
                    visit(Candidate::Query(value.as_bytes()))?;
                }
            }
        }
        TokenSource::AuthorizationBearer => {
            for value in http::values(request.headers(), "Authorization") {
                if let Some(token) = bearer_credentials(value) {
                    visit(Candidate::Plain(token))?;
                }
            }
        }
        TokenSource::Subprotocol { marker } => {
            let mut after_marker = false;
            for protocol in request.protocols() {
                if after_marker {
                    visit(Candidate::Plain(protocol.as_bytes()))?;
                    after_marker = false;
                } else {
                    after_marker = protocol == marker;
                }
            }
            if after_marker {
                return Err(HandshakeError::MalformedToken);
            }
        }
        TokenSource::Cookie { name } => {
            let cookies =
                http::values(request.headers(), "Cookie").flat_map(|v| v.split(|&b| b == b';'));
            for cookie in cookies {
                let cookie = cookie.trim_ascii();
                let mut parts = cookie.splitn(2, |&b| b == b'=');
                let (Some(key), Some(value)) = (parts.next(), parts.next()) else {
                    continue;
                };
                if key.trim_ascii() == name.as_bytes() {
                    let value = value.trim_ascii();
                    let value = value
                        .strip_prefix(b"\"")
                        .and_then(|v| v.strip_suffix(b"\""))
                        .unwrap_or(value);
                    visit(Candidate::Plain(value))?;
                }
            }
        }
    }
    Ok(())
}

/// The credentials of an `Authorization` value whose scheme is `Bearer` (any case);
/// `None` for other schemes. `Bearer` with nothing after it yields an empty token so
/// that it is refused as malformed rather than ignored.
fn bearer_credentials(value: &[u8]) -> Option<&[u8]> {
    let value = value.trim_ascii();
    let mut parts = value.splitn(2, |&b| b == b' ');
    let scheme = parts.next().unwrap_or_default();
    let rest = parts.next().unwrap_or_default();
    scheme
        .eq_ignore_ascii_case(b"Bearer")
        .then(|| rest.trim_ascii_start())
}

/// RFC 6750 §2.1: `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn is_b64token(token: &[u8]) -> bool {
    let body_len = token
        .iter()
        .rposition(|&b| b != b'=')
        .map_or(0, |last| last + 1);
    let (body, padding) = token.split_at_checked(body_len).unwrap_or((token, &[]));
    !body.is_empty()
        && body.iter().all(|&b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        })
        && padding.iter().all(|&b| b == b'=')
}

/// Percent-decode `raw` into `buf`, returning the filled prefix.
fn percent_decode_into<'o>(raw: &[u8], buf: &'o mut [u8]) -> Result<&'o [u8], HandshakeError> {
    let mut len = 0;
    for byte in PercentDecode::new(raw) {
        let slot = buf.get_mut(len).ok_or(HandshakeError::TokenTooLarge)?;
        *slot = byte?;
        len += 1;
    }
    buf.get(..len).ok_or(HandshakeError::TokenTooLarge)
}

/// RFC 3986 §2.1 percent-decoding of a query value; `+` and broken escapes are errors.
struct PercentDecode<'a> {
    bytes: core::slice::Iter<'a, u8>,
}

impl<'a> PercentDecode<'a> {
    fn new(raw: &'a [u8]) -> Self {
        Self { bytes: raw.iter() }
    }
}

impl Iterator for PercentDecode<'_> {
    type Item = Result<u8, HandshakeError>;

    fn next(&mut self) -> Option<Self::Item> {
        Some(match *self.bytes.next()? {
            b'%' => {
                let high = self.bytes.next().and_then(|&b| hex_value(b));
                let low = self.bytes.next().and_then(|&b| hex_value(b));
                match (high, low) {
                    (Some(high), Some(low)) => Ok(high << 4 | low),
                    _ => Err(HandshakeError::MalformedToken),
                }
            }
            b'+' => Err(HandshakeError::MalformedToken),
            byte => Ok(byte),
        })
    }
}

const fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use std::{format, string::String};

    use super::*;
    use crate::ws::handshake::{EMPTY_HEADER, ServerConfig, Status};

    const JWT: &str = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnbmF0dXJl";
    const OTHER: &str = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJiIn0.c2lnbmF0dXJl";
    const ALL: [TokenSource<'static>; 4] = [
        TokenSource::AuthorizationBearer,
        TokenSource::Subprotocol {
            marker: DEFAULT_PROTOCOL_MARKER,
        },
        TokenSource::Query {
            name: DEFAULT_QUERY_PARAMETER,
        },
        TokenSource::Cookie { name: "session" },
    ];

    /// Extract with `sources` from a request to `target` with `extra` header lines;
    /// returns the token text and source, or the error.
    fn extract_from(
        sources: &[TokenSource<'_>],
        target: &str,
        extra: &str,
        decode_buf: &mut [u8],
    ) -> Result<(String, TokenSourceKind), HandshakeError> {
        let text = format!(
            "GET {target} HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
        );
        let mut headers = [EMPTY_HEADER; 16];
        let Ok(Status::Complete(request)) =
            ServerConfig::new().parse_request(text.as_bytes(), &mut headers)
        else {
            panic!("request not accepted: {text}");
        };
        extract_token(&request, sources, decode_buf).map(|t| (String::from(t.as_str()), t.source()))
    }

    fn extract(target: &str, extra: &str) -> Result<(String, TokenSourceKind), HandshakeError> {
        extract_from(&ALL, target, extra, &mut [0; 256])
    }

    fn token_of(target: &str, extra: &str) -> Result<String, HandshakeError> {
        extract(target, extra).map(|(token, _)| token)
    }

    #[test]
    fn query_parameter_carries_the_token() {
        assert_eq!(
            extract(&format!("/ws?a=1&token={JWT}&b"), ""),
            Ok((JWT.into(), TokenSourceKind::Query))
        );
    }

    #[test]
    fn query_parameter_name_is_configurable_and_exact() {
        let sources = [TokenSource::Query {
            name: "access_token",
        }];
        let found = extract_from(
            &sources,
            &format!("/ws?access_token={JWT}"),
            "",
            &mut [0; 256],
        );
        assert_eq!(found.map(|(t, _)| t), Ok(JWT.into()));
        let found = extract_from(
            &sources,
            &format!("/ws?token={JWT}&Access_token=x"),
            "",
            &mut [0; 256],
        );
        assert_eq!(found, Err(HandshakeError::MissingToken));
    }

    #[test]
    fn query_value_is_percent_decoded_into_the_caller_buffer() {
        let mut buf = [0; 64];
        let found = extract_from(&ALL, "/ws?token=ab%2Ecd%2e%7E", "", &mut buf);
        assert_eq!(found.map(|(t, _)| t), Ok("ab.cd.~".into()));
        assert_eq!(buf.get(..7), Some(&b"ab.cd.~"[..]));
    }

    #[test]
    fn percent_encoded_plus_is_a_plus() {
        assert_eq!(token_of("/ws?token=ab%2Bcd", ""), Ok("ab+cd".into()));
    }

    #[test]
    fn raw_plus_in_query_is_malformed() {
        assert_eq!(
            token_of("/ws?token=ab+cd", ""),
            Err(HandshakeError::MalformedToken)
        );
        assert_eq!(
            token_of("/ws?token=a%2E+cd", ""),
            Err(HandshakeError::MalformedToken)
        );
        let same_in_header = token_of("/ws?token=ab+cd", "Authorization: Bearer ab+cd\r\n");
        assert_eq!(same_in_header, Err(HandshakeError::MalformedToken));
    }

    #[test]
    fn truncated_escape_is_malformed() {
        assert_eq!(
            token_of("/ws?token=abc%2", ""),
            Err(HandshakeError::MalformedToken)
        );
        assert_eq!(
            token_of("/ws?token=abc%", ""),
            Err(HandshakeError::MalformedToken)
        );
    }

    #[test]
    fn non_hex_escape_is_malformed() {
        assert_eq!(
            token_of("/ws?token=abc%zz", ""),
            Err(HandshakeError::MalformedToken)
        );
        assert_eq!(
            token_of("/ws?token=abc%2g", ""),
            Err(HandshakeError::MalformedToken)
        );
    }

    #[test]
    fn escaped_nul_and_space_are_malformed() {
        assert_eq!(
            token_of("/ws?token=abc%00", ""),
            Err(HandshakeError::MalformedToken)
        );
        assert_eq!(
            token_of("/ws?token=abc%20def", ""),
            Err(HandshakeError::MalformedToken)
        );
    }

    #[test]
    fn decoded_token_larger_than_the_buffer_is_too_large() {
        let found = extract_from(&ALL, "/ws?token=abcd%2Eef", "", &mut [0; 6]);
        assert_eq!(found, Err(HandshakeError::TokenTooLarge));
        let found = extract_from(&ALL, "/ws?token=abcd%2Eef", "", &mut [0; 7]);
        assert_eq!(found.map(|(t, _)| t), Ok("abcd.ef".into()));
    }

    #[test]
    fn unencoded_query_token_needs_no_buffer() {
        let found = extract_from(&ALL, &format!("/ws?token={JWT}"), "", &mut []);
        assert_eq!(found.map(|(t, _)| t), Ok(JWT.into()));
    }

    #[test]
    fn empty_query_token_is_malformed() {
        assert_eq!(
            token_of("/ws?token=", ""),
            Err(HandshakeError::MalformedToken)
        );
        assert_eq!(
            token_of("/ws?token", ""),
            Err(HandshakeError::MalformedToken)
        );
    }

    #[test]
    fn bearer_authorization_carries_the_token() {
        let found = extract("/ws", &format!("Authorization: Bearer {JWT}\r\n"));
        assert_eq!(
            found,
            Ok((JWT.into(), TokenSourceKind::AuthorizationBearer))
        );
    }

    #[test]
    fn bearer_scheme_ignores_case_and_extra_spaces() {
        assert_eq!(
            token_of("/ws", &format!("Authorization: bearer {JWT}\r\n")),
            Ok(JWT.into())
        );
        assert_eq!(
            token_of("/ws", &format!("Authorization: BEARER   {JWT}\r\n")),
            Ok(JWT.into())
        );
    }

    #[test]
    fn other_authorization_schemes_are_ignored() {
        assert_eq!(
            token_of("/ws", "Authorization: Basic dXNlcjpwYXNz\r\n"),
            Err(HandshakeError::MissingToken)
        );
        assert_eq!(
            token_of("/ws", &format!("Authorization: Bearerx {JWT}\r\n")),
            Err(HandshakeError::MissingToken)
        );
    }

    #[test]
    fn bearer_without_token_is_malformed() {
        assert_eq!(
            token_of("/ws", "Authorization: Bearer\r\n"),
            Err(HandshakeError::MalformedToken)
        );
        assert_eq!(
            token_of("/ws", "Authorization: Bearer a b\r\n"),
            Err(HandshakeError::MalformedToken)
        );
    }

    #[test]
    fn subprotocol_entry_after_the_marker_carries_the_token() {
        let found = extract(
            "/ws",
            &format!("Sec-WebSocket-Protocol: chat, tollgate.bearer, {JWT}\r\n"),
        );
        assert_eq!(found, Ok((JWT.into(), TokenSourceKind::Subprotocol)));
        let split =
            format!("Sec-WebSocket-Protocol: tollgate.bearer\r\nSec-WebSocket-Protocol: {JWT}\r\n");
        assert_eq!(token_of("/ws", &split), Ok(JWT.into()));
    }

    #[test]
    fn subprotocol_entry_after_a_marker_is_the_token_even_if_it_looks_like_one() {
        let extra = "Sec-WebSocket-Protocol: tollgate.bearer, tollgate.bearer\r\n";
        assert_eq!(token_of("/ws", extra), Ok("tollgate.bearer".into()));
    }

    #[test]
    fn subprotocol_marker_is_configurable() {
        let sources = [TokenSource::Subprotocol { marker: "x-auth" }];
        let extra = format!("Sec-WebSocket-Protocol: tollgate.bearer, {OTHER}, x-auth, {JWT}\r\n");
        let found = extract_from(&sources, "/ws", &extra, &mut []);
        assert_eq!(found.map(|(t, _)| t), Ok(JWT.into()));
    }

    #[test]
    fn subprotocol_marker_without_token_is_malformed() {
        let found = token_of("/ws", "Sec-WebSocket-Protocol: chat, tollgate.bearer\r\n");
        assert_eq!(found, Err(HandshakeError::MalformedToken));
    }

    #[test]
    fn cookie_carries_the_token() {
        let found = extract(
            "/ws",
            &format!("Cookie: theme=dark; session={JWT}; x=y\r\n"),
        );
        assert_eq!(found, Ok((JWT.into(), TokenSourceKind::Cookie)));
        assert_eq!(
            token_of("/ws", &format!("Cookie: session=\"{JWT}\"\r\n")),
            Ok(JWT.into())
        );
        assert_eq!(
            token_of("/ws", &format!("Cookie: a=b\r\nCookie: session={JWT}\r\n")),
            Ok(JWT.into())
        );
    }

    #[test]
    fn cookie_name_must_match_exactly() {
        let found = token_of(
            "/ws",
            &format!("Cookie: xsession={JWT}; Session={JWT}; sessio={JWT}\r\n"),
        );
        assert_eq!(found, Err(HandshakeError::MissingToken));
    }

    #[test]
    fn unconfigured_sources_are_ignored() {
        let found = extract_from(
            &DEFAULT_TOKEN_SOURCES,
            "/ws",
            &format!("Cookie: token={JWT}\r\n"),
            &mut [],
        );
        assert_eq!(found, Err(HandshakeError::MissingToken));
        let only_cookie = [TokenSource::Cookie { name: "token" }];
        let found = extract_from(
            &only_cookie,
            &format!("/ws?token={OTHER}"),
            &format!("Cookie: token={JWT}\r\n"),
            &mut [],
        );
        assert_eq!(found.map(|(t, _)| t), Ok(JWT.into()));
    }

    #[test]
    fn no_token_is_missing_token_with_plain_bearer_challenge() {
        let err = token_of("/ws?room=1", "Cookie: theme=dark\r\n").unwrap_err();
        assert_eq!(err, HandshakeError::MissingToken);
        assert_eq!(err.status(), 401);
        assert_eq!(
            err.challenge(),
            Some(crate::ws::handshake::Challenge::Bearer)
        );
    }

    #[test]
    fn different_tokens_in_two_sources_conflict() {
        let found = token_of(
            &format!("/ws?token={OTHER}"),
            &format!("Authorization: Bearer {JWT}\r\n"),
        );
        assert_eq!(found, Err(HandshakeError::ConflictingTokens));
        let found = token_of(
            "/ws",
            &format!(
                "Cookie: session={OTHER}\r\nSec-WebSocket-Protocol: tollgate.bearer, {JWT}\r\n"
            ),
        );
        assert_eq!(found, Err(HandshakeError::ConflictingTokens));
    }

    #[test]
    fn different_tokens_in_one_source_conflict() {
        assert_eq!(
            token_of(&format!("/ws?token={JWT}&token={OTHER}"), ""),
            Err(HandshakeError::ConflictingTokens)
        );
        let two = format!("Authorization: Bearer {JWT}\r\nAuthorization: Bearer {OTHER}\r\n");
        assert_eq!(
            token_of("/ws", &two),
            Err(HandshakeError::ConflictingTokens)
        );
        assert_eq!(
            token_of("/ws?token=abc", "Cookie: session=abd\r\n"),
            Err(HandshakeError::ConflictingTokens)
        );
        assert_eq!(
            token_of("/ws?token=ab%2E", "Cookie: session=ab.c\r\n"),
            Err(HandshakeError::ConflictingTokens)
        );
    }

    #[test]
    fn same_token_twice_is_accepted_and_first_source_reported() {
        let encoded = JWT.replace('.', "%2E");
        let extra = format!("Cookie: session={JWT}\r\nAuthorization: Bearer {JWT}\r\n");
        let found = extract(&format!("/ws?token={encoded}&token={JWT}"), &extra);
        assert_eq!(
            found,
            Ok((JWT.into(), TokenSourceKind::AuthorizationBearer))
        );
    }

    #[test]
    fn token_must_be_a_b64token() {
        assert_eq!(token_of("/ws?token=abc==", ""), Ok("abc==".into()));
        assert_eq!(token_of("/ws?token=a/b~c-d_e", ""), Ok("a/b~c-d_e".into()));
        for bad in ["=abc", "ab=c", "===", "ab,c", "a%22b"] {
            assert_eq!(
                token_of(&format!("/ws?token={bad}"), ""),
                Err(HandshakeError::MalformedToken),
                "{bad}"
            );
        }
        assert_eq!(
            token_of("/ws", "Cookie: session=a$b\r\n"),
            Err(HandshakeError::MalformedToken)
        );
    }

    #[test]
    fn config_extract_token_uses_the_configured_sources() {
        let text = format!(
            "GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nCookie: t={JWT}\r\n\r\n"
        );
        let sources = [TokenSource::Cookie { name: "t" }];
        let config = ServerConfig::new().with_token_sources(&sources);
        let mut headers = [EMPTY_HEADER; 16];
        let Ok(Status::Complete(request)) = config.parse_request(text.as_bytes(), &mut headers)
        else {
            panic!("not accepted");
        };
        assert_eq!(
            config.extract_token(&request, &mut []).map(|t| t.as_str()),
            Ok(JWT)
        );
        assert_eq!(
            ServerConfig::new().extract_token(&request, &mut []),
            Err(HandshakeError::MissingToken)
        );
    }
}
