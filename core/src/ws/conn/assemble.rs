//! Whole messages from chunks, in a caller-provided buffer.
//!
//! [`Connection::handle_input`](super::Connection::handle_input) delivers fragmented and
//! streamed messages as [`Chunk`]s so that it never needs more memory than the read
//! buffer. Consumers that want whole messages (a first-message token, an echo of a
//! complete message) copy the chunks into a buffer of their choosing with a
//! [`Reassembler`]; single-frame messages pass through without a copy.

use super::{Chunk, Event, MessageKind};
use crate::error::BufferTooSmall;

/// A complete data message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Message<'a> {
    /// A text message (validated UTF-8).
    Text(&'a str),
    /// A binary message.
    Binary(&'a [u8]),
}

/// Collects the chunks of one message at a time into a caller-provided buffer.
#[derive(Debug)]
pub struct Reassembler<'m> {
    buf: &'m mut [u8],
    len: usize,
}

impl<'m> Reassembler<'m> {
    /// A reassembler holding messages of up to `buf.len()` bytes. Configure
    /// [`Config::max_message_size`](super::Config::max_message_size) no larger, so that
    /// the connection answers bigger messages with 1009.
    #[must_use]
    pub const fn new(buf: &'m mut [u8]) -> Self {
        Self { buf, len: 0 }
    }

    /// Feeds an event; returns the message it completes, if any. Control events and
    /// chunks that do not end a message return `None`.
    ///
    /// # Errors
    /// [`BufferTooSmall`] when the message outgrows the buffer; the partial message is
    /// dropped.
    pub fn push<'r>(&'r mut self, event: Event<'r>) -> Result<Option<Message<'r>>, BufferTooSmall> {
        match event {
            Event::Text(text) => Ok(Some(Message::Text(text))),
            Event::Binary(bytes) => Ok(Some(Message::Binary(bytes))),
            Event::Chunk(chunk) => self.push_chunk(chunk),
            Event::Ping(_) | Event::Pong(_) | Event::Close(_) => Ok(None),
        }
    }

    fn push_chunk<'r>(
        &'r mut self,
        chunk: Chunk<'_>,
    ) -> Result<Option<Message<'r>>, BufferTooSmall> {
        if chunk.first {
            self.len = 0;
        }
        let end = self.len + chunk.data.len();
        let Some(dst) = self.buf.get_mut(self.len..end) else {
            self.len = 0;
            return Err(BufferTooSmall);
        };
        dst.copy_from_slice(chunk.data);
        self.len = end;
        if !chunk.last {
            return Ok(None);
        }
        self.len = 0;
        let message = self.buf.get(..end).ok_or(BufferTooSmall)?;
        Ok(Some(match chunk.kind {
            // The connection validated the whole message; a failure here cannot happen
            // but must not panic either.
            MessageKind::Text => {
                Message::Text(core::str::from_utf8(message).map_err(|_| BufferTooSmall)?)
            }
            MessageKind::Binary => Message::Binary(message),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(kind: MessageKind, data: &[u8], first: bool, last: bool) -> Event<'_> {
        Event::Chunk(Chunk {
            kind,
            data,
            first,
            last,
        })
    }

    #[test]
    fn chunks_of_a_text_message_split_inside_a_code_point_reassemble() {
        let mut buf = [0u8; 16];
        let mut r = Reassembler::new(&mut buf);
        let euro = "a€".as_bytes();
        assert_eq!(
            r.push(chunk(MessageKind::Text, &euro[..2], true, false)),
            Ok(None)
        );
        assert_eq!(
            r.push(chunk(MessageKind::Text, &euro[2..], false, true)),
            Ok(Some(Message::Text("a€")))
        );
    }

    #[test]
    fn whole_messages_pass_through_and_control_events_are_skipped() {
        let mut buf = [0u8; 1];
        let mut r = Reassembler::new(&mut buf);
        assert_eq!(
            r.push(Event::Binary(b"long message")),
            Ok(Some(Message::Binary(b"long message")))
        );
        assert_eq!(r.push(Event::Ping(b"p")), Ok(None));
    }

    #[test]
    fn message_larger_than_the_buffer_is_refused_and_the_next_one_starts_clean() {
        let mut buf = [0u8; 4];
        let mut r = Reassembler::new(&mut buf);
        assert_eq!(
            r.push(chunk(MessageKind::Binary, b"abc", true, false)),
            Ok(None)
        );
        assert_eq!(
            r.push(chunk(MessageKind::Binary, b"de", false, true)),
            Err(BufferTooSmall)
        );
        assert_eq!(
            r.push(chunk(MessageKind::Binary, b"xy", true, true)),
            Ok(Some(Message::Binary(b"xy")))
        );
    }
}
