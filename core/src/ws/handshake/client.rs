//! Client side of the opening handshake: write the upgrade request (RFC 6455 §4.1) and
//! validate the server's answer.

use httparse::{Header, Status};
use rand_core::CryptoRng;

use base64ct::{Base64, Encoding};

use super::accept::{ACCEPT_LEN, KEY_LEN, NONCE_LEN, accept_key};
use super::error::{Rejected, ResponseError, WriteError};
use super::http;
use super::response::Writer;

/// What to put in the upgrade request; `const`-constructible.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientRequest<'a> {
    host: &'a str,
    path: &'a str,
    query_token: Option<(&'a str, &'a str)>,
    bearer: Option<&'a str>,
    protocols: &'a [&'a str],
    token_protocol: Option<(&'a str, &'a str)>,
    origin: Option<&'a str>,
    extra_headers: &'a [(&'a str, &'a str)],
    max_response_bytes: usize,
}

impl<'a> ClientRequest<'a> {
    /// The default limit on the response head, in bytes.
    pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 8192;

    /// A request for `path` (origin-form, may carry a query) on `host` (`Host` header,
    /// with port if not the default).
    #[must_use]
    pub const fn new(host: &'a str, path: &'a str) -> Self {
        Self {
            host,
            path,
            query_token: None,
            bearer: None,
            protocols: &[],
            token_protocol: None,
            origin: None,
            extra_headers: &[],
            max_response_bytes: Self::DEFAULT_MAX_RESPONSE_BYTES,
        }
    }

    /// Append `name=<token>` to the query, percent-encoding what is not unreserved.
    #[must_use]
    pub const fn with_query_token(mut self, name: &'a str, token: &'a str) -> Self {
        self.query_token = Some((name, token));
        self
    }

    /// Send `Authorization: Bearer <token>`.
    #[must_use]
    pub const fn with_bearer(mut self, token: &'a str) -> Self {
        self.bearer = Some(token);
        self
    }

