//! The async driver end to end: a client and a server driver (or a raw peer) against
//! each other over an in-memory duplex with random chunking.

mod io_support;

use io_support::{End, XorShift, block_on, duplex, join};
use tollgate::io::{self, Error, Message, ServerOptions, WebSocket};
use tollgate::ws::close::CloseCode;
use tollgate::ws::conn::{Config, Event, MessageKind, State};
use tollgate::ws::error::ProtocolError;
use tollgate::ws::handshake::{ClientRequest, HandshakeError, ServerConfig};

const REQUEST: ClientRequest<'static> = ClientRequest::new("example.com", "/ws");

async fn server<'b>(end: End, read: &'b mut [u8], write: &'b mut [u8]) -> WebSocket<'b, End> {
    let options = ServerOptions::new(ServerConfig::new());
    io::accept(end, &options, read, write).await.unwrap().socket
}

async fn client<'b>(
    end: End,
    seed: u64,
    read: &'b mut [u8],
    write: &'b mut [u8],
) -> WebSocket<'b, End, XorShift> {
    io::connect(
        end,
        &REQUEST,
        Config::DEFAULT,
        XorShift(seed | 1),
        read,
        write,
    )
    .await
    .unwrap()
    .socket
}

/// Echoes whole messages until the peer closes; returns how many it echoed.
async fn echo(ws: &mut WebSocket<'_, End>) -> usize {
    let mut count = 0;
    loop {
        let (message, mut sender) = ws.recv_split().await.unwrap();
        match message {
            Message::Text(text) => sender.send_text(text).await.unwrap(),
            Message::Binary(data) => sender.send_binary(data).await.unwrap(),
            Message::Close(_) => break,
            Message::Ping(_) | Message::Pong(_) => continue,
        }
        count += 1;
    }
    assert_eq!(ws.recv().await.unwrap_err(), Error::Closed);
    count
}

/// Echoes events as they come, chunks as fragments, until the peer closes.
async fn stream_echo(ws: &mut WebSocket<'_, End>) {
    loop {
        let (event, mut sender) = ws.recv_chunk_split().await.unwrap();
        match event {
            Event::Text(text) => sender.send_text(text).await.unwrap(),
            Event::Binary(data) => sender.send_binary(data).await.unwrap(),
            Event::Chunk(chunk) => sender
                .send_fragment(chunk.kind, chunk.data, chunk.last)
                .await
                .unwrap(),
            Event::Close(_) => return,
            Event::Ping(_) | Event::Pong(_) => {}
        }
    }
}

