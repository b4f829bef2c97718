//! Shared by the examples: an echo loop over a sans-IO `Connection` and an
//! `embedded-io-async` stream, with whole messages reassembled in a `Vec`.
#![allow(dead_code, reason = "each example uses a different part")]

use embedded_io_async::{Read, Write};
use tollgate::ws::conn::{Config, Connection, Event, MaskKeys, MessageKind, State};
use tollgate::ws::frame::{MAX_CONTROL_FRAME_LEN, MAX_HEADER_LEN};

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
