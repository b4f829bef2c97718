//! The measured operations: each calls the core once and says whether the verdict is
//! the expected one.
//!
//! Inputs the core borrows from its caller (scratch buffers, header storage, the read
//! buffer) live in the harness, outside the measured frame, as they would in an
//! application's `static`s; their sizes are stated in [`BUFFERS`].

use tollgate::auth::Authenticator;
use tollgate::jwt::alg::hs256::Hs256Secret;
use tollgate::jwt::{self, JwtError, Key, Validation};
use tollgate::ws::close::CloseCode;
use tollgate::ws::conn::{Config, Connection, Event, MessageKind};
use tollgate::ws::error::ProtocolError;
use tollgate::ws::handshake::{ClientRequest, EMPTY_HEADER, Header, ServerConfig, Status};

use crate::fixtures;

/// The caller-owned buffers the operations use, for the report.
pub const BUFFERS: &str = "scratch 1 KiB (decoded JWT), 16 httparse headers, 1 KiB request, \
                           256 B response, 512 B frames";

/// A token with one payload character changed, so its signature no longer matches.
pub struct Tampered {
    bytes: [u8; fixtures::MAX_TOKEN_LEN],
    len: usize,
}

impl Tampered {
    /// `token` with the middle character of its payload segment swapped for another
    /// base64url character (the middle one, so the encoding stays canonical).
    pub fn new(token: &str) -> Option<Self> {
        let token = token.as_bytes();
        let mut bytes = [0; fixtures::MAX_TOKEN_LEN];
        bytes.get_mut(..token.len())?.copy_from_slice(token);
        let first_dot = token.iter().position(|&b| b == b'.')?;
        let second_dot = first_dot
            + 1
            + token
                .get(first_dot + 1..)?
                .iter()
                .position(|&b| b == b'.')?;
        let middle = bytes.get_mut((first_dot + second_dot) / 2)?;
        *middle = if *middle == b'A' { b'B' } else { b'A' };
        Some(Self {
            bytes,
            len: token.len(),
        })
    }

    /// The tampered token.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or_default()
    }
}

/// Builds a key from a PEM public key; the verdict is that it parses with the expected algorithm.
pub fn key_from_pem(pem: &[u8], alg: jwt::Algorithm) -> Option<Key> {
    Key::from_public_key_pem(pem)
        .ok()
        .filter(|key| key.algorithm() == alg)
}

/// The HS256 key from the shared secret.
pub fn hs256_key(secret: &[u8]) -> Option<Key> {
    Hs256Secret::new(secret).ok().map(Key::Hs256)
}

/// Verifies a genuine token: it must verify and carry the expected subject.
pub fn verify_valid(token: &[u8], key: &Key, scratch: &mut [u8]) -> bool {
    let rules = Validation::new()
        .issuers(&[fixtures::ISSUER])
        .audiences(&[fixtures::AUDIENCE]);
    jwt::verify(token, key, &rules, fixtures::NOW, scratch).is_ok_and(|verified| {
        verified
            .registered()
            .sub()
            .is_some_and(|sub| sub == fixtures::SUBJECT)
    })
}

/// Verifies a tampered token: it must fail with `InvalidSignature`, nothing else.
pub fn verify_tampered(token: &[u8], key: &Key, scratch: &mut [u8]) -> bool {
    let rules = Validation::new()
        .issuers(&[fixtures::ISSUER])
        .audiences(&[fixtures::AUDIENCE]);
    matches!(
        jwt::verify(token, key, &rules, fixtures::NOW, scratch),
        Err(JwtError::InvalidSignature)
    )
}

/// Writes the client's upgrade request (token in the query) into `out`.
pub fn client_request(token: &str, out: &mut [u8]) -> Option<usize> {
    ClientRequest::new("device.local", "/ws")
        .with_query_token("token", token)
        .write_with_key(fixtures::WS_NONCE, out)
        .ok()
        .map(|(len, _)| len)
}

/// The server side of the upgrade without the JWT: parse the request, find the token,
/// write the 101. The verdict: the token is the one sent and the accept key is
/// RFC 6455's for the fixed nonce.
pub fn server_handshake(
    request: &[u8],
    token: &str,
    decode: &mut [u8],
    response: &mut [u8],
) -> Option<usize> {
    let server = ServerConfig::new();
    let mut headers = [EMPTY_HEADER; 16];
    let Ok(Status::Complete(parsed)) = server.parse_request(request, &mut headers) else {
        return None;
    };
    if server.extract_token(&parsed, decode).ok()?.as_str() != token {
        return None;
    }
    let len = parsed
        .write_accept(server.select_protocol(&parsed), &[], response)
        .ok()?;
    let head = response.get(..len)?;
    head.windows(fixtures::WS_ACCEPT.len())
        .any(|w| w == fixtures::WS_ACCEPT.as_bytes())
        .then_some(len)
}

