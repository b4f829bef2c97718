//! The sans-IO WebSocket connection (RFC 6455 §5-§7): a state machine that turns bytes
//! read from a socket into [`Event`]s and owes the peer bytes drained by
//! [`Connection::poll_transmit`].
//!
//! No socket, no clock, no allocator. A driver (such as [`crate::io`]) owns one read
//! buffer and one write buffer and loops:
//!
//! ```text
//!   read into buf[end..]                       ┌─► poll_transmit(out) -> n ─► write out[..n]
//!   handle_input(&mut buf[start..end]) ────────┤
//!     -> Input { consumed, event }             └─► encode_message/… (out) ─► write
//!   start += consumed; act on event
//!   event == None  → read more (compact the buffer first when it is full)
//! ```
//!
//! Contract of [`Connection::handle_input`]:
//! - Bytes it did not consume must be passed again at the start of the next call, as
//!   they are now (the buffer may be moved, not restored): a partially received frame is
//!   unmasked in place and UTF-8-checked as it arrives, so invalid text fails on the
//!   first bad byte, and the connection remembers how far it got.
//! - Data frames whose payload fits [`Config::whole_frame_limit`] are delivered whole,
//!   as [`Event::Text`]/[`Event::Binary`] when they form a complete message, otherwise as
//!   [`Event::Chunk`]. Larger frames are streamed: every call delivers the payload bytes
//!   available so far as a [`Chunk`], so the read buffer never needs to hold a frame. The
//!   read buffer must therefore hold `whole_frame_limit + MAX_HEADER_LEN` bytes and at
//!   least [`MAX_CONTROL_FRAME_LEN`](super::frame::MAX_CONTROL_FRAME_LEN).
//! - Events borrow the input: the payload was unmasked in place. A [`Reassembler`]
//!   copies chunks into a buffer of the caller's when whole messages are needed.
//! - Errors are sticky. The first [`ProtocolError`] queues a close frame with its
//!   [`close_code`](ProtocolError::close_code); drain it with `poll_transmit`, then close
//!   the transport.

use super::close::{CloseCode, CloseFrame};
use super::error::ProtocolError;
use super::frame::{MAX_CONTROL_PAYLOAD_LEN, MAX_HEADER_LEN, OpCode};
use super::mask::Mask;
use super::utf8::Utf8Validator;

mod assemble;
mod recv;
mod send;

pub use assemble::{Message, Reassembler};

/// Which end of the connection this state machine plays (§5.1: clients mask, servers do
/// not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Role {
    /// The connecting end: masks every frame it sends, rejects masked frames.
    Client,
    /// The accepting end: sends unmasked frames, rejects unmasked frames.
    Server,
}

/// Limits and buffering policy of a [`Connection`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct Config {
    /// The longest frame payload accepted; longer frames fail with 1009.
    pub max_frame_size: u64,
    /// The longest message accepted, counted across fragments; longer fail with 1009.
    pub max_message_size: u64,
    /// Data frames with a payload up to this length are delivered whole; longer ones are
    /// streamed in chunks as bytes arrive. At most the read buffer's length minus
    /// [`MAX_HEADER_LEN`].
    pub whole_frame_limit: usize,
}

impl Config {
    /// 16 MiB frames and messages, frames up to 4 KiB delivered whole (for a 4 KiB + 14
    /// byte read buffer).
    pub const DEFAULT: Self = Self {
        max_frame_size: 16 << 20,
        max_message_size: 16 << 20,
        whole_frame_limit: 4096,
    };

    /// Sets [`max_frame_size`](Self::max_frame_size).
    #[must_use]
    pub const fn with_max_frame_size(mut self, max: u64) -> Self {
        self.max_frame_size = max;
        self
    }

    /// Sets [`max_message_size`](Self::max_message_size).
    #[must_use]
    pub const fn with_max_message_size(mut self, max: u64) -> Self {
        self.max_message_size = max;
        self
    }

