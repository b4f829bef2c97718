//! Frame header codec (RFC 6455 §5.2).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-------+-+-------------+-------------------------------+
//! |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
//! |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
//! |N|V|V|V|       |S|             |   (if payload len==126/127)   |
//! | |1|2|3|       |K|             |                               |
//! +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
//! ```
//!
//! Decoding checks every rule that the header alone decides, as soon as the bytes that
//! decide it are present: reserved bits (no extension is negotiated), reserved opcodes,
//! control frame length and fragmentation, the 64-bit length's top bit, and minimal
//! length encoding (§5.2 says senders MUST use the minimal form; tollgate rejects the
//! others rather than guess at the peer's intent). Role-dependent masking rules and size
//! limits are the connection's business ([`super::conn`]).

use super::error::ProtocolError;
use crate::error::BufferTooSmall;

/// The longest possible header: 2 bytes, a 64-bit length and a masking key.
pub const MAX_HEADER_LEN: usize = 14;

/// The longest control frame on the wire: a 2-byte header, a masking key and 125 bytes.
pub const MAX_CONTROL_FRAME_LEN: usize = 2 + 4 + MAX_CONTROL_PAYLOAD_LEN;

/// The longest control frame payload (§5.5).
pub const MAX_CONTROL_PAYLOAD_LEN: usize = 125;

/// A frame opcode (§5.2); the reserved values are not representable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(u8)]
pub enum OpCode {
    /// 0x0: a continuation of a fragmented message.
    Continuation = 0x0,
    /// 0x1: the first frame of a text message.
    Text = 0x1,
    /// 0x2: the first frame of a binary message.
    Binary = 0x2,
    /// 0x8: connection close.
    Close = 0x8,
    /// 0x9: ping.
    Ping = 0x9,
    /// 0xA: pong.
    Pong = 0xA,
}

impl OpCode {
    /// Decodes the low four bits of the first header byte.
    ///
    /// # Errors
    /// [`ProtocolError::ReservedOpcode`] for 0x3-0x7 and 0xB-0xF.
    pub const fn from_bits(bits: u8) -> Result<Self, ProtocolError> {
        match bits & 0x0F {
            0x0 => Ok(Self::Continuation),
            0x1 => Ok(Self::Text),
            0x2 => Ok(Self::Binary),
            0x8 => Ok(Self::Close),
            0x9 => Ok(Self::Ping),
            0xA => Ok(Self::Pong),
            _ => Err(ProtocolError::ReservedOpcode),
        }
    }

    /// Whether this is a control opcode (close, ping, pong).
    #[must_use]
    pub const fn is_control(self) -> bool {
        (self as u8) & 0x8 != 0
    }
}

/// A decoded or to-be-encoded frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct FrameHeader {
    /// Whether this is the final fragment of its message.
    pub fin: bool,
    /// The opcode.
    pub opcode: OpCode,
    /// The masking key, when the MASK bit is set.
    pub mask: Option<[u8; 4]>,
    /// The payload length in bytes.
    pub payload_len: u64,
}

