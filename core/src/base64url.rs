//! Strict base64url (RFC 4648 §5): no padding, no whitespace, canonical only
//! (non-zero trailing bits are rejected).
//!
//! JWS (RFC 7515 §2) fixes this exact dialect. Being strict matters for security: a
//! lenient decoder that skips stray characters or ignores trailing bits accepts several
//! spellings of the same bytes, so a token could be altered without touching what the
//! signature covers as decoded data. Decoding writes into a caller buffer; nothing here
//! allocates.

use core::fmt;

use crate::error::BufferTooSmall;

/// Why base64url input was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum DecodeError {
    /// The length leaves a single dangling character (`len % 4 == 1`), which cannot
    /// encode a whole byte.
    InvalidLength,
    /// A byte outside `A-Z a-z 0-9 - _` (this includes `=`, `+`, `/` and whitespace).
    InvalidCharacter,
    /// The last character carries non-zero bits beyond the encoded bytes.
    NonCanonical,
    /// The output buffer is shorter than [`decoded_len`] of the input.
    BufferTooSmall,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::InvalidLength => "base64url input has an impossible length",
            Self::InvalidCharacter => "base64url input has an invalid character",
            Self::NonCanonical => "base64url input has non-zero trailing bits",
            Self::BufferTooSmall => "buffer too small for the decoded base64url input",
        })
    }
}

impl core::error::Error for DecodeError {}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Marks bytes outside the alphabet: bits above the 24 a quad of characters fills.
const INVALID: u32 = 0xFF00_0000;

/// Builds the table of `sextet << shift` for every byte (`INVALID` off the alphabet).
#[allow(clippy::indexing_slicing)] // const evaluation: an out-of-range index fails the build
const fn decode_table(shift: u32) -> [u32; 256] {
    let mut table = [INVALID; 256];
    let mut i = 0;
    while i < 64 {
        table[ALPHABET[i] as usize] = (i as u32) << shift;
        i += 1;
    }
    table
}

/// Each character's sextet already shifted to its place in a quad, so decoding a quad is
/// four lookups and three ORs (4 KiB of tables).
static QUAD: [[u32; 256]; 4] = [
    decode_table(18),
    decode_table(12),
    decode_table(6),
    decode_table(0),
];

#[inline(always)]
fn lookup(table: usize, byte: u8) -> u64 {
    // Both indices are always in range; the bound checks fold away.
    let value = QUAD.get(table).and_then(|t| t.get(usize::from(byte)));
    u64::from(value.copied().unwrap_or(INVALID))
}

/// The 24 bits of four characters (plus `INVALID` bits if any is not base64url).
#[inline(always)]
fn quad(a: u8, b: u8, c: u8, d: u8) -> u64 {
    lookup(0, a) | lookup(1, b) | lookup(2, c) | lookup(3, d)
}

/// The number of bytes `encoded_len` characters of unpadded base64url decode to.
///
/// # Errors
/// [`DecodeError::InvalidLength`] when `encoded_len % 4 == 1`.
pub const fn decoded_len(encoded_len: usize) -> Result<usize, DecodeError> {
    match encoded_len % 4 {
        0 => Ok(encoded_len / 4 * 3),
        2 => Ok(encoded_len / 4 * 3 + 1),
        3 => Ok(encoded_len / 4 * 3 + 2),
        _ => Err(DecodeError::InvalidLength),
    }
}

/// The number of characters `len` bytes encode to in unpadded base64url, or `None`
/// on overflow.
#[must_use]
pub const fn encoded_len(len: usize) -> Option<usize> {
    let tail = match len % 3 {
        0 => 0,
        1 => 2,
        _ => 3,
    };
    match (len / 3).checked_mul(4) {
        Some(full) => full.checked_add(tail),
        None => None,
    }
}

