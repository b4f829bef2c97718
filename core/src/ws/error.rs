//! Errors of the WebSocket framing protocol (RFC 6455 §5–§8) and of sending.
//!
//! Handshake errors live with the handshake; this module covers what can go wrong once
//! frames flow. Every [`ProtocolError`] maps to the close code sent to the peer in exactly
//! one place, [`ProtocolError::close_code`].

use core::fmt;

use super::close::CloseCode;

/// A rule of RFC 6455 the peer broke; the connection fails with
/// [`close_code`](ProtocolError::close_code).
///
/// Each variant quotes the clause it enforces. The variant set never depends on features.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum ProtocolError {
    /// §5.1: "The server MUST close the connection upon receiving a frame that is not
    /// masked."
    UnmaskedClientFrame,
    /// §5.1: "A client MUST close a connection if it detects a masked frame."
    MaskedServerFrame,
    /// §5.2: RSV1-3 "MUST be 0 unless an extension is negotiated that defines meanings for
    /// non-zero values." tollgate negotiates no extension.
    ReservedBitsSet,
    /// §5.2: "If an unknown opcode is received, the receiving endpoint MUST _Fail the
    /// WebSocket Connection_." (opcodes 0x3-0x7 and 0xB-0xF).
    ReservedOpcode,
    /// §5.2: "in all cases, the minimal number of bytes MUST be used to encode the
    /// length". tollgate holds the sender to this MUST and rejects longer encodings.
    NonMinimalLength,
    /// §5.2: for the 64-bit length, "the most significant bit MUST be 0".
    LengthMsbSet,
    /// §5.5: "All control frames MUST have a payload length of 125 bytes or less".
    ControlFrameTooLong,
    /// §5.5: "All control frames ... MUST NOT be fragmented."
    FragmentedControlFrame,
    /// §5.4: a continuation frame arrived while no fragmented message was open
    /// ("a single message ... followed by zero or more frames with the opcode set to 0").
    UnexpectedContinuation,
    /// §5.4: "The fragments of one message MUST NOT be interleaved between the fragments of
    /// another message" — a new text or binary frame arrived inside a fragmented message.
    ExpectedContinuation,
    /// §7.4.1 (1009): a frame longer than the configured maximum frame size.
    FrameTooBig,
    /// §7.4.1 (1009): "a message that is too big for it to process" — the configured
    /// maximum message size, counted across fragments.
    MessageTooBig,
    /// §8.1: "When an endpoint is to interpret a byte stream as UTF-8 but finds that the
    /// byte stream is not, in fact, a valid UTF-8 stream, that endpoint MUST _Fail the
    /// WebSocket Connection_." (text message).
    InvalidUtf8,
    /// §5.5.1: "If there is a body, the first two bytes of the body MUST be a 2-byte
    /// unsigned integer" — a close body of exactly one byte.
    InvalidClosePayload,
    /// §7.4: the close status code is reserved (1004, 1005, 1006, 1015 are never sent on
    /// the wire) or outside the ranges 1000-1014 and 3000-4999.
    InvalidCloseCode,
    /// §5.5.1: the close reason after the code is not valid UTF-8.
    InvalidCloseReason,
}

impl ProtocolError {
    /// The close code sent to the peer when the connection fails with this error.
    ///
    /// This is the single place where protocol errors meet their wire answer: 1002 for
    /// framing violations, 1007 for bad UTF-8, 1009 for size limits.
    #[must_use]
    pub const fn close_code(self) -> CloseCode {
        match self {
            Self::UnmaskedClientFrame
            | Self::MaskedServerFrame
            | Self::ReservedBitsSet
            | Self::ReservedOpcode
            | Self::NonMinimalLength
            | Self::LengthMsbSet
            | Self::ControlFrameTooLong
            | Self::FragmentedControlFrame
            | Self::UnexpectedContinuation
            | Self::ExpectedContinuation
            | Self::InvalidClosePayload
            | Self::InvalidCloseCode => CloseCode::PROTOCOL_ERROR,
            Self::InvalidUtf8 | Self::InvalidCloseReason => CloseCode::INVALID_PAYLOAD,
            Self::FrameTooBig | Self::MessageTooBig => CloseCode::MESSAGE_TOO_BIG,
        }
    }

