//! In-band authentication messages (socketio-jwt style), parsed and written without a
//! heap.
//!
//! The client's first text message: `{"type":"authenticate","token":"<jwt>"}` (or
//! `"refresh"` for a new token on a live connection). Other members are ignored; the
//! document must be one strict JSON object (no duplicate members, no trailing data).
//! The server answers `{"type":"authenticated"}` or
//! `{"type":"unauthorized","code":"<stable code>","message":"<short text>"}`.

use super::AuthError;
use crate::error::BufferTooSmall;
use crate::jwt::json::{self, JsonStr, Value};

/// The longest reply [`write_unauthorized`] writes for any [`AuthError`].
pub const MAX_REPLY_LEN: usize = 192;

/// The `type` of an in-band authentication message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum AuthMessageKind {
    /// `"authenticate"`: the first message of a connection in
    /// [`AuthMode::FirstMessage`](super::AuthMode::FirstMessage).
    Authenticate,
    /// `"refresh"`: a new token for a live connection (see
    /// [`check_refresh`](super::check_refresh)).
    Refresh,
}

/// A parsed authentication message, borrowing the token from the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct AuthMessage<'a> {
    /// What the client asks for.
    pub kind: AuthMessageKind,
    /// The token, still to be verified.
    pub token: &'a str,
}

/// Parses `{"type":"authenticate"|"refresh","token":"…"}`.
///
/// # Errors
/// [`AuthError::InvalidAuthMessage`] when the text is not one JSON object, or `type` is
/// missing or another value, or `token` is missing or not a string;
/// [`AuthError::MalformedToken`] when the token is empty or contains JSON escapes (a JWT
/// never needs one).
pub fn parse_auth_message(text: &[u8]) -> Result<AuthMessage<'_>, AuthError> {
    let mut kind: Option<Value<'_>> = None;
    let mut token: Option<Value<'_>> = None;
    json::parse_object(text, |name, value| {
        if name == "type" {
            kind = Some(value);
        } else if name == "token" {
            token = Some(value);
        }
    })
    .map_err(|_| AuthError::InvalidAuthMessage)?;
    let kind = match kind {
        Some(Value::String(kind)) if kind == "authenticate" => AuthMessageKind::Authenticate,
        Some(Value::String(kind)) if kind == "refresh" => AuthMessageKind::Refresh,
        _ => return Err(AuthError::InvalidAuthMessage),
    };
    let Some(Value::String(token)) = token else {
        return Err(AuthError::InvalidAuthMessage);
    };
    let token = plain(token).ok_or(AuthError::MalformedToken)?;
    Ok(AuthMessage { kind, token })
}

fn plain(text: JsonStr<'_>) -> Option<&str> {
    text.as_str().filter(|text| !text.is_empty())
}

/// Writes `{"type":"authenticated"}` into `out`; returns its length.
///
/// # Errors
/// [`BufferTooSmall`] when `out` is shorter than 24 bytes.
pub fn write_authenticated(out: &mut [u8]) -> Result<usize, BufferTooSmall> {
    let mut w = JsonWriter::new(out);
    w.raw(b"{\"type\":\"authenticated\"}")?;
    Ok(w.len)
}

/// Writes `{"type":"unauthorized","code":"<code>","message":"<message>"}` for `error`
/// into `out`; returns its length ([`MAX_REPLY_LEN`] always suffices).
///
/// # Errors
/// [`BufferTooSmall`] when `out` is too short.
pub fn write_unauthorized(error: AuthError, out: &mut [u8]) -> Result<usize, BufferTooSmall> {
    let mut w = JsonWriter::new(out);
    w.raw(b"{\"type\":\"unauthorized\",\"code\":")?;
    w.string(error.code())?;
    w.raw(b",\"message\":")?;
    w.string(error.message())?;
    w.raw(b"}")?;
    Ok(w.len)
}

struct JsonWriter<'o> {
    out: &'o mut [u8],
    len: usize,
}

impl<'o> JsonWriter<'o> {
    fn new(out: &'o mut [u8]) -> Self {
        Self { out, len: 0 }
    }

    fn raw(&mut self, bytes: &[u8]) -> Result<(), BufferTooSmall> {
        let end = self.len.checked_add(bytes.len()).ok_or(BufferTooSmall)?;
        self.out
            .get_mut(self.len..end)
            .ok_or(BufferTooSmall)?
            .copy_from_slice(bytes);
        self.len = end;
        Ok(())
    }

    /// A JSON string; the texts written are ours, but escaping keeps the output valid
    /// whatever they become.
    fn string(&mut self, text: &str) -> Result<(), BufferTooSmall> {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        self.raw(b"\"")?;
        for &byte in text.as_bytes() {
            match byte {
                b'"' => self.raw(b"\\\"")?,
                b'\\' => self.raw(b"\\\\")?,
                0..0x20 => {
                    let high = HEX.get(usize::from(byte >> 4)).copied().unwrap_or(b'0');
                    let low = HEX.get(usize::from(byte & 0x0f)).copied().unwrap_or(b'0');
                    self.raw(&[b'\\', b'u', b'0', b'0', high, low])?;
                }
                _ => self.raw(&[byte])?,
            }
        }
        self.raw(b"\"")
    }
}
