//! One test per RFC 6455 rule the connection enforces, plus the §5.7 examples.

extern crate std;

use std::string::{String, ToString};
use std::vec::Vec;

use super::*;
use crate::ws::error::SendError;
use crate::ws::frame::MAX_CONTROL_FRAME_LEN;

/// A deterministic generator standing in for a CSPRNG in tests.
struct TestRng(u64);

impl rand_core::TryRng for TestRng {
    type Error = core::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        self.try_next_u64().map(|v| v as u32)
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        Ok(self.0)
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for b in dst {
            *b = self.try_next_u64()? as u8;
        }
        Ok(())
    }
}

impl rand_core::TryCryptoRng for TestRng {}

#[derive(Debug, PartialEq, Eq)]
enum Ev {
    Text(String),
    Binary(Vec<u8>),
    Chunk(MessageKind, Vec<u8>, bool, bool),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(Option<u16>, String),
}

fn owned(event: Event<'_>) -> Ev {
    match event {
        Event::Text(t) => Ev::Text(t.to_string()),
        Event::Binary(b) => Ev::Binary(b.to_vec()),
        Event::Chunk(c) => Ev::Chunk(c.kind, c.data.to_vec(), c.first, c.last),
        Event::Ping(p) => Ev::Ping(p.to_vec()),
        Event::Pong(p) => Ev::Pong(p.to_vec()),
        Event::Close(c) => Ev::Close(c.code.map(CloseCode::as_u16), c.reason.to_string()),
    }
}

/// Feeds `bytes` `step` bytes at a time, like a driver with an unbounded buffer.
fn feed<K: MaskKeys>(
    conn: &mut Connection<K>,
    bytes: &[u8],
    step: usize,
) -> (Vec<Ev>, Result<(), ProtocolError>) {
    let mut pending = Vec::new();
    let mut events = Vec::new();
    for piece in bytes.chunks(step.max(1)) {
        pending.extend_from_slice(piece);
        loop {
            match conn.handle_input(&mut pending) {
                Err(e) => return (events, Err(e)),
                Ok(Input { consumed, event }) => {
                    let event = event.map(owned);
                    pending.drain(..consumed);
                    match event {
                        Some(ev) => events.push(ev),
                        None => break,
                    }
                }
            }
        }
    }
    (events, Ok(()))
}

fn frame(b0: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut out = std::vec![0u8; 14 + payload.len()];
    let len7 = match payload.len() {
        0..=125 => payload.len() as u8,
        126..=0xFFFF => 126,
        _ => 127,
    };
    out[0] = b0;
    out[1] = len7 | if mask.is_some() { 0x80 } else { 0 };
    let mut at = 2;
    if len7 == 126 {
        out[2..4].copy_from_slice(&(payload.len() as u16).to_be_bytes());
        at = 4;
    } else if len7 == 127 {
        out[2..10].copy_from_slice(&(payload.len() as u64).to_be_bytes());
        at = 10;
    }
    if let Some(key) = mask {
        out[at..at + 4].copy_from_slice(&key);
        at += 4;
    }
    out[at..at + payload.len()].copy_from_slice(payload);
    if let Some(key) = mask {
        crate::ws::mask::apply_mask(key, 0, &mut out[at..at + payload.len()]);
    }
    out.truncate(at + payload.len());
    out
}

const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// A client frame (masked).
fn cf(b0: u8, payload: &[u8]) -> Vec<u8> {
    frame(b0, payload, Some(KEY))
}

fn server() -> Connection {
    Connection::server(Config::DEFAULT)
}

fn client() -> Connection<TestRng> {
    Connection::client(Config::DEFAULT, TestRng(0x1234_5678_9abc_def1))
}

/// Drains `poll_transmit` and decodes what a peer of the opposite role would read.
fn transmitted<K: MaskKeys>(conn: &mut Connection<K>) -> Vec<u8> {
    let mut out = [0u8; 2 * MAX_CONTROL_FRAME_LEN];
    let n = conn.poll_transmit(&mut out);
    out[..n].to_vec()
}

