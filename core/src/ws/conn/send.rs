//! The sending half: frames encoded into caller buffers, masked for clients.
//!
//! Frames are written whole into the caller's buffer, so the driver may interleave the
//! output of [`Connection::poll_transmit`] and of the `encode_*` calls freely — except
//! after [`Connection::encode_frame_header`], whose payload must be written completely
//! before anything else.

use super::{Connection, MaskKeys, MessageKind, Role};
use crate::ws::close::{CloseCode, MAX_CLOSE_REASON_LEN};
use crate::ws::error::SendError;
use crate::ws::frame::{FrameHeader, MAX_CONTROL_PAYLOAD_LEN, OpCode};
use crate::ws::mask::{Mask, apply_mask};

impl<K: MaskKeys> Connection<K> {
    /// Writes the queued control frames (the pong owed for the latest ping, then the
    /// close frame) into `out` and returns the number of bytes written; 0 when nothing is
    /// queued or `out` is too small. An `out` of
    /// [`MAX_CONTROL_FRAME_LEN`](crate::ws::frame::MAX_CONTROL_FRAME_LEN) bytes always
    /// takes the next frame.
    #[must_use]
    pub fn poll_transmit(&mut self, out: &mut [u8]) -> usize {
        let mut written = 0;
        if let Some(pong) = self.pong {
            match self.encode_frame(OpCode::Pong, true, pong.as_slice(), out) {
                Ok(n) => {
                    written = n;
                    self.pong = None;
                }
                Err(_) => return 0,
            }
        }
        if let Some(close) = self.close {
            let rest = out.get_mut(written..).unwrap_or_default();
            if let Ok(n) = self.encode_frame(OpCode::Close, true, close.as_slice(), rest) {
                written += n;
                self.close = None;
            }
        }
        written
    }

    /// Encodes a whole message as one frame into `out`; returns the bytes written.
    ///
    /// # Errors
    /// [`SendError::Closed`] once a close was queued or received or the connection
    /// failed; [`SendError::FragmentedMessageOpen`] while a fragmented message is open;
    /// [`SendError::BufferTooSmall`] when the frame does not fit (nothing written).
    pub fn encode_message(
        &mut self,
        kind: MessageKind,
        payload: &[u8],
        out: &mut [u8],
    ) -> Result<usize, SendError> {
        self.ensure_open()?;
        if self.sending.is_some() {
            return Err(SendError::FragmentedMessageOpen);
        }
        self.encode_frame(kind.opcode(), true, payload, out)
    }

    /// Encodes one fragment of a message; the first fragment opens the message and the
    /// one with `fin` closes it (§5.4). Returns the bytes written.
    ///
    /// # Errors
    /// [`SendError::Closed`], [`SendError::BufferTooSmall`], and
    /// [`SendError::FragmentedMessageOpen`] when `kind` differs from the open message's.
    pub fn encode_fragment(
        &mut self,
        kind: MessageKind,
        payload: &[u8],
        fin: bool,
        out: &mut [u8],
    ) -> Result<usize, SendError> {
        self.ensure_open()?;
        let opcode = self.fragment_opcode(kind)?;
        let n = self.encode_frame(opcode, fin, payload, out)?;
        self.sending = if fin { None } else { Some(kind) };
        Ok(n)
    }

    /// Encodes only the header of a data frame of `payload_len` bytes, for payloads
    /// written straight from the caller's memory (zero-copy, or larger than any buffer).
    ///
    /// Returns the header length and, for clients, the [`Mask`] to apply to the payload
    /// bytes in order (in place, in any number of chunks) before writing them. The whole
    /// payload must be written before any other frame. Fragmentation state is tracked as
    /// in [`encode_fragment`](Self::encode_fragment).
    ///
    /// # Errors
    /// As [`encode_fragment`](Self::encode_fragment).
    pub fn encode_frame_header(
        &mut self,
        kind: MessageKind,
        fin: bool,
        payload_len: u64,
        out: &mut [u8],
    ) -> Result<(usize, Option<Mask>), SendError> {
        self.ensure_open()?;
        let opcode = self.fragment_opcode(kind)?;
        let mut header = FrameHeader {
            fin,
            opcode,
            mask: self.placeholder_mask(),
            payload_len,
        };
        if out.len() < header.encoded_len() {
            return Err(SendError::BufferTooSmall);
        }
        header.mask = self.next_mask();
        let n = header.encode(out)?;
        self.sending = if fin { None } else { Some(kind) };
        Ok((n, header.mask.map(Mask::new)))
    }

