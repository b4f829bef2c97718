//! The upgrade handshake (both ends), unmasking and incremental UTF-8.

use httparse::{EMPTY_HEADER, Status};

use super::Bytes;
use crate::jwt::JwtError;
use crate::ws::handshake::{
    ClientHandshake, ClientRequest, Rejection, ResponseError, ServerConfig, TokenSource, accept_key,
};
use crate::ws::mask::{Mask, apply_mask};
use crate::ws::utf8::Utf8Validator;

const ORIGINS: &[&str] = &["https://app.example", "http://localhost:8080"];
const PROTOCOLS: &[&str] = &["chat", "v2.chat"];
const ALL_SOURCES: &[TokenSource<'static>] = &[
    TokenSource::Cookie { name: "session" },
    TokenSource::AuthorizationBearer,
    TokenSource::Subprotocol {
        marker: "tollgate.bearer",
    },
    TokenSource::Query { name: "token" },
    TokenSource::Query {
        name: "access_token",
    },
];
const QUERY_ONLY: &[TokenSource<'static>] = &[TokenSource::Query { name: "t" }];

/// Server configurations tried on every request.
const SERVER_CONFIGS: [ServerConfig<'static>; 3] = [
    ServerConfig::new(),
    ServerConfig::new()
        .with_allowed_origins(ORIGINS)
        .with_required_origin(true)
        .with_protocols(PROTOCOLS)
        .with_token_sources(ALL_SOURCES),
    ServerConfig::new()
        .with_max_request_bytes(160)
        .with_token_sources(QUERY_ONLY),
];

/// Refusals for verifier codes, written after a token was found.
const JWT_ERRORS: [JwtError; 4] = [
    JwtError::Expired,
    JwtError::InvalidSignature,
    JwtError::InvalidAudience,
    JwtError::Malformed,
];

/// The server side of the upgrade: parse, extract the token, choose the protocol, and
/// write the 101 or the refusal; each answer must parse back as HTTP.
pub fn handshake_request(data: &[u8]) {
    for (index, config) in SERVER_CONFIGS.iter().enumerate() {
        let mut headers = [EMPTY_HEADER; 16];
        let mut few = [EMPTY_HEADER; 4];
        let storage: &mut [httparse::Header<'_>] = if index == 2 { &mut few } else { &mut headers };
        match config.parse_request(data, storage) {
            Ok(Status::Partial) => assert!(data.len() < config.max_request_bytes()),
            Ok(Status::Complete(request)) => {
                let head = request.head_len();
                assert!(head <= data.len() && head <= config.max_request_bytes());
                check_prefixes(config, data, head);
                let mut decode = [0u8; 4096];
                match config.extract_token(&request, &mut decode) {
                    Ok(token) => {
                        let text = token.as_str();
                        assert!(!text.is_empty() && text.bytes().all(is_b64token_char));
                        let code = JWT_ERRORS
                            .get(text.len() % JWT_ERRORS.len())
                            .map_or("malformed", |e| e.code());
                        check_rejection(Rejection::invalid_token(code), 401);
                    }
                    Err(error) => check_rejection(Rejection::from_error(error), error.status()),
                }
                let mut tiny = [0u8; 8];
                let _ = config.extract_token(&request, &mut tiny);
                let protocol = config.select_protocol(&request);
                if let Some(p) = protocol {
                    let marker = config.token_sources().iter().any(|s| s.marker() == Some(p));
                    assert!(config.protocols().contains(&p) || marker);
                }
                let mut out = [0u8; 512];
                let Ok(len) = request.write_accept(protocol, &[("X-Fuzz", "1")], &mut out) else {
                    panic!("a 101 with a configured protocol fits 512 bytes");
                };
                check_accept(out.get(..len).unwrap_or_default(), request.key(), protocol);
            }
            Err(error) => check_rejection(Rejection::from_error(error), error.status()),
        }
    }
}

/// RFC 6750 `b64token` characters.
fn is_b64token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/' | b'=')
}

/// Every cut inside a complete head is `Partial`, never an error (httparse's contract,
/// which the driver relies on to read more).
fn check_prefixes(config: &ServerConfig<'_>, data: &[u8], head: usize) {
    for cut in [head.saturating_sub(1), head / 2, head.saturating_sub(3)] {
        let mut headers = [EMPTY_HEADER; 16];
        let prefix = data.get(..cut).unwrap_or_default();
        let result = config.parse_request(prefix, &mut headers);
        assert!(
            matches!(result, Ok(Status::Partial)),
            "a prefix of a complete head ({cut} of {head} bytes) gave {result:?}"
        );
    }
    let mut headers = [EMPTY_HEADER; 16];
    let again = config.parse_request(data.get(..head).unwrap_or_default(), &mut headers);
    assert!(
        matches!(again, Ok(Status::Complete(r)) if r.head_len() == head),
        "the head alone parses the same"
    );
}

fn check_rejection(rejection: Rejection, status: u16) {
    assert_eq!(rejection.status(), status);
    let mut out = [0u8; Rejection::MAX_LEN];
    let Ok(len) = rejection.write(&mut out) else {
        panic!("a refusal fits Rejection::MAX_LEN");
    };
    let response = out.get(..len).unwrap_or_default();
    let mut headers = [EMPTY_HEADER; 16];
    let mut parsed = httparse::Response::new(&mut headers);
    let Ok(Status::Complete(head)) = parsed.parse(response) else {
        panic!("the refusal is a complete HTTP response");
    };
    assert_eq!(parsed.code, Some(status));
    let length = parsed
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("Content-Length"))
        .and_then(|h| core::str::from_utf8(h.value).ok())
        .and_then(|v| v.parse::<usize>().ok());
    assert_eq!(length, Some(len - head), "Content-Length matches the body");
}