    /// The stable `snake_case` code, safe to log or send as a close reason.
    #[must_use]
    pub const fn code(self) -> &'static str {
        match self {
            Self::UnmaskedClientFrame => "unmasked_client_frame",
            Self::MaskedServerFrame => "masked_server_frame",
            Self::ReservedBitsSet => "reserved_bits_set",
            Self::ReservedOpcode => "reserved_opcode",
            Self::NonMinimalLength => "non_minimal_length",
            Self::LengthMsbSet => "length_msb_set",
            Self::ControlFrameTooLong => "control_frame_too_long",
            Self::FragmentedControlFrame => "fragmented_control_frame",
            Self::UnexpectedContinuation => "unexpected_continuation",
            Self::ExpectedContinuation => "expected_continuation",
            Self::FrameTooBig => "frame_too_big",
            Self::MessageTooBig => "message_too_big",
            Self::InvalidUtf8 => "invalid_utf8",
            Self::InvalidClosePayload => "invalid_close_payload",
            Self::InvalidCloseCode => "invalid_close_code",
            Self::InvalidCloseReason => "invalid_close_reason",
        }
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::UnmaskedClientFrame => "client frame is not masked",
            Self::MaskedServerFrame => "server frame is masked",
            Self::ReservedBitsSet => "reserved bits set without a negotiated extension",
            Self::ReservedOpcode => "reserved opcode",
            Self::NonMinimalLength => "payload length not minimally encoded",
            Self::LengthMsbSet => "most significant bit of 64-bit length set",
            Self::ControlFrameTooLong => "control frame payload longer than 125 bytes",
            Self::FragmentedControlFrame => "fragmented control frame",
            Self::UnexpectedContinuation => "continuation frame without a message to continue",
            Self::ExpectedContinuation => "new data frame inside a fragmented message",
            Self::FrameTooBig => "frame too big",
            Self::MessageTooBig => "message too big",
            Self::InvalidUtf8 => "text message is not valid UTF-8",
            Self::InvalidClosePayload => "close frame body of one byte",
            Self::InvalidCloseCode => "invalid close code",
            Self::InvalidCloseReason => "close reason is not valid UTF-8",
        })
    }
}

impl core::error::Error for ProtocolError {}

/// Why a frame could not be encoded or queued for sending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum SendError {
    /// The output buffer cannot hold the frame; nothing was written.
    BufferTooSmall,
    /// A close frame was queued or received, or the connection failed: §5.5.1 "The
    /// application MUST NOT send any more data frames after sending a Close frame."
    Closed,
    /// A control frame payload longer than 125 bytes (§5.5), or a close reason longer
    /// than 123 bytes.
    ControlPayloadTooLong,
    /// The close code may not be sent on the wire (§7.4: 1004, 1005, 1006, 1015 and
    /// codes outside 1000-1014 and 3000-4999).
    InvalidCloseCode,
    /// A whole message, or a fragment of a different kind, was sent while a fragmented
    /// message is still open (§5.4: fragments MUST NOT be interleaved).
    FragmentedMessageOpen,
}

impl SendError {
    /// The stable `snake_case` code.
    #[must_use]
    pub const fn code(self) -> &'static str {
        match self {
            Self::BufferTooSmall => "buffer_too_small",
            Self::Closed => "closed",
            Self::ControlPayloadTooLong => "control_payload_too_long",
            Self::InvalidCloseCode => "invalid_close_code",
            Self::FragmentedMessageOpen => "fragmented_message_open",
        }
    }
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::BufferTooSmall => "output buffer too small for the frame",
            Self::Closed => "connection is closing or closed",
            Self::ControlPayloadTooLong => "control frame payload too long",
            Self::InvalidCloseCode => "close code may not be sent",
            Self::FragmentedMessageOpen => "a fragmented message is still open",
        })
    }
}

impl core::error::Error for SendError {}

impl From<crate::error::BufferTooSmall> for SendError {
    fn from(_: crate::error::BufferTooSmall) -> Self {
        Self::BufferTooSmall
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [ProtocolError; 16] = [
        ProtocolError::UnmaskedClientFrame,
        ProtocolError::MaskedServerFrame,
        ProtocolError::ReservedBitsSet,
        ProtocolError::ReservedOpcode,
        ProtocolError::NonMinimalLength,
        ProtocolError::LengthMsbSet,
        ProtocolError::ControlFrameTooLong,
        ProtocolError::FragmentedControlFrame,
        ProtocolError::UnexpectedContinuation,
        ProtocolError::ExpectedContinuation,
        ProtocolError::FrameTooBig,
        ProtocolError::MessageTooBig,
        ProtocolError::InvalidUtf8,
        ProtocolError::InvalidClosePayload,
        ProtocolError::InvalidCloseCode,
        ProtocolError::InvalidCloseReason,
    ];

    #[test]
    fn every_protocol_error_maps_to_1002_1007_or_1009() {
        for e in ALL {
            let code = e.close_code().as_u16();
            assert!(matches!(code, 1002 | 1007 | 1009), "{e:?} -> {code}");
            assert!(e.close_code().is_valid_on_wire());
        }
        assert_eq!(
            ProtocolError::InvalidUtf8.close_code(),
            CloseCode::INVALID_PAYLOAD
        );
        assert_eq!(
            ProtocolError::MessageTooBig.close_code(),
            CloseCode::MESSAGE_TOO_BIG
        );
        assert_eq!(
            ProtocolError::ReservedOpcode.close_code(),
            CloseCode::PROTOCOL_ERROR
        );
    }

    #[test]
    fn protocol_error_codes_are_unique_snake_case() {
        for (i, a) in ALL.iter().enumerate() {
            assert!(
                a.code()
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            );
            for b in ALL.iter().skip(i + 1) {
                assert_ne!(a.code(), b.code());
            }
        }
    }
}