/// The whole authenticated upgrade on the server: parse, extract, verify the HS256
/// token, write the 101.
pub fn authenticated_handshake(
    request: &[u8],
    key: &Key,
    decode: &mut [u8],
    scratch: &mut [u8],
    response: &mut [u8],
) -> bool {
    let rules = Validation::new()
        .issuers(&[fixtures::ISSUER])
        .audiences(&[fixtures::AUDIENCE]);
    let server = ServerConfig::new();
    let auth = Authenticator::new(key, rules);
    let mut headers = [EMPTY_HEADER; 16];
    let Ok(Status::Complete(parsed)) = server.parse_request(request, &mut headers) else {
        return false;
    };
    if auth
        .authenticate(&parsed, fixtures::NOW, decode, scratch)
        .is_err()
    {
        return false;
    }
    parsed
        .write_accept(server.select_protocol(&parsed), &[], response)
        .is_ok()
}

/// The client side: write the request, then check the server's 101 against it.
pub fn client_handshake(token: &str, request: &mut [u8], response: &[u8]) -> bool {
    let Ok((_, handshake)) = ClientRequest::new("device.local", "/ws")
        .with_query_token("token", token)
        .write_with_key(fixtures::WS_NONCE, request)
    else {
        return false;
    };
    let mut headers: [Header<'_>; 16] = [EMPTY_HEADER; 16];
    matches!(
        handshake.parse_response(response, &mut headers),
        Ok(Status::Complete(_))
    )
}

/// Masks `payload` with `key` into a client frame `FIN | opcode` at the start of `out`.
pub fn masked_frame(
    opcode: u8,
    fin: bool,
    payload: &[u8],
    key: [u8; 4],
    out: &mut [u8],
) -> Option<usize> {
    let mut header = [0u8; 8];
    header[0] = opcode | if fin { 0x80 } else { 0 };
    let header_len = match payload.len() {
        len @ 0..=125 => {
            header[1] = 0x80 | len as u8;
            2
        }
        len => {
            header[1] = 0x80 | 126;
            header[2..4].copy_from_slice(&u16::try_from(len).ok()?.to_be_bytes());
            4
        }
    };
    let total = header_len + 4 + payload.len();
    let frame = out.get_mut(..total)?;
    frame[..header_len].copy_from_slice(&header[..header_len]);
    frame[header_len..header_len + 4].copy_from_slice(&key);
    for (i, (dst, src)) in frame[header_len + 4..].iter_mut().zip(payload).enumerate() {
        *dst = src ^ key[i % 4];
    }
    Some(total)
}

/// The frames a client sends in [`decode_frames`]: text, 200-byte binary, a text
/// message in two fragments, ping, close 1000.
pub fn client_frames(out: &mut [u8]) -> Option<usize> {
    let binary = [0xA5u8; 200];
    let mut at = 0;
    for (opcode, fin, payload) in [
        (0x1, true, &b"Hello"[..]),
        (0x2, true, &binary[..]),
        (0x1, false, &b"Hel"[..]),
        (0x0, true, &b"lo"[..]),
        (0x9, true, &b"ping"[..]),
        (0x8, true, &[0x03, 0xE8, b'b', b'y', b'e'][..]),
    ] {
        at += masked_frame(
            opcode,
            fin,
            payload,
            [0x37, 0xFA, 0x21, 0x3D],
            out.get_mut(at..)?,
        )?;
    }
    Some(at)
}

/// A server connection decodes [`client_frames`] (unmasking in place) and queues the
/// pong and the close echo. The verdict checks every event and the queued bytes.
pub fn decode_frames(input: &mut [u8], transmit: &mut [u8]) -> bool {
    let mut conn = Connection::server(Config::DEFAULT);
    let mut events = 0;
    let mut rest = input;
    let mut ok = true;
    let mut pongs = 0;
    while !rest.is_empty() {
        let Ok(step) = conn.handle_input(rest) else {
            return false;
        };
        let consumed = step.consumed;
        if let Some(event) = step.event {
            ok &= match (events, event) {
                (0, Event::Text(text)) => text == "Hello",
                (1, Event::Binary(data)) => data.len() == 200 && data.iter().all(|&b| b == 0xA5),
                (2, Event::Chunk(chunk)) => {
                    chunk.kind == MessageKind::Text && chunk.first && chunk.data == b"Hel"
                }
                (3, Event::Chunk(chunk)) => chunk.last && chunk.data == b"lo",
                (4, Event::Ping(data)) => {
                    pongs += conn.poll_transmit(transmit);
                    data == b"ping"
                }
                (5, Event::Close(close)) => {
                    close.code == Some(CloseCode::NORMAL) && close.reason == "bye"
                }
                _ => false,
            };
            events += 1;
        }
        if consumed == 0 {
            return false;
        }
        rest = match core::mem::take(&mut rest).get_mut(consumed..) {
            Some(tail) => tail,
            None => return false,
        };
    }
    // Pong "ping" (2 + 4 bytes), then the close echo with code 1000 (2 + 2 bytes).
    let echo = conn.poll_transmit(transmit);
    ok && events == 6 && pongs == 6 && echo == 4
}

/// An unmasked client frame must be refused (RFC 6455 §5.1).
pub fn refuse_unmasked(frame: &mut [u8]) -> bool {
    let mut conn = Connection::server(Config::DEFAULT);
    matches!(
        conn.handle_input(frame),
        Err(ProtocolError::UnmaskedClientFrame)
    )
}
