//! Writing the server's answer: the 101 that completes the handshake, or a refusal.

use super::accept::accept_key;
use super::error::{Challenge, HandshakeError, WriteError, is_description_char, reason_phrase};
use super::http;
use super::server::Request;

/// A cursor over a caller buffer that never writes past its end.
pub(crate) struct Writer<'o> {
    buf: &'o mut [u8],
    len: usize,
}

impl<'o> Writer<'o> {
    pub(crate) fn new(buf: &'o mut [u8]) -> Self {
        Self { buf, len: 0 }
    }

    pub(crate) fn put(&mut self, bytes: &[u8]) -> Result<(), WriteError> {
        let end = self
            .len
            .checked_add(bytes.len())
            .ok_or(WriteError::BufferTooSmall)?;
        self.buf
            .get_mut(self.len..end)
            .ok_or(WriteError::BufferTooSmall)?
            .copy_from_slice(bytes);
        self.len = end;
        Ok(())
    }

    pub(crate) fn put_decimal(&mut self, mut value: usize) -> Result<(), WriteError> {
        let mut digits = [0_u8; 20];
        let mut start = digits.len();
        loop {
            start -= 1;
            if let Some(slot) = digits.get_mut(start) {
                *slot = b'0' + (value % 10) as u8;
            }
            value /= 10;
            if value == 0 || start == 0 {
                break;
            }
        }
        self.put(digits.get(start..).unwrap_or_default())
    }

    /// `name: value\r\n` for a caller-supplied header, refusing anything that could
    /// break the framing.
    pub(crate) fn put_header(&mut self, name: &str, value: &[u8]) -> Result<(), WriteError> {
        if !http::is_token(name.as_bytes()) || !http::is_field_value(value) {
            return Err(WriteError::InvalidHeader);
        }
        self.put(name.as_bytes())?;
        self.put(b": ")?;
        self.put(value)?;
        self.put(b"\r\n")
    }

    pub(crate) const fn len(&self) -> usize {
        self.len
    }
}

impl Request<'_, '_> {
    /// Write `101 Switching Protocols` with `Sec-WebSocket-Accept`, the chosen
    /// subprotocol (from [`ServerConfig::select_protocol`](super::server::ServerConfig::select_protocol))
    /// and `extra_headers` into `out`; returns the length written.
    ///
    /// # Errors
    ///
    /// [`WriteError::BufferTooSmall`] when `out` is too short (about 130 bytes plus
    /// protocol and extra headers); [`WriteError::InvalidHeader`] when `protocol` is not
    /// a token or an extra header would break the framing.
    pub fn write_accept(
        &self,
        protocol: Option<&str>,
        extra_headers: &[(&str, &str)],
        out: &mut [u8],
    ) -> Result<usize, WriteError> {
        let mut w = Writer::new(out);
        w.put(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n",
        )?;
        w.put(b"Sec-WebSocket-Accept: ")?;
        w.put(&accept_key(self.key()))?;
        w.put(b"\r\n")?;
        if let Some(protocol) = protocol {
            if !http::is_token(protocol.as_bytes()) {
                return Err(WriteError::InvalidHeader);
            }
            w.put_header("Sec-WebSocket-Protocol", protocol.as_bytes())?;
        }
        for (name, value) in extra_headers {
            w.put_header(name, value.as_bytes())?;
        }
        w.put(b"\r\n")?;
        Ok(w.len())
    }
}

/// A refusal of the upgrade: status line, `Connection: close`, a short text body with
/// `Content-Length`, plus the headers the status calls for (`WWW-Authenticate` for
/// token failures, `Sec-WebSocket-Version: 13` and `Upgrade` for 426, `Allow: GET` for 405,
/// `Retry-After: 5` for 503).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Rejection {
    status: u16,
    challenge: Option<Challenge>,
    body: &'static str,
}

impl From<HandshakeError> for Rejection {
    fn from(error: HandshakeError) -> Self {
        Self::from_error(error)
    }
}

impl Rejection {
    /// An output size that holds any refusal whose challenge code is at most 128 bytes.
    pub const MAX_LEN: usize = 512;