/// The close code of the close frame a server queued (unmasked).
fn queued_close_code(conn: &mut Connection) -> u16 {
    let out = transmitted(conn);
    assert_eq!(out[0], 0x88, "{out:x?}");
    u16::from_be_bytes([out[2], out[3]])
}

fn assert_fails(bytes: &[u8], error: ProtocolError, code: u16) {
    for step in [1, 3, bytes.len()] {
        let mut s = server();
        let (_, result) = feed(&mut s, bytes, step);
        assert_eq!(result, Err(error), "step {step}");
        assert_eq!(s.state(), State::Failed(error));
        assert_eq!(queued_close_code(&mut s), code);
    }
}

#[test]
fn rfc_5_7_single_frame_unmasked_text() {
    let mut c = client();
    let (ev, r) = feed(&mut c, &[0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f], 7);
    assert_eq!((ev, r), (std::vec![Ev::Text("Hello".into())], Ok(())));
}

#[test]
fn rfc_5_7_single_frame_masked_text() {
    let bytes = [
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];
    for step in 1..=bytes.len() {
        let mut s = server();
        let (ev, r) = feed(&mut s, &bytes, step);
        assert_eq!((ev, r), (std::vec![Ev::Text("Hello".into())], Ok(())));
    }
}

#[test]
fn rfc_5_7_fragmented_unmasked_text() {
    let bytes = [0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f];
    let mut c = client();
    let (ev, r) = feed(&mut c, &bytes, bytes.len());
    assert_eq!(r, Ok(()));
    assert_eq!(
        ev,
        std::vec![
            Ev::Chunk(MessageKind::Text, b"Hel".to_vec(), true, false),
            Ev::Chunk(MessageKind::Text, b"lo".to_vec(), false, true),
        ]
    );
}

#[test]
fn rfc_5_7_unmasked_ping_and_masked_pong() {
    let mut c = client();
    let (ev, r) = feed(&mut c, &[0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f], 2);
    assert_eq!((ev, r), (std::vec![Ev::Ping(b"Hello".to_vec())], Ok(())));
    let pong = transmitted(&mut c);
    let mut s = server();
    let (ev, r) = feed(&mut s, &pong, pong.len());
    assert_eq!((ev, r), (std::vec![Ev::Pong(b"Hello".to_vec())], Ok(())));

    let rfc_pong = [
        0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];
    let (ev, _) = feed(&mut server(), &rfc_pong, 11);
    assert_eq!(ev, std::vec![Ev::Pong(b"Hello".to_vec())]);
}

#[test]
fn rfc_5_7_256_byte_and_64_kib_binary_messages() {
    for (len, header) in [
        (256usize, &[0x82u8, 0x7E, 0x01, 0x00][..]),
        (65536, &[0x82, 0x7F, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00][..]),
    ] {
        let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
        let mut s = server();
        let mut out = std::vec![0u8; len + 14];
        let n = s
            .encode_message(MessageKind::Binary, &payload, &mut out)
            .unwrap();
        assert_eq!(&out[..header.len()], header);
        assert_eq!(n, header.len() + len);
        let mut c = Connection::client(Config::DEFAULT.with_read_buffer_len(70_000), TestRng(7));
        let (ev, r) = feed(&mut c, &out[..n], 1000);
        assert_eq!((ev, r), (std::vec![Ev::Binary(payload)], Ok(())));
    }
}

#[test]
fn server_rejects_unmasked_client_frame_with_1002() {
    assert_fails(
        &frame(0x81, b"hi", None),
        ProtocolError::UnmaskedClientFrame,
        1002,
    );
}

#[test]
fn client_rejects_masked_server_frame_with_1002() {
    let mut c = client();
    let (_, r) = feed(&mut c, &frame(0x82, b"hi", Some(KEY)), 8);
    assert_eq!(r, Err(ProtocolError::MaskedServerFrame));
    let out = transmitted(&mut c);
    assert_eq!(out[0], 0x88);
    assert_ne!(out[1] & 0x80, 0, "client close frames are masked");
}

