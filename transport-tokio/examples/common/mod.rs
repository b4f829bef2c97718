//! Shared by the examples: the server's request reading, and an echo loop over a sans-IO
//! `Connection` and an `embedded-io-async` stream, with whole messages reassembled in a
//! `Vec`.
#![allow(dead_code, reason = "each example uses a different part")]

use std::time::Duration;

use embedded_io_async::{Read, Write};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tollgate::ws::conn::{Config, Connection, Event, MaskKeys, MessageKind, State};
use tollgate::ws::frame::{MAX_CONTROL_FRAME_LEN, MAX_HEADER_LEN};
use tollgate::ws::handshake::{EMPTY_HEADER, Rejection, ServerConfig, Status};

/// Frames up to this size are delivered whole; larger ones arrive in chunks.
pub const READ_BUFFER_LEN: usize = 64 * 1024 + MAX_HEADER_LEN;

/// Autobahn's largest messages are 16 MiB (cases 9.1.6, 9.2.6); leave room above.
pub const MAX_MESSAGE: u64 = 64 << 20;

/// The connection limits every example uses.
pub fn config() -> Config {
    Config::DEFAULT
        .with_read_buffer_len(READ_BUFFER_LEN)
        .with_max_frame_size(MAX_MESSAGE)
        .with_max_message_size(MAX_MESSAGE)
}

/// A message being reassembled from chunks.
struct Partial {
    kind: MessageKind,
    data: Vec<u8>,
}

/// How an echo session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The close handshake completed (the peer's close frame arrived).
    Closed,
    /// The peer broke the protocol; our close frame with the error's code was sent.
    Failed,
    /// The transport reached end of stream before a close frame.
    Eof,
}

/// A read buffer with the unconsumed bytes at `start..end`.
pub struct ReadBuf {
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl ReadBuf {
    /// A buffer of [`READ_BUFFER_LEN`] bytes starting with `leftover` (bytes read past
    /// the handshake).
    pub fn new(leftover: &[u8]) -> Self {
        let mut buf = vec![0; READ_BUFFER_LEN.max(leftover.len())];
        buf[..leftover.len()].copy_from_slice(leftover);
        Self {
            buf,
            start: 0,
            end: leftover.len(),
        }
    }

    /// Reads more bytes after the unconsumed ones (moving those to the front when the
    /// buffer is full); returns 0 at end of stream.
    async fn fill<S: Read>(&mut self, io: &mut S) -> Result<usize, S::Error> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.end == self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        let n = io.read(&mut self.buf[self.end..]).await?;
        self.end += n;
        Ok(n)
    }
}

/// Echoes every data message back until the close handshake, a protocol error or end of
/// stream. Text messages are first shown to `on_text`, and echoed only when it returns
/// true (the Autobahn client's `/getCaseCount` reads one instead).
pub async fn echo<S: Read + Write, K: MaskKeys, F: FnMut(&str) -> bool>(
    io: &mut S,
    conn: &mut Connection<K>,
    input: &mut ReadBuf,
    mut on_text: F,
) -> Result<End, S::Error> {
    let mut partial: Option<Partial> = None;
    let mut out = Vec::new();
    loop {
        let slice = &mut input.buf[input.start..input.end];
        let step = conn.handle_input(slice);
        let mut reply: Option<(MessageKind, &[u8])> = None;
        let mut closed = false;
        match step {
            Err(_) => {
                flush_control(io, conn).await?;
                return Ok(End::Failed);
            }
            Ok(step) => {
                input.start += step.consumed;
                match step.event {
                    None if step.consumed == 0 => {
                        if input.fill(io).await? == 0 {
                            return Ok(End::Eof);
                        }
                        continue;
                    }
                    Some(Event::Text(text)) if on_text(text) => {
                        reply = Some((MessageKind::Text, text.as_bytes()));
                    }
                    None | Some(Event::Text(_) | Event::Ping(_) | Event::Pong(_)) => {}
                    Some(Event::Binary(data)) => reply = Some((MessageKind::Binary, data)),
                    Some(Event::Chunk(chunk)) => {
                        let message = partial.get_or_insert_with(|| Partial {
                            kind: chunk.kind,
                            data: Vec::new(),
                        });
                        message.data.extend_from_slice(chunk.data);
                        if chunk.last {
                            let done = partial.take().map(|m| (m.kind, m.data));
                            if let Some((kind, data)) = done {
                                let text = std::str::from_utf8(&data).unwrap_or_default();
                                if kind == MessageKind::Binary || on_text(text) {
                                    encode(conn, kind, &data, &mut out);
                                }
                            }
                        }
                    }
                    Some(Event::Close(_)) => closed = true,
                }
            }
        }
        if let Some((kind, data)) = reply {
            encode(conn, kind, data, &mut out);
        }
        if !out.is_empty() {
            io.write_all(&out).await?;
            out.clear();
        }
        flush_control(io, conn).await?;
        if closed || matches!(conn.state(), State::Closed) {
            return Ok(End::Closed);
        }
    }
}

