//! The WebSocket after the handshake: receiving, reassembly and closing.

use core::fmt;

use super::send::{Pending, Sender};
use super::{Error, Read, Write};
use crate::auth::message::{MAX_REPLY_LEN, write_authenticated, write_unauthorized};
use crate::auth::{AuthError, AuthMessageKind, Authenticator, parse_auth_message};
use crate::error::BufferTooSmall;
use crate::jwt::{KeyResolver, VerifiedToken};
use crate::ws::close::{CloseCode, CloseFrame};
use crate::ws::conn::{
    Chunk, Config, Connection, Event, Input, MaskKeys, MessageKind, NoRng, State,
};
use crate::ws::error::ProtocolError;
use crate::ws::frame::{MAX_CONTROL_FRAME_LEN, MAX_HEADER_LEN};

/// A whole message (or a control frame) received by [`WebSocket::recv`], borrowing the
/// read buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Message<'a> {
    /// A complete text message, reassembled if it was fragmented.
    Text(&'a str),
    /// A complete binary message, reassembled if it was fragmented.
    Binary(&'a [u8]),
    /// A ping; the pong was already written.
    Ping(&'a [u8]),
    /// A pong.
    Pong(&'a [u8]),
    /// The peer's close frame; our echo was already written (unless we closed first).
    /// Further receives return [`Error::Closed`]; a server closes the transport now, a
    /// client may wait for the server to do it.
    Close(CloseFrame<'a>),
}

/// A byte range of the read buffer.
#[derive(Debug, Clone, Copy, Default)]
struct Span {
    start: usize,
    end: usize,
}

impl Span {
    /// Where `data`, a piece of the input that starts at address `base` and at `offset`
    /// in the read buffer, lies in the read buffer. Empty data needs no position (an
    /// empty close reason is not even in the buffer).
    fn locate(data: &[u8], base: usize, offset: usize) -> Self {
        if data.is_empty() {
            return Self::default();
        }
        let from_input = data.as_ptr().addr().wrapping_sub(base);
        let start = offset.saturating_add(from_input);
        Self {
            start,
            end: start.saturating_add(data.len()),
        }
    }

    const fn len(self) -> usize {
        self.end.saturating_sub(self.start)
    }
}

/// An event with its payload located instead of borrowed, so that the receive loop does
/// not hold a borrow of the read buffer across reads.
#[derive(Debug, Clone, Copy)]
enum Raw {
    Text(Span),
    Binary(Span),
    Chunk {
        kind: MessageKind,
        span: Span,
        first: bool,
        last: bool,
    },
    Ping(Span),
    Pong(Span),
    Close {
        code: Option<CloseCode>,
        reason: Span,
    },
}

impl Raw {
    fn locate(event: &Event<'_>, base: usize, offset: usize) -> Self {
        let at = |data: &[u8]| Span::locate(data, base, offset);
        match *event {
            Event::Text(text) => Self::Text(at(text.as_bytes())),
            Event::Binary(data) => Self::Binary(at(data)),
            Event::Chunk(chunk) => Self::Chunk {
                kind: chunk.kind,
                span: at(chunk.data),
                first: chunk.first,
                last: chunk.last,
            },
            Event::Ping(data) => Self::Ping(at(data)),
            Event::Pong(data) => Self::Pong(at(data)),
            Event::Close(close) => Self::Close {
                code: close.code,
                reason: at(close.reason.as_bytes()),
            },
        }
    }
}

fn bytes(buf: &[u8], span: Span) -> &[u8] {
    buf.get(span.start..span.end).unwrap_or_default()
}

fn text<E>(buf: &[u8], span: Span) -> Result<&str, Error<E>> {
    core::str::from_utf8(bytes(buf, span)).map_err(|_| Error::Protocol(ProtocolError::InvalidUtf8))
}

fn view_event<E>(buf: &[u8], raw: Raw) -> Result<Event<'_>, Error<E>> {
    Ok(match raw {
        Raw::Text(span) => Event::Text(text(buf, span)?),
        Raw::Binary(span) => Event::Binary(bytes(buf, span)),
        Raw::Chunk {
            kind,
            span,
            first,
            last,
        } => Event::Chunk(Chunk {
            kind,
            data: bytes(buf, span),
            first,
            last,
        }),
        Raw::Ping(span) => Event::Ping(bytes(buf, span)),
        Raw::Pong(span) => Event::Pong(bytes(buf, span)),
        Raw::Close { code, reason } => Event::Close(close_frame(buf, code, reason)?),
    })
}

fn view_message<E>(buf: &[u8], raw: Raw) -> Result<Message<'_>, Error<E>> {
    Ok(match raw {
        Raw::Text(span)
        | Raw::Chunk {
            kind: MessageKind::Text,
            span,
            ..
        } => Message::Text(text(buf, span)?),
        Raw::Binary(span)
        | Raw::Chunk {
            kind: MessageKind::Binary,
            span,
            ..
        } => Message::Binary(bytes(buf, span)),
        Raw::Ping(span) => Message::Ping(bytes(buf, span)),
        Raw::Pong(span) => Message::Pong(bytes(buf, span)),
        Raw::Close { code, reason } => Message::Close(close_frame(buf, code, reason)?),
    })
}

fn close_frame<E>(
    buf: &[u8],
    code: Option<CloseCode>,
    reason: Span,
) -> Result<CloseFrame<'_>, Error<E>> {
    Ok(CloseFrame {
        code,
        reason: text(buf, reason)?,
    })
}

/// A WebSocket connection over the stream `S`, with caller-owned read and write buffers
/// (`'b`); `K` is the masking key source (an RNG for clients, [`NoRng`] for servers).
///
/// Receiving: [`recv`](Self::recv) reassembles fragmented messages at the front of the
/// read buffer, so a message arrives whole when it fits: unfragmented messages up to
/// `read_buf.len() - 14` bytes, fragmented ones up to `read_buf.len() - 145` bytes
/// (room for the next frame header and an interleaved ping). Larger messages fail with
/// [`Error::BufferTooSmall`] and close 1009; [`recv_chunk`](Self::recv_chunk) streams
/// any size instead. Do not switch between the two in the middle of a message.
pub struct WebSocket<'b, S, K = NoRng> {
    stream: S,
    conn: Connection<K>,
    read_buf: &'b mut [u8],
    /// `read_buf[..assembled]` holds the message `recv` is reassembling.
    assembled: usize,
    /// The kind of the message being reassembled, if one is open.
    assembling: Option<MessageKind>,
    /// The rest of a message too large for `recv` is dropped.
    discarding: bool,
    /// Received bytes not yet handled: `read_buf[start..end]`.
    start: usize,
    end: usize,
    write_buf: &'b mut [u8],
    pending: Pending,
}