    /// The refusal for a handshake error; the status is [`HandshakeError::status`].
    #[must_use]
    pub const fn from_error(error: HandshakeError) -> Self {
        Self {
            status: error.status(),
            challenge: error.challenge(),
            body: error.message(),
        }
    }

    /// 401 with `WWW-Authenticate: Bearer error="invalid_token", error_description="<code>"`
    /// for a token that failed verification; `code` is a stable code such as
    /// [`JwtError::code`](crate::jwt::error::JwtError::code), also used as the body.
    #[must_use]
    pub const fn invalid_token(code: &'static str) -> Self {
        Self {
            status: 401,
            challenge: Some(Challenge::InvalidToken(code)),
            body: code,
        }
    }

    /// 503 without a challenge, `code` as the body: the token may be fine, but the
    /// server cannot check it now (its keys are unavailable). A `WWW-Authenticate`
    /// `invalid_token` here would make clients throw away a good token.
    #[must_use]
    pub const fn unavailable(code: &'static str) -> Self {
        Self {
            status: 503,
            challenge: None,
            body: code,
        }
    }

    /// The HTTP status code.
    #[must_use]
    pub const fn status(&self) -> u16 {
        self.status
    }

    /// The `WWW-Authenticate` challenge, if any.
    #[must_use]
    pub const fn challenge(&self) -> Option<Challenge> {
        self.challenge
    }

    /// Write the whole response (head and body) into `out`; returns the length written.
    /// The caller closes the connection after sending it.
    ///
    /// # Errors
    ///
    /// [`WriteError::BufferTooSmall`] when `out` is too short ([`Rejection::MAX_LEN`]
    /// always suffices for codes up to 128 bytes); [`WriteError::InvalidHeader`] when a
    /// challenge code has characters RFC 6750 does not allow in `error_description`.
    pub fn write(&self, out: &mut [u8]) -> Result<usize, WriteError> {
        let mut w = Writer::new(out);
        w.put(b"HTTP/1.1 ")?;
        w.put_decimal(usize::from(self.status))?;
        w.put(b" ")?;
        w.put(reason_phrase(self.status).as_bytes())?;
        w.put(b"\r\n")?;
        match self.status {
            426 => w.put(b"Connection: Upgrade, close\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n")?,
            405 => w.put(b"Connection: close\r\nAllow: GET\r\n")?,
            // A temporary condition (keys unreachable): tell clients when to come back
            // instead of letting them retry in a tight loop.
            503 => w.put(b"Connection: close\r\nRetry-After: 5\r\n")?,
            _ => w.put(b"Connection: close\r\n")?,
        }
        if let Some(challenge) = self.challenge {
            write_challenge(&mut w, challenge)?;
        }
        w.put(b"Content-Type: text/plain; charset=utf-8\r\nContent-Length: ")?;
        w.put_decimal(self.body.len().saturating_add(1))?;
        w.put(b"\r\n\r\n")?;
        w.put(self.body.as_bytes())?;
        w.put(b"\n")?;
        Ok(w.len())
    }
}

fn write_challenge(w: &mut Writer<'_>, challenge: Challenge) -> Result<(), WriteError> {
    let (error, code) = match challenge {
        Challenge::Bearer => return w.put(b"WWW-Authenticate: Bearer\r\n"),
        Challenge::InvalidToken(code) => ("invalid_token", code),
        Challenge::InvalidRequest(code) => ("invalid_request", code),
    };
    if code.is_empty() || !code.bytes().all(is_description_char) {
        return Err(WriteError::InvalidHeader);
    }
    w.put(b"WWW-Authenticate: Bearer error=\"")?;
    w.put(error.as_bytes())?;
    w.put(b"\", error_description=\"")?;
    w.put(code.as_bytes())?;
    w.put(b"\"\r\n")
}

/// Bytes owed to the peer after [`ServerConfig::parse_request`](super::server::ServerConfig::parse_request)
/// failed: the refusal for `error`. A convenience over [`Rejection::from_error`].
///
/// # Errors
///
/// As [`Rejection::write`].
pub fn write_rejection(error: HandshakeError, out: &mut [u8]) -> Result<usize, WriteError> {
    Rejection::from_error(error).write(out)
}

#[cfg(test)]
mod tests {
    extern crate std;

    use std::string::{String, ToString};
    use std::{str, vec::Vec};