#[test]
fn reserved_bits_without_extension_fail_with_1002() {
    assert_fails(&cf(0xC1, b"x"), ProtocolError::ReservedBitsSet, 1002);
}

#[test]
fn reserved_opcodes_fail_with_1002() {
    for op in [0x3u8, 0x7, 0xB, 0xF] {
        assert_fails(&cf(0x80 | op, b""), ProtocolError::ReservedOpcode, 1002);
    }
}

#[test]
fn control_frame_over_125_bytes_fails_with_1002() {
    assert_fails(
        &cf(0x89, &[0; 126]),
        ProtocolError::ControlFrameTooLong,
        1002,
    );
}

#[test]
fn fragmented_control_frame_fails_with_1002() {
    assert_fails(
        &cf(0x09, b"ping"),
        ProtocolError::FragmentedControlFrame,
        1002,
    );
}

#[test]
fn continuation_without_start_fails_with_1002() {
    assert_fails(
        &cf(0x80, b"orphan"),
        ProtocolError::UnexpectedContinuation,
        1002,
    );
}

#[test]
fn new_data_frame_inside_fragmented_message_fails_with_1002() {
    let mut bytes = cf(0x01, b"frag");
    bytes.extend(cf(0x81, b"new"));
    assert_fails(&bytes, ProtocolError::ExpectedContinuation, 1002);
}

#[test]
fn non_minimal_length_fails_with_1002() {
    let mut bytes = std::vec![0x82, 0xFE, 0x00, 0x05];
    bytes.extend(KEY);
    bytes.extend([0; 5]);
    assert_fails(&bytes, ProtocolError::NonMinimalLength, 1002);
}

#[test]
fn control_frames_may_interleave_fragments() {
    let mut bytes = cf(0x01, b"Hel");
    bytes.extend(cf(0x89, b"p"));
    bytes.extend(cf(0x80, b"lo"));
    for step in [1, 5, bytes.len()] {
        let mut s = server();
        let (ev, r) = feed(&mut s, &bytes, step);
        assert_eq!(r, Ok(()));
        assert_eq!(
            ev,
            std::vec![
                Ev::Chunk(MessageKind::Text, b"Hel".to_vec(), true, false),
                Ev::Ping(b"p".to_vec()),
                Ev::Chunk(MessageKind::Text, b"lo".to_vec(), false, true),
            ]
        );
        assert_eq!(transmitted(&mut s), [0x8A, 0x01, b'p']);
    }
}

#[test]
fn frame_over_max_frame_size_fails_with_1009() {
    let mut s = Connection::server(Config::DEFAULT.with_max_frame_size(10));
    let (_, r) = feed(&mut s, &cf(0x82, &[0; 11]), 100);
    assert_eq!(r, Err(ProtocolError::FrameTooBig));
    assert_eq!(queued_close_code(&mut s), 1009);
}

#[test]
fn message_over_max_size_across_fragments_fails_with_1009() {
    let mut s = Connection::server(Config::DEFAULT.with_max_message_size(10));
    let mut bytes = cf(0x02, &[0; 6]);
    bytes.extend(cf(0x80, &[0; 5]));
    let (ev, r) = feed(&mut s, &bytes, 100);
    assert_eq!(ev.len(), 1);
    assert_eq!(r, Err(ProtocolError::MessageTooBig));
    assert_eq!(queued_close_code(&mut s), 1009);
}

#[test]
fn invalid_utf8_text_fails_with_1007() {
    assert_fails(&cf(0x81, b"ab\xFFcd"), ProtocolError::InvalidUtf8, 1007);
}

#[test]
fn invalid_utf8_fails_fast_inside_a_partially_received_frame() {
    // The frame announces 100 bytes but only the first 10 (with the bad byte) arrive.
    let payload: Vec<u8> = b"abc\xF4\x90".iter().copied().chain([b'a'; 95]).collect();
    let bytes = cf(0x81, &payload);
    let mut s = server();
    let (_, r) = feed(&mut s, &bytes[..16], 16);
    assert_eq!(r, Err(ProtocolError::InvalidUtf8));
}

