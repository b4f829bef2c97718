//! The async driver: the handshake and the WebSocket connection over any
//! [`embedded_io_async`] stream, with caller-owned buffers.
//!
//! This is the one place where the sans-IO core meets a byte stream. The tokio and
//! embassy transports wrap it: they supply the stream (a TCP or TLS socket adapted to
//! [`Read`] + [`Write`]), the buffers, the time (`now`, Unix seconds) and the timers.
//!
//! - Server: [`accept`] (no authentication) or [`accept_authenticated`] (JWT through an
//!   [`Authenticator`](crate::auth::Authenticator)) read the upgrade request, answer it
//!   (101, or a refusal per [`Refusal`]) and return a [`WebSocket`]. Bytes that
//!   followed the request head stay in the read buffer as the first frames.
//! - Client: [`connect`] writes the upgrade request with a nonce from the injected RNG,
//!   checks the 101 and returns a [`WebSocket`] that masks with that RNG.
//! - [`WebSocket`]: [`recv`](WebSocket::recv) for whole messages that fit the read
//!   buffer, [`recv_chunk`](WebSocket::recv_chunk) for streaming any size,
//!   `send_*`, [`close`](WebSocket::close). Pongs and close echoes are written
//!   automatically; a protocol error writes its close frame before it is returned.
//!
//! # Buffers
//! The read buffer holds the request (or response) head, then incoming frames: its
//! length bounds the handshake head (431 beyond it), and frames up to
//! `len - 14` bytes arrive whole (longer ones are streamed by `recv_chunk`). It must
//! hold at least [`MAX_CONTROL_FRAME_LEN`] bytes. The write buffer holds the
//! handshake answer (a server refusal needs up to [`Rejection::MAX_LEN`] bytes; a
//! client request needs room for the token) and outgoing frames; larger messages are
//! written straight from the caller's memory (servers) or masked through it in pieces
//! (clients). It must hold at least [`MAX_CONTROL_FRAME_LEN`] bytes.
//!
//! # Time
//! The core has no clock. Wrap calls in the transport's timers: the handshake
//! ([`accept_authenticated`], [`connect`]), the first message
//! ([`Authenticated::finish`]), idleness around [`WebSocket::recv`], and the token's
//! [`expiry_deadline`](crate::auth::expiry_deadline), after which the transport calls
//! [`WebSocket::close_with`] with [`AuthError::EXPIRED`](crate::auth::AuthError::EXPIRED).
//!
//! Dropping a [`WebSocket::recv`] or [`WebSocket::recv_chunk`] future (a timer won the
//! race) loses no data when the stream's `read` is cancel-safe: received bytes and a
//! half-reassembled message stay buffered, and a pong or close echo whose writing was
//! interrupted is finished by the next call (the ping or close that caused it is not
//! reported again). So a transport can race `recv` against a timer or its outgoing
//! queue and send when the other side wins. A dropped `send_*` future may leave a
//! partial frame: close the transport then.
//!
//! # Example
//!
//! An echo server for messages up to 4 KiB:
//!
//! ```
//! use tollgate::io::{self, Message, Read, ServerOptions, Write};
//! use tollgate::ws::handshake::ServerConfig;
//!
//! async fn echo<S: Read + Write>(stream: S) -> Result<(), io::Error<S::Error>> {
//!     let mut read_buf = [0_u8; 4096 + 14];
//!     let mut write_buf = [0_u8; 512];
//!     let options = ServerOptions::new(ServerConfig::new());
//!     let mut socket = io::accept(stream, &options, &mut read_buf, &mut write_buf)
//!         .await?
//!         .socket;
//!     loop {
//!         let (message, mut sender) = socket.recv_split().await?;
//!         match message {
//!             Message::Text(text) => sender.send_text(text).await?,
//!             Message::Binary(data) => sender.send_binary(data).await?,
//!             Message::Close(_) => return Ok(()),
//!             Message::Ping(_) | Message::Pong(_) => {}
//!         }
//!     }
//! }
//! ```

use core::convert::Infallible;
use core::fmt;

pub use embedded_io_async::{ErrorType, Read, Write};

use crate::auth::AuthError;
use crate::ws::error::{ProtocolError, SendError};
use crate::ws::handshake::{HandshakeError, ResponseError, WriteError};

mod client;
mod send;
mod server;
mod socket;

pub use client::connect;
pub use send::Sender;
pub use server::{
    Authenticated, Refusal, ServerOptions, Session, Upgraded, accept, accept_authenticated,
};
pub use socket::{Message, WebSocket};

#[cfg(doc)]
use crate::ws::{frame::MAX_CONTROL_FRAME_LEN, handshake::Rejection};