impl FrameHeader {
    /// Decodes a header from the start of `input`.
    ///
    /// Returns `Ok(None)` when `input` ends before the header does (not an error: read
    /// more), otherwise the header and its length in bytes.
    ///
    /// # Errors
    /// [`ProtocolError::ReservedBitsSet`], [`ProtocolError::ReservedOpcode`],
    /// [`ProtocolError::FragmentedControlFrame`], [`ProtocolError::ControlFrameTooLong`],
    /// [`ProtocolError::NonMinimalLength`], [`ProtocolError::LengthMsbSet`] — each
    /// reported as soon as the bytes deciding it are present.
    #[inline]
    pub fn decode(input: &[u8]) -> Result<Option<(Self, usize)>, ProtocolError> {
        let [b0, b1, rest @ ..] = input else {
            return Ok(None);
        };
        if b0 & 0x70 != 0 {
            return Err(ProtocolError::ReservedBitsSet);
        }
        let opcode = OpCode::from_bits(*b0)?;
        let fin = b0 & 0x80 != 0;
        let masked = b1 & 0x80 != 0;
        let len7 = b1 & 0x7F;
        if opcode.is_control() {
            if !fin {
                return Err(ProtocolError::FragmentedControlFrame);
            }
            if usize::from(len7) > MAX_CONTROL_PAYLOAD_LEN {
                return Err(ProtocolError::ControlFrameTooLong);
            }
        }
        let (payload_len, rest, len_size) = match len7 {
            126 => {
                let Some((len, rest)) = rest.split_first_chunk::<2>() else {
                    return Ok(None);
                };
                let len = u16::from_be_bytes(*len);
                if len < 126 {
                    return Err(ProtocolError::NonMinimalLength);
                }
                (u64::from(len), rest, 4)
            }
            127 => {
                let Some((len, rest)) = rest.split_first_chunk::<8>() else {
                    return Ok(None);
                };
                let len = u64::from_be_bytes(*len);
                if len >> 63 != 0 {
                    return Err(ProtocolError::LengthMsbSet);
                }
                if len <= u64::from(u16::MAX) {
                    return Err(ProtocolError::NonMinimalLength);
                }
                (len, rest, 10)
            }
            short => (u64::from(short), rest, 2),
        };
        let (mask, header_len) = if masked {
            let Some((key, _)) = rest.split_first_chunk::<4>() else {
                return Ok(None);
            };
            (Some(*key), len_size + 4)
        } else {
            (None, len_size)
        };
        Ok(Some((
            Self {
                fin,
                opcode,
                mask,
                payload_len,
            },
            header_len,
        )))
    }

    /// The encoded length of this header (2 to 14 bytes).
    #[must_use]
    pub const fn encoded_len(&self) -> usize {
        let len_size = match self.payload_len {
            0..=125 => 2,
            126..=0xFFFF => 4,
            _ => 10,
        };
        if self.mask.is_some() {
            len_size + 4
        } else {
            len_size
        }
    }

