//! Server side of the opening handshake: parse and validate the upgrade request
//! (RFC 6455 §4.2.1), then pick a subprotocol (§4.2.2).
//!
//! Parsing borrows the caller's input and header storage (`[EMPTY_HEADER; N]`); `N` is
//! the header-count limit. Incomplete input is [`Status::Partial`], never an error; a
//! complete request reports its length so bytes pipelined after it are kept.

use base64ct::{Base64, Encoding};
use httparse::{Header, Status};

use super::accept::NONCE_LEN;
use super::error::HandshakeError;
use super::http;
use super::token::{self, DEFAULT_TOKEN_SOURCES, Token, TokenSource};

/// Configuration of the server side of the handshake; `const`-constructible so it can
/// live in a `static`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerConfig<'a> {
    max_request_bytes: usize,
    allowed_origins: Option<&'a [&'a str]>,
    require_origin: bool,
    protocols: &'a [&'a str],
    token_sources: &'a [TokenSource<'a>],
}

impl Default for ServerConfig<'_> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'a> ServerConfig<'a> {
    /// The default limit on the request head, in bytes (request line, headers, blank line).
    pub const DEFAULT_MAX_REQUEST_BYTES: usize = 8192;

    /// Defaults: 8 KiB heads, any `Origin` (or none), no application subprotocols, and
    /// [`DEFAULT_TOKEN_SOURCES`].
    #[must_use]
    pub const fn new() -> Self {
        Self {
            max_request_bytes: Self::DEFAULT_MAX_REQUEST_BYTES,
            allowed_origins: None,
            require_origin: false,
            protocols: &[],
            token_sources: &DEFAULT_TOKEN_SOURCES,
        }
    }

    /// Refuse request heads longer than `bytes` (431).
    #[must_use]
    pub const fn with_max_request_bytes(mut self, bytes: usize) -> Self {
        self.max_request_bytes = bytes;
        self
    }

    /// Accept only these origins (compared ignoring ASCII case, e.g.
    /// `"https://app.example"`); others get 403. Requests without `Origin` (non-browser
    /// clients) still pass unless [`with_required_origin`](Self::with_required_origin).
    #[must_use]
    pub const fn with_allowed_origins(mut self, origins: &'a [&'a str]) -> Self {
        self.allowed_origins = Some(origins);
        self
    }

    /// Refuse requests that carry no `Origin` (403).
    #[must_use]
    pub const fn with_required_origin(mut self, required: bool) -> Self {
        self.require_origin = required;
        self
    }

    /// Application subprotocols the server speaks, most preferred first.
    #[must_use]
    pub const fn with_protocols(mut self, protocols: &'a [&'a str]) -> Self {
        self.protocols = protocols;
        self
    }

    /// Where to look for the access token, in order (see [`token::extract_token`]).
    #[must_use]
    pub const fn with_token_sources(mut self, sources: &'a [TokenSource<'a>]) -> Self {
        self.token_sources = sources;
        self
    }

    /// The request-head limit in bytes.
    #[must_use]
    pub const fn max_request_bytes(&self) -> usize {
        self.max_request_bytes
    }

    /// The origin allow-list, `None` when any origin is accepted.
    #[must_use]
    pub const fn allowed_origins(&self) -> Option<&'a [&'a str]> {
        self.allowed_origins
    }

    /// Whether requests without `Origin` are refused.
    #[must_use]
    pub const fn origin_required(&self) -> bool {
        self.require_origin
    }

    /// The application subprotocols, most preferred first.
    #[must_use]
    pub const fn protocols(&self) -> &'a [&'a str] {
        self.protocols
    }

    /// The token sources, in order.
    #[must_use]
    pub const fn token_sources(&self) -> &'a [TokenSource<'a>] {
        self.token_sources
    }

    /// Parse and validate an upgrade request from the start of `buf`.
    ///
    /// `headers` is the caller's header storage; its length is the header-count limit.
    /// Returns [`Status::Partial`] while the head is incomplete and shorter than the
    /// limit; [`Status::Complete`] with a [`Request`] whose
    /// [`head_len`](Request::head_len) says where any pipelined bytes start.
    ///
    /// The checks, in order: size, HTTP syntax, method `GET`, HTTP/1.1, origin-form
    /// target without fragment, no body, `Host`, `Upgrade: websocket`, `Connection: upgrade`,
    /// `Sec-WebSocket-Version: 13`, `Sec-WebSocket-Key`, subprotocol syntax, `Origin`.
    ///
    /// # Errors
    ///
    /// The first failed check as a [`HandshakeError`]; its
    /// [`status`](HandshakeError::status) is the refusal to send.
    pub fn parse_request<'h, 'b>(
        &self,
        buf: &'b [u8],
        headers: &'h mut [Header<'b>],
    ) -> Result<Status<Request<'h, 'b>>, HandshakeError> {
        let mut parsed = httparse::Request::new(headers);
        let head_len = match parsed.parse(buf) {
            Ok(Status::Complete(len)) => len,
            Ok(Status::Partial) if buf.len() >= self.max_request_bytes => {
                return Err(HandshakeError::RequestTooLarge);
            }
            Ok(Status::Partial) => return Ok(Status::Partial),
            Err(httparse::Error::TooManyHeaders) => return Err(HandshakeError::TooManyHeaders),
            Err(_) => return Err(HandshakeError::Malformed),
        };
        if head_len > self.max_request_bytes {
            return Err(HandshakeError::RequestTooLarge);
        }
        let httparse::Request {
            method,
            path,
            version,
            headers,
        } = parsed;
        let headers: &'h [Header<'b>] = headers;
        if method != Some("GET") {
            return Err(HandshakeError::MethodNotAllowed);
        }
        if version != Some(1) {
            return Err(HandshakeError::UnsupportedHttpVersion);
        }
        let target = path.ok_or(HandshakeError::Malformed)?;
        let (path, query) = split_target(target)?;
        if http::values(headers, "Transfer-Encoding").next().is_some()
            || http::values(headers, "Content-Length").any(|length| length.trim_ascii() != b"0")
        {
            return Err(HandshakeError::UnexpectedBody);
        }
        let host = host(headers)?;
        if !http::list_contains(headers, "Upgrade", "websocket") {
            return Err(HandshakeError::MissingUpgrade);
        }
        if !http::list_contains(headers, "Connection", "upgrade") {
            return Err(HandshakeError::MissingConnectionUpgrade);
        }
        check_version(headers)?;
        let key = key(headers)?;
        if !http::list_items(headers, "Sec-WebSocket-Protocol").all(http::is_token) {
            return Err(HandshakeError::InvalidProtocol);
        }
        let origin = self.origin(headers)?;
        Ok(Status::Complete(Request {
            target,
            path,
            query,
            host,
            origin,
            key,
            headers,
            head_len,
        }))
    }

    /// The subprotocol to answer with, never a token.
    ///
    /// The first of [`protocols`](Self::protocols) the client offered wins; otherwise,
    /// when the client offered the marker of a configured
    /// [`TokenSource::Subprotocol`], the marker itself (browsers fail a connection whose
    /// offered protocols all go unanswered). The entry after a marker is the token and
    /// never matches. The result borrows the configuration, not the request, so the
    /// token cannot be echoed.
    #[must_use]
    pub fn select_protocol(&self, request: &Request<'_, '_>) -> Option<&'a str> {
        let offered =
            |name: &str| offered_protocols(request, self.token_sources).any(|p| p == name);
        self.protocols
            .iter()
            .copied()
            .find(|&wanted| offered(wanted))
            .or_else(|| {
                self.token_sources
                    .iter()
                    .filter_map(TokenSource::marker)
                    .find(|&marker| offered(marker))
            })
    }

    /// [`token::extract_token`] with this configuration's sources.
    ///
    /// # Errors
    ///
    /// As [`token::extract_token`].
    pub fn extract_token<'r>(
        &self,
        request: &Request<'_, 'r>,
        decode_buf: &'r mut [u8],
    ) -> Result<Token<'r>, HandshakeError> {
        token::extract_token(request, self.token_sources, decode_buf)
    }

    fn origin<'b>(&self, headers: &[Header<'b>]) -> Result<Option<&'b str>, HandshakeError> {
        let origin =
            http::single(headers, "Origin").map_err(|()| HandshakeError::DuplicateHeader)?;
        let Some(origin) = origin else {
            return if self.require_origin {
                Err(HandshakeError::MissingOrigin)
            } else {
                Ok(None)
            };
        };
        let origin =
            core::str::from_utf8(origin).map_err(|_| HandshakeError::InvalidHeaderValue)?;
        match self.allowed_origins {
            Some(allowed) if !allowed.iter().any(|a| a.eq_ignore_ascii_case(origin)) => {
                Err(HandshakeError::OriginNotAllowed)
            }
            _ => Ok(Some(origin)),
        }
    }
}