#[test]
fn invalid_utf8_fails_fast_in_a_streamed_frame() {
    let payload: Vec<u8> = b"abc\xC0".iter().copied().chain([b'a'; 96]).collect();
    let bytes = cf(0x81, &payload);
    let mut s = Connection::server(Config::DEFAULT.with_read_buffer_len(32));
    let (_, r) = feed(&mut s, &bytes[..12], 12);
    assert_eq!(r, Err(ProtocolError::InvalidUtf8));
}

#[test]
fn utf8_split_across_fragments_is_valid() {
    let euro = "€".as_bytes();
    let mut bytes = cf(0x01, &euro[..1]);
    bytes.extend(cf(0x00, &euro[1..2]));
    bytes.extend(cf(0x80, &euro[2..]));
    let (ev, r) = feed(&mut server(), &bytes, 1);
    assert_eq!(r, Ok(()));
    assert_eq!(ev.len(), 3);
}

#[test]
fn text_message_ending_inside_a_code_point_fails_with_1007() {
    let euro = "€".as_bytes();
    let mut bytes = cf(0x01, &euro[..1]);
    bytes.extend(cf(0x80, &euro[1..2]));
    assert_fails(&bytes, ProtocolError::InvalidUtf8, 1007);
}

#[test]
fn close_body_of_one_byte_fails_with_1002() {
    assert_fails(&cf(0x88, &[0x03]), ProtocolError::InvalidClosePayload, 1002);
}

#[test]
fn invalid_close_code_fails_with_1002() {
    for code in [0u16, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000] {
        assert_fails(
            &cf(0x88, &code.to_be_bytes()),
            ProtocolError::InvalidCloseCode,
            1002,
        );
    }
}

#[test]
fn close_reason_invalid_utf8_fails_with_1007() {
    assert_fails(
        &cf(0x88, &[0x03, 0xE8, 0xFF]),
        ProtocolError::InvalidCloseReason,
        1007,
    );
}

#[test]
fn received_close_is_echoed_and_connection_is_closed() {
    for code in [1000u16, 1001, 1003, 1007, 1012, 1013, 1014, 3000, 4999] {
        let mut s = server();
        let mut body = code.to_be_bytes().to_vec();
        body.extend(b"bye");
        let (ev, r) = feed(&mut s, &cf(0x88, &body), 4);
        assert_eq!(r, Ok(()));
        assert_eq!(ev, std::vec![Ev::Close(Some(code), "bye".into())]);
        assert_eq!(s.state(), State::Closed);
        let [hi, lo] = code.to_be_bytes();
        assert_eq!(transmitted(&mut s), [0x88, 0x02, hi, lo]);
        assert!(!s.wants_transmit());
        assert_eq!(
            s.encode_message(MessageKind::Text, b"late", &mut [0; 16]),
            Err(SendError::Closed)
        );
    }
}

#[test]
fn empty_close_is_echoed_empty() {
    let mut s = server();
    let (ev, _) = feed(&mut s, &cf(0x88, &[]), 6);
    assert_eq!(ev, std::vec![Ev::Close(None, String::new())]);
    assert_eq!(transmitted(&mut s), [0x88, 0x00]);
}

#[test]
fn input_after_close_is_ignored() {
    let mut s = server();
    let mut bytes = cf(0x88, &[0x03, 0xE8]);
    bytes.extend(cf(0x89, b"late ping"));
    let (ev, r) = feed(&mut s, &bytes, bytes.len());
    assert_eq!((ev.len(), r), (1, Ok(())));
    assert_eq!(transmitted(&mut s), [0x88, 0x02, 0x03, 0xE8]);
}

