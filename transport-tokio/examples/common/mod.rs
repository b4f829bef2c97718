//! Shared by the examples: buffer sizes and limits, the echo loop over the core driver
//! (`tollgate::io`) with whole messages reassembled in a `Vec`, and a lingering close.
#![allow(dead_code, reason = "each example uses a different part")]

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tollgate::io::{self, Read, WebSocket, Write};
use tollgate::ws::conn::{Config, Event, MaskKeys, MessageKind};
use tollgate::ws::frame::MAX_HEADER_LEN;

/// Frames up to 64 KiB arrive whole; larger ones are streamed in chunks. Also bounds the
/// upgrade request or response head.
pub const READ_BUFFER_LEN: usize = 64 * 1024 + MAX_HEADER_LEN;

/// Outgoing frames up to this size are copied into the write buffer; servers write
/// larger ones from the message itself, clients mask them through it in pieces.
pub const WRITE_BUFFER_LEN: usize = 64 * 1024;

/// Autobahn's largest messages are 16 MiB (cases 9.1.6, 9.2.6); leave room above.
pub const MAX_MESSAGE: u64 = 64 << 20;

/// The connection limits every example uses.
pub fn config() -> Config {
    Config::DEFAULT
        .with_read_buffer_len(READ_BUFFER_LEN)
        .with_max_frame_size(MAX_MESSAGE)
        .with_max_message_size(MAX_MESSAGE)
}

/// How an echo session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The close handshake completed.
    Closed,
    /// The peer broke the protocol; our close frame with the error's code was sent.
    Failed,
    /// The transport reached end of stream before a close frame.
    Eof,
    /// The deadline passed while waiting for a message; nothing was sent or closed.
    Deadline,
}

/// Echoes every data message back until the close handshake, a protocol error, end of
/// stream or `deadline`. Text messages are first shown to `on_text` and echoed only when it returns
/// true (the Autobahn client's `/getCaseCount` reads one instead).
///
/// Messages are received with `recv_chunk`, so any size up to the connection's limit
/// works with a 64 KiB read buffer: fragments and large frames are gathered in a `Vec`.
///
/// # Errors
/// What the stream reports, and sends refused by the connection.
pub async fn echo<S: Read + Write, K: MaskKeys>(
    socket: &mut WebSocket<'_, S, K>,
    deadline: Option<Instant>,
    mut on_text: impl FnMut(&str) -> bool,
) -> Result<End, io::Error<S::Error>> {
    let mut message: Vec<u8> = Vec::new();
    loop {
        // Only the receive races the deadline: a dropped receive loses nothing, a
        // dropped send could leave half a frame on the wire.
        let received = match deadline {
            Some(at) => match tokio::time::timeout_at(at, socket.recv_chunk_split()).await {
                Ok(received) => received,
                Err(_) => return Ok(End::Deadline),
            },
            None => socket.recv_chunk_split().await,
        };
        let (event, mut sender) = match received {
            Ok(received) => received,
            Err(io::Error::Protocol(_)) => return Ok(End::Failed),
            Err(io::Error::Closed) => return Ok(End::Closed),
            Err(io::Error::Eof) => return Ok(End::Eof),
            Err(error) => return Err(error),
        };
        match event {
            Event::Text(text) if on_text(text) => sender.send_text(text).await?,
            Event::Binary(data) => sender.send_binary(data).await?,
            Event::Chunk(chunk) => {
                if chunk.first {
                    message.clear();
                }
                message.extend_from_slice(chunk.data);
                if chunk.last {
                    let echo = match chunk.kind {
                        MessageKind::Binary => true,
                        // The connection checked the whole message before `last`.
                        MessageKind::Text => on_text(std::str::from_utf8(&message).unwrap_or("")),
                    };
                    if echo {
                        sender.send_message(chunk.kind, &message).await?;
                    }
                }
            }
            Event::Close(_) => return Ok(End::Closed),
            Event::Text(_) | Event::Ping(_) | Event::Pong(_) => {}
        }
    }
}

/// Closes our side, then drains what the peer still sends for a moment: closing a socket
/// with unread input resets the connection, and the peer may then lose our last frame.
pub async fn linger(stream: &mut TcpStream) {
    if stream.shutdown().await.is_err() {
        return;
    }
    let mut sink = [0; 4096];
    let drain = async {
        while stream.read(&mut sink).await? != 0 {}
        Ok::<_, std::io::Error>(())
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), drain).await;
}