/// The offered subprotocols minus the token entries (the entry right after a marker).
pub(crate) fn offered_protocols<'r>(
    request: &'r Request<'_, '_>,
    sources: &'r [TokenSource<'_>],
) -> impl Iterator<Item = &'r str> + 'r {
    request
        .protocols()
        .scan(false, move |after_marker, protocol| {
            let is_token = *after_marker;
            *after_marker = !is_token && sources.iter().any(|s| s.marker() == Some(protocol));
            Some((is_token, protocol))
        })
        .filter_map(|(is_token, protocol)| (!is_token).then_some(protocol))
}

fn split_target(target: &str) -> Result<(&str, Option<&str>), HandshakeError> {
    if !target.starts_with('/') || target.bytes().any(|b| b == b'#' || !b.is_ascii()) {
        return Err(HandshakeError::InvalidTarget);
    }
    Ok(match target.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (target, None),
    })
}

fn host<'b>(headers: &[Header<'b>]) -> Result<&'b str, HandshakeError> {
    let host = http::single(headers, "Host").map_err(|()| HandshakeError::DuplicateHeader)?;
    let host = host
        .filter(|h| !h.is_empty())
        .ok_or(HandshakeError::MissingHost)?;
    core::str::from_utf8(host).map_err(|_| HandshakeError::InvalidHeaderValue)
}