/// Decodes strict unpadded base64url `input` into the front of `output` and returns the
/// decoded bytes.
///
/// # Errors
/// [`DecodeError::InvalidLength`], [`DecodeError::InvalidCharacter`] (including `=`
/// padding and whitespace), [`DecodeError::NonCanonical`] for non-zero trailing bits,
/// [`DecodeError::BufferTooSmall`] when `output` is shorter than [`decoded_len`].
pub fn decode<'o>(input: &[u8], output: &'o mut [u8]) -> Result<&'o mut [u8], DecodeError> {
    let len = decoded_len(input.len())?;
    let out = output.get_mut(..len).ok_or(DecodeError::BufferTooSmall)?;
    // Eight characters (48 bits) at a time, then at most one quad and a 2-3 char tail.
    // Every pair value is OR-ed into `bad`, so one test at the end finds any character
    // outside the alphabet.
    let (octets, rest) = input.as_chunks::<8>();
    let (out_octets, out_rest) = out
        .split_at_mut_checked(octets.len() * 6)
        .ok_or(DecodeError::InvalidLength)?;
    let mut bad = 0u64;
    for (chunk, dst) in octets.iter().zip(out_octets.as_chunks_mut::<6>().0) {
        let [a, b, c, d, e, f, g, h] = *chunk;
        let (q0, q1) = (quad(a, b, c, d), quad(e, f, g, h));
        bad |= q0 | q1;
        let word = q0 << 40 | q1 << 16;
        if let Some(bytes) = word.to_be_bytes().first_chunk() {
            *dst = *bytes;
        }
    }
    let (quads, tail) = rest.as_chunks::<4>();
    let (triples, out_tail) = out_rest.as_chunks_mut::<3>();
    for (chars, triple) in quads.iter().zip(triples.iter_mut()) {
        let [a, b, c, d] = *chars;
        let word = quad(a, b, c, d);
        bad |= word;
        let [.., x, y, z] = word.to_be_bytes();
        *triple = [x, y, z];
    }
    let invalid = |bad: u64| bad & u64::from(INVALID) != 0;
    match (tail, out_tail) {
        ([], []) => {}
        ([a, b], [x]) => {
            let word = lookup(0, *a) | lookup(1, *b);
            bad |= word;
            if !invalid(bad) && word & 0xF000 != 0 {
                return Err(DecodeError::NonCanonical);
            }
            let [.., x0, _, _] = word.to_be_bytes();
            *x = x0;
        }
        ([a, b, c], [x, y]) => {
            let word = lookup(0, *a) | lookup(1, *b) | lookup(2, *c);
            bad |= word;
            if !invalid(bad) && word & 0x00C0 != 0 {
                return Err(DecodeError::NonCanonical);
            }
            let [.., x0, x1, _] = word.to_be_bytes();
            *x = x0;
            *y = x1;
        }
        _ => return Err(DecodeError::InvalidLength),
    }
    if invalid(bad) {
        return Err(DecodeError::InvalidCharacter);
    }
    Ok(out)
}