/// Buffer sizes and positions, not their contents.
impl<S, K: fmt::Debug> fmt::Debug for WebSocket<'_, S, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocket")
            .field("connection", &self.conn)
            .field("read_buf_len", &self.read_buf.len())
            .field("buffered", &self.end.saturating_sub(self.start))
            .field("reassembled", &self.assembled)
            .field("write_buf_len", &self.write_buf.len())
            .field(
                "unwritten",
                &self.pending.end.saturating_sub(self.pending.start),
            )
            .finish_non_exhaustive()
    }
}

impl<'b, S, K: MaskKeys> WebSocket<'b, S, K> {
    /// Wraps a stream whose handshake is done; `read_buf[..buffered]` holds bytes
    /// already received after the handshake head.
    ///
    /// # Errors
    /// [`BufferTooSmall`] when either buffer is shorter than
    /// [`MAX_CONTROL_FRAME_LEN`], the read buffer cannot hold the connection's
    /// [`whole_frame_limit`](Config::whole_frame_limit) plus a frame header, or
    /// `buffered` exceeds it.
    pub fn new(
        stream: S,
        connection: Connection<K>,
        read_buf: &'b mut [u8],
        buffered: usize,
        write_buf: &'b mut [u8],
    ) -> Result<Self, BufferTooSmall> {
        let whole = connection
            .config()
            .whole_frame_limit
            .saturating_add(MAX_HEADER_LEN);
        if read_buf.len() < MAX_CONTROL_FRAME_LEN.max(whole)
            || write_buf.len() < MAX_CONTROL_FRAME_LEN
            || buffered > read_buf.len()
        {
            return Err(BufferTooSmall);
        }
        Ok(Self {
            stream,
            conn: connection,
            read_buf,
            assembled: 0,
            assembling: None,
            discarding: false,
            start: 0,
            end: buffered,
            write_buf,
            pending: Pending::default(),
        })
    }

