//! The receiving half: frames in, events out.

use super::{Chunk, Connection, ControlBody, Event, InFrame, Input, MaskKeys, MessageKind, Role};
use crate::ws::close::CloseFrame;
use crate::ws::error::ProtocolError;
use crate::ws::frame::{FrameHeader, OpCode};
use crate::ws::mask::Mask;

impl<K: MaskKeys> Connection<K> {
    /// Feeds bytes read from the transport; returns how many were consumed and at most
    /// one event, which borrows `input` (payloads are unmasked in place).
    ///
    /// Incomplete input is not an error: `event` is `None` and the unconsumed bytes must
    /// be passed again as they are now (possibly already unmasked), at the start of the
    /// next call, with more appended. After the peer's close frame every further byte is
    /// consumed and ignored.
    ///
    /// # Errors
    /// The [`ProtocolError`] the peer committed. It is sticky: every later call returns it
    /// again, and the close frame with its code is queued for
    /// [`poll_transmit`](Self::poll_transmit).
    #[inline]
    pub fn handle_input<'b>(&mut self, input: &'b mut [u8]) -> Result<Input<'b>, ProtocolError> {
        if let Some(error) = self.error {
            return Err(error);
        }
        if self.close_received {
            return Ok(Input {
                consumed: input.len(),
                event: None,
            });
        }
        let result = self.read_frame(input);
        if let Err(error) = result {
            self.fail(error);
        }
        result
    }

    #[inline]
    fn read_frame<'b>(&mut self, input: &'b mut [u8]) -> Result<Input<'b>, ProtocolError> {
        let frame = match self.frame.take() {
            Some(frame) => frame,
            None => {
                let Some((header, header_len)) = FrameHeader::decode(input)? else {
                    return Ok(Input::NEED_MORE);
                };
                self.start_frame(header, header_len)?
            }
        };
        let Some((_, body)) = input.split_at_mut_checked(frame.header_len) else {
            self.frame = Some(frame);
            return Ok(Input::NEED_MORE);
        };
        if frame.streaming {
            self.stream_chunk(frame, body)
        } else {
            self.whole_frame(frame, body)
        }
    }

    /// Applies the rules that need the connection's state to a freshly decoded header.
    #[inline]
    fn start_frame(
        &mut self,
        header: FrameHeader,
        header_len: usize,
    ) -> Result<InFrame, ProtocolError> {
        match (self.role, header.mask) {
            (Role::Server, None) => return Err(ProtocolError::UnmaskedClientFrame),
            (Role::Client, Some(_)) => return Err(ProtocolError::MaskedServerFrame),
            _ => {}
        }
        let mut frame = InFrame {
            opcode: header.opcode,
            kind: MessageKind::Binary,
            fin: header.fin,
            mask: header.mask.map(Mask::new),
            len: header.payload_len,
            header_len,
            done: 0,
            streaming: false,
            first: false,
        };
        if header.opcode.is_control() {
            return Ok(frame);
        }
        frame.kind = match (header.opcode, self.message) {
            (OpCode::Continuation, Some(kind)) => kind,
            (OpCode::Continuation, None) => return Err(ProtocolError::UnexpectedContinuation),
            (_, Some(_)) => return Err(ProtocolError::ExpectedContinuation),
            (OpCode::Text, None) => MessageKind::Text,
            (_, None) => MessageKind::Binary,
        };
        if header.payload_len > self.config.max_frame_size {
            return Err(ProtocolError::FrameTooBig);
        }
        frame.first = header.opcode != OpCode::Continuation;
        let before = if frame.first { 0 } else { self.message_len };
        let total = before.saturating_add(header.payload_len);
        if total > self.config.max_message_size {
            return Err(ProtocolError::MessageTooBig);
        }
        if frame.first {
            self.utf8.reset();
        }
        self.message_len = total;
        self.message = if header.fin { None } else { Some(frame.kind) };
        frame.streaming = usize::try_from(header.payload_len)
            .map_or(true, |len| len > self.config.whole_frame_limit);
        Ok(frame)
    }

    /// Delivers the payload bytes present so far of a frame too large to buffer whole.
    fn stream_chunk<'b>(
        &mut self,
        mut frame: InFrame,
        body: &'b mut [u8],
    ) -> Result<Input<'b>, ProtocolError> {
        let remaining = frame.len.saturating_sub(frame.done);
        let take = usize::try_from(remaining).map_or(body.len(), |r| r.min(body.len()));
        let (chunk, _) = body.split_at_mut(take);
        if let Some(mask) = &mut frame.mask {
            mask.apply(chunk);
        }
        frame.done = frame.done.saturating_add(take as u64);
        let frame_done = frame.done == frame.len;
        let last = frame_done && frame.fin;
        if frame.kind == MessageKind::Text {
            self.check_utf8(chunk, last)?;
        }
        let consumed = frame.header_len + take;
        let first = frame.first;
        frame.header_len = 0;
        if take == 0 {
            self.frame = Some(frame);
            return Ok(Input {
                consumed,
                event: None,
            });
        }
        frame.first = false;
        if !frame_done {
            self.frame = Some(frame);
        }
        Ok(Input {
            consumed,
            event: Some(Event::Chunk(Chunk {
                kind: frame.kind,
                data: chunk,
                first,
                last,
            })),
        })
    }

    /// Waits for a whole frame, unmasking and checking what has arrived so far.
    #[inline]
    fn whole_frame<'b>(
        &mut self,
        mut frame: InFrame,
        body: &'b mut [u8],
    ) -> Result<Input<'b>, ProtocolError> {
        let len = usize::try_from(frame.len).map_err(|_| ProtocolError::FrameTooBig)?;
        let done = usize::try_from(frame.done).map_err(|_| ProtocolError::FrameTooBig)?;
        let is_text = frame.kind == MessageKind::Text && !frame.opcode.is_control();
        if body.len() < len {
            let fresh = body.get_mut(done..).unwrap_or_default();
            if let Some(mask) = &mut frame.mask {
                mask.apply(fresh);
            }
            if is_text {
                self.check_utf8(fresh, false)?;
            }
            frame.done = frame.done.max(body.len() as u64);
            self.frame = Some(frame);
            return Ok(Input::NEED_MORE);
        }
        let Some(payload) = body.get_mut(..len) else {
            return Ok(Input::NEED_MORE);
        };
        let fresh = payload.get_mut(done..).unwrap_or_default();
        if let Some(mask) = &mut frame.mask {
            mask.apply(fresh);
        }
        let consumed = frame.header_len + len;
        let payload: &'b [u8] = payload;
        let single = frame.first && frame.fin;
        let event = match frame.opcode {
            OpCode::Ping | OpCode::Pong | OpCode::Close => self.control(frame.opcode, payload)?,
            _ if is_text => {
                if single && done == 0 {
                    Event::Text(from_utf8(payload)?)
                } else {
                    let fresh = payload.get(done..).unwrap_or_default();
                    self.check_utf8(fresh, frame.fin)?;
                    if single {
                        Event::Text(from_utf8(payload)?)
                    } else {
                        chunk(frame, payload)
                    }
                }
            }
            _ if single => Event::Binary(payload),
            _ => chunk(frame, payload),
        };
        Ok(Input {
            consumed,
            event: Some(event),
        })
    }

    fn check_utf8(&mut self, bytes: &[u8], end: bool) -> Result<(), ProtocolError> {
        self.utf8
            .feed(bytes)
            .map_err(|_| ProtocolError::InvalidUtf8)?;
        if end {
            self.utf8.finish().map_err(|_| ProtocolError::InvalidUtf8)?;
        }
        Ok(())
    }

    fn control<'b>(
        &mut self,
        opcode: OpCode,
        payload: &'b [u8],
    ) -> Result<Event<'b>, ProtocolError> {
        Ok(match opcode {
            OpCode::Ping => {
                // Only the latest ping needs its pong (§5.5.3).
                if !self.close_queued {
                    self.pong = Some(ControlBody::new(&[payload]));
                }
                Event::Ping(payload)
            }
            OpCode::Close => {
                let close = CloseFrame::parse(payload)?;
                self.close_received = true;
                if !self.close_queued {
                    let code = close.code.map(|c| c.as_u16().to_be_bytes());
                    self.close = Some(ControlBody::new(&[code.as_ref().map_or(&[], |c| c)]));
                    self.close_queued = true;
                }
                Event::Close(close)
            }
            _ => Event::Pong(payload),
        })
    }
}

fn chunk(frame: InFrame, data: &[u8]) -> Event<'_> {
    Event::Chunk(Chunk {
        kind: frame.kind,
        data,
        first: frame.first,
        last: frame.fin,
    })
}

fn from_utf8(bytes: &[u8]) -> Result<&str, ProtocolError> {
    core::str::from_utf8(bytes).map_err(|_| ProtocolError::InvalidUtf8)
}