    /// Offer these application subprotocols, most preferred first.
    #[must_use]
    pub const fn with_protocols(mut self, protocols: &'a [&'a str]) -> Self {
        self.protocols = protocols;
        self
    }

    /// Carry the token as the subprotocol entry after `marker`
    /// (`Sec-WebSocket-Protocol: <protocols>, <marker>, <token>`), the one way a browser
    /// can send it without a query string.
    #[must_use]
    pub const fn with_token_protocol(mut self, marker: &'a str, token: &'a str) -> Self {
        self.token_protocol = Some((marker, token));
        self
    }

    /// Send `Origin`.
    #[must_use]
    pub const fn with_origin(mut self, origin: &'a str) -> Self {
        self.origin = Some(origin);
        self
    }

    /// Send these extra header lines after the WebSocket ones.
    #[must_use]
    pub const fn with_headers(mut self, headers: &'a [(&'a str, &'a str)]) -> Self {
        self.extra_headers = headers;
        self
    }

    /// Refuse response heads longer than `bytes`.
    #[must_use]
    pub const fn with_max_response_bytes(mut self, bytes: usize) -> Self {
        self.max_response_bytes = bytes;
        self
    }

    /// Write the request into `out` with a fresh 16-byte key from `rng`; returns the
    /// length written and the state that checks the answer.
    ///
    /// # Errors
    ///
    /// As [`write_with_key`](Self::write_with_key).
    pub fn write<R: CryptoRng + ?Sized>(
        &self,
        rng: &mut R,
        out: &mut [u8],
    ) -> Result<(usize, ClientHandshake<'a>), WriteError> {
        let mut nonce = [0_u8; NONCE_LEN];
        rng.fill_bytes(&mut nonce);
        self.write_with_key(nonce, out)
    }

    /// Write the request into `out` with the given key nonce (tests and replays; use
    /// [`write`](Self::write) otherwise: RFC 6455 wants the nonce random per connection).
    ///
    /// # Errors
    ///
    /// [`WriteError::BufferTooSmall`] when `out` is too short;
    /// [`WriteError::InvalidHeader`] when the path is not origin-form visible ASCII
    /// without fragment, the host or a token is not visible ASCII, a protocol or marker
    /// is not an HTTP token, or an extra header would break the framing.
    pub fn write_with_key(
        &self,
        nonce: [u8; NONCE_LEN],
        out: &mut [u8],
    ) -> Result<(usize, ClientHandshake<'a>), WriteError> {
        let mut key = [0_u8; KEY_LEN];
        Base64::encode(&nonce, &mut key).map_err(|_| WriteError::BufferTooSmall)?;
        let mut w = Writer::new(out);
        self.write_request_line(&mut w)?;
        w.put_header("Host", visible(self.host)?)?;
        w.put(b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n")?;
        w.put_header("Sec-WebSocket-Key", &key)?;
        self.write_protocols(&mut w)?;
        if let Some(token) = self.bearer {
            w.put(b"Authorization: Bearer ")?;
            w.put(visible(token)?)?;
            w.put(b"\r\n")?;
        }
        if let Some(origin) = self.origin {
            w.put_header("Origin", visible(origin)?)?;
        }
        for (name, value) in self.extra_headers {
            w.put_header(name, value.as_bytes())?;
        }
        w.put(b"\r\n")?;
        let handshake = ClientHandshake {
            expected_accept: accept_key(&key),
            protocols: self.protocols,
            marker: self.token_protocol.map(|(marker, _)| marker),
            max_response_bytes: self.max_response_bytes,
        };
        Ok((w.len(), handshake))
    }

    fn write_request_line(&self, w: &mut Writer<'_>) -> Result<(), WriteError> {
        let path = visible(self.path)?;
        if path.first() != Some(&b'/') || path.contains(&b'#') {
            return Err(WriteError::InvalidHeader);
        }
        w.put(b"GET ")?;
        w.put(path)?;
        if let Some((name, token)) = self.query_token {
            w.put(if path.contains(&b'?') { b"&" } else { b"?" })?;
            put_percent_encoded(w, name.as_bytes())?;
            w.put(b"=")?;
            put_percent_encoded(w, token.as_bytes())?;
        }
        w.put(b" HTTP/1.1\r\n")
    }

    fn write_protocols(&self, w: &mut Writer<'_>) -> Result<(), WriteError> {
        let token_protocol = self.token_protocol.map(|(marker, token)| [marker, token]);
        let mut entries = self.protocols.iter().chain(token_protocol.iter().flatten());
        let Some(first) = entries.next() else {
            return Ok(());
        };
        w.put(b"Sec-WebSocket-Protocol: ")?;
        for (index, entry) in core::iter::once(first).chain(entries).enumerate() {
            if !http::is_token(entry.as_bytes()) {
                return Err(WriteError::InvalidHeader);
            }
            if index > 0 {
                w.put(b", ")?;
            }
            w.put(entry.as_bytes())?;
        }
        w.put(b"\r\n")
    }
}

/// Visible ASCII only (`0x21..=0x7e`): hosts, origins and tokens never contain spaces.
fn visible(value: &str) -> Result<&[u8], WriteError> {
    let bytes = value.as_bytes();
    if bytes.is_empty() || !bytes.iter().all(|b| (0x21..0x7f).contains(b)) {
        return Err(WriteError::InvalidHeader);
    }
    Ok(bytes)
}

fn put_percent_encoded(w: &mut Writer<'_>, bytes: &[u8]) -> Result<(), WriteError> {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &byte in bytes {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            w.put(&[byte])?;
        } else {
            let high = HEX.get(usize::from(byte >> 4)).copied().unwrap_or(b'0');
            let low = HEX.get(usize::from(byte & 0x0f)).copied().unwrap_or(b'0');
            w.put(&[b'%', high, low])?;
        }
    }
    Ok(())
}

/// A request in flight: checks the server's answer against what was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientHandshake<'a> {
    expected_accept: [u8; ACCEPT_LEN],
    protocols: &'a [&'a str],
    marker: Option<&'a str>,
    max_response_bytes: usize,
}

impl<'a> ClientHandshake<'a> {
    /// The `Sec-WebSocket-Accept` value the server must send.
    #[must_use]
    pub const fn expected_accept(&self) -> &[u8; ACCEPT_LEN] {
        &self.expected_accept
    }