fn check_accept(response: &[u8], key: &[u8], protocol: Option<&str>) {
    let mut headers = [EMPTY_HEADER; 16];
    let mut parsed = httparse::Response::new(&mut headers);
    assert!(matches!(parsed.parse(response), Ok(Status::Complete(n)) if n == response.len()));
    assert_eq!(parsed.code, Some(101));
    let header = |name: &str| {
        parsed
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value)
    };
    assert_eq!(header("Sec-WebSocket-Accept"), Some(&accept_key(key)[..]));
    assert_eq!(
        header("Sec-WebSocket-Protocol"),
        protocol.map(str::as_bytes)
    );
}

/// The nonce of the client handshakes below, so that seeds can carry the right accept
/// value: `Sec-WebSocket-Accept: CdXSYUsvsaMthlEXWDNURGWA/1o=`.
pub const CLIENT_NONCE: [u8; 16] = [7; 16];

/// The client side: the server's answer to two fixed requests (with and without
/// subprotocols).
pub fn handshake_response(data: &[u8]) {
    let mut request = [0u8; 512];
    let with_protocols = ClientRequest::new("example.com", "/chat?room=1")
        .with_protocols(PROTOCOLS)
        .with_token_protocol("tollgate.bearer", "aGVsbG8.d29ybGQ.c2ln")
        .with_max_response_bytes(1024)
        .write_with_key(CLIENT_NONCE, &mut request);
    let plain = ClientRequest::new("example.com", "/")
        .with_bearer("aGVsbG8.d29ybGQ.c2ln")
        .write_with_key(CLIENT_NONCE, &mut request);
    let (Ok((_, with_protocols)), Ok((_, plain))) = (with_protocols, plain) else {
        panic!("the fixed requests fit 512 bytes");
    };
    for (handshake, offered) in [(with_protocols, PROTOCOLS), (plain, &[][..])] {
        check_response(&handshake, offered, data);
    }
}

fn check_response(handshake: &ClientHandshake<'_>, offered: &[&str], data: &[u8]) {
    let mut headers = [EMPTY_HEADER; 16];
    match handshake.parse_response(data, &mut headers) {
        Ok(Status::Partial) | Err(ResponseError::ResponseTooLarge) => {}
        Ok(Status::Complete(accepted)) => {
            let head = accepted.head_len();
            assert!(head <= data.len());
            if let Some(p) = accepted.protocol() {
                assert!(offered.contains(&p) || p == "tollgate.bearer");
                assert_ne!(p, "aGVsbG8.d29ybGQ.c2ln", "the token is never a protocol");
            }
            for cut in [head.saturating_sub(1), head / 2] {
                let mut headers = [EMPTY_HEADER; 16];
                let prefix = data.get(..cut).unwrap_or_default();
                let result = handshake.parse_response(prefix, &mut headers);
                assert!(
                    matches!(result, Ok(Status::Partial)),
                    "a prefix of a complete response head gave {result:?}"
                );
            }
        }
        Err(ResponseError::Rejected(rejected)) => {
            assert_ne!(rejected.status(), 101);
            if let Some(description) = rejected.error_description() {
                assert!(description.len() <= crate::ws::handshake::error::DESCRIPTION_CAPACITY);
            }
        }
        Err(_) => {}
    }
}