#[test]
fn own_close_waits_for_the_peers_close() {
    let mut s = server();
    s.close(CloseCode::GOING_AWAY, "restart").unwrap();
    assert_eq!(s.state(), State::Closing);
    let out = transmitted(&mut s);
    assert_eq!(&out[..4], [0x88, 9, 0x03, 0xE9]);
    assert_eq!(&out[4..], b"restart");
    // Data still arrives while closing; the peer's close completes the handshake.
    let mut bytes = cf(0x82, b"in flight");
    bytes.extend(cf(0x88, &[0x03, 0xE9]));
    let (ev, r) = feed(&mut s, &bytes, 3);
    assert_eq!(r, Ok(()));
    assert_eq!(ev.len(), 2);
    assert_eq!(s.state(), State::Closed);
    assert!(!s.wants_transmit(), "no second close frame");
    assert_eq!(s.close(CloseCode::NORMAL, ""), Err(SendError::Closed));
}

#[test]
fn reserved_close_codes_cannot_be_sent() {
    let mut s = server();
    for code in [1004, 1005, 1006, 1015, 2000] {
        assert_eq!(
            s.close(CloseCode::new(code), ""),
            Err(SendError::InvalidCloseCode)
        );
    }
    assert_eq!(
        s.close(CloseCode::NORMAL, &"x".repeat(124)),
        Err(SendError::ControlPayloadTooLong)
    );
}

#[test]
fn ping_is_answered_by_pong_with_same_payload() {
    let mut s = server();
    let (ev, _) = feed(&mut s, &cf(0x89, b"are you there"), 5);
    assert_eq!(ev, std::vec![Ev::Ping(b"are you there".to_vec())]);
    let mut expected = std::vec![0x8A, 13];
    expected.extend(b"are you there");
    assert_eq!(transmitted(&mut s), expected);
}

#[test]
fn only_the_latest_of_several_pings_is_ponged() {
    let mut s = server();
    let mut bytes = cf(0x89, b"one");
    bytes.extend(cf(0x89, b"two"));
    let (ev, _) = feed(&mut s, &bytes, bytes.len());
    assert_eq!(ev.len(), 2);
    assert_eq!(transmitted(&mut s), [0x8A, 3, b't', b'w', b'o']);
}

#[test]
fn unsolicited_pong_is_ignored() {
    let mut s = server();
    let (ev, r) = feed(&mut s, &cf(0x8A, b"beat"), 2);
    assert_eq!((ev, r), (std::vec![Ev::Pong(b"beat".to_vec())], Ok(())));
    assert!(!s.wants_transmit());
    assert_eq!(s.state(), State::Open);
}

#[test]
fn errors_are_sticky() {
    let mut s = server();
    let (_, r) = feed(&mut s, &frame(0x81, b"x", None), 3);
    assert_eq!(r, Err(ProtocolError::UnmaskedClientFrame));
    let mut good = cf(0x81, b"fine");
    assert_eq!(
        s.handle_input(&mut good),
        Err(ProtocolError::UnmaskedClientFrame)
    );
    assert_eq!(s.encode_ping(b"", &mut [0; 8]), Err(SendError::Closed));
    assert_eq!(queued_close_code(&mut s), 1002);
    assert_eq!(transmitted(&mut s), []);
}

#[test]
fn incomplete_input_consumes_nothing_and_is_not_an_error() {
    let bytes = cf(0x81, b"Hello");
    let mut s = server();
    let mut buf = bytes.clone();
    for len in 0..bytes.len() {
        let input = s.handle_input(&mut buf[..len]).unwrap();
        assert_eq!(input, Input::NEED_MORE, "{len}");
    }
    let input = s.handle_input(&mut buf).unwrap();
    assert_eq!(input.consumed, bytes.len());
    assert_eq!(input.event, Some(Event::Text("Hello")));
}

#[test]
fn frames_over_the_whole_frame_limit_are_streamed() {
    let payload: Vec<u8> = (0..300u32).map(|i| (i % 251) as u8).collect();
    let mut s = Connection::server(Config::DEFAULT.with_read_buffer_len(64));
    let bytes = cf(0x82, &payload);
    let (ev, r) = feed(&mut s, &bytes, 50);
    assert_eq!(r, Ok(()));
    let mut joined: Vec<u8> = Vec::new();
    for (i, e) in ev.iter().enumerate() {
        let Ev::Chunk(MessageKind::Binary, data, first, last) = e else {
            panic!("{e:?}")
        };
        assert_eq!(*first, i == 0);
        assert_eq!(*last, i == ev.len() - 1);
        joined.extend(data);
    }
    assert_eq!(joined, payload);
}