fn check_version(headers: &[Header<'_>]) -> Result<(), HandshakeError> {
    match http::single(headers, "Sec-WebSocket-Version") {
        Err(()) => Err(HandshakeError::DuplicateHeader),
        Ok(None) => Err(HandshakeError::MissingVersion),
        Ok(Some(b"13")) => Ok(()),
        Ok(Some(_)) => Err(HandshakeError::UnsupportedVersion),
    }
}

fn key<'b>(headers: &[Header<'b>]) -> Result<&'b [u8], HandshakeError> {
    let key = http::single(headers, "Sec-WebSocket-Key")
        .map_err(|()| HandshakeError::DuplicateHeader)?
        .ok_or(HandshakeError::MissingKey)?;
    let mut nonce = [0_u8; NONCE_LEN];
    match Base64::decode(key, &mut nonce) {
        Ok(decoded) if decoded.len() == NONCE_LEN => Ok(key),
        _ => Err(HandshakeError::InvalidKey),
    }
}

/// A validated upgrade request, borrowing the input buffer (`'b`) and the caller's
/// header storage (`'h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request<'h, 'b> {
    target: &'b str,
    path: &'b str,
    query: Option<&'b str>,
    host: &'b str,
    origin: Option<&'b str>,
    key: &'b [u8],
    headers: &'h [Header<'b>],
    head_len: usize,
}

