//! A strict, zero-copy DER reader, just large enough for public keys.
//!
//! Only what X.690 §10 allows is accepted: single-byte tags, definite lengths in their
//! shortest form, and no bytes after the outermost element. Everything returned borrows
//! the input.

use crate::jwt::error::KeyError;

/// `INTEGER`
pub(crate) const INTEGER: u8 = 0x02;
/// `BIT STRING`
pub(crate) const BIT_STRING: u8 = 0x03;
/// `OCTET STRING`
pub(crate) const OCTET_STRING: u8 = 0x04;
/// `NULL`
pub(crate) const NULL: u8 = 0x05;
/// `OBJECT IDENTIFIER`
pub(crate) const OBJECT_IDENTIFIER: u8 = 0x06;
/// `SEQUENCE` (constructed)
pub(crate) const SEQUENCE: u8 = 0x30;

/// Low five tag bits all set: a multi-byte tag follows, which no key structure uses.
const HIGH_TAG_NUMBER_FORM: u8 = 0x1f;

/// A cursor over DER input that hands out borrowed element contents.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(input: &'a [u8]) -> Self {
        Self { rest: input }
    }

    /// Runs `f` over `input` and requires it to consume every byte.
    pub(crate) fn read_all<T>(
        input: &'a [u8],
        f: impl FnOnce(&mut Self) -> Result<T, KeyError>,
    ) -> Result<T, KeyError> {
        let mut reader = Self::new(input);
        let value = f(&mut reader)?;
        reader.finish()?;
        Ok(value)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// The unread input.
    pub(crate) fn remaining(&self) -> &'a [u8] {
        self.rest
    }

    /// The tag of the next element, without consuming it.
    pub(crate) fn peek_tag(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    /// Rejects trailing data.
    pub(crate) fn finish(self) -> Result<(), KeyError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(KeyError::Malformed)
        }
    }

    /// Reads one element of any tag; returns its tag and contents.
    pub(crate) fn read_any(&mut self) -> Result<(u8, &'a [u8]), KeyError> {
        let (&tag, rest) = self.rest.split_first().ok_or(KeyError::Malformed)?;
        if tag & HIGH_TAG_NUMBER_FORM == HIGH_TAG_NUMBER_FORM {
            return Err(KeyError::Malformed);
        }
        let (len, rest) = read_length(rest)?;
        let (contents, rest) = rest.split_at_checked(len).ok_or(KeyError::Malformed)?;
        self.rest = rest;
        Ok((tag, contents))
    }

    /// Reads one element that must have tag `expected`; returns its contents.
    pub(crate) fn read(&mut self, expected: u8) -> Result<&'a [u8], KeyError> {
        match self.read_any()? {
            (tag, contents) if tag == expected => Ok(contents),
            _ => Err(KeyError::Malformed),
        }
    }

    /// Reads one element with tag `expected` and runs `f` over its contents, which must
    /// be consumed entirely.
    pub(crate) fn read_nested<T>(
        &mut self,
        expected: u8,
        f: impl FnOnce(&mut Reader<'a>) -> Result<T, KeyError>,
    ) -> Result<T, KeyError> {
        Reader::read_all(self.read(expected)?, f)
    }

    /// Reads a non-negative `INTEGER` and returns its magnitude without the sign byte.
    ///
    /// # Errors
    /// [`KeyError::Malformed`] for an empty or non-minimal encoding,
    /// [`KeyError::InvalidKey`] for a negative value (no key component is negative).
    pub(crate) fn read_unsigned_integer(&mut self) -> Result<&'a [u8], KeyError> {
        unsigned_integer(self.read(INTEGER)?)
    }

    /// Reads a `BIT STRING` of whole octets and returns those octets.
    pub(crate) fn read_octet_aligned_bit_string(&mut self) -> Result<&'a [u8], KeyError> {
        match self.read(BIT_STRING)?.split_first() {
            Some((0, octets)) => Ok(octets),
            _ => Err(KeyError::Malformed),
        }
    }

    /// Skips every remaining element, checking each is well formed.
    pub(crate) fn skip_rest(&mut self) -> Result<(), KeyError> {
        while !self.is_empty() {
            self.read_any()?;
        }
        Ok(())
    }
}

/// Checks the contents of an `INTEGER` and strips the sign byte of a positive value.
pub(crate) fn unsigned_integer(contents: &[u8]) -> Result<&[u8], KeyError> {
    match contents {
        [] => Err(KeyError::Malformed),
        [first, ..] if first & 0x80 != 0 => Err(KeyError::InvalidKey),
        [0, second, ..] if second & 0x80 == 0 => Err(KeyError::Malformed),
        [0, magnitude @ ..] if !magnitude.is_empty() => Ok(magnitude),
        _ => Ok(contents),
    }
}