    /// `config` with frames delivered whole only up to what `read_buf_len` holds.
    pub(super) fn fit_config(config: Config, read_buf_len: usize) -> Config {
        if config.whole_frame_limit.saturating_add(MAX_HEADER_LEN) > read_buf_len {
            config.with_read_buffer_len(read_buf_len)
        } else {
            config
        }
    }

    /// Skips the first `n` buffered bytes (a handshake head).
    pub(super) fn skip(mut self, n: usize) -> Self {
        self.start = if n < self.end { n } else { self.end };
        self
    }

    /// Where the close handshake stands.
    #[must_use]
    pub const fn state(&self) -> State {
        self.conn.state()
    }

    /// The sans-IO connection.
    #[must_use]
    pub const fn connection(&self) -> &Connection<K> {
        &self.conn
    }

    /// The stream.
    #[must_use]
    pub const fn stream(&self) -> &S {
        &self.stream
    }

    /// The stream, mutably (writing to it directly corrupts the connection).
    pub const fn stream_mut(&mut self) -> &mut S {
        &mut self.stream
    }

    /// The stream, dropping the connection state.
    pub fn into_inner(self) -> S {
        self.stream
    }

    /// The sending side.
    pub fn sender(&mut self) -> Sender<'_, S, K> {
        Sender {
            stream: &mut self.stream,
            conn: &mut self.conn,
            buf: self.write_buf,
            pending: &mut self.pending,
        }
    }
}

