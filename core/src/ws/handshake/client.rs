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
