//! Close status codes (RFC 6455 §7.4) and the close frame body (§5.5.1).

use core::fmt;

use super::error::ProtocolError;

/// A close status code (RFC 6455 §7.4).
///
/// Any `u16` can be represented, because the reporting-only codes 1005 and 1006 describe
/// closures to the application; [`is_valid_on_wire`](CloseCode::is_valid_on_wire) says
/// whether a code may appear in a close frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct CloseCode(u16);

impl CloseCode {
    /// 1000: normal closure.
    pub const NORMAL: Self = Self(1000);
    /// 1001: the endpoint is going away (server shutdown, page navigation).
    pub const GOING_AWAY: Self = Self(1001);
    /// 1002: protocol error.
    pub const PROTOCOL_ERROR: Self = Self(1002);
    /// 1003: a data type the endpoint cannot accept.
    pub const UNSUPPORTED_DATA: Self = Self(1003);
    /// 1005: no status code was present (reporting only, never on the wire).
    pub const NO_STATUS: Self = Self(1005);
    /// 1006: the connection closed without a close frame (reporting only, never on the
    /// wire).
    pub const ABNORMAL: Self = Self(1006);
    /// 1007: message data inconsistent with its type (bad UTF-8 in a text message).
    pub const INVALID_PAYLOAD: Self = Self(1007);
    /// 1008: policy violation (used for authentication failures after the upgrade).
    pub const POLICY_VIOLATION: Self = Self(1008);
    /// 1009: message too big to process.
    pub const MESSAGE_TOO_BIG: Self = Self(1009);
    /// 1010: the client expected an extension the server did not negotiate.
    pub const MANDATORY_EXTENSION: Self = Self(1010);
    /// 1011: unexpected condition on the server.
    pub const INTERNAL_ERROR: Self = Self(1011);
    /// 1012: service restart (IANA registry).
    pub const SERVICE_RESTART: Self = Self(1012);
    /// 1013: try again later (IANA registry).
    pub const TRY_AGAIN_LATER: Self = Self(1013);
    /// 1014: bad gateway (IANA registry).
    pub const BAD_GATEWAY: Self = Self(1014);
    /// 1015: TLS handshake failure (reporting only, never on the wire).
    pub const TLS_HANDSHAKE: Self = Self(1015);

    /// Wraps a raw code; see [`is_valid_on_wire`](CloseCode::is_valid_on_wire).
    #[must_use]
    pub const fn new(code: u16) -> Self {
        Self(code)
    }

    /// The numeric code.
    #[must_use]
    pub const fn as_u16(self) -> u16 {
        self.0
    }

    /// Whether the code may be sent in a close frame: 1000-1003, 1007-1014 and the
    /// library/application range 3000-4999. 1004 is reserved, 1005/1006/1015 are for
    /// reporting only, 0-999 and 1016-2999 are unassigned and 5000+ is undefined.
    #[must_use]
    pub const fn is_valid_on_wire(self) -> bool {
        matches!(self.0, 1000..=1003 | 1007..=1014 | 3000..=4999)
    }
}

impl From<CloseCode> for u16 {
    fn from(code: CloseCode) -> Self {
        code.0
    }
}

impl fmt::Display for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// The longest close reason that fits a control frame: 125 bytes minus the 2-byte code.
pub const MAX_CLOSE_REASON_LEN: usize = 123;

/// A received close frame, borrowing its reason from the input buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct CloseFrame<'a> {
    /// The status code, or `None` when the body was empty (report as
    /// [`CloseCode::NO_STATUS`]).
    pub code: Option<CloseCode>,
    /// The UTF-8 reason (empty when absent).
    pub reason: &'a str,
}

impl<'a> CloseFrame<'a> {
    /// Parses an (already unmasked) close frame body.
    ///
    /// # Errors
    /// [`ProtocolError::InvalidClosePayload`] for a one-byte body,
    /// [`ProtocolError::InvalidCloseCode`] for a code not valid on the wire,
    /// [`ProtocolError::InvalidCloseReason`] when the reason is not UTF-8.
    pub fn parse(body: &'a [u8]) -> Result<Self, ProtocolError> {
        let Some((code, reason)) = body.split_first_chunk::<2>() else {
            return if body.is_empty() {
                Ok(Self {
                    code: None,
                    reason: "",
                })
            } else {
                Err(ProtocolError::InvalidClosePayload)
            };
        };
        let code = CloseCode(u16::from_be_bytes(*code));
        if !code.is_valid_on_wire() {
            return Err(ProtocolError::InvalidCloseCode);
        }
        let reason = core::str::from_utf8(reason).map_err(|_| ProtocolError::InvalidCloseReason)?;
        Ok(Self {
            code: Some(code),
            reason,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_codes_valid_on_wire_follow_section_7_4() {
        let valid: &[u16] = &[
            1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999,
            4000, 4999,
        ];
        let invalid: &[u16] = &[
            0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
        ];
        for &c in valid {
            assert!(CloseCode::new(c).is_valid_on_wire(), "{c}");
        }
        for &c in invalid {
            assert!(!CloseCode::new(c).is_valid_on_wire(), "{c}");
        }
    }

    #[test]
    fn close_body_of_one_byte_is_protocol_error() {
        assert_eq!(
            CloseFrame::parse(&[0x03]),
            Err(ProtocolError::InvalidClosePayload)
        );
    }

    #[test]
    fn empty_close_body_has_no_code() {
        assert_eq!(
            CloseFrame::parse(&[]),
            Ok(CloseFrame {
                code: None,
                reason: ""
            })
        );
    }

    #[test]
    fn reserved_close_codes_are_protocol_errors() {
        for c in [1004u16, 1005, 1006, 1015, 999, 2000, 5000] {
            assert_eq!(
                CloseFrame::parse(&c.to_be_bytes()),
                Err(ProtocolError::InvalidCloseCode),
                "{c}"
            );
        }
    }

    #[test]
    fn close_reason_must_be_utf8() {
        assert_eq!(
            CloseFrame::parse(&[0x03, 0xE8, 0xCE, 0xBA, 0xE1]),
            Err(ProtocolError::InvalidCloseReason)
        );
        assert_eq!(
            CloseFrame::parse(&[0x03, 0xE8, b'b', b'y', b'e']),
            Ok(CloseFrame {
                code: Some(CloseCode::NORMAL),
                reason: "bye"
            })
        );
    }

    #[test]
    fn close_code_displays_as_number() {
        extern crate std;
        assert_eq!(std::format!("{}", CloseCode::POLICY_VIOLATION), "1008");
    }
}