    use super::*;
    use crate::ws::handshake::{EMPTY_HEADER, ServerConfig};
    use httparse::Status;

    const REQUEST: &[u8] = b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n\
        Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

    fn accept_bytes(
        protocol: Option<&str>,
        extra: &[(&str, &str)],
        out: &mut [u8],
    ) -> Result<usize, WriteError> {
        let mut headers = [EMPTY_HEADER; 16];
        let Ok(Status::Complete(request)) =
            ServerConfig::new().parse_request(REQUEST, &mut headers)
        else {
            panic!("not accepted");
        };
        request.write_accept(protocol, extra, out)
    }

    fn written(result: impl FnOnce(&mut [u8]) -> Result<usize, WriteError>) -> Vec<u8> {
        let mut out = [0; 512];
        let len = result(&mut out).unwrap();
        out.get(..len).unwrap().to_vec()
    }

    /// The head parsed back with httparse, and the body.
    fn response_parts(bytes: &[u8]) -> (u16, Vec<(String, String)>, Vec<u8>) {
        let mut headers = [EMPTY_HEADER; 16];
        let mut response = httparse::Response::new(&mut headers);
        let Ok(Status::Complete(len)) = response.parse(bytes) else {
            panic!("unparsable response");
        };
        let fields = response
            .headers
            .iter()
            .map(|h| {
                (
                    h.name.to_ascii_lowercase(),
                    String::from_utf8(h.value.to_vec()).unwrap(),
                )
            })
            .collect();
        (
            response.code.unwrap(),
            fields,
            bytes.get(len..).unwrap().to_vec(),
        )
    }

    fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
        fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn accept_response_carries_the_rfc_accept_value() {
        let bytes = written(|out| accept_bytes(None, &[], out));
        assert_eq!(
            bytes,
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
        );
    }

    #[test]
    fn accept_response_names_the_protocol_and_extra_headers() {
        let bytes = written(|out| accept_bytes(Some("chat"), &[("X-Session", "42")], out));
        let (status, fields, body) = response_parts(&bytes);
        assert_eq!(status, 101);
        assert_eq!(field(&fields, "sec-websocket-protocol"), Some("chat"));
        assert_eq!(field(&fields, "x-session"), Some("42"));
        assert!(body.is_empty());
    }

    #[test]
    fn accept_response_refuses_a_non_token_protocol() {
        let mut out = [0; 512];
        assert_eq!(
            accept_bytes(Some("a b"), &[], &mut out),
            Err(WriteError::InvalidHeader)
        );
        assert_eq!(
            accept_bytes(Some(""), &[], &mut out),
            Err(WriteError::InvalidHeader)
        );
    }

    #[test]
    fn extra_headers_cannot_inject_lines() {
        let mut out = [0; 512];
        let injected = accept_bytes(None, &[("X-A", "1\r\nSet-Cookie: x=y")], &mut out);
        assert_eq!(injected, Err(WriteError::InvalidHeader));
        assert_eq!(
            accept_bytes(None, &[("X A", "1")], &mut out),
            Err(WriteError::InvalidHeader)
        );
    }

    #[test]
    fn short_output_buffer_is_buffer_too_small_at_every_length() {
        let full = written(|out| accept_bytes(Some("chat"), &[], out));
        for len in 0..full.len() {
            let mut out = vec_of(len);
            assert_eq!(
                accept_bytes(Some("chat"), &[], &mut out),
                Err(WriteError::BufferTooSmall),
                "{len}"
            );
        }
        let rejection = written(|out| Rejection::invalid_token("expired").write(out));
        for len in 0..rejection.len() {
            let mut out = vec_of(len);
            assert_eq!(
                Rejection::invalid_token("expired").write(&mut out),
                Err(WriteError::BufferTooSmall)
            );
        }
    }

    fn vec_of(len: usize) -> Vec<u8> {
        std::vec![0; len]
    }

    #[test]
    fn missing_token_refusal_is_401_with_plain_bearer() {
        let bytes = written(|out| write_rejection(HandshakeError::MissingToken, out));
        let (status, fields, _) = response_parts(&bytes);
        assert_eq!(status, 401);
        assert_eq!(field(&fields, "www-authenticate"), Some("Bearer"));
        assert!(bytes.starts_with(b"HTTP/1.1 401 Unauthorized\r\n"));
    }