impl<S: Read + Write, K: MaskKeys> WebSocket<'_, S, K> {
    /// Receives the next whole message, or a control frame.
    ///
    /// # Errors
    /// [`Error::Protocol`] when the peer broke RFC 6455 (the close frame was written);
    /// [`Error::BufferTooSmall`] when a message does not fit the read buffer (close 1009
    /// was written, the rest of the message is dropped); [`Error::Closed`] after the close
    /// handshake; [`Error::Eof`] when the stream ended before it; [`Error::Io`].
    pub async fn recv(&mut self) -> Result<Message<'_>, Error<S::Error>> {
        let raw = self.next_message().await?;
        view_message(self.read_buf, raw)
    }

    /// [`recv`](Self::recv), with the sending side to answer while the message still
    /// borrows the read buffer (an echo without a copy).
    ///
    /// # Errors
    /// As [`recv`](Self::recv).
    pub async fn recv_split(&mut self) -> Result<(Message<'_>, Sender<'_, S, K>), Error<S::Error>> {
        let raw = self.next_message().await?;
        let message = view_message(self.read_buf, raw)?;
        let sender = Sender {
            stream: &mut self.stream,
            conn: &mut self.conn,
            buf: self.write_buf,
            pending: &mut self.pending,
        };
        Ok((message, sender))
    }

    /// Receives the next event without reassembly: whole single-frame messages
    /// ([`Event::Text`], [`Event::Binary`]), pieces of fragmented or large messages
    /// ([`Event::Chunk`], never more than the read buffer holds), control frames.
    ///
    /// # Errors
    /// As [`recv`](Self::recv), without [`Error::BufferTooSmall`].
    pub async fn recv_chunk(&mut self) -> Result<Event<'_>, Error<S::Error>> {
        self.release_message();
        let raw = self.next_raw().await?;
        view_event(self.read_buf, raw)
    }

    /// [`recv_chunk`](Self::recv_chunk), with the sending side (to echo chunks as
    /// fragments with [`Sender::send_fragment`]).
    ///
    /// # Errors
    /// As [`recv_chunk`](Self::recv_chunk).
    pub async fn recv_chunk_split(
        &mut self,
    ) -> Result<(Event<'_>, Sender<'_, S, K>), Error<S::Error>> {
        self.release_message();
        let raw = self.next_raw().await?;
        let event = view_event(self.read_buf, raw)?;
        let sender = Sender {
            stream: &mut self.stream,
            conn: &mut self.conn,
            buf: self.write_buf,
            pending: &mut self.pending,
        };
        Ok((event, sender))
    }

    /// Sends a text message ([`Sender::send_text`]).
    ///
    /// # Errors
    /// As [`Sender::send_text`].
    pub async fn send_text(&mut self, text: &str) -> Result<(), Error<S::Error>> {
        self.sender().send_text(text).await
    }

    /// Sends a binary message ([`Sender::send_binary`]).
    ///
    /// # Errors
    /// As [`Sender::send_binary`].
    pub async fn send_binary(&mut self, data: &[u8]) -> Result<(), Error<S::Error>> {
        self.sender().send_binary(data).await
    }

    /// Sends a ping ([`Sender::send_ping`]).
    ///
    /// # Errors
    /// As [`Sender::send_ping`].
    pub async fn send_ping(&mut self, payload: &[u8]) -> Result<(), Error<S::Error>> {
        self.sender().send_ping(payload).await
    }

    /// Closes: sends our close frame, then receives until the peer's (dropping data
    /// still in flight) or the end of the stream. Afterwards a server closes the
    /// transport; a client may wait for the server to.
    ///
    /// # Errors
    /// As [`Sender::send_close`]; [`Error::Protocol`] and [`Error::Io`] while waiting.
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error<S::Error>> {
        self.sender().send_close(code, reason).await?;
        self.assembling = None;
        self.release_message();
        loop {
            match self.next_raw().await {
                Ok(Raw::Close { .. }) | Err(Error::Closed | Error::Eof) => return Ok(()),
                Ok(_) => {}
                Err(error) => return Err(error),
            }
        }
    }

    /// Closes with 1008 and the error's stable code as reason (a refused or expired
    /// token; see [`AuthError::EXPIRED`]), as [`close`](Self::close).
    ///
    /// # Errors
    /// As [`close`](Self::close).
    pub async fn close_with(&mut self, error: AuthError) -> Result<(), Error<S::Error>> {
        self.close(error.close_code(), error.code()).await
    }

    /// First-message authentication: receives the first data message (answering pings
    /// meanwhile), which must be `{"type":"authenticate","token":"…"}`, and verifies the
    /// token at `now` into `scratch` (the token's length suffices).
    ///
    /// On success `{"type":"authenticated"}` is sent. On failure
    /// `{"type":"unauthorized","code":…,"message":…}` is sent, then close 1008 with the
    /// code as reason, waiting for the peer's close.
    ///
    /// # Errors
    /// [`Error::Auth`] when refused; [`Error::Closed`] when the peer closed first; as
    /// [`recv`](Self::recv).
    pub async fn authenticate_first_message<'s, A: KeyResolver>(
        &mut self,
        auth: &Authenticator<'_, A>,
        now: u64,
        scratch: &'s mut [u8],
    ) -> Result<VerifiedToken<'s>, Error<S::Error>> {
        let verdict = loop {
            match self.recv().await? {
                Message::Text(text) => {
                    break parse_auth_message(text.as_bytes()).and_then(move |message| {
                        if message.kind == AuthMessageKind::Authenticate {
                            auth.verify(message.token, now, scratch)
                        } else {
                            Err(AuthError::InvalidAuthMessage)
                        }
                    });
                }
                Message::Binary(_) => break Err(AuthError::InvalidAuthMessage),
                Message::Ping(_) | Message::Pong(_) => {}
                Message::Close(_) => return Err(Error::Closed),
            }
        };
        let mut reply = [0_u8; MAX_REPLY_LEN];
        match verdict {
            Ok(token) => {
                let n = write_authenticated(&mut reply).map_err(|_| Error::BufferTooSmall)?;
                self.send_reply(reply.get(..n).unwrap_or_default()).await?;
                Ok(token)
            }
            Err(error) => {
                // The refusal is the result: failing to tell the peer changes nothing.
                if let Ok(n) = write_unauthorized(error, &mut reply) {
                    let _ = self.send_reply(reply.get(..n).unwrap_or_default()).await;
                }
                let _ = self.close_with(error).await;
                Err(Error::Auth(error))
            }
        }
    }

    async fn send_reply(&mut self, json: &[u8]) -> Result<(), Error<S::Error>> {
        self.sender().send_message(MessageKind::Text, json).await
    }

    /// Forgets a message returned by `recv`, so its bytes can be reused.
    fn release_message(&mut self) {
        if self.assembling.is_none() {
            self.assembled = 0;
        }
    }

    /// The next whole message or control frame, reassembling fragments at the front of
    /// the read buffer.
    async fn next_message(&mut self) -> Result<Raw, Error<S::Error>> {
        self.release_message();
        loop {
            let raw = match self.next_raw().await {
                Err(Error::BufferTooSmall) if self.assembling.is_some() => {
                    return self.overflow().await;
                }
                other => other?,
            };
            let Raw::Chunk {
                kind, span, last, ..
            } = raw
            else {
                return Ok(raw);
            };
            if self.discarding {
                self.discarding = !last;
                continue;
            }
            self.append(span)?;
            if last {
                self.assembling = None;
                return Ok(Raw::Chunk {
                    kind,
                    span: Span {
                        start: 0,
                        end: self.assembled,
                    },
                    first: true,
                    last: true,
                });
            }
            self.assembling = Some(kind);
        }
    }

    /// Moves a chunk (always after the reassembled bytes) to their end.
    fn append(&mut self, span: Span) -> Result<(), Error<S::Error>> {
        let len = span.len();
        if len == 0 {
            return Ok(());
        }
        let region = self
            .read_buf
            .get_mut(self.assembled..span.end)
            .ok_or(Error::BufferTooSmall)?;
        region.copy_within(span.start.saturating_sub(self.assembled).., 0);
        self.assembled = self.assembled.saturating_add(len);
        Ok(())
    }

    /// A message larger than `recv` can reassemble: tell the peer (1009, as the
    /// connection does for its configured message size) and drop the rest of it.
    async fn overflow(&mut self) -> Result<Raw, Error<S::Error>> {
        self.assembling = None;
        self.assembled = 0;
        self.discarding = true;
        let error = ProtocolError::MessageTooBig;
        if self.conn.close(error.close_code(), error.code()).is_ok() {
            self.sender().flush().await?;
        }
        Err(Error::BufferTooSmall)
    }

    /// The next event of the connection, reading as needed; owed control frames are
    /// written before it is returned.
    async fn next_raw(&mut self) -> Result<Raw, Error<S::Error>> {
        if self.pending.start < self.pending.end || self.conn.wants_transmit() {
            // A reply interrupted by a dropped future, or queued before it.
            self.sender().flush().await?;
        }
        loop {
            let offset = self.start;
            let input = self
                .read_buf
                .get_mut(self.start..self.end)
                .unwrap_or_default();
            let base = input.as_ptr().addr();
            match self.conn.handle_input(input) {
                Err(error) => {
                    self.sender().flush().await?;
                    return Err(Error::Protocol(error));
                }
                Ok(Input { consumed, event }) => {
                    let raw = event.map(|event| Raw::locate(&event, base, offset));
                    self.start = self.start.saturating_add(consumed).min(self.end);
                    if let Some(raw) = raw {
                        if self.conn.wants_transmit() {
                            self.sender().flush().await?;
                        }
                        return Ok(raw);
                    }
                }
            }
            if self.start == self.end {
                self.start = self.assembled;
                self.end = self.assembled;
            }
            if self.conn.state() == State::Closed {
                self.sender().flush().await?;
                return Err(Error::Closed);
            }
            self.fill().await?;
        }
    }

    /// Reads more input, first moving the unhandled bytes to just after the
    /// reassembled ones when the buffer is (nearly) full.
    async fn fill(&mut self) -> Result<(), Error<S::Error>> {
        let len = self.read_buf.len();
        // Full, or with a tail too short for efficient reads while bytes before the
        // unhandled input are free.
        if self.end >= len || (len - self.end < len / 4 && self.start > self.assembled) {
            let region = self
                .read_buf
                .get_mut(self.assembled..self.end)
                .filter(|_| self.start > self.assembled)
                .ok_or(Error::BufferTooSmall)?;
            region.copy_within(self.start.saturating_sub(self.assembled).., 0);
            self.end = self.end.saturating_sub(self.start - self.assembled);
            self.start = self.assembled;
        }
        match super::read_more(&mut self.stream, self.read_buf, &mut self.end).await {
            Err(Error::Eof) if self.conn.state() != State::Open => Err(Error::Closed),
            other => other,
        }
    }
}