    /// Encodes a ping carrying `payload` (at most 125 bytes); returns the bytes written.
    ///
    /// # Errors
    /// [`SendError::ControlPayloadTooLong`], [`SendError::Closed`],
    /// [`SendError::BufferTooSmall`].
    pub fn encode_ping(&mut self, payload: &[u8], out: &mut [u8]) -> Result<usize, SendError> {
        self.encode_control(OpCode::Ping, payload, out)
    }

    /// Encodes an unsolicited pong (a unidirectional heartbeat, §5.5.3); returns the bytes
    /// written. Pongs owed for pings are sent by [`poll_transmit`](Self::poll_transmit).
    ///
    /// # Errors
    /// As [`encode_ping`](Self::encode_ping).
    pub fn encode_pong(&mut self, payload: &[u8], out: &mut [u8]) -> Result<usize, SendError> {
        self.encode_control(OpCode::Pong, payload, out)
    }

    /// Starts the closing handshake: queues our close frame for
    /// [`poll_transmit`](Self::poll_transmit) and moves to
    /// [`State::Closing`](super::State::Closing) until the peer's close arrives.
    ///
    /// # Errors
    /// [`SendError::Closed`] when a close was already queued or received or the
    /// connection failed; [`SendError::InvalidCloseCode`] for codes not valid on the
    /// wire; [`SendError::ControlPayloadTooLong`] for a reason over 123 bytes.
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), SendError> {
        self.ensure_open()?;
        if !code.is_valid_on_wire() {
            return Err(SendError::InvalidCloseCode);
        }
        if reason.len() > MAX_CLOSE_REASON_LEN {
            return Err(SendError::ControlPayloadTooLong);
        }
        self.queue_close(code, reason.as_bytes());
        Ok(())
    }

    fn ensure_open(&self) -> Result<(), SendError> {
        if self.close_queued || self.error.is_some() {
            Err(SendError::Closed)
        } else {
            Ok(())
        }
    }

    fn fragment_opcode(&self, kind: MessageKind) -> Result<OpCode, SendError> {
        match self.sending {
            None => Ok(kind.opcode()),
            Some(open) if open == kind => Ok(OpCode::Continuation),
            Some(_) => Err(SendError::FragmentedMessageOpen),
        }
    }

    fn encode_control(
        &mut self,
        opcode: OpCode,
        payload: &[u8],
        out: &mut [u8],
    ) -> Result<usize, SendError> {
        self.ensure_open()?;
        if payload.len() > MAX_CONTROL_PAYLOAD_LEN {
            return Err(SendError::ControlPayloadTooLong);
        }
        self.encode_frame(opcode, true, payload, out)
    }

    /// A mask of the right presence for sizing a header before drawing a real key.
    fn placeholder_mask(&self) -> Option<[u8; 4]> {
        match self.role {
            Role::Client => Some([0; 4]),
            Role::Server => None,
        }
    }

    fn next_mask(&mut self) -> Option<[u8; 4]> {
        match self.role {
            Role::Client => Some(self.keys.mask_key()),
            Role::Server => None,
        }
    }

    /// Writes header and (masked) payload, checking the size before drawing a key.
    fn encode_frame(
        &mut self,
        opcode: OpCode,
        fin: bool,
        payload: &[u8],
        out: &mut [u8],
    ) -> Result<usize, SendError> {
        let mut header = FrameHeader {
            fin,
            opcode,
            mask: self.placeholder_mask(),
            payload_len: payload.len() as u64,
        };
        let header_len = header.encoded_len();
        let frame = out
            .get_mut(..header_len + payload.len())
            .ok_or(SendError::BufferTooSmall)?;
        header.mask = self.next_mask();
        let (head, body) = frame.split_at_mut(header_len);
        header.encode(head)?;
        body.copy_from_slice(payload);
        if let Some(key) = header.mask {
            apply_mask(key, 0, body);
        }
        Ok(header_len + payload.len())
    }
}