    /// Sets [`whole_frame_limit`](Self::whole_frame_limit) for a read buffer of
    /// `read_buffer_len` bytes.
    #[must_use]
    pub const fn with_read_buffer_len(mut self, read_buffer_len: usize) -> Self {
        self.whole_frame_limit = read_buffer_len.saturating_sub(MAX_HEADER_LEN);
        self
    }
}

impl Default for Config {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// The type of a data message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum MessageKind {
    /// UTF-8 text (opcode 0x1).
    Text,
    /// Binary data (opcode 0x2).
    Binary,
}

impl MessageKind {
    const fn opcode(self) -> OpCode {
        match self {
            Self::Text => OpCode::Text,
            Self::Binary => OpCode::Binary,
        }
    }
}

/// A piece of a data message that is fragmented or larger than the read buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Chunk<'a> {
    /// The message type.
    pub kind: MessageKind,
    /// The unmasked bytes. For text, a code point may be split between chunks; the
    /// message so far is known to be a valid UTF-8 prefix.
    pub data: &'a [u8],
    /// The first chunk of the message.
    pub first: bool,
    /// The last chunk of the message (for text, the whole message was valid UTF-8).
    pub last: bool,
}

/// Something the peer sent, borrowing the input buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Event<'a> {
    /// A complete text message that arrived in one frame.
    Text(&'a str),
    /// A complete binary message that arrived in one frame.
    Binary(&'a [u8]),
    /// A piece of a fragmented or streamed message.
    Chunk(Chunk<'a>),
    /// A ping; the pong is already queued for [`Connection::poll_transmit`]. Only one
    /// pong is kept (§5.5.3 allows answering just the latest ping), so a driver that
    /// wants a pong per ping (Autobahn case 2.10 does) drains `poll_transmit` before
    /// the next [`Connection::handle_input`].
    Ping(&'a [u8]),
    /// A pong (solicited or not; no reply is owed).
    Pong(&'a [u8]),
    /// The peer's close frame; the echo (unless we closed first) is queued and the
    /// connection is now [`State::Closed`].
    Close(CloseFrame<'a>),
}

/// The result of [`Connection::handle_input`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[must_use]
pub struct Input<'a> {
    /// How many bytes at the start of the input are done with; drop them before the next
    /// call. May be non-zero without an event.
    pub consumed: usize,
    /// The event, or `None` when more input is needed.
    pub event: Option<Event<'a>>,
}

impl Input<'_> {
    const NEED_MORE: Self = Self {
        consumed: 0,
        event: None,
    };
}

/// Where the close handshake stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum State {
    /// Data flows both ways.
    Open,
    /// We queued a close frame and wait for the peer's (data may still arrive).
    Closing,
    /// Both close frames were exchanged (ours may still wait in
    /// [`Connection::poll_transmit`]). Drain it, then a server closes the transport; a
    /// client waits for the server to close it (§7.1.1).
    Closed,
    /// The peer broke the protocol. The close frame with the error's code is queued;
    /// drain it, then close the transport.
    Failed(ProtocolError),
}

/// The source of client masking keys (§5.3: "derived from a strong source of entropy").
///
/// Implemented for every [`rand_core::CryptoRng`] (including `&mut R`; wrap a fallible
/// generator in [`rand_core::UnwrapErr`]) and for [`NoRng`], which servers use since they
/// never mask.
pub trait MaskKeys: sealed::Sealed {
    /// A fresh, unpredictable masking key.
    fn mask_key(&mut self) -> [u8; 4];
}

/// The key source of a server connection, which never masks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct NoRng;

impl<R: rand_core::CryptoRng + ?Sized> MaskKeys for R {
    fn mask_key(&mut self) -> [u8; 4] {
        self.next_u32().to_ne_bytes()
    }
}

impl MaskKeys for NoRng {
    fn mask_key(&mut self) -> [u8; 4] {
        [0; 4]
    }
}

mod sealed {
    pub trait Sealed {}
    impl<R: rand_core::CryptoRng + ?Sized> Sealed for R {}
    impl Sealed for super::NoRng {}
}

/// A control frame body waiting for [`Connection::poll_transmit`].
#[derive(Debug, Clone, Copy)]
struct ControlBody {
    bytes: [u8; MAX_CONTROL_PAYLOAD_LEN],
    len: u8,
}

impl ControlBody {
    fn new(parts: &[&[u8]]) -> Self {
        let mut body = Self {
            bytes: [0; MAX_CONTROL_PAYLOAD_LEN],
            len: 0,
        };
        let mut at = 0;
        for part in parts {
            if let Some(dst) = body.bytes.get_mut(at..at + part.len()) {
                dst.copy_from_slice(part);
                at += part.len();
            }
        }
        body.len = at as u8;
        body
    }

    fn as_slice(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or_default()
    }
}

/// The frame being received.
#[derive(Debug, Clone, Copy)]
struct InFrame {
    opcode: OpCode,
    /// The message type (data frames only).
    kind: MessageKind,
    fin: bool,
    mask: Option<Mask>,
    len: u64,
    /// Header bytes still at the start of the input (0 once a streamed header is
    /// consumed).
    header_len: usize,
    /// Payload bytes already unmasked (and UTF-8-checked).
    done: u64,
    streaming: bool,
    /// The next chunk delivered is the first of its message.
    first: bool,
}

/// A WebSocket connection after the handshake, generic over its masking key source
/// (`NoRng` for servers).
#[derive(Debug)]
pub struct Connection<K = NoRng> {
    role: Role,
    config: Config,
    keys: K,
    frame: Option<InFrame>,
    /// The type of the incoming fragmented message still open.
    message: Option<MessageKind>,
    message_len: u64,
    utf8: Utf8Validator,
    /// The type of the outgoing fragmented message still open.
    sending: Option<MessageKind>,
    pong: Option<ControlBody>,
    close: Option<ControlBody>,
    close_queued: bool,
    close_received: bool,
    error: Option<ProtocolError>,
}

impl Connection<NoRng> {
    /// A server-side connection.
    #[must_use]
    pub const fn server(config: Config) -> Self {
        Self::new(Role::Server, config, NoRng)
    }
}

impl<R: rand_core::CryptoRng> Connection<R> {
    /// A client-side connection masking with keys drawn from `rng`.
    #[must_use]
    pub const fn client(config: Config, rng: R) -> Self {
        Self::new(Role::Client, config, rng)
    }
}

impl<K: MaskKeys> Connection<K> {
    const fn new(role: Role, config: Config, keys: K) -> Self {
        Self {
            role,
            config,
            keys,
            frame: None,
            message: None,
            message_len: 0,
            utf8: Utf8Validator::new(),
            sending: None,
            pong: None,
            close: None,
            close_queued: false,
            close_received: false,
            error: None,
        }
    }

    /// This end's role.
    #[must_use]
    pub const fn role(&self) -> Role {
        self.role
    }

    /// The configuration.
    #[must_use]
    pub const fn config(&self) -> &Config {
        &self.config
    }

    /// Where the close handshake stands.
    #[must_use]
    pub const fn state(&self) -> State {
        if let Some(error) = self.error {
            State::Failed(error)
        } else if self.close_received {
            State::Closed
        } else if self.close_queued {
            State::Closing
        } else {
            State::Open
        }
    }

    /// Whether [`poll_transmit`](Self::poll_transmit) has bytes to hand out.
    #[must_use]
    pub const fn wants_transmit(&self) -> bool {
        self.pong.is_some() || self.close.is_some()
    }

    /// Records the first protocol error and queues the close frame it calls for.
    fn fail(&mut self, error: ProtocolError) {
        self.error = Some(error);
        self.frame = None;
        self.pong = None;
        if !self.close_queued {
            self.queue_close(error.close_code(), error.code().as_bytes());
        }
    }

    fn queue_close(&mut self, code: CloseCode, reason: &[u8]) {
        self.close = Some(ControlBody::new(&[&code.as_u16().to_be_bytes(), reason]));
        self.close_queued = true;
    }
}

#[cfg(test)]
mod tests;