/// What went wrong in the driver, generic over the stream's error `E`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Error<E> {
    /// The stream failed.
    Io(E),
    /// The stream ended (read returned 0, or write accepted nothing) before the
    /// handshake completed or while the connection was open.
    Eof,
    /// The peer broke RFC 6455; the close frame with the error's code was written.
    Protocol(ProtocolError),
    /// The upgrade request was refused; the refusal (400, 403, 405, 426, 431) was
    /// written.
    Handshake(HandshakeError),
    /// The server's answer to our upgrade request was refused (including a non-101
    /// status, with its RFC 6750 `error_description`).
    Response(ResponseError),
    /// The token was refused; the 401/400 or the 1008 close (and, for a first message,
    /// the `unauthorized` reply) was written.
    Auth(AuthError),
    /// A frame could not be sent as asked (control payload too long, invalid close
    /// code, a whole message while a fragmented one is open).
    Send(SendError),
    /// A configured or caller-supplied handshake field (host, path, protocol, header,
    /// token) would break the HTTP framing.
    InvalidHeader,
    /// The close handshake is done (or under way, for sending): nothing more can be
    /// received or sent.
    Closed,
    /// A buffer is too small: below the documented minimum, for the handshake head or
    /// answer, or (for [`WebSocket::recv`]) for a reassembled message, in which case the
    /// connection was closed with 1009.
    BufferTooSmall,
}

impl<E> Error<E> {
    /// The error for a stream-less failure, for any stream error type.
    fn widen(error: Error<Infallible>) -> Self {
        match error {
            Error::Io(never) => match never {},
            Error::Eof => Self::Eof,
            Error::Protocol(e) => Self::Protocol(e),
            Error::Handshake(e) => Self::Handshake(e),
            Error::Response(e) => Self::Response(e),
            Error::Auth(e) => Self::Auth(e),
            Error::Send(e) => Self::Send(e),
            Error::InvalidHeader => Self::InvalidHeader,
            Error::Closed => Self::Closed,
            Error::BufferTooSmall => Self::BufferTooSmall,
        }
    }
}

impl<E> From<SendError> for Error<E> {
    fn from(error: SendError) -> Self {
        match error {
            SendError::Closed => Self::Closed,
            SendError::BufferTooSmall => Self::BufferTooSmall,
            other => Self::Send(other),
        }
    }
}

impl<E> From<WriteError> for Error<E> {
    fn from(error: WriteError) -> Self {
        match error {
            WriteError::BufferTooSmall => Self::BufferTooSmall,
            WriteError::InvalidHeader => Self::InvalidHeader,
        }
    }
}

impl<E: fmt::Debug> fmt::Display for Error<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(error) => write!(f, "I/O error: {error:?}"),
            Self::Eof => f.write_str("connection ended unexpectedly"),
            Self::Protocol(error) => write!(f, "WebSocket protocol error: {error}"),
            Self::Handshake(error) => write!(f, "upgrade request refused: {error}"),
            Self::Response(error) => write!(f, "upgrade response refused: {error}"),
            Self::Auth(error) => write!(f, "authentication failed: {error}"),
            Self::Send(error) => write!(f, "cannot send: {error}"),
            Self::InvalidHeader => f.write_str("a handshake field would break the HTTP framing"),
            Self::Closed => f.write_str("connection is closed"),
            Self::BufferTooSmall => f.write_str("buffer too small"),
        }
    }
}

impl<E: fmt::Debug> core::error::Error for Error<E> {}

/// Writes all of `bytes`, then flushes; a stream that accepts nothing has ended.
async fn write_all<W: Write>(stream: &mut W, mut bytes: &[u8]) -> Result<(), Error<W::Error>> {
    while !bytes.is_empty() {
        let n = stream.write(bytes).await.map_err(Error::Io)?;
        bytes = match bytes.get(n..) {
            Some(rest) if n > 0 => rest,
            _ => return Err(Error::Eof),
        };
    }
    stream.flush().await.map_err(Error::Io)
}

/// Reads into `buf[*end..]`, advancing `end`.
///
/// # Errors
/// [`Error::BufferTooSmall`] when `buf` is full, [`Error::Eof`] when the stream ended.
async fn read_more<R: Read>(
    stream: &mut R,
    buf: &mut [u8],
    end: &mut usize,
) -> Result<(), Error<R::Error>> {
    let free = match buf.get_mut(*end..) {
        Some(free) if !free.is_empty() => free,
        _ => return Err(Error::BufferTooSmall),
    };
    let n = stream.read(free).await.map_err(Error::Io)?;
    if n == 0 {
        return Err(Error::Eof);
    }
    *end = end.saturating_add(n).min(buf.len());
    Ok(())
}
