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