/// The word-at-a-time unmask at an input-chosen offset against a byte loop, and the
/// resumable [`Mask`] over input-chosen chunks against one pass.
///
/// Layout: key (4 bytes), offset (1), chunk length (1), then the payload.
pub fn unmask(data: &[u8]) {
    let mut input = Bytes::new(data);
    let key = [input.byte(), input.byte(), input.byte(), input.byte()];
    let offset = usize::from(input.byte());
    let step = usize::from(input.byte()).max(1);
    let payload = input.rest();
    let payload = payload.get(..8192).unwrap_or(payload);

    let mut fast = [0u8; 8192];
    let mut slow = [0u8; 8192];
    let (Some(fast), Some(slow)) = (fast.get_mut(..payload.len()), slow.get_mut(..payload.len()))
    else {
        return;
    };
    fast.copy_from_slice(payload);
    slow.copy_from_slice(payload);
    apply_mask(key, offset, fast);
    for (i, byte) in slow.iter_mut().enumerate() {
        *byte ^= key.get((offset + i) % 4).copied().unwrap_or(0);
    }
    assert_eq!(fast, slow, "apply_mask at offset {offset}");

    // Resumable: chunks of `step` bytes from offset 0 equal one pass at offset 0.
    fast.copy_from_slice(payload);
    slow.copy_from_slice(payload);
    apply_mask(key, 0, slow);
    let mut mask = Mask::new(key);
    for chunk in fast.chunks_mut(step) {
        mask.apply(chunk);
    }
    assert_eq!(fast, slow, "Mask::apply in chunks of {step}");
    assert_eq!(mask.key(), key);
    apply_mask(key, 0, slow);
    assert_eq!(&*slow, payload, "masking twice is the identity");
}

/// The incremental validator fed in input-chosen chunks against `core::str::from_utf8`:
/// it fails on the chunk holding the first byte that makes the stream invalid, and
/// nowhere else.
///
/// Layout: count of chunk sizes (1 byte), the sizes (1 byte each), then the text.
pub fn utf8(data: &[u8]) {
    let mut input = Bytes::new(data);
    let count = usize::from(input.byte() % 16);
    let sizes = input.take(count);
    let text = input.rest();

    let verdict = core::str::from_utf8(text);
    let breaking = verdict.err().and_then(|e| {
        let start = e.valid_up_to();
        let len = e.error_len()?;
        let sequence = text.get(start..start + len).unwrap_or_default();
        // A sequence that is a valid but unfinished prefix is broken by the byte after
        // it; otherwise its lead byte is invalid on its own.
        match core::str::from_utf8(sequence) {
            Err(inner) if inner.error_len().is_none() => Some(start + len),
            _ => Some(start),
        }
    });
    let mut validator = Utf8Validator::new();
    let mut at = 0;
    let mut sizes = sizes.iter().cycle();
    while at < text.len() {
        let mut size = sizes.next().map_or(text.len(), |&s| usize::from(s));
        if size == 0 {
            assert!(
                validator.feed(&[]).is_ok(),
                "an empty chunk changes nothing"
            );
            size = 1;
        }
        let end = (at + size).min(text.len());
        let chunk = text.get(at..end).unwrap_or_default();
        let due = breaking.is_some_and(|bad| bad < end);
        match validator.feed(chunk) {
            Ok(()) => assert!(
                !due,
                "accepted {chunk:?} holding the breaking byte {breaking:?}"
            ),
            Err(_) => {
                assert!(
                    due,
                    "refused {chunk:?} before the breaking byte {breaking:?}"
                );
                return;
            }
        }
        at = end;
    }
    assert_eq!(breaking, None, "the breaking byte was fed and accepted");
    assert_eq!(validator.is_complete(), verdict.is_ok());
    assert_eq!(validator.finish().is_ok(), verdict.is_ok());
    assert!(validator.is_complete(), "finish resets");
}