/// Encodes `input` as unpadded base64url into the front of `output` and returns the text.
///
/// # Errors
/// [`BufferTooSmall`] when `output` is shorter than [`encoded_len`] of the input.
pub fn encode<'o>(input: &[u8], output: &'o mut [u8]) -> Result<&'o str, BufferTooSmall> {
    let len = encoded_len(input.len()).ok_or(BufferTooSmall)?;
    let out = output.get_mut(..len).ok_or(BufferTooSmall)?;
    let symbol = |v: u32| ALPHABET.get((v & 0x3F) as usize).copied().unwrap_or(b'A');
    let (triples, tail) = input.as_chunks::<3>();
    let (quads, out_tail) = out.as_chunks_mut::<4>();
    for (triple, quad) in triples.iter().zip(quads.iter_mut()) {
        let [x, y, z] = *triple;
        let word = u32::from(x) << 16 | u32::from(y) << 8 | u32::from(z);
        *quad = [
            symbol(word >> 18),
            symbol(word >> 12),
            symbol(word >> 6),
            symbol(word),
        ];
    }
    match (tail, out_tail) {
        ([x], [a, b]) => {
            let word = u32::from(*x) << 16;
            *a = symbol(word >> 18);
            *b = symbol(word >> 12);
        }
        ([x, y], [a, b, c]) => {
            let word = u32::from(*x) << 16 | u32::from(*y) << 8;
            *a = symbol(word >> 18);
            *b = symbol(word >> 12);
            *c = symbol(word >> 6);
        }
        _ => {}
    }
    core::str::from_utf8(out).map_err(|_| BufferTooSmall)
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::{borrow::ToOwned, string::String, vec::Vec};

    fn dec(input: &str) -> Result<Vec<u8>, DecodeError> {
        let mut buf = [0u8; 256];
        decode(input.as_bytes(), &mut buf).map(|b| b.to_vec())
    }

    fn enc(input: &[u8]) -> String {
        let mut buf = [0u8; 512];
        encode(input, &mut buf).unwrap().to_owned()
    }

    #[test]
    fn rfc4648_vectors_round_trip_unpadded() {
        let cases: [(&[u8], &str); 7] = [
            (b"", ""),
            (b"f", "Zg"),
            (b"fo", "Zm8"),
            (b"foo", "Zm9v"),
            (b"foob", "Zm9vYg"),
            (b"fooba", "Zm9vYmE"),
            (b"foobar", "Zm9vYmFy"),
        ];
        for (raw, text) in cases {
            assert_eq!(enc(raw), text);
            assert_eq!(dec(text).unwrap(), raw);
        }
    }

    #[test]
    fn url_alphabet_used_not_standard() {
        assert_eq!(enc(&[0xFB, 0xFF]), "-_8");
        assert_eq!(dec("-_8").unwrap(), [0xFB, 0xFF]);
        assert_eq!(dec("+/8"), Err(DecodeError::InvalidCharacter));
    }

    #[test]
    fn every_length_and_byte_round_trips() {
        let data: Vec<u8> = (0..=255u8).collect();
        for n in 0..data.len() {
            let text = enc(&data[..n]);
            assert_eq!(text.len(), encoded_len(n).unwrap());
            assert_eq!(decoded_len(text.len()).unwrap(), n);
            assert_eq!(dec(&text).unwrap(), &data[..n]);
        }
    }

    #[test]
    fn padding_rejected() {
        assert_eq!(dec("Zg=="), Err(DecodeError::InvalidCharacter));
        assert_eq!(dec("Zm8="), Err(DecodeError::InvalidCharacter));
    }

    #[test]
    fn whitespace_rejected() {
        for text in ["Zm9v ", " Zm9v", "Zm\n9v", "Zm9\tv"] {
            assert!(dec(text).is_err(), "{text:?}");
        }
    }

    #[test]
    fn dangling_character_rejected() {
        assert_eq!(dec("Z"), Err(DecodeError::InvalidLength));
        assert_eq!(dec("Zm9vY"), Err(DecodeError::InvalidLength));
        assert_eq!(decoded_len(5), Err(DecodeError::InvalidLength));
    }

    #[test]
    fn non_zero_trailing_bits_rejected() {
        // "Zg" is canonical for "f"; "Zh".."Zv" carry extra low bits.
        assert_eq!(dec("Zh"), Err(DecodeError::NonCanonical));
        assert_eq!(dec("Zm9"), Err(DecodeError::NonCanonical));
        assert_eq!(dec("AB"), Err(DecodeError::NonCanonical));
        assert_eq!(dec("Zm8").unwrap(), b"fo");
    }

    #[test]
    fn invalid_character_in_any_position_rejected() {
        let good = "Zm9vYmFyYmF6";
        for i in 0..good.len() {
            let mut bad = good.as_bytes().to_vec();
            bad[i] = b'.';
            let mut buf = [0u8; 16];
            assert_eq!(decode(&bad, &mut buf), Err(DecodeError::InvalidCharacter));
        }
    }

    #[test]
    fn high_bytes_rejected() {
        let mut buf = [0u8; 8];
        assert_eq!(
            decode(&[b'Z', 0xC3, b'A', b'A'], &mut buf),
            Err(DecodeError::InvalidCharacter)
        );
    }

    /// The plain definition: one character at a time, errors in the decoder's order.
    fn reference_decode(input: &[u8]) -> Result<Vec<u8>, DecodeError> {
        decoded_len(input.len())?;
        let values: Option<Vec<u32>> = input
            .iter()
            .map(|b| ALPHABET.iter().position(|a| a == b).map(|v| v as u32))
            .collect();
        let values = values.ok_or(DecodeError::InvalidCharacter)?;
        let mut out = Vec::new();
        for group in values.chunks(4) {
            let word = group
                .iter()
                .enumerate()
                .fold(0u32, |acc, (i, v)| acc | v << (18 - 6 * i));
            let bytes = group.len() - 1;
            if word.to_be_bytes()[1 + bytes..].iter().any(|&b| b != 0) {
                return Err(DecodeError::NonCanonical);
            }
            out.extend_from_slice(&word.to_be_bytes()[1..1 + bytes]);
        }
        Ok(out)
    }

    #[test]
    fn decoder_matches_reference_for_every_byte_at_every_position() {
        let text = enc(&(0..30u8).map(|i| i.wrapping_mul(97)).collect::<Vec<_>>());
        for len in 0..=text.len() {
            let mut input = text.as_bytes()[..len].to_vec();
            assert_eq!(
                dec(core::str::from_utf8(&input).unwrap()),
                reference_decode(&input)
            );
            for at in 0..len {
                let original = input[at];
                for byte in 0..=255u8 {
                    input[at] = byte;
                    let mut buf = [0u8; 64];
                    let got = decode(&input, &mut buf).map(|b| b.to_vec());
                    assert_eq!(got, reference_decode(&input), "{input:?}");
                }
                input[at] = original;
            }
        }
    }

    #[test]
    fn small_buffers_reported() {
        let mut buf = [0u8; 2];
        assert_eq!(decode(b"Zm9v", &mut buf), Err(DecodeError::BufferTooSmall));
        assert_eq!(encode(b"foo", &mut buf), Err(BufferTooSmall));
    }
}
