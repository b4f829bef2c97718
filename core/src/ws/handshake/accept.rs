//! `Sec-WebSocket-Accept` (RFC 6455 §4.2.2 item 5.4): one SHA-1 and a base64 of 20 bytes,
//! no heap.
//!
//! The digest is encoded with a plain table lookup rather than `base64ct`'s
//! constant-time arithmetic: the accept value is sent in the clear, so there is no
//! secret whose timing could leak.

use sha1::{Digest, Sha1};

/// The GUID every WebSocket server appends to the client's key (RFC 6455 §1.3).
pub const WEBSOCKET_GUID: &[u8; 36] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Length of the random nonce behind a `Sec-WebSocket-Key` (RFC 6455 §4.1 item 7).
pub const NONCE_LEN: usize = 16;

/// Length of a base64-encoded `Sec-WebSocket-Key` (16 bytes, padded).
pub const KEY_LEN: usize = 24;

/// Length of a `Sec-WebSocket-Accept` value (base64 of a 20-byte SHA-1 digest).
pub const ACCEPT_LEN: usize = 28;

/// `base64(SHA-1(key ‖ GUID))`, the server's proof that it read the handshake.
///
/// `key` is the `Sec-WebSocket-Key` value exactly as sent (its base64 text, not the
/// decoded bytes).
#[must_use]
pub fn accept_key(key: &[u8]) -> [u8; ACCEPT_LEN] {
    let mut sha1 = Sha1::new();
    sha1.update(key);
    sha1.update(WEBSOCKET_GUID);
    encode_digest(&sha1.finalize().into())
}

/// The standard base64 alphabet (RFC 4648 §4), which RFC 6455 uses for the accept value.
const STANDARD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Padded standard base64 of a 20-byte digest: six full groups, then two bytes and `=`.
fn encode_digest(digest: &[u8; 20]) -> [u8; ACCEPT_LEN] {
    // `& 0x3F` keeps every index in range, so the bound checks fold away.
    let symbol = |bits: u32| {
        STANDARD
            .get((bits & 0x3F) as usize)
            .copied()
            .unwrap_or(b'=')
    };
    let mut out = [b'='; ACCEPT_LEN];
    let (groups, tail) = digest.as_chunks::<3>();
    let (quads, _) = out.as_chunks_mut::<4>();
    for (group, quad) in groups.iter().zip(quads.iter_mut()) {
        let [x, y, z] = *group;
        let word = u32::from(x) << 16 | u32::from(y) << 8 | u32::from(z);
        *quad = [
            symbol(word >> 18),
            symbol(word >> 12),
            symbol(word >> 6),
            symbol(word),
        ];
    }
    if let ([x, y], Some(quad)) = (tail, quads.last_mut()) {
        let word = u32::from(*x) << 16 | u32::from(*y) << 8;
        *quad = [
            symbol(word >> 18),
            symbol(word >> 12),
            symbol(word >> 6),
            b'=',
        ];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6455_section_1_3_example() {
        assert_eq!(
            &accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
            b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn digest_encoding_matches_base64ct() {
        use base64ct::{Base64, Encoding};
        for seed in 0..=255u8 {
            let digest: [u8; 20] = core::array::from_fn(|i| seed.wrapping_mul(31) ^ (i as u8 * 13));
            let mut expected = [0u8; ACCEPT_LEN];
            Base64::encode(&digest, &mut expected).unwrap();
            assert_eq!(encode_digest(&digest), expected);
        }
    }

    #[test]
    fn accept_depends_on_the_key_text() {
        assert_ne!(
            accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
            accept_key(b"AQIDBAUGBwgJCgsMDQ4PEA==")
        );
        assert_eq!(
            &accept_key(b"AQIDBAUGBwgJCgsMDQ4PEA=="),
            b"C/0nmHhBztSRGR1CwL6Tf4ZjwpY="
        );
    }
}