/// Parses a definite length in its minimal form. Two length octets (65 535 bytes) are
/// far more than any supported key needs, so longer forms are refused outright.
fn read_length(input: &[u8]) -> Result<(usize, &[u8]), KeyError> {
    match input {
        [short @ 0x00..=0x7f, rest @ ..] => Ok((usize::from(*short), rest)),
        [0x81, len @ 0x80..=0xff, rest @ ..] => Ok((usize::from(*len), rest)),
        [0x82, high @ 0x01..=0xff, low, rest @ ..] => {
            Ok((usize::from(u16::from_be_bytes([*high, *low])), rest))
        }
        _ => Err(KeyError::Malformed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_long_lengths_in_minimal_form() {
        let mut long = [0u8; 3 + 0x80];
        long[..3].copy_from_slice(&[OCTET_STRING, 0x81, 0x80]);
        assert_eq!(Reader::new(&long).read(OCTET_STRING).unwrap().len(), 0x80);
        let mut longer = [0u8; 4 + 0x100];
        longer[..4].copy_from_slice(&[OCTET_STRING, 0x82, 0x01, 0x00]);
        assert_eq!(
            Reader::new(&longer).read(OCTET_STRING).unwrap().len(),
            0x100
        );
        assert_eq!(Reader::new(&[NULL, 0x00]).read(NULL), Ok(&[][..]));
    }

    #[test]
    fn non_minimal_indefinite_and_oversized_lengths_are_malformed() {
        for input in [
            &[OCTET_STRING, 0x81, 0x01, 0x00][..], // 1 fits the short form
            &[OCTET_STRING, 0x82, 0x00, 0x80][..], // leading zero length octet
            &[SEQUENCE, 0x80, 0x00, 0x00][..],     // indefinite length
            &[OCTET_STRING, 0x83, 0x01, 0x00, 0x00][..], // three length octets
            &[OCTET_STRING, 0x02, 0x00][..],       // contents truncated
            &[OCTET_STRING][..],                   // length missing
            &[0x1f, 0x01, 0x00][..],               // high tag number form
            &[][..],
        ] {
            assert_eq!(
                Reader::new(input).read_any(),
                Err(KeyError::Malformed),
                "{input:02x?}"
            );
        }
    }

    #[test]
    fn trailing_data_is_rejected() {
        assert_eq!(
            Reader::read_all(&[NULL, 0x00, 0x00], |r| r.read(NULL)),
            Err(KeyError::Malformed)
        );
        assert_eq!(
            Reader::read_all(&[SEQUENCE, 0x04, NULL, 0x00, NULL, 0x00], |r| {
                r.read_nested(SEQUENCE, |inner| inner.read(NULL))
            }),
            Err(KeyError::Malformed)
        );
    }

    #[test]
    fn unexpected_tag_is_malformed() {
        assert_eq!(
            Reader::new(&[NULL, 0x00]).read(INTEGER),
            Err(KeyError::Malformed)
        );
    }

    #[test]
    fn integers_are_minimal_and_non_negative() {
        assert_eq!(unsigned_integer(&[0x00]), Ok(&[0x00][..]));
        assert_eq!(unsigned_integer(&[0x7f]), Ok(&[0x7f][..]));
        assert_eq!(unsigned_integer(&[0x00, 0x80]), Ok(&[0x80][..]));
        assert_eq!(unsigned_integer(&[0x01, 0x00]), Ok(&[0x01, 0x00][..]));
        assert_eq!(unsigned_integer(&[]), Err(KeyError::Malformed));
        assert_eq!(unsigned_integer(&[0x00, 0x7f]), Err(KeyError::Malformed));
        assert_eq!(unsigned_integer(&[0x00, 0x00]), Err(KeyError::Malformed));
        assert_eq!(unsigned_integer(&[0x80]), Err(KeyError::InvalidKey));
        assert_eq!(unsigned_integer(&[0xff, 0x01]), Err(KeyError::InvalidKey));
    }

    #[test]
    fn bit_strings_must_be_octet_aligned() {
        assert_eq!(
            Reader::new(&[BIT_STRING, 0x02, 0x00, 0xaa]).read_octet_aligned_bit_string(),
            Ok(&[0xaa][..])
        );
        assert_eq!(
            Reader::new(&[BIT_STRING, 0x02, 0x01, 0xaa]).read_octet_aligned_bit_string(),
            Err(KeyError::Malformed)
        );
        assert_eq!(
            Reader::new(&[BIT_STRING, 0x00]).read_octet_aligned_bit_string(),
            Err(KeyError::Malformed)
        );
    }
}