#[test]
fn client_masks_every_frame_it_sends() {
    let mut c = client();
    let mut out = [0u8; 64];
    let n = c
        .encode_message(MessageKind::Text, b"Hello", &mut out)
        .unwrap();
    assert_eq!(n, 11);
    assert_eq!(out[1], 0x85);
    assert_ne!(&out[6..11], b"Hello");
    let (ev, _) = feed(&mut server(), &out[..n], n);
    assert_eq!(ev, std::vec![Ev::Text("Hello".into())]);
}

#[test]
fn fragments_of_different_messages_cannot_interleave_when_sending() {
    let mut s = server();
    let mut out = [0u8; 64];
    s.encode_fragment(MessageKind::Text, b"a", false, &mut out)
        .unwrap();
    assert_eq!(
        s.encode_fragment(MessageKind::Binary, b"b", true, &mut out),
        Err(SendError::FragmentedMessageOpen)
    );
    assert_eq!(
        s.encode_message(MessageKind::Text, b"c", &mut out),
        Err(SendError::FragmentedMessageOpen)
    );
    let n = s
        .encode_fragment(MessageKind::Text, b"d", true, &mut out)
        .unwrap();
    assert_eq!(&out[..n], [0x80, 1, b'd']);
}

#[test]
fn frame_header_then_in_place_masked_payload_decodes() {
    let mut c = client();
    let mut out = [0u8; 14];
    let mut payload = *b"zero-copy payload";
    let (n, mask) = c
        .encode_frame_header(MessageKind::Binary, true, payload.len() as u64, &mut out)
        .unwrap();
    let mut mask = mask.unwrap();
    let (a, b) = payload.split_at_mut(5);
    mask.apply(a);
    mask.apply(b);
    let mut wire = out[..n].to_vec();
    wire.extend(payload);
    let (ev, _) = feed(&mut server(), &wire, 4);
    assert_eq!(ev, std::vec![Ev::Binary(b"zero-copy payload".to_vec())]);
}

#[test]
fn too_small_output_buffer_writes_nothing() {
    let mut s = server();
    assert_eq!(
        s.encode_message(MessageKind::Binary, &[1; 10], &mut [0; 11]),
        Err(SendError::BufferTooSmall)
    );
    let _ = feed(&mut s, &cf(0x89, b"ping"), 10);
    assert_eq!(s.poll_transmit(&mut [0; 5]), 0);
    assert!(s.wants_transmit());
    assert_eq!(transmitted(&mut s).len(), 6);
}

#[test]
fn pong_owed_before_a_close_is_sent_before_the_close_echo() {
    let mut s = server();
    let mut bytes = cf(0x89, b"p");
    bytes.extend(cf(0x88, &[0x03, 0xE8]));
    let (ev, _) = feed(&mut s, &bytes, bytes.len());
    assert_eq!(ev.len(), 2);
    assert_eq!(transmitted(&mut s), [0x8A, 1, b'p', 0x88, 2, 0x03, 0xE8]);
}

#[test]
fn client_accepts_a_borrowed_rng_and_answers_server_close() {
    let mut rng = TestRng(99);
    let mut c = Connection::client(Config::DEFAULT, &mut rng);
    let (ev, r) = feed(&mut c, &frame(0x88, &[0x03, 0xE9], None), 1);
    assert_eq!(
        (ev, r),
        (std::vec![Ev::Close(Some(1001), String::new())], Ok(()))
    );
    assert_eq!(c.state(), State::Closed);
    let echo = transmitted(&mut c);
    assert_eq!(&echo[..2], [0x88, 0x82], "masked echo");
    let (ev, _) = feed(&mut server(), &echo, echo.len());
    assert_eq!(ev, std::vec![Ev::Close(Some(1001), String::new())]);
}