impl<'h, 'b> Request<'h, 'b> {
    /// The request target as sent (`/chat?token=…`).
    #[must_use]
    pub const fn target(&self) -> &'b str {
        self.target
    }

    /// The path part of the target, before any `?`.
    #[must_use]
    pub const fn path(&self) -> &'b str {
        self.path
    }

    /// The raw (still percent-encoded) query after `?`, if any.
    #[must_use]
    pub const fn query(&self) -> Option<&'b str> {
        self.query
    }

    /// The `Host` header value.
    #[must_use]
    pub const fn host(&self) -> &'b str {
        self.host
    }

    /// The `Origin` header value; `None` for non-browser clients.
    #[must_use]
    pub const fn origin(&self) -> Option<&'b str> {
        self.origin
    }

    /// The `Sec-WebSocket-Key` value as sent (24 base64 characters).
    #[must_use]
    pub const fn key(&self) -> &'b [u8] {
        self.key
    }

    /// Every header line, in order.
    #[must_use]
    pub const fn headers(&self) -> &'h [Header<'b>] {
        self.headers
    }

    /// The first value of the header `name` (ASCII case ignored).
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&'b [u8]> {
        http::values(self.headers, name).next()
    }

    /// Every offered subprotocol in order, across all `Sec-WebSocket-Protocol` lines —
    /// including a token offered after a marker: do not log these.
    pub fn protocols(&self) -> impl Iterator<Item = &'b str> + 'h {
        http::list_items(self.headers, "Sec-WebSocket-Protocol")
            .filter_map(|item| core::str::from_utf8(item).ok())
    }

    /// How many bytes of the input the request head used; anything after belongs to the
    /// WebSocket stream.
    #[must_use]
    pub const fn head_len(&self) -> usize {
        self.head_len
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use std::{format, string::String};

    use super::*;
    use crate::ws::handshake::EMPTY_HEADER;

    const GOOD: &str = "GET /chat?room=1 HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
        Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Sec-WebSocket-Version: 13\r\n\r\n";

    fn error(config: &ServerConfig<'_>, text: &str) -> HandshakeError {
        let mut headers = [EMPTY_HEADER; 16];
        config
            .parse_request(text.as_bytes(), &mut headers)
            .unwrap_err()
    }

    fn accepts(config: &ServerConfig<'_>, text: &str) -> bool {
        let mut headers = [EMPTY_HEADER; 16];
        matches!(
            config.parse_request(text.as_bytes(), &mut headers),
            Ok(Status::Complete(_))
        )
    }

    fn with(line: &str, replacement: &str) -> String {
        assert!(GOOD.contains(line), "{line}");
        GOOD.replacen(line, replacement, 1)
    }

    fn default_error(text: &str) -> HandshakeError {
        error(&ServerConfig::new(), text)
    }

    #[test]
    fn valid_request_exposes_its_parts_and_length() {
        let text = format!("{GOOD}\x01\x02rest");
        let mut headers = [EMPTY_HEADER; 16];
        let Ok(Status::Complete(request)) =
            ServerConfig::new().parse_request(text.as_bytes(), &mut headers)
        else {
            panic!("not accepted");
        };
        assert_eq!(request.target(), "/chat?room=1");
        assert_eq!(request.path(), "/chat");
        assert_eq!(request.query(), Some("room=1"));
        assert_eq!(request.host(), "example.com");
        assert_eq!(request.origin(), None);
        assert_eq!(request.key(), b"dGhlIHNhbXBsZSBub25jZQ==");
        assert_eq!(request.header("upgrade"), Some(&b"websocket"[..]));
        assert_eq!(request.headers().len(), 5);
        assert_eq!(request.head_len(), GOOD.len());
    }

    #[test]
    fn offered_protocols_span_lines_in_order() {
        let text = with(
            "\r\n\r\n",
            "\r\nSec-WebSocket-Protocol: a, b\r\nSec-WebSocket-Protocol: c\r\n\r\n",
        );
        let mut headers = [EMPTY_HEADER; 16];
        let Ok(Status::Complete(request)) =
            ServerConfig::new().parse_request(text.as_bytes(), &mut headers)
        else {
            panic!("not accepted");
        };
        assert!(request.protocols().eq(["a", "b", "c"]));
    }

    #[test]
    fn method_must_be_get() {
        let err = default_error(&with("GET ", "POST "));
        assert_eq!(err, HandshakeError::MethodNotAllowed);
        assert_eq!(err.status(), 405);
        assert_eq!(
            default_error(&with("GET ", "get ")),
            HandshakeError::MethodNotAllowed
        );
    }

    #[test]
    fn http_version_must_be_1_1() {
        let err = default_error(&with("HTTP/1.1", "HTTP/1.0"));
        assert_eq!(err, HandshakeError::UnsupportedHttpVersion);
        assert_eq!(err.status(), 400);
    }

    #[test]
    fn target_must_be_origin_form() {
        assert_eq!(
            default_error(&with("/chat?room=1", "http://example.com/chat")),
            HandshakeError::InvalidTarget
        );
        assert_eq!(
            default_error(&with("/chat?room=1", "*")),
            HandshakeError::InvalidTarget
        );
    }

    #[test]
    fn target_must_not_carry_a_fragment() {
        assert_eq!(
            default_error(&with("/chat?room=1", "/chat#top")),
            HandshakeError::InvalidTarget
        );
    }

    #[test]
    fn target_must_be_ascii() {
        assert_eq!(
            default_error(&with("/chat?room=1", "/caf\u{e9}")),
            HandshakeError::InvalidTarget
        );
    }

    #[test]
    fn request_must_not_announce_a_body() {
        let err = default_error(&with("\r\n\r\n", "\r\nContent-Length: 5\r\n\r\n"));
        assert_eq!(err, HandshakeError::UnexpectedBody);
        let err = default_error(&with("\r\n\r\n", "\r\nTransfer-Encoding: chunked\r\n\r\n"));
        assert_eq!(err, HandshakeError::UnexpectedBody);
        assert!(accepts(
            &ServerConfig::new(),
            &with("\r\n\r\n", "\r\nContent-Length: 0\r\n\r\n")
        ));
    }

    #[test]
    fn host_is_required() {
        assert_eq!(
            default_error(&with("Host: example.com\r\n", "")),
            HandshakeError::MissingHost
        );
        assert_eq!(
            default_error(&with("Host: example.com\r\n", "Host: \r\n")),
            HandshakeError::MissingHost
        );
    }

    #[test]
    fn host_must_appear_once() {
        let text = with("Host: example.com\r\n", "Host: a\r\nhost: b\r\n");
        assert_eq!(default_error(&text), HandshakeError::DuplicateHeader);
    }

    #[test]
    fn upgrade_must_list_websocket_ignoring_case() {
        assert_eq!(
            default_error(&with("Upgrade: websocket\r\n", "")),
            HandshakeError::MissingUpgrade
        );
        assert_eq!(
            default_error(&with("Upgrade: websocket", "Upgrade: h2c")),
            HandshakeError::MissingUpgrade
        );
        assert!(accepts(
            &ServerConfig::new(),
            &with("Upgrade: websocket", "Upgrade: h2c, WebSocket")
        ));
    }

    #[test]
    fn connection_must_list_upgrade_as_a_token() {
        let config = ServerConfig::new();
        assert!(accepts(
            &config,
            &with("Connection: Upgrade", "Connection: keep-alive, Upgrade")
        ));
        assert!(accepts(
            &config,
            &with(
                "Connection: Upgrade",
                "Connection: keep-alive\r\nConnection: upgrade"
            )
        ));
        let err = default_error(&with("Connection: Upgrade", "Connection: keep-alive"));
        assert_eq!(err, HandshakeError::MissingConnectionUpgrade);
        let err = default_error(&with("Connection: Upgrade", "Connection: upgrades"));
        assert_eq!(err, HandshakeError::MissingConnectionUpgrade);
    }

    #[test]
    fn version_must_be_13() {
        let err = default_error(&with("Version: 13", "Version: 8"));
        assert_eq!(err, HandshakeError::UnsupportedVersion);
        assert_eq!(err.status(), 426);
    }

    #[test]
    fn version_is_required() {
        let err = default_error(&with("Sec-WebSocket-Version: 13\r\n", ""));
        assert_eq!(err, HandshakeError::MissingVersion);
        assert_eq!(err.status(), 426);
    }

    #[test]
    fn version_must_appear_once() {
        let text = with(
            "Sec-WebSocket-Version: 13\r\n",
            "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Version: 13\r\n",
        );
        assert_eq!(default_error(&text), HandshakeError::DuplicateHeader);
    }

    #[test]
    fn key_is_required() {
        let err = default_error(&with("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", ""));
        assert_eq!(err, HandshakeError::MissingKey);
    }

    #[test]
    fn key_must_be_standard_base64_of_16_bytes() {
        for bad in [
            "AAAAAAAAAAAAAAAAAAAA",         // 15 bytes
            "AAAAAAAAAAAAAAAAAAAAAAAA",     // 18 bytes
            "dGhlIHNhbXBsZSBub25jZQ",       // padding missing
            "dGhlIHNhbXBsZSBub25jZR==",     // non-canonical trailing bits
            "dGhlIHNhbXBsZSBub25j-_==",     // URL-safe alphabet
            "dGhlIHNhbXBsZSBub25jZQ==AAAA", // trailing data
            "",
        ] {
            let text = with("dGhlIHNhbXBsZSBub25jZQ==", bad);
            assert_eq!(default_error(&text), HandshakeError::InvalidKey, "{bad}");
        }
    }

    #[test]
    fn key_must_appear_once() {
        let line = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
        let text = with(line, &format!("{line}{line}"));
        assert_eq!(default_error(&text), HandshakeError::DuplicateHeader);
    }

    #[test]
    fn protocols_must_be_tokens() {
        let text = with("\r\n\r\n", "\r\nSec-WebSocket-Protocol: chat, a/b\r\n\r\n");
        assert_eq!(default_error(&text), HandshakeError::InvalidProtocol);
        let text = with("\r\n\r\n", "\r\nSec-WebSocket-Protocol: chat, a b\r\n\r\n");
        assert_eq!(default_error(&text), HandshakeError::InvalidProtocol);
    }

    #[test]
    fn origin_outside_the_allow_list_is_forbidden() {
        let config = ServerConfig::new().with_allowed_origins(&["https://app.example"]);
        let text = with("\r\n\r\n", "\r\nOrigin: https://evil.example\r\n\r\n");
        let err = error(&config, &text);
        assert_eq!(err, HandshakeError::OriginNotAllowed);
        assert_eq!(err.status(), 403);
    }

    #[test]
    fn origin_allow_list_ignores_ascii_case() {
        let config = ServerConfig::new().with_allowed_origins(&["https://app.example"]);
        assert!(accepts(
            &config,
            &with("\r\n\r\n", "\r\nOrigin: https://APP.example\r\n\r\n")
        ));
    }

    #[test]
    fn requests_without_origin_pass_unless_origin_is_required() {
        let config = ServerConfig::new().with_allowed_origins(&["https://app.example"]);
        assert!(accepts(&config, GOOD));
        let err = error(&config.with_required_origin(true), GOOD);
        assert_eq!(err, HandshakeError::MissingOrigin);
        assert_eq!(err.status(), 403);
    }

    #[test]
    fn origin_must_appear_once() {
        let text = with(
            "\r\n\r\n",
            "\r\nOrigin: https://a.example\r\nOrigin: https://a.example\r\n\r\n",
        );
        assert_eq!(default_error(&text), HandshakeError::DuplicateHeader);
    }

    #[test]
    fn incomplete_input_is_partial_not_an_error() {
        let mut headers = [EMPTY_HEADER; 16];
        let status =
            ServerConfig::new().parse_request(&GOOD.as_bytes()[..GOOD.len() - 1], &mut headers);
        assert_eq!(status, Ok(Status::Partial));
    }

    #[test]
    fn head_over_the_limit_is_431() {
        let config = ServerConfig::new().with_max_request_bytes(GOOD.len() - 1);
        let err = error(&config, GOOD);
        assert_eq!(err, HandshakeError::RequestTooLarge);
        assert_eq!(err.status(), 431);
        let partial = GOOD.get(..GOOD.len() - 1).unwrap();
        assert_eq!(error(&config, partial), HandshakeError::RequestTooLarge);
        assert!(accepts(
            &ServerConfig::new().with_max_request_bytes(GOOD.len()),
            GOOD
        ));
    }

    #[test]
    fn more_headers_than_storage_is_431() {
        let mut headers = [EMPTY_HEADER; 4];
        let err = ServerConfig::new()
            .parse_request(GOOD.as_bytes(), &mut headers)
            .unwrap_err();
        assert_eq!(err, HandshakeError::TooManyHeaders);
        assert_eq!(err.status(), 431);
    }

    #[test]
    fn malformed_http_is_400() {
        let err = default_error(&with("Host: example.com", "Host example.com"));
        assert_eq!(err, HandshakeError::Malformed);
        assert_eq!(err.status(), 400);
    }

    fn selected(config: &ServerConfig<'static>, offered: &str) -> Option<&'static str> {
        let text = with(
            "\r\n\r\n",
            &format!("\r\nSec-WebSocket-Protocol: {offered}\r\n\r\n"),
        );
        let mut headers = [EMPTY_HEADER; 16];
        let Ok(Status::Complete(request)) = config.parse_request(text.as_bytes(), &mut headers)
        else {
            panic!("not accepted");
        };
        config.select_protocol(&request)
    }

    #[test]
    fn selected_protocol_follows_server_preference() {
        let config = ServerConfig::new().with_protocols(&["v2.chat", "v1.chat"]);
        assert_eq!(selected(&config, "v1.chat, v2.chat"), Some("v2.chat"));
        assert_eq!(selected(&config, "v1.chat"), Some("v1.chat"));
        assert_eq!(selected(&config, "other"), None);
    }

    #[test]
    fn selected_protocol_is_never_the_token_entry() {
        let config = ServerConfig::new().with_protocols(&["chat"]);
        assert_eq!(
            selected(&config, "tollgate.bearer, chat"),
            Some("tollgate.bearer")
        );
        assert_eq!(
            selected(&config, "tollgate.bearer, tollgate.bearer, chat"),
            Some("chat")
        );
    }

    #[test]
    fn selected_protocol_falls_back_to_the_marker() {
        let config = ServerConfig::new().with_protocols(&["chat"]);
        assert_eq!(
            selected(&config, "tollgate.bearer, eyJ.eyJ.sig"),
            Some("tollgate.bearer")
        );
        assert_eq!(
            selected(&config, "chat, tollgate.bearer, eyJ.eyJ.sig"),
            Some("chat")
        );
        let without_subprotocol_source =
            config.with_token_sources(&[TokenSource::AuthorizationBearer]);
        assert_eq!(
            selected(&without_subprotocol_source, "tollgate.bearer, eyJ.eyJ.sig"),
            None
        );
    }
}
