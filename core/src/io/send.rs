//! The sending half: frames encoded into the write buffer and written out.

use core::fmt;

use super::{Error, Write, write_all};
use crate::ws::close::CloseCode;
use crate::ws::conn::{Connection, MaskKeys, MessageKind};
use crate::ws::error::SendError;

/// The bytes of the write buffer not yet written: `buf[start..end]`.
///
/// Kept across calls so that a write interrupted by a dropped future resumes where it
/// stopped instead of leaving a partial frame on the wire.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Pending {
    pub(super) start: usize,
    pub(super) end: usize,
}

/// The sending side of a [`WebSocket`](super::WebSocket), borrowed from it.
///
/// Obtained from [`WebSocket::sender`](super::WebSocket::sender) or next to a received
/// message from [`WebSocket::recv_split`](super::WebSocket::recv_split) /
/// [`recv_chunk_split`](super::WebSocket::recv_chunk_split), so that an echo can send
/// data that still borrows the read buffer.
pub struct Sender<'w, S, K> {
    pub(super) stream: &'w mut S,
    pub(super) conn: &'w mut Connection<K>,
    pub(super) buf: &'w mut [u8],
    pub(super) pending: &'w mut Pending,
}

/// Buffer size and progress, not contents.
impl<S, K: fmt::Debug> fmt::Debug for Sender<'_, S, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("connection", &self.conn)
            .field("write_buf_len", &self.buf.len())
            .field(
                "unwritten",
                &self.pending.end.saturating_sub(self.pending.start),
            )
            .finish_non_exhaustive()
    }
}

