//! PEM armour (RFC 7468): one `-----BEGIN label-----` … `-----END label-----` block
//! with a standard-alphabet, padded base64 body, decoded with `base64ct` into a caller
//! buffer.

use base64ct::{Base64, Encoding};

use crate::jwt::error::KeyError;

const BEGIN: &[u8] = b"-----BEGIN ";
const END: &[u8] = b"-----END ";
const DASHES: &[u8] = b"-----";

/// One PEM block, borrowed from the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Pem<'a> {
    /// The label between `BEGIN ` and the dashes, for example `PUBLIC KEY`.
    pub(crate) label: &'a [u8],
    /// The base64 body, line breaks included.
    body: &'a [u8],
}

impl<'a> Pem<'a> {
    /// Splits `input` into label and body. Whitespace around the block is allowed;
    /// anything else around it, or an `END` label that differs from the `BEGIN` label,
    /// is not.
    pub(crate) fn parse(input: &'a [u8]) -> Result<Self, KeyError> {
        let text = input.trim_ascii();
        let after_begin = text.strip_prefix(BEGIN).ok_or(KeyError::Malformed)?;
        let (label, after_label) = split_once(after_begin, DASHES).ok_or(KeyError::Malformed)?;
        if !is_label(label) {
            return Err(KeyError::Malformed);
        }
        let (body, after_end) = split_once(after_label, END).ok_or(KeyError::Malformed)?;
        let end_label = after_end.strip_suffix(DASHES).ok_or(KeyError::Malformed)?;
        // The body sits on lines of its own between the BEGIN and END lines.
        let own_lines = matches!(body.first(), Some(b'\n' | b'\r'))
            && matches!(body.last(), Some(b'\n' | b'\r'));
        if end_label != label || !own_lines {
            return Err(KeyError::Malformed);
        }
        Ok(Self { label, body })
    }

    /// Decodes the body with `scratch` as workspace and returns the decoded bytes, which
    /// borrow `scratch`. The base64 text is gathered without its line breaks at the
    /// front of `scratch` and decoded into the rest, so `scratch` needs room for the
    /// text plus three quarters of it.
    ///
    /// # Errors
    /// [`KeyError::BufferTooSmall`] when `scratch` is too small,
    /// [`KeyError::Malformed`] for characters outside the standard alphabet, wrong
    /// padding or non-zero trailing bits.
    pub(crate) fn decode_into<'b>(&self, scratch: &'b mut [u8]) -> Result<&'b [u8], KeyError> {
        let mut len = 0;
        for &byte in self.body.iter().filter(|b| !b.is_ascii_whitespace()) {
            let slot = scratch.get_mut(len).ok_or(KeyError::BufferTooSmall)?;
            *slot = byte;
            len += 1;
        }
        let (text, output) = scratch
            .split_at_mut_checked(len)
            .ok_or(KeyError::BufferTooSmall)?;
        // `decode` rather than `decode_in_place`: only the former checks that the last
        // block round-trips, which rejects non-zero trailing bits.
        Base64::decode(&*text, output).map_err(|e| match e {
            base64ct::Error::InvalidLength => KeyError::BufferTooSmall,
            _ => KeyError::Malformed,
        })
    }
}

/// RFC 7468 §3: printable ASCII except `-` at either end, single inner spaces.
fn is_label(label: &[u8]) -> bool {
    !label.is_empty()
        && label.iter().all(|&b| b.is_ascii_graphic() || b == b' ')
        && !label.starts_with(b"-")
        && !label.ends_with(b"-")
        && !label.starts_with(b" ")
        && !label.ends_with(b" ")
        && !label.windows(2).any(|pair| pair == b"  ")
}

fn split_once<'a>(haystack: &'a [u8], needle: &[u8]) -> Option<(&'a [u8], &'a [u8])> {
    let at = haystack
        .windows(needle.len())
        .position(|window| window == needle)?;
    let (before, rest) = haystack.split_at_checked(at)?;
    Some((before, rest.get(needle.len()..)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BLOCK: &[u8] = b"-----BEGIN TEST-----\nAAEC\nAwQ=\n-----END TEST-----\n";

    #[test]
    fn label_and_body_decode_across_lines() {
        let pem = Pem::parse(BLOCK).unwrap();
        assert_eq!(pem.label, b"TEST");
        let mut scratch = [0u8; 16];
        assert_eq!(pem.decode_into(&mut scratch), Ok(&[0, 1, 2, 3, 4][..]));
    }

    #[test]
    fn crlf_and_surrounding_whitespace_are_accepted() {
        let pem =
            Pem::parse(b"\r\n  -----BEGIN A B-----\r\nAAEC\r\n-----END A B-----\r\n\r\n").unwrap();
        assert_eq!(pem.label, b"A B");
        assert_eq!(pem.decode_into(&mut [0u8; 8]), Ok(&[0, 1, 2][..]));
    }

    #[test]
    fn mismatched_or_missing_armour_is_malformed() {
        for input in [
            &b"-----BEGIN TEST-----\nAAEC\n-----END OTHER-----"[..],
            b"-----BEGIN TEST-----\nAAEC\n",
            b"-----BEGIN TEST-----AAEC\n-----END TEST-----",
            b"-----BEGIN -----\nAAEC\n-----END -----",
            b"-----BEGIN TEST\nAAEC\n-----END TEST-----",
            b"text before\n-----BEGIN TEST-----\nAAEC\n-----END TEST-----",
            b"-----BEGIN TEST-----\nAAEC\n-----END TEST-----\ntext after",
            b"-----BEGIN TEST-----\nAAEC-----END TEST-----",
            b"AAEC",
            b"",
        ] {
            assert_eq!(Pem::parse(input), Err(KeyError::Malformed));
        }
    }

    #[test]
    fn bad_base64_is_malformed() {
        for input in [
            &b"-----BEGIN T-----\nAAE\n-----END T-----"[..], // missing padding
            b"-----BEGIN T-----\nAA_C\n-----END T-----",     // URL alphabet
            b"-----BEGIN T-----\nAAF=\n-----END T-----",     // non-zero trailing bits
            b"-----BEGIN T-----\nAA=C\n-----END T-----",     // padding inside
        ] {
            let pem = Pem::parse(input).unwrap();
            assert_eq!(pem.decode_into(&mut [0u8; 16]), Err(KeyError::Malformed));
        }
    }

    #[test]
    fn body_larger_than_scratch_is_refused() {
        let pem = Pem::parse(BLOCK).unwrap();
        // 8 text bytes plus 5 decoded bytes.
        assert_eq!(pem.decode_into(&mut [0u8; 13]), Ok(&[0, 1, 2, 3, 4][..]));
        for len in [7, 8, 12] {
            assert_eq!(
                pem.decode_into(&mut [0u8; 16][..len]),
                Err(KeyError::BufferTooSmall)
            );
        }
    }
}