    #[test]
    fn invalid_token_refusal_is_401_with_error_and_stable_code() {
        let bytes = written(|out| Rejection::invalid_token("expired").write(out));
        let (status, fields, body) = response_parts(&bytes);
        assert_eq!(status, 401);
        assert_eq!(
            field(&fields, "www-authenticate"),
            Some("Bearer error=\"invalid_token\", error_description=\"expired\"")
        );
        assert_eq!(body, b"expired\n");
    }

    #[test]
    fn challenge_codes_outside_rfc6750_charset_are_refused() {
        let mut out = [0; 512];
        assert_eq!(
            Rejection::invalid_token("a\"b").write(&mut out),
            Err(WriteError::InvalidHeader)
        );
        assert_eq!(
            Rejection::invalid_token("a\\b").write(&mut out),
            Err(WriteError::InvalidHeader)
        );
        assert_eq!(
            Rejection::invalid_token("a\r\nb").write(&mut out),
            Err(WriteError::InvalidHeader)
        );
        assert_eq!(
            Rejection::invalid_token("").write(&mut out),
            Err(WriteError::InvalidHeader)
        );
    }

    #[test]
    fn conflicting_tokens_refusal_is_400_invalid_request() {
        let bytes = written(|out| write_rejection(HandshakeError::ConflictingTokens, out));
        let (status, fields, _) = response_parts(&bytes);
        assert_eq!(status, 400);
        assert_eq!(
            field(&fields, "www-authenticate"),
            Some("Bearer error=\"invalid_request\", error_description=\"conflicting_tokens\"")
        );
    }

    #[test]
    fn version_refusal_is_426_advertising_version_13() {
        let bytes = written(|out| write_rejection(HandshakeError::UnsupportedVersion, out));
        let (status, fields, _) = response_parts(&bytes);
        assert_eq!(status, 426);
        assert_eq!(field(&fields, "sec-websocket-version"), Some("13"));
        assert_eq!(field(&fields, "upgrade"), Some("websocket"));
        assert!(bytes.starts_with(b"HTTP/1.1 426 Upgrade Required\r\n"));
    }

    #[test]
    fn method_refusal_is_405_allowing_get() {
        let bytes = written(|out| write_rejection(HandshakeError::MethodNotAllowed, out));
        let (status, fields, _) = response_parts(&bytes);
        assert_eq!(status, 405);
        assert_eq!(field(&fields, "allow"), Some("GET"));
    }

    #[test]
    fn max_len_holds_every_refusal() {
        let mut out = [0; Rejection::MAX_LEN];
        for error in [
            HandshakeError::Malformed,
            HandshakeError::MissingToken,
            HandshakeError::OriginNotAllowed,
            HandshakeError::MethodNotAllowed,
            HandshakeError::UnsupportedVersion,
            HandshakeError::RequestTooLarge,
            HandshakeError::ConflictingTokens,
        ] {
            assert!(
                Rejection::from_error(error).write(&mut out).is_ok(),
                "{error:?}"
            );
        }
        static LONGEST: [u8; 128] = [b'a'; 128];
        let longest = core::str::from_utf8(&LONGEST).unwrap();
        assert!(Rejection::invalid_token(longest).write(&mut out).is_ok());
    }

    #[test]
    fn every_refusal_closes_with_exact_content_length() {
        for error in [
            HandshakeError::Malformed,
            HandshakeError::RequestTooLarge,
            HandshakeError::MethodNotAllowed,
            HandshakeError::UnsupportedVersion,
            HandshakeError::OriginNotAllowed,
            HandshakeError::MissingToken,
            HandshakeError::MalformedToken,
            HandshakeError::ConflictingTokens,
        ] {
            let bytes = written(|out| write_rejection(error, out));
            let (status, fields, body) = response_parts(&bytes);
            assert_eq!(status, error.status());
            assert!(field(&fields, "connection").unwrap().contains("close"));
            assert_eq!(
                field(&fields, "content-length"),
                Some(body.len().to_string().as_str())
            );
            assert_eq!(str::from_utf8(&body).unwrap().trim_end(), error.message());
            assert!(!Rejection::from(error).status().to_string().is_empty());
        }
    }
}
