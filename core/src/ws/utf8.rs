//! Incremental UTF-8 validation for text messages split into frames and chunks.
//!
//! Built on `core::str::from_utf8`, whose error distinguishes an invalid sequence
//! (`error_len() == Some(_)`) from input that ends inside a sequence that is so far valid
//! (`error_len() == None`). The validator keeps at most three pending bytes of a split
//! code point, so it fails on the chunk holding the first invalid byte (the Autobahn 6.x
//! "fail fast" behaviour) while accepting a truncated-but-valid prefix until the message
//! ends.

use core::fmt;

/// The bytes seen so far are not a prefix of any valid UTF-8 string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct InvalidUtf8;

impl fmt::Display for InvalidUtf8 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid UTF-8")
    }
}

impl core::error::Error for InvalidUtf8 {}

/// Validates a UTF-8 stream fed in arbitrary chunks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Utf8Validator {
    pending: [u8; 4],
    pending_len: u8,
}

impl Utf8Validator {
    /// A validator at the start of a stream.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            pending: [0; 4],
            pending_len: 0,
        }
    }

    /// Validates the next chunk of the stream.
    ///
    /// # Errors
    /// [`InvalidUtf8`] as soon as the stream so far cannot be the prefix of valid UTF-8.
    /// After an error the validator's state is unspecified; [`reset`](Self::reset) it.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), InvalidUtf8> {
        let mut rest = chunk;
        if self.pending_len > 0 {
            let have = usize::from(self.pending_len);
            let [lead, ..] = self.pending;
            let need = sequence_len(lead).saturating_sub(have);
            let (head, tail) = rest.split_at(need.min(rest.len()));
            let joined = self
                .pending
                .get_mut(have..have + head.len())
                .ok_or(InvalidUtf8)?;
            joined.copy_from_slice(head);
            let len = have + head.len();
            match core::str::from_utf8(self.pending.get(..len).ok_or(InvalidUtf8)?) {
                Ok(_) => self.pending_len = 0,
                Err(e) if e.error_len().is_none() => {
                    // Still inside the code point: `head` consumed the whole chunk.
                    self.pending_len = len as u8;
                    return Ok(());
                }
                Err(_) => return Err(InvalidUtf8),
            }
            rest = tail;
        }
        match core::str::from_utf8(rest) {
            Ok(_) => Ok(()),
            Err(e) if e.error_len().is_none() => {
                let partial = rest.get(e.valid_up_to()..).ok_or(InvalidUtf8)?;
                let slot = self.pending.get_mut(..partial.len()).ok_or(InvalidUtf8)?;
                slot.copy_from_slice(partial);
                self.pending_len = partial.len() as u8;
                Ok(())
            }
            Err(_) => Err(InvalidUtf8),
        }
    }

    /// Whether the stream so far ends on a code point boundary.
    #[must_use]
    pub const fn is_complete(&self) -> bool {
        self.pending_len == 0
    }

    /// Ends the stream and makes the validator ready for the next one.
    ///
    /// # Errors
    /// [`InvalidUtf8`] when the stream ended inside a code point.
    pub fn finish(&mut self) -> Result<(), InvalidUtf8> {
        let complete = self.is_complete();
        self.reset();
        if complete { Ok(()) } else { Err(InvalidUtf8) }
    }

    /// Forgets any pending bytes.
    pub fn reset(&mut self) {
        self.pending_len = 0;
    }
}

/// The length of the sequence introduced by a lead byte already known to start a valid
/// prefix.
const fn sequence_len(lead: u8) -> usize {
    match lead {
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        _ => 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `bytes` split at `splits`, returning the index of the chunk that failed (or
    /// `chunks` when only `finish` failed), `None` when valid.
    fn run(bytes: &[u8], splits: &[usize]) -> Option<usize> {
        let mut v = Utf8Validator::new();
        let mut start = 0;
        let mut chunk = 0;
        for &end in splits.iter().chain(core::iter::once(&bytes.len())) {
            if v.feed(&bytes[start..end]).is_err() {
                return Some(chunk);
            }
            start = end;
            chunk += 1;
        }
        v.finish().err().map(|_| chunk)
    }

    /// The chunk index at which a validator must fail, derived from `from_utf8` alone.
    fn expected(bytes: &[u8], splits: &[usize]) -> Option<usize> {
        let mut chunk = 0;
        for &end in splits.iter().chain(core::iter::once(&bytes.len())) {
            if let Err(e) = core::str::from_utf8(&bytes[..end])
                && e.error_len().is_some()
            {
                return Some(chunk);
            }
            chunk += 1;
        }
        core::str::from_utf8(bytes).err().map(|_| chunk)
    }

    #[test]
    fn agrees_with_from_utf8_on_all_two_byte_sequences_at_every_split() {
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                let bytes = [a, b];
                for split in 0..=2 {
                    assert_eq!(
                        run(&bytes, &[split]),
                        expected(&bytes, &[split]),
                        "{bytes:x?}"
                    );
                }
            }
        }
    }

    #[test]
    fn agrees_with_from_utf8_on_three_and_four_byte_sequences_split_bytewise() {
        // Every boundary class of the UTF-8 tables: ASCII, continuation edges, lead edges.
        const CLASS: [u8; 20] = [
            0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC2, 0xDF, 0xE0, 0xE1,
            0xED, 0xEF, 0xF0, 0xF4, 0xF5, 0xFF,
        ];
        for &a in &CLASS {
            for &b in &CLASS {
                for &c in &CLASS {
                    let three = [a, b, c];
                    assert_eq!(
                        run(&three, &[1, 2]),
                        expected(&three, &[1, 2]),
                        "{three:x?}"
                    );
                    assert_eq!(run(&three, &[]), expected(&three, &[]), "{three:x?}");
                    for &d in &CLASS {
                        let four = [a, b, c, d];
                        for splits in [&[1usize, 2, 3][..], &[2], &[1, 3], &[]] {
                            assert_eq!(run(&four, splits), expected(&four, splits), "{four:x?}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn truncated_valid_prefix_is_accepted_until_the_end() {
        let euro = "€".as_bytes();
        let mut v = Utf8Validator::new();
        v.feed(&euro[..1]).unwrap();
        v.feed(&euro[1..2]).unwrap();
        assert!(!v.is_complete());
        assert_eq!(v.finish(), Err(InvalidUtf8));
    }

    #[test]
    fn invalid_prefix_fails_fast_before_the_message_ends() {
        // 0xF4 0x90 would encode beyond U+10FFFF: invalid at the second byte.
        let mut v = Utf8Validator::new();
        v.feed(b"abc\xF4").unwrap();
        assert_eq!(v.feed(b"\x90"), Err(InvalidUtf8));
        // A surrogate lead pair fails at its second byte as well.
        let mut v = Utf8Validator::new();
        assert_eq!(v.feed(b"\xED\xA0"), Err(InvalidUtf8));
    }

    #[test]
    fn multibyte_text_split_everywhere_is_valid() {
        let text = "Hello-µ@ßöäüàá-UTF-8!! κόσμε 𝄞";
        let bytes = text.as_bytes();
        for i in 0..=bytes.len() {
            for j in i..=bytes.len() {
                assert_eq!(run(bytes, &[i, j]), None, "{i} {j}");
            }
        }
    }
}