fn encode<K: MaskKeys>(
    conn: &mut Connection<K>,
    kind: MessageKind,
    data: &[u8],
    out: &mut Vec<u8>,
) {
    let at = out.len();
    out.resize(at + data.len() + MAX_HEADER_LEN, 0);
    match conn.encode_message(kind, data, &mut out[at..]) {
        Ok(n) => out.truncate(at + n),
        // Closing or failed: nothing more may be sent.
        Err(_) => out.truncate(at),
    }
}

/// Writes the control frames the connection owes the peer (pongs, close).
pub async fn flush_control<S: Write, K: MaskKeys>(
    io: &mut S,
    conn: &mut Connection<K>,
) -> Result<(), S::Error> {
    let mut out = [0; MAX_CONTROL_FRAME_LEN * 2];
    loop {
        let n = conn.poll_transmit(&mut out);
        if n == 0 {
            return io.flush().await;
        }
        io.write_all(&out[..n]).await?;
    }
}

/// The longest request head accepted.
pub const MAX_HEAD: usize = 8192;

/// Header lines accepted in a request head.
pub const MAX_HEADERS: usize = 32;

/// Reads an upgrade request head into a buffer and returns it with the number of bytes
/// read (frames may follow the head). Requests the handshake refuses are answered here
/// (400, 403, 426, ...) and give `None`, as does end of stream.
pub async fn read_request(
    stream: &mut TcpStream,
    server: &ServerConfig<'_>,
) -> std::io::Result<Option<(Vec<u8>, usize)>> {
    let mut head = vec![0; server.max_request_bytes()];
    let mut len = 0;
    loop {
        let n = stream.read(&mut head[len..]).await?;
        if n == 0 {
            return Ok(None);
        }
        len += n;
        let mut headers = [EMPTY_HEADER; MAX_HEADERS];
        match server.parse_request(&head[..len], &mut headers) {
            Ok(Status::Partial) => {}
            Ok(Status::Complete(_)) => return Ok(Some((head, len))),
            Err(error) => {
                refuse(stream, Rejection::from(error)).await?;
                return Ok(None);
            }
        }
    }
}

/// Sends a refusal and closes the connection.
pub async fn refuse(stream: &mut TcpStream, rejection: Rejection) -> std::io::Result<()> {
    let mut response = [0; Rejection::MAX_LEN];
    let n = rejection
        .write(&mut response)
        .map_err(std::io::Error::other)?;
    stream.write_all(&response[..n]).await?;
    linger(stream).await
}

/// Closes our side, then drains what the peer still sends for a moment: closing a socket
/// with unread input resets the connection, and the peer may then lose our last frame.
pub async fn linger(stream: &mut TcpStream) -> std::io::Result<()> {
    stream.shutdown().await?;
    let mut sink = [0; 4096];
    let drain = async {
        while stream.read(&mut sink).await? != 0 {}
        Ok::<_, std::io::Error>(())
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), drain).await;
    Ok(())
}