/// Collects one whole message from events.
async fn collect(ws: &mut WebSocket<'_, End, XorShift>) -> (MessageKind, Vec<u8>) {
    let mut data = Vec::new();
    loop {
        match ws.recv_chunk().await.unwrap() {
            Event::Text(text) => return (MessageKind::Text, text.as_bytes().to_vec()),
            Event::Binary(bytes) => return (MessageKind::Binary, bytes.to_vec()),
            Event::Chunk(chunk) => {
                assert_eq!(chunk.first, data.is_empty() && chunk.first);
                data.extend_from_slice(chunk.data);
                if chunk.last {
                    return (chunk.kind, data);
                }
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}

fn random_text(rng: &mut XorShift, len: usize) -> String {
    const PIECES: [&str; 5] = ["a", "é", "€", "𝄞", " "];
    let mut text = String::new();
    while text.len() < len {
        text.push_str(PIECES[rng.below(PIECES.len())]);
    }
    text
}

#[test]
fn messages_round_trip_through_an_echo_server() {
    for seed in 1..=12_u64 {
        for max_chunk in [1, 5, 64, 100_000] {
            let (a, b) = duplex(seed, max_chunk);
            let (mut sr, mut sw, mut cr, mut cw) =
                (vec![0; 4096], vec![0; 600], vec![0; 4096], vec![0; 1024]);
            let mut rng = XorShift(seed * 7919);
            let sent: Vec<(bool, Vec<u8>)> = (0..8)
                .map(|_| {
                    let len = rng.below(3000);
                    if rng.below(2) == 0 {
                        (true, random_text(&mut rng, len).into_bytes())
                    } else {
                        (false, rng.bytes(len))
                    }
                })
                .collect();
            let server = async {
                let mut ws = server(a, &mut sr, &mut sw).await;
                echo(&mut ws).await
            };
            let client = async {
                let mut ws = client(b, seed, &mut cr, &mut cw).await;
                for (is_text, data) in &sent {
                    if *is_text {
                        ws.send_text(std::str::from_utf8(data).unwrap())
                            .await
                            .unwrap();
                    } else {
                        ws.send_binary(data).await.unwrap();
                    }
                    match ws.recv().await.unwrap() {
                        Message::Text(text) if *is_text => assert_eq!(text.as_bytes(), data),
                        Message::Binary(bytes) if !is_text => assert_eq!(bytes, data),
                        other => panic!("unexpected {other:?}"),
                    }
                }
                ws.close(CloseCode::NORMAL, "done").await.unwrap();
                assert_eq!(ws.state(), State::Closed);
            };
            let (echoed, ()) = join(server, client);
            assert_eq!(echoed, sent.len(), "seed {seed} chunk {max_chunk}");
        }
    }
}

#[test]
fn fragmented_message_is_reassembled_by_recv_with_a_ping_inside() {
    for seed in 1..=10_u64 {
        let (a, b) = duplex(seed, 1 + seed as usize * 3);
        let (mut sr, mut sw, mut cr, mut cw) =
            (vec![0; 1024], vec![0; 512], vec![0; 512], vec![0; 512]);
        let text = "héllo wörld, fragmented ✓ ".repeat(20);
        let bytes = text.as_bytes();
        let server = async {
            let mut ws = server(a, &mut sr, &mut sw).await;
            assert_eq!(ws.recv().await.unwrap(), Message::Ping(b"mid"));
            assert_eq!(ws.recv().await.unwrap(), Message::Text(&text));
            assert_eq!(ws.recv().await.unwrap(), Message::Binary(&[1, 2, 3, 4]));
            echo(&mut ws).await
        };
        let client = async {
            let mut ws = client(b, seed, &mut cr, &mut cw).await;
            let mut tx = ws.sender();
            // Cut inside multi-byte characters on purpose.
            let (first, rest) = bytes.split_at(7);
            let (middle, last) = rest.split_at(rest.len() / 2 + 1);
            tx.send_fragment(MessageKind::Text, first, false)
                .await
                .unwrap();
            tx.send_ping(b"mid").await.unwrap();
            tx.send_fragment(MessageKind::Text, middle, false)
                .await
                .unwrap();
            tx.send_fragment(MessageKind::Text, last, true)
                .await
                .unwrap();
            tx.send_fragment(MessageKind::Binary, &[1, 2], false)
                .await
                .unwrap();
            tx.send_fragment(MessageKind::Binary, &[], false)
                .await
                .unwrap();
            tx.send_fragment(MessageKind::Binary, &[3, 4], true)
                .await
                .unwrap();
            assert_eq!(ws.recv().await.unwrap(), Message::Pong(b"mid"));
            ws.close(CloseCode::NORMAL, "").await.unwrap();
        };
        let (echoed, ()) = join(server, client);
        assert_eq!(echoed, 0);
    }
}

#[test]
fn large_messages_stream_both_ways() {
    for (seed, max_chunk) in [(1_u64, 100_000), (2, 333), (3, 4096)] {
        let (a, b) = duplex(seed, max_chunk);
        let (mut sr, mut sw, mut cr, mut cw) =
            (vec![0; 1024], vec![0; 512], vec![0; 700], vec![0; 256]);
        let mut rng = XorShift(seed);
        let binary = rng.bytes(1 << 20);
        let text = random_text(&mut rng, 300_000);
        let server = async {
            let mut ws = server(a, &mut sr, &mut sw).await;
            stream_echo(&mut ws).await;
        };
        let client = async {
            let mut ws = client(b, seed, &mut cr, &mut cw).await;
            ws.send_binary(&binary).await.unwrap();
            assert_eq!(
                collect(&mut ws).await,
                (MessageKind::Binary, binary.clone())
            );
            let mut tx = ws.sender();
            let pieces: Vec<&[u8]> = text.as_bytes().chunks(50_001).collect();
            for (i, piece) in pieces.iter().enumerate() {
                tx.send_fragment(MessageKind::Text, piece, i + 1 == pieces.len())
                    .await
                    .unwrap();
            }
            let (kind, echoed) = collect(&mut ws).await;
            assert_eq!(kind, MessageKind::Text);
            assert!(echoed == text.as_bytes());
            ws.close(CloseCode::NORMAL, "").await.unwrap();
        };
        join(server, client);
    }
}

#[test]
fn message_larger_than_the_read_buffer_fails_recv_with_1009() {
    let (a, b) = duplex(9, 4096);
    let (mut sr, mut sw, mut cr, mut cw) = (vec![0; 512], vec![0; 512], vec![0; 512], vec![0; 512]);
    let server = async {
        let mut ws = server(a, &mut sr, &mut sw).await;
        assert_eq!(ws.recv().await.unwrap_err(), Error::BufferTooSmall);
        // The rest of the message is dropped; the peer's close answers ours.
        let close = ws.recv().await.unwrap();
        assert!(matches!(
            close,
            Message::Close(frame) if frame.code == Some(CloseCode::MESSAGE_TOO_BIG)
        ));
        assert_eq!(ws.recv().await.unwrap_err(), Error::Closed);
    };
    let client = async {
        let mut ws = client(b, 9, &mut cr, &mut cw).await;
        let mut tx = ws.sender();
        for i in 0..20 {
            tx.send_fragment(MessageKind::Binary, &[i; 100], i == 19)
                .await
                .unwrap();
        }
        match ws.recv().await.unwrap() {
            Message::Close(frame) => {
                assert_eq!(frame.code, Some(CloseCode::MESSAGE_TOO_BIG));
                assert_eq!(frame.reason, "message_too_big");
            }
            other => panic!("unexpected {other:?}"),
        }
    };
    join(server, client);
}

#[test]
fn single_frame_up_to_the_buffer_arrives_whole() {
    let (a, b) = duplex(4, 97);
    let (mut sr, mut sw, mut cr, mut cw) = (vec![0; 600], vec![0; 512], vec![0; 600], vec![0; 700]);
    let payload = vec![7u8; 600 - 14];
    let server = async {
        let mut ws = server(a, &mut sr, &mut sw).await;
        assert_eq!(ws.recv().await.unwrap(), Message::Binary(&payload));
        echo(&mut ws).await
    };
    let client = async {
        let mut ws = client(b, 4, &mut cr, &mut cw).await;
        ws.send_binary(&payload).await.unwrap();
        ws.close(CloseCode::NORMAL, "").await.unwrap();
    };
    join(server, client);
}

#[test]
fn ping_is_answered_with_pong_automatically() {
    let (a, b) = duplex(5, 3);
    let (mut sr, mut sw, mut cr, mut cw) = (vec![0; 512], vec![0; 512], vec![0; 512], vec![0; 512]);
    let server = async {
        let mut ws = server(a, &mut sr, &mut sw).await;
        assert_eq!(ws.recv().await.unwrap(), Message::Ping(b"are you there"));
        ws.send_ping(b"and you?").await.unwrap();
        echo(&mut ws).await
    };
    let client = async {
        let mut ws = client(b, 5, &mut cr, &mut cw).await;
        ws.send_ping(b"are you there").await.unwrap();
        assert_eq!(ws.recv().await.unwrap(), Message::Pong(b"are you there"));
        assert_eq!(ws.recv().await.unwrap(), Message::Ping(b"and you?"));
        ws.close(CloseCode::NORMAL, "").await.unwrap();
    };
    join(server, client);
}

#[test]
fn clean_close_from_the_client() {
    let (a, b) = duplex(6, 16);
    let (mut sr, mut sw, mut cr, mut cw) = (vec![0; 512], vec![0; 512], vec![0; 512], vec![0; 512]);
    let server = async {
        let mut ws = server(a, &mut sr, &mut sw).await;
        match ws.recv().await.unwrap() {
            Message::Close(frame) => {
                assert_eq!(frame.code, Some(CloseCode::NORMAL));
                assert_eq!(frame.reason, "bye");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(ws.state(), State::Closed);
        assert_eq!(ws.recv().await.unwrap_err(), Error::Closed);
        assert_eq!(ws.send_text("late").await.unwrap_err(), Error::Closed);
    };
    let client = async {
        let mut ws = client(b, 6, &mut cr, &mut cw).await;
        ws.close(CloseCode::NORMAL, "bye").await.unwrap();
        assert_eq!(ws.state(), State::Closed);
        assert_eq!(ws.recv().await.unwrap_err(), Error::Closed);
    };
    join(server, client);
}

#[test]
fn clean_close_from_the_server() {
    let (a, b) = duplex(7, 2);
    let (mut sr, mut sw, mut cr, mut cw) = (vec![0; 512], vec![0; 512], vec![0; 512], vec![0; 512]);
    let server = async {
        let mut ws = server(a, &mut sr, &mut sw).await;
        ws.close(CloseCode::GOING_AWAY, "restart").await.unwrap();
        assert_eq!(ws.state(), State::Closed);
    };
    let client = async {
        let mut ws = client(b, 7, &mut cr, &mut cw).await;
        match ws.recv().await.unwrap() {
            Message::Close(frame) => {
                assert_eq!(frame.code, Some(CloseCode::GOING_AWAY));
                assert_eq!(frame.reason, "restart");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(ws.recv().await.unwrap_err(), Error::Closed);
    };
    join(server, client);
}

/// A handshake request written by hand, for a raw peer.
fn raw_request() -> Vec<u8> {
    let mut out = [0u8; 512];
    let (len, _) = REQUEST.write_with_key([1; 16], &mut out).unwrap();
    out[..len].to_vec()
}

/// A masked client frame with mask key 0 (payload unchanged).
fn masked_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    assert!(payload.len() < 126);
    let mut frame = vec![0x80 | opcode, 0x80 | payload.len() as u8, 0, 0, 0, 0];
    frame.extend_from_slice(payload);
    frame
}

#[test]
fn protocol_error_from_the_peer_writes_close_1002() {
    let (a, mut b) = duplex(8, 4096);
    let (mut sr, mut sw) = (vec![0; 512], vec![0; 512]);
    let server = async {
        let mut ws = server(a, &mut sr, &mut sw).await;
        assert_eq!(
            ws.recv().await.unwrap_err(),
            Error::Protocol(ProtocolError::UnmaskedClientFrame)
        );
        assert_eq!(
            ws.recv().await.unwrap_err(),
            Error::Protocol(ProtocolError::UnmaskedClientFrame)
        );
    };
    let peer = async {
        b.write_raw(&raw_request()).await;
        let head = b.read_until(b"\r\n\r\n").await;
        assert!(head.starts_with(b"HTTP/1.1 101 "));
        b.write_raw(&[0x81, 0x02, b'h', b'i']).await;
        let rest = b.read_to_end().await;
        let reason = b"unmasked_client_frame";
        let mut expected = vec![0x88, 2 + reason.len() as u8, 0x03, 0xea];
        expected.extend_from_slice(reason);
        assert_eq!(rest, expected);
    };
    join(server, peer);
}

#[test]
fn invalid_utf8_from_the_peer_writes_close_1007() {
    let (a, mut b) = duplex(10, 4096);
    let (mut sr, mut sw) = (vec![0; 512], vec![0; 512]);
    let server = async {
        let mut ws = server(a, &mut sr, &mut sw).await;
        assert_eq!(
            ws.recv().await.unwrap_err(),
            Error::Protocol(ProtocolError::InvalidUtf8)
        );
    };
    let peer = async {
        b.write_raw(&raw_request()).await;
        b.read_until(b"\r\n\r\n").await;
        b.write_raw(&masked_frame(0x1, &[0xff, 0xfe])).await;
        let rest = b.read_to_end().await;
        assert_eq!(&rest[..4], &[0x88, 2 + 12, 0x03, 0xef]);
        assert_eq!(&rest[4..], b"invalid_utf8");
    };
    join(server, peer);
}

#[test]
fn frames_sent_with_the_request_are_not_lost() {
    let (a, mut b) = duplex(11, 100_000);
    let (mut sr, mut sw) = (vec![0; 512], vec![0; 512]);
    let server = async {
        let mut ws = server(a, &mut sr, &mut sw).await;
        assert_eq!(ws.recv().await.unwrap(), Message::Text("early"));
        assert_eq!(ws.recv().await.unwrap(), Message::Binary(b"bird"));
    };
    let peer = async {
        let mut bytes = raw_request();
        bytes.extend(masked_frame(0x1, b"early"));
        bytes.extend(masked_frame(0x2, b"bird"));
        b.write_raw(&bytes).await;
        b.read_until(b"\r\n\r\n").await;
    };
    join(server, peer);
}

#[test]
fn frames_sent_with_the_response_are_not_lost() {
    let (mut a, b) = duplex(12, 100_000);
    let (mut cr, mut cw) = (vec![0; 512], vec![0; 512]);
    let peer = async {
        let request = a.read_until(b"\r\n\r\n").await;
        let text = String::from_utf8(request).unwrap();
        let key = text
            .lines()
            .find_map(|line| line.strip_prefix("Sec-WebSocket-Key: "))
            .unwrap();
        let accept = tollgate::ws::handshake::accept_key(key.as_bytes());
        let mut response = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {}\r\n\r\n",
            std::str::from_utf8(&accept).unwrap()
        )
        .into_bytes();
        response.extend_from_slice(&[0x81, 0x05]);
        response.extend_from_slice(b"hello");
        a.write_raw(&response).await;
    };
    let client = async {
        let mut ws = client(b, 12, &mut cr, &mut cw).await;
        assert_eq!(ws.recv().await.unwrap(), Message::Text("hello"));
    };
    join(peer, client);
}

#[test]
fn transport_eof_is_a_typed_error() {
    let (a, mut b) = duplex(13, 64);
    let (mut sr, mut sw) = (vec![0; 512], vec![0; 512]);
    let server = async {
        let mut ws = server(a, &mut sr, &mut sw).await;
        assert_eq!(ws.recv().await.unwrap_err(), Error::Eof);
    };
    let peer = async {
        b.write_raw(&raw_request()).await;
        b.read_until(b"\r\n\r\n").await;
        b.write_raw(&[0x81, 0x85, 0, 0]).await;
        b.shutdown();
    };
    join(server, peer);
}

#[test]
fn eof_during_the_handshake_is_a_typed_error() {
    let (a, mut b) = duplex(14, 64);
    let (mut sr, mut sw) = (vec![0; 512], vec![0; 512]);
    let options = ServerOptions::new(ServerConfig::new());
    let server = async {
        let result = io::accept(a, &options, &mut sr, &mut sw).await;
        assert_eq!(result.unwrap_err(), Error::Eof);
    };
    let peer = async {
        b.write_raw(b"GET /ws HTTP/1.1\r\nHost: x\r\n").await;
        b.shutdown();
    };
    join(server, peer);
}

#[test]
fn malformed_upgrade_is_refused_with_its_status() {
    let cases: [(&[u8], HandshakeError, &[u8]); 3] = [
        (
            b"GET /ws HTTP/1.1\r\nHost: x\r\n\r\n",
            HandshakeError::MissingUpgrade,
            b"HTTP/1.1 400 ",
        ),
        (
            b"POST /ws HTTP/1.1\r\nHost: x\r\n\r\n",
            HandshakeError::MethodNotAllowed,
            b"HTTP/1.1 405 ",
        ),
        (
            b"\x00\x01garbage\r\n\r\n",
            HandshakeError::Malformed,
            b"HTTP/1.1 400 ",
        ),
    ];
    for (request, error, status) in cases {
        let (a, mut b) = duplex(15, 7);
        let (mut sr, mut sw) = (vec![0; 512], vec![0; 512]);
        let options = ServerOptions::new(ServerConfig::new());
        let server = async {
            let result = io::accept(a, &options, &mut sr, &mut sw).await;
            assert_eq!(result.unwrap_err(), Error::Handshake(error));
        };
        let peer = async {
            b.write_raw(request).await;
            let answer = b.read_to_end().await;
            assert!(answer.starts_with(status), "{error:?}");
        };
        join(server, peer);
    }
}

#[test]
fn request_head_larger_than_the_read_buffer_gets_431() {
    let (a, mut b) = duplex(16, 50);
    let (mut sr, mut sw) = (vec![0; 300], vec![0; 512]);
    let options = ServerOptions::new(ServerConfig::new());
    let server = async {
        let result = io::accept(a, &options, &mut sr, &mut sw).await;
        assert_eq!(
            result.unwrap_err(),
            Error::Handshake(HandshakeError::RequestTooLarge)
        );
    };
    let peer = async {
        let mut request = raw_request();
        let padding = format!("X-Padding: {}\r\n\r\n", "p".repeat(400));
        request.truncate(request.len() - 2);
        request.extend_from_slice(padding.as_bytes());
        b.write_raw(&request).await;
        let answer = b.read_to_end().await;
        assert!(answer.starts_with(b"HTTP/1.1 431 "));
    };
    join(server, peer);
}

#[test]
fn subprotocol_is_negotiated_for_both_sides() {
    let (a, b) = duplex(17, 33);
    let (mut sr, mut sw, mut cr, mut cw) = (vec![0; 512], vec![0; 512], vec![0; 512], vec![0; 512]);
    let options = ServerOptions::new(ServerConfig::new().with_protocols(&["chat.v2", "chat"]));
    let request = REQUEST.with_protocols(&["chat", "other"]);
    let server = async {
        let upgraded = io::accept(a, &options, &mut sr, &mut sw).await.unwrap();
        assert_eq!(upgraded.protocol, Some("chat"));
    };
    let client = async {
        let upgraded = io::connect(b, &request, Config::DEFAULT, XorShift(3), &mut cr, &mut cw)
            .await
            .unwrap();
        assert_eq!(upgraded.protocol, Some("chat"));
    };
    join(server, client);
}

#[test]
fn buffers_below_the_minimum_are_refused() {
    let (a, b) = duplex(18, 8);
    let (mut small, mut big) = (vec![0; 64], vec![0; 512]);
    let options = ServerOptions::new(ServerConfig::new());
    let result = block_on(io::accept(a, &options, &mut big, &mut small));
    assert_eq!(result.unwrap_err(), Error::BufferTooSmall);
    let (mut small, mut big) = (vec![0; 64], vec![0; 512]);
    let result = block_on(io::connect(
        b,
        &REQUEST,
        Config::DEFAULT,
        XorShift(1),
        &mut small,
        &mut big,
    ));
    assert_eq!(result.unwrap_err(), Error::BufferTooSmall);
}

#[test]
fn errors_display_without_panicking() {
    let errors: [Error<core::convert::Infallible>; 4] = [
        Error::Eof,
        Error::Closed,
        Error::Protocol(ProtocolError::InvalidUtf8),
        Error::Handshake(HandshakeError::MissingKey),
    ];
    for error in errors {
        assert!(!error.to_string().is_empty());
    }
}

#[test]
fn dropped_recv_future_loses_no_bytes() {
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    let (a, mut b) = duplex(19, 3);
    let (mut sr, mut sw) = (vec![0; 512], vec![0; 512]);
    let (mut ws, _) = join(server(a, &mut sr, &mut sw), async {
        b.write_raw(&raw_request()).await;
        b.read_until(b"\r\n\r\n").await;
    });
    let mut frame = vec![0x01, 0x85, 0, 0, 0, 0];
    frame.extend_from_slice(b"hello");
    frame.extend(masked_frame(0x0, b" world"));
    let mut cx = Context::from_waker(Waker::noop());
    // Each round: part of the message arrives, a `recv` reads it and is dropped by a
    // "timer" before the message is complete.
    for piece in frame.chunks(4) {
        block_on(b.write_raw(piece));
        let mut recv = pin!(ws.recv());
        for _ in 0..8 {
            if let Poll::Ready(message) = recv.as_mut().poll(&mut cx) {
                assert_eq!(message.unwrap(), Message::Text("hello world"));
                return;
            }
        }
    }
    panic!("the message never completed");
}

/// A `Send` stream, to check that the driver's futures can run on a work-stealing
/// executor (tokio::spawn).
struct SendStream;

impl embedded_io_async::ErrorType for SendStream {
    type Error = core::convert::Infallible;
}

impl embedded_io_async::Read for SendStream {
    async fn read(&mut self, _: &mut [u8]) -> Result<usize, Self::Error> {
        Ok(0)
    }
}

impl embedded_io_async::Write for SendStream {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        Ok(buf.len())
    }
    async fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

#[test]
fn driver_futures_are_send_for_send_streams() {
    use tollgate::ws::conn::Connection;

    fn is_send<T: Send>(_: &T) {}
    let (mut r, mut w) = (vec![0; 512], vec![0; 512]);
    let options = ServerOptions::new(ServerConfig::new());
    is_send(&io::accept(SendStream, &options, &mut r, &mut w));
    #[cfg(feature = "hs256")]
    {
        let auth =
            tollgate::auth::Authenticator::new(io_support::key(), tollgate::jwt::Validation::new());
        let mut scratch = vec![0; 512];
        is_send(&io::accept_authenticated(
            SendStream,
            &options,
            &auth,
            0,
            &mut r,
            &mut w,
            &mut scratch,
        ));
        let config = Config::DEFAULT.with_read_buffer_len(512);
        let mut ws =
            WebSocket::new(SendStream, Connection::server(config), &mut r, 0, &mut w).unwrap();
        is_send(&ws.authenticate_first_message(&auth, 0, &mut scratch));
    }
    is_send(&io::connect(
        SendStream,
        &REQUEST,
        Config::DEFAULT,
        XorShift(1),
        &mut r,
        &mut w,
    ));
    let config = Config::DEFAULT.with_read_buffer_len(512);
    let mut ws = WebSocket::new(SendStream, Connection::server(config), &mut r, 0, &mut w).unwrap();
    is_send(&ws.recv());
    is_send(&ws.recv_split());
    is_send(&ws.recv_chunk());
    is_send(&ws.recv_chunk_split());
    is_send(&ws.send_text("x"));
    is_send(&ws.close(CloseCode::NORMAL, ""));
}

#[test]
fn masked_frame_from_the_server_fails_the_client_with_1002() {
    let (mut a, b) = duplex(20, 4096);
    let (mut cr, mut cw) = (vec![0; 512], vec![0; 512]);
    let peer = async {
        let request = String::from_utf8(a.read_until(b"\r\n\r\n").await).unwrap();
        let key = request
            .lines()
            .find_map(|line| line.strip_prefix("Sec-WebSocket-Key: "))
            .unwrap();
        let accept = tollgate::ws::handshake::accept_key(key.as_bytes());
        let response = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {}\r\n\r\n",
            std::str::from_utf8(&accept).unwrap()
        );
        a.write_raw(response.as_bytes()).await;
        a.write_raw(&masked_frame(0x1, b"no")).await;
        let close = a.read_to_end().await;
        // A client's close frame is masked: opcode, mask bit + length, key, payload.
        assert_eq!(close[0], 0x88);
        let len = usize::from(close[1] & 0x7f);
        assert_eq!(close[1] & 0x80, 0x80);
        let key = [close[2], close[3], close[4], close[5]];
        let body: Vec<u8> = close[6..6 + len]
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ key[i % 4])
            .collect();
        assert_eq!(&body[..2], &1002_u16.to_be_bytes());
        assert_eq!(&body[2..], b"masked_server_frame");
    };
    let client = async {
        let mut ws = client(b, 20, &mut cr, &mut cw).await;
        assert_eq!(
            ws.recv().await.unwrap_err(),
            Error::Protocol(ProtocolError::MaskedServerFrame)
        );
    };
    join(peer, client);
}

#[test]
fn random_traffic_with_fragments_and_pings_both_ways() {
    for seed in 1..=25_u64 {
        let mut rng = XorShift(seed * 104_729);
        let max_chunk = [1, 2, 13, 200, 100_000][rng.below(5)];
        let (a, b) = duplex(seed, max_chunk);
        let (mut sr, mut sw, mut cr, mut cw) =
            (vec![0; 2048], vec![0; 300], vec![0; 2048], vec![0; 300]);
        // Each message: kind, payload, and how many fragments to send it in.
        let messages: Vec<(MessageKind, Vec<u8>, usize)> = (0..15)
            .map(|_| {
                let len = rng.below(1500);
                let pieces = 1 + rng.below(4);
                if rng.below(2) == 0 {
                    (
                        MessageKind::Text,
                        random_text(&mut rng, len).into_bytes(),
                        pieces,
                    )
                } else {
                    (MessageKind::Binary, rng.bytes(len), pieces)
                }
            })
            .collect();
        let server = async {
            let mut ws = server(a, &mut sr, &mut sw).await;
            let mut pings = 0;
            loop {
                let (message, mut sender) = ws.recv_split().await.unwrap();
                match message {
                    Message::Text(text) => sender.send_text(text).await.unwrap(),
                    Message::Binary(data) => sender.send_binary(data).await.unwrap(),
                    Message::Ping(_) => {
                        pings += 1;
                        sender.send_ping(b"server").await.unwrap();
                    }
                    Message::Pong(_) => {}
                    Message::Close(_) => return pings,
                }
            }
        };
        let client = async {
            let mut ws = client(b, seed, &mut cr, &mut cw).await;
            let mut pings_sent = 0;
            let mut pongs = 0;
            for (kind, data, pieces) in &messages {
                let size = data.len() / pieces + 1;
                let parts: Vec<&[u8]> = if data.is_empty() {
                    vec![&[]]
                } else {
                    data.chunks(size).collect()
                };
                let mut tx = ws.sender();
                for (i, part) in parts.iter().enumerate() {
                    tx.send_fragment(*kind, part, i + 1 == parts.len())
                        .await
                        .unwrap();
                    if i + 1 < parts.len() && part.len() % 3 == 0 {
                        tx.send_ping(b"client").await.unwrap();
                        pings_sent += 1;
                    }
                }
                loop {
                    match ws.recv().await.unwrap() {
                        Message::Text(text) => {
                            assert_eq!(*kind, MessageKind::Text);
                            assert!(text.as_bytes() == data.as_slice());
                            break;
                        }
                        Message::Binary(bytes) => {
                            assert_eq!(*kind, MessageKind::Binary);
                            assert!(bytes == data.as_slice());
                            break;
                        }
                        Message::Pong(payload) => {
                            assert_eq!(payload, b"client");
                            pongs += 1;
                        }
                        Message::Ping(payload) => assert_eq!(payload, b"server"),
                        Message::Close(_) => panic!("unexpected close"),
                    }
                }
            }
            ws.close(CloseCode::NORMAL, "").await.unwrap();
            (pings_sent, pongs)
        };
        let (server_pings, (pings_sent, pongs)) = join(server, client);
        assert_eq!(server_pings, pings_sent, "seed {seed}");
        assert!(pongs <= pings_sent);
    }
}
