//! `Sec-WebSocket-Accept` (RFC 6455 §4.2.2 item 5.4): one SHA-1 and a base64 of 20 bytes,
//! no heap.

use base64ct::{Base64, Encoding};
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
    let digest = Sha1::new()
        .chain_update(key)
        .chain_update(WEBSOCKET_GUID)
        .finalize();
    let mut out = [0; ACCEPT_LEN];
    // 20 bytes always encode to exactly ACCEPT_LEN characters, so this cannot fail;
    // the tests pin the output.
    let _ = Base64::encode(&digest, &mut out);
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