    /// Parse and validate the server's answer from the start of `buf`.
    ///
    /// `headers` is the caller's header storage (its length is the header-count limit).
    /// [`Status::Partial`] while the head is incomplete; on [`Status::Complete`] the
    /// [`Accepted`] says how long the head was, so frames the server sent right after it
    /// are not lost.
    ///
    /// # Errors
    ///
    /// [`ResponseError::Rejected`] with the status (and RFC 6750 `error_description`)
    /// for any status but 101; otherwise the first failed RFC 6455 §4.1 check.
    pub fn parse_response<'b>(
        &self,
        buf: &'b [u8],
        headers: &mut [Header<'b>],
    ) -> Result<Status<Accepted<'a>>, ResponseError> {
        let mut parsed = httparse::Response::new(headers);
        let head_len = match parsed.parse(buf) {
            Ok(Status::Complete(len)) => len,
            Ok(Status::Partial) if buf.len() >= self.max_response_bytes => {
                return Err(ResponseError::ResponseTooLarge);
            }
            Ok(Status::Partial) => return Ok(Status::Partial),
            Err(httparse::Error::TooManyHeaders) => return Err(ResponseError::TooManyHeaders),
            Err(_) => return Err(ResponseError::Malformed),
        };
        if head_len > self.max_response_bytes {
            return Err(ResponseError::ResponseTooLarge);
        }
        let headers: &[Header<'b>] = parsed.headers;
        let status = parsed.code.ok_or(ResponseError::Malformed)?;
        if status != 101 {
            let description =
                http::values(headers, "WWW-Authenticate").find_map(bearer_error_description);
            return Err(ResponseError::Rejected(Rejected::new(status, description)));
        }
        if parsed.version != Some(1) {
            return Err(ResponseError::UnsupportedHttpVersion);
        }
        if !http::list_contains(headers, "Upgrade", "websocket") {
            return Err(ResponseError::MissingUpgrade);
        }
        if !http::list_contains(headers, "Connection", "upgrade") {
            return Err(ResponseError::MissingConnectionUpgrade);
        }
        match http::single(headers, "Sec-WebSocket-Accept") {
            Ok(Some(accept)) if accept == self.expected_accept => {}
            Ok(Some(_)) => return Err(ResponseError::AcceptMismatch),
            Ok(None) | Err(()) => return Err(ResponseError::MissingAccept),
        }
        if http::list_items(headers, "Sec-WebSocket-Extensions")
            .next()
            .is_some()
        {
            return Err(ResponseError::UnexpectedExtension);
        }
        let protocol = self.chosen_protocol(headers)?;
        Ok(Status::Complete(Accepted { protocol, head_len }))
    }

    /// The offered protocol (never the token) the server named, from our own list.
    fn chosen_protocol(&self, headers: &[Header<'_>]) -> Result<Option<&'a str>, ResponseError> {
        let mut chosen = http::list_items(headers, "Sec-WebSocket-Protocol");
        let Some(name) = chosen.next() else {
            return Ok(None);
        };
        if chosen.next().is_some() {
            return Err(ResponseError::UnexpectedProtocol);
        }
        self.protocols
            .iter()
            .copied()
            .chain(self.marker)
            .find(|offered| offered.as_bytes() == name)
            .map(Some)
            .ok_or(ResponseError::UnexpectedProtocol)
    }
}

/// A completed handshake, seen from the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted<'a> {
    protocol: Option<&'a str>,
    head_len: usize,
}

impl<'a> Accepted<'a> {
    /// The subprotocol the server chose (one of ours, never the token), if any.
    #[must_use]
    pub const fn protocol(&self) -> Option<&'a str> {
        self.protocol
    }

    /// How many bytes of the input the response head used; the rest are WebSocket frames.
    #[must_use]
    pub const fn head_len(&self) -> usize {
        self.head_len
    }
}