    /// Encodes this header, with the minimal length encoding, at the start of `out`.
    ///
    /// Returns the number of bytes written.
    ///
    /// # Errors
    /// [`BufferTooSmall`] when `out` is shorter than [`encoded_len`](Self::encoded_len);
    /// nothing is written then.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, BufferTooSmall> {
        let mut buf = [0u8; MAX_HEADER_LEN];
        buf[0] = (u8::from(self.fin) << 7) | self.opcode as u8;
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        let mut at = match self.payload_len {
            short @ 0..=125 => {
                buf[1] = mask_bit | short as u8;
                2
            }
            mid @ 126..=0xFFFF => {
                buf[1] = mask_bit | 126;
                let [hi, lo] = (mid as u16).to_be_bytes();
                buf[2] = hi;
                buf[3] = lo;
                4
            }
            long => {
                buf[1] = mask_bit | 127;
                let (_, tail) = buf.split_at_mut(2);
                let (dst, _) = tail.split_at_mut(8);
                dst.copy_from_slice(&long.to_be_bytes());
                10
            }
        };
        if let Some(key) = self.mask {
            let (_, tail) = buf.split_at_mut(at);
            let (dst, _) = tail.split_at_mut(4);
            dst.copy_from_slice(&key);
            at += 4;
        }
        let dst = out.get_mut(..at).ok_or(BufferTooSmall)?;
        let src = buf.get(..at).ok_or(BufferTooSmall)?;
        dst.copy_from_slice(src);
        Ok(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(bytes: &[u8]) -> Result<Option<(FrameHeader, usize)>, ProtocolError> {
        FrameHeader::decode(bytes)
    }

    #[test]
    fn rfc_example_single_frame_unmasked_text_header() {
        let (h, n) = decode(&[0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f])
            .unwrap()
            .unwrap();
        assert_eq!(n, 2);
        assert_eq!(
            h,
            FrameHeader {
                fin: true,
                opcode: OpCode::Text,
                mask: None,
                payload_len: 5
            }
        );
    }

    #[test]
    fn rfc_example_256_byte_and_64_kib_binary_headers() {
        let (h, n) = decode(&[0x82, 0x7E, 0x01, 0x00]).unwrap().unwrap();
        assert_eq!((h.opcode, h.payload_len, n), (OpCode::Binary, 256, 4));
        let mut out = [0u8; 14];
        assert_eq!(h.encode(&mut out), Ok(4));
        assert_eq!(out[..4], [0x82, 0x7E, 0x01, 0x00]);

        let big = [0x82, 0x7F, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00];
        let (h, n) = decode(&big).unwrap().unwrap();
        assert_eq!((h.opcode, h.payload_len, n), (OpCode::Binary, 65536, 10));
        assert_eq!(h.encode(&mut out), Ok(10));
        assert_eq!(out[..10], big);
    }

    #[test]
    fn incomplete_header_is_not_an_error() {
        let full = [0x82, 0xFF, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00, 1, 2, 3, 4];
        for len in 0..full.len() {
            assert_eq!(decode(&full[..len]), Ok(None), "{len}");
        }
        assert_eq!(decode(&full).unwrap().unwrap().1, 14);
    }

    #[test]
    fn reserved_bits_without_extension_are_rejected() {
        for rsv in [0x40, 0x20, 0x10] {
            assert_eq!(
                decode(&[0x81 | rsv, 0x00]),
                Err(ProtocolError::ReservedBitsSet)
            );
        }
    }

    #[test]
    fn reserved_opcodes_are_rejected() {
        for op in (0x3..=0x7).chain(0xB..=0xF) {
            assert_eq!(
                decode(&[0x80 | op, 0x00]),
                Err(ProtocolError::ReservedOpcode)
            );
        }
    }

    #[test]
    fn control_frames_longer_than_125_are_rejected() {
        assert_eq!(
            decode(&[0x89, 126]),
            Err(ProtocolError::ControlFrameTooLong)
        );
        assert_eq!(
            decode(&[0x88, 127]),
            Err(ProtocolError::ControlFrameTooLong)
        );
        assert!(decode(&[0x89, 125]).unwrap().is_some());
    }

    #[test]
    fn fragmented_control_frames_are_rejected() {
        for op in [0x8, 0x9, 0xA] {
            assert_eq!(
                decode(&[op, 0x00]),
                Err(ProtocolError::FragmentedControlFrame)
            );
        }
    }

    #[test]
    fn non_minimal_length_encodings_are_rejected() {
        assert_eq!(
            decode(&[0x82, 126, 0, 125]),
            Err(ProtocolError::NonMinimalLength)
        );
        assert_eq!(
            decode(&[0x82, 127, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF]),
            Err(ProtocolError::NonMinimalLength)
        );
        assert!(decode(&[0x82, 126, 0, 126]).unwrap().is_some());
    }

    #[test]
    fn length_msb_must_be_zero() {
        assert_eq!(
            decode(&[0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0]),
            Err(ProtocolError::LengthMsbSet)
        );
    }

    #[test]
    fn encode_round_trips_every_length_class_and_mask() {
        for len in [0u64, 1, 125, 126, 127, 0xFFFF, 0x1_0000, u64::MAX >> 1] {
            for mask in [None, Some([1, 2, 3, 4])] {
                for fin in [true, false] {
                    let h = FrameHeader {
                        fin,
                        opcode: OpCode::Binary,
                        mask,
                        payload_len: len,
                    };
                    let mut out = [0u8; 14];
                    let n = h.encode(&mut out).unwrap();
                    assert_eq!(n, h.encoded_len());
                    assert_eq!(decode(&out[..n]), Ok(Some((h, n))));
                    assert_eq!(h.encode(&mut out[..n - 1]), Err(BufferTooSmall));
                }
            }
        }
    }
}