impl<S: Write, K: MaskKeys> Sender<'_, S, K> {
    /// Sends a whole text message in one frame.
    ///
    /// # Errors
    /// [`Error::Closed`] once a close was sent or received; [`Error::Send`] while a
    /// fragmented message is open; [`Error::Io`] and [`Error::Eof`] from the stream.
    pub async fn send_text(&mut self, text: &str) -> Result<(), Error<S::Error>> {
        self.send_message(MessageKind::Text, text.as_bytes()).await
    }

    /// Sends a whole binary message in one frame.
    ///
    /// # Errors
    /// As [`send_text`](Self::send_text).
    pub async fn send_binary(&mut self, data: &[u8]) -> Result<(), Error<S::Error>> {
        self.send_message(MessageKind::Binary, data).await
    }

    /// Sends a whole message of `kind` in one frame; payloads larger than the write
    /// buffer are written without copying (servers) or masked through the buffer in
    /// pieces (clients).
    ///
    /// # Errors
    /// As [`send_text`](Self::send_text).
    pub async fn send_message(
        &mut self,
        kind: MessageKind,
        payload: &[u8],
    ) -> Result<(), Error<S::Error>> {
        self.flush().await?;
        match self.conn.encode_message(kind, payload, self.buf) {
            Ok(n) => self.write_buffered(n).await,
            Err(SendError::BufferTooSmall) => self.send_large(kind, true, payload).await,
            Err(error) => Err(error.into()),
        }
    }

    /// Sends one fragment of a message (RFC 6455 §5.4): the first fragment opens a
    /// message of `kind`, the one with `fin` ends it. Text fragments may split a UTF-8
    /// sequence; the whole message must be valid UTF-8.
    ///
    /// # Errors
    /// As [`send_text`](Self::send_text); [`Error::Send`] when `kind` differs from the
    /// open message's.
    pub async fn send_fragment(
        &mut self,
        kind: MessageKind,
        payload: &[u8],
        fin: bool,
    ) -> Result<(), Error<S::Error>> {
        self.flush().await?;
        match self.conn.encode_fragment(kind, payload, fin, self.buf) {
            Ok(n) => self.write_buffered(n).await,
            Err(SendError::BufferTooSmall) => self.send_large(kind, fin, payload).await,
            Err(error) => Err(error.into()),
        }
    }

    /// Sends a ping carrying up to 125 bytes.
    ///
    /// # Errors
    /// [`Error::Send`] for a longer payload; as [`send_text`](Self::send_text).
    pub async fn send_ping(&mut self, payload: &[u8]) -> Result<(), Error<S::Error>> {
        self.flush().await?;
        let n = self.conn.encode_ping(payload, self.buf)?;
        self.write_buffered(n).await
    }

    /// Sends an unsolicited pong (a heartbeat); pongs owed for pings are sent
    /// automatically.
    ///
    /// # Errors
    /// As [`send_ping`](Self::send_ping).
    pub async fn send_pong(&mut self, payload: &[u8]) -> Result<(), Error<S::Error>> {
        self.flush().await?;
        let n = self.conn.encode_pong(payload, self.buf)?;
        self.write_buffered(n).await
    }

    /// Sends our close frame without waiting for the peer's
    /// ([`WebSocket::close`](super::WebSocket::close) waits). Keep receiving until
    /// [`Message::Close`](super::Message::Close) or [`Error::Closed`].
    ///
    /// # Errors
    /// [`Error::Closed`] when a close was already sent or received;
    /// [`Error::Send`] for a code not valid on the wire or a reason over 123 bytes;
    /// [`Error::Io`] and [`Error::Eof`] from the stream.
    pub async fn send_close(
        &mut self,
        code: CloseCode,
        reason: &str,
    ) -> Result<(), Error<S::Error>> {
        self.conn.close(code, reason)?;
        self.flush().await
    }

    /// Writes whatever is still owed to the peer: an interrupted frame, then queued
    /// pongs and close frames; then flushes the stream.
    ///
    /// # Errors
    /// [`Error::Io`] and [`Error::Eof`] from the stream.
    pub async fn flush(&mut self) -> Result<(), Error<S::Error>> {
        loop {
            self.write_pending().await?;
            if !self.conn.wants_transmit() {
                return self.stream.flush().await.map_err(Error::Io);
            }
            let n = self.conn.poll_transmit(self.buf);
            if n == 0 {
                return Err(Error::BufferTooSmall);
            }
            *self.pending = Pending { start: 0, end: n };
        }
    }

    /// Marks `buf[..n]` as owed and writes it.
    async fn write_buffered(&mut self, n: usize) -> Result<(), Error<S::Error>> {
        *self.pending = Pending { start: 0, end: n };
        self.write_pending().await?;
        self.stream.flush().await.map_err(Error::Io)
    }

    /// Writes `buf[pending]`, recording progress after every write.
    async fn write_pending(&mut self) -> Result<(), Error<S::Error>> {
        while self.pending.start < self.pending.end {
            let Some(bytes) = self.buf.get(self.pending.start..self.pending.end) else {
                break;
            };
            let n = self.stream.write(bytes).await.map_err(Error::Io)?;
            if n == 0 {
                return Err(Error::Eof);
            }
            self.pending.start = self.pending.start.saturating_add(n);
        }
        *self.pending = Pending::default();
        Ok(())
    }

    /// A frame whose payload does not fit the write buffer: the header, then the
    /// payload straight from `payload` (unmasked) or masked through the buffer.
    async fn send_large(
        &mut self,
        kind: MessageKind,
        fin: bool,
        payload: &[u8],
    ) -> Result<(), Error<S::Error>> {
        let (n, mask) = self
            .conn
            .encode_frame_header(kind, fin, payload.len() as u64, self.buf)?;
        *self.pending = Pending { start: 0, end: n };
        self.write_pending().await?;
        let Some(mut mask) = mask else {
            return write_all(self.stream, payload).await;
        };
        for piece in payload.chunks(self.buf.len().max(1)) {
            let Some(out) = self.buf.get_mut(..piece.len()) else {
                return Err(Error::BufferTooSmall);
            };
            out.copy_from_slice(piece);
            mask.apply(out);
            *self.pending = Pending {
                start: 0,
                end: piece.len(),
            };
            self.write_pending().await?;
        }
        self.stream.flush().await.map_err(Error::Io)
    }
}
