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
/// token failures, `Sec-WebSocket-Version: 13` and `Upgrade` for 426, `Allow: GET` for 405).
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
    /// [`WriteError::BufferTooSmall`] when `out` is too short (256 bytes always
    /// suffice for codes under 60 characters); [`WriteError::InvalidHeader`] when a
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