/// The `error_description` of a `Bearer` challenge (RFC 6750 §3), quoted or not.
fn bearer_error_description(value: &[u8]) -> Option<&[u8]> {
    let value = value.trim_ascii();
    let mut parts = value.splitn(2, |&b| b == b' ');
    if !parts.next()?.eq_ignore_ascii_case(b"Bearer") {
        return None;
    }
    let mut rest = parts.next()?;
    loop {
        rest = rest
            .trim_ascii_start()
            .strip_prefix(b",")
            .unwrap_or(rest)
            .trim_ascii_start();
        let name_len = rest
            .iter()
            .position(|&b| !http::is_tchar(b))
            .unwrap_or(rest.len());
        let (name, after) = rest.split_at_checked(name_len)?;
        let after = after
            .trim_ascii_start()
            .strip_prefix(b"=")?
            .trim_ascii_start();
        let (param, next) = if let Some(quoted) = after.strip_prefix(b"\"") {
            let end = quoted.iter().position(|&b| b == b'"')?;
            let (param, tail) = quoted.split_at_checked(end)?;
            (param, tail.get(1..)?)
        } else {
            let end = after
                .iter()
                .position(|&b| !http::is_tchar(b))
                .unwrap_or(after.len());
            after.split_at_checked(end)?
        };
        if name.is_empty() {
            return None;
        }
        if name.eq_ignore_ascii_case(b"error_description") {
            return Some(param);
        }
        rest = next;
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use core::convert::Infallible;
    use std::{format, string::String, vec::Vec};

    use super::*;
    use crate::ws::handshake::EMPTY_HEADER;

    /// Bytes 0, 1, 2, … : deterministic, and visibly "from the RNG".
    struct CountingRng(u8);

    impl rand_core::TryRng for CountingRng {
        type Error = Infallible;

        fn try_next_u32(&mut self) -> Result<u32, Infallible> {
            Ok(0)
        }

        fn try_next_u64(&mut self) -> Result<u64, Infallible> {
            Ok(0)
        }

        fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
            for byte in dst {
                *byte = self.0;
                self.0 = self.0.wrapping_add(1);
            }
            Ok(())
        }
    }

    impl rand_core::TryCryptoRng for CountingRng {}

    fn request_text(request: &ClientRequest<'_>) -> Result<String, WriteError> {
        let mut out = [0; 1024];
        let (len, _) = request.write_with_key([1; 16], &mut out)?;
        Ok(String::from_utf8(out.get(..len).unwrap().to_vec()).unwrap())
    }

    const KEY_OF_ONES: &str = "AQEBAQEBAQEBAQEBAQEBAQ==";

    #[test]
    fn request_has_the_rfc6455_fields() {
        let text = request_text(&ClientRequest::new("example.com:8080", "/chat")).unwrap();
        assert_eq!(
            text,
            format!(
                "GET /chat HTTP/1.1\r\nHost: example.com:8080\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {KEY_OF_ONES}\r\n\r\n"
            )
        );
    }

    #[test]
    fn key_comes_from_the_injected_rng() {
        let mut out = [0; 512];
        let (len, handshake) = ClientRequest::new("h", "/")
            .write(&mut CountingRng(0), &mut out)
            .unwrap();
        let text = core::str::from_utf8(out.get(..len).unwrap()).unwrap();
        assert!(
            text.contains("Sec-WebSocket-Key: AAECAwQFBgcICQoLDA0ODw==\r\n"),
            "{text}"
        );
        assert_eq!(
            handshake.expected_accept(),
            &accept_key(b"AAECAwQFBgcICQoLDA0ODw==")
        );
    }

    #[test]
    fn query_token_is_appended_percent_encoded() {
        let request = ClientRequest::new("h", "/ws").with_query_token("token", "a.b+c/d");
        assert!(
            request_text(&request)
                .unwrap()
                .starts_with("GET /ws?token=a.b%2Bc%2Fd HTTP/1.1\r\n")
        );
        let request = ClientRequest::new("h", "/ws?room=1").with_query_token("token", "abc");
        assert!(
            request_text(&request)
                .unwrap()
                .starts_with("GET /ws?room=1&token=abc HTTP/1.1\r\n")
        );
    }

    #[test]
    fn bearer_origin_and_extra_headers_are_sent() {
        let request = ClientRequest::new("h", "/")
            .with_bearer("abc.def")
            .with_origin("https://app.example")
            .with_headers(&[("User-Agent", "tollgate test")]);
        let text = request_text(&request).unwrap();
        assert!(text.contains("\r\nAuthorization: Bearer abc.def\r\n"));
        assert!(text.contains("\r\nOrigin: https://app.example\r\n"));
        assert!(text.ends_with("\r\nUser-Agent: tollgate test\r\n\r\n"));
    }

    #[test]
    fn token_protocol_follows_the_application_protocols() {
        let request = ClientRequest::new("h", "/")
            .with_protocols(&["chat", "superchat"])
            .with_token_protocol("tollgate.bearer", "abc.def");
        let text = request_text(&request).unwrap();
        assert!(
            text.contains(
                "\r\nSec-WebSocket-Protocol: chat, superchat, tollgate.bearer, abc.def\r\n"
            )
        );
        let only_token = ClientRequest::new("h", "/").with_token_protocol("m", "t");
        assert!(
            request_text(&only_token)
                .unwrap()
                .contains("\r\nSec-WebSocket-Protocol: m, t\r\n")
        );
    }

    #[test]
    fn request_fields_that_break_framing_are_refused() {
        let refused = [
            ClientRequest::new("h", "chat"),
            ClientRequest::new("h", "/a b"),
            ClientRequest::new("h", "/a#b"),
            ClientRequest::new("h\r\nX: y", "/"),
            ClientRequest::new("", "/"),
            ClientRequest::new("h", "/").with_bearer("a b"),
            ClientRequest::new("h", "/").with_protocols(&["a,b"]),
            ClientRequest::new("h", "/").with_token_protocol("m", "a/b"),
            ClientRequest::new("h", "/").with_origin("https://a\r\n"),
            ClientRequest::new("h", "/").with_headers(&[("X", "a\nb")]),
        ];
        for request in refused {
            assert_eq!(
                request_text(&request),
                Err(WriteError::InvalidHeader),
                "{request:?}"
            );
        }
    }

    #[test]
    fn short_output_buffer_is_buffer_too_small() {
        let request = ClientRequest::new("h", "/").with_bearer("abc");
        let full = request_text(&request).unwrap().len();
        for len in 0..full {
            let mut out: Vec<u8> = std::vec![0; len];
            assert_eq!(
                request.write_with_key([1; 16], &mut out).map(|(n, _)| n),
                Err(WriteError::BufferTooSmall)
            );
        }
    }

    fn handshake(request: ClientRequest<'static>) -> ClientHandshake<'static> {
        request.write_with_key([1; 16], &mut [0; 1024]).unwrap().1
    }

    fn accept_line() -> String {
        let accept = accept_key(KEY_OF_ONES.as_bytes());
        format!(
            "Sec-WebSocket-Accept: {}\r\n",
            core::str::from_utf8(&accept).unwrap()
        )
    }

    fn good_response(extra: &str) -> String {
        format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n{}{extra}\r\n",
            accept_line()
        )
    }

    fn check(
        handshake: &ClientHandshake<'static>,
        response: &str,
    ) -> Result<Status<Accepted<'static>>, ResponseError> {
        let mut headers = [EMPTY_HEADER; 16];
        handshake.parse_response(response.as_bytes(), &mut headers)
    }

    fn protocol_of(
        result: Result<Status<Accepted<'static>>, ResponseError>,
    ) -> Result<Option<&'static str>, ResponseError> {
        match result? {
            Status::Complete(accepted) => Ok(accepted.protocol()),
            Status::Partial => panic!("partial"),
        }
    }

    fn plain() -> ClientHandshake<'static> {
        handshake(ClientRequest::new("h", "/"))
    }

    #[test]
    fn valid_101_completes_with_head_length() {
        let response = good_response("");
        let with_frame = format!("{response}\u{1}\u{0}");
        let accepted = check(&plain(), &with_frame).unwrap();
        assert_eq!(
            accepted,
            Status::Complete(Accepted {
                protocol: None,
                head_len: response.len()
            })
        );
    }

    #[test]
    fn incomplete_response_is_partial() {
        let response = good_response("");
        assert_eq!(
            check(&plain(), response.get(..response.len() - 1).unwrap()),
            Ok(Status::Partial)
        );
    }

    #[test]
    fn oversized_response_is_refused() {
        let small = handshake(ClientRequest::new("h", "/").with_max_response_bytes(40));
        assert_eq!(
            check(&small, &good_response("")),
            Err(ResponseError::ResponseTooLarge)
        );
        let partial = good_response("");
        assert_eq!(
            check(&small, partial.get(..50).unwrap()),
            Err(ResponseError::ResponseTooLarge)
        );
        let mut headers = [EMPTY_HEADER; 2];
        let many = plain().parse_response(good_response("").as_bytes(), &mut headers);
        assert_eq!(many, Err(ResponseError::TooManyHeaders));
    }

    #[test]
    fn non_101_status_is_rejected_with_the_status() {
        let response = "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n";
        let Err(ResponseError::Rejected(rejected)) = check(&plain(), response) else {
            panic!("not rejected");
        };
        assert_eq!(rejected.status(), 403);
        assert_eq!(rejected.error_description(), None);
    }

    #[test]
    fn unauthorized_carries_the_error_description() {
        let response = "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"x\"\r\n\
            WWW-Authenticate: bearer realm=\"api\", error=\"invalid_token\", error_description=\"expired\"\r\n\r\n";
        let Err(ResponseError::Rejected(rejected)) = check(&plain(), response) else {
            panic!("not rejected");
        };
        assert_eq!(rejected.status(), 401);
        assert_eq!(rejected.error_description(), Some("expired"));
    }

    #[test]
    fn unauthorized_without_error_has_no_description() {
        let response = "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer\r\n\r\n";
        let Err(ResponseError::Rejected(rejected)) = check(&plain(), response) else {
            panic!("not rejected");
        };
        assert_eq!(rejected.error_description(), None);
        let unquoted = "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer error_description=too_old\r\n\r\n";
        let Err(ResponseError::Rejected(rejected)) = check(&plain(), unquoted) else {
            panic!("not rejected");
        };
        assert_eq!(rejected.error_description(), Some("too_old"));
    }

    #[test]
    fn response_must_be_http_1_1() {
        let response = good_response("").replacen("HTTP/1.1", "HTTP/1.0", 1);
        assert_eq!(
            check(&plain(), &response),
            Err(ResponseError::UnsupportedHttpVersion)
        );
    }

    #[test]
    fn response_must_upgrade_to_websocket() {
        let response = good_response("").replacen("Upgrade: websocket\r\n", "Upgrade: h2c\r\n", 1);
        assert_eq!(
            check(&plain(), &response),
            Err(ResponseError::MissingUpgrade)
        );
    }

    #[test]
    fn response_connection_must_list_upgrade() {
        let response =
            good_response("").replacen("Connection: Upgrade", "Connection: keep-alive", 1);
        assert_eq!(
            check(&plain(), &response),
            Err(ResponseError::MissingConnectionUpgrade)
        );
        let listed =
            good_response("").replacen("Connection: Upgrade", "Connection: keep-alive, UPGRADE", 1);
        assert!(check(&plain(), &listed).is_ok());
    }

    #[test]
    fn accept_must_match_the_key() {
        let wrong = good_response("").replacen(
            &accept_line(),
            "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n",
            1,
        );
        assert_eq!(check(&plain(), &wrong), Err(ResponseError::AcceptMismatch));
    }

    #[test]
    fn accept_must_appear_exactly_once() {
        let missing = good_response("").replacen(&accept_line(), "", 1);
        assert_eq!(check(&plain(), &missing), Err(ResponseError::MissingAccept));
        let twice = good_response(&accept_line());
        assert_eq!(check(&plain(), &twice), Err(ResponseError::MissingAccept));
    }

    #[test]
    fn unoffered_extension_is_refused() {
        let response = good_response("Sec-WebSocket-Extensions: permessage-deflate\r\n");
        assert_eq!(
            check(&plain(), &response),
            Err(ResponseError::UnexpectedExtension)
        );
    }

    #[test]
    fn chosen_protocol_must_be_one_we_offered() {
        let offering = handshake(ClientRequest::new("h", "/").with_protocols(&["chat"]));
        let chosen = check(
            &offering,
            &good_response("Sec-WebSocket-Protocol: chat\r\n"),
        );
        assert_eq!(protocol_of(chosen), Ok(Some("chat")));
        let other = check(
            &offering,
            &good_response("Sec-WebSocket-Protocol: superchat\r\n"),
        );
        assert_eq!(other, Err(ResponseError::UnexpectedProtocol));
        let two = check(
            &offering,
            &good_response("Sec-WebSocket-Protocol: chat, chat\r\n"),
        );
        assert_eq!(two, Err(ResponseError::UnexpectedProtocol));
        let unasked = check(&plain(), &good_response("Sec-WebSocket-Protocol: chat\r\n"));
        assert_eq!(unasked, Err(ResponseError::UnexpectedProtocol));
    }

    #[test]
    fn chosen_protocol_may_be_the_marker_but_never_the_token() {
        let offering = handshake(
            ClientRequest::new("h", "/").with_token_protocol("tollgate.bearer", "abc.def"),
        );
        let marker = check(
            &offering,
            &good_response("Sec-WebSocket-Protocol: tollgate.bearer\r\n"),
        );
        assert_eq!(protocol_of(marker), Ok(Some("tollgate.bearer")));
        let token = check(
            &offering,
            &good_response("Sec-WebSocket-Protocol: abc.def\r\n"),
        );
        assert_eq!(token, Err(ResponseError::UnexpectedProtocol));
    }

    #[test]
    fn garbage_response_is_malformed() {
        assert_eq!(
            check(&plain(), "HTTP/1.1 abc\r\n\r\n"),
            Err(ResponseError::Malformed)
        );
    }
}
