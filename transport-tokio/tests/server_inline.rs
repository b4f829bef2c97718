//! Inline handlers (`Server::serve_inline`): answers from inside the connection task,
//! with the server's policies (expiry, refresh, rate limit, protocol errors, shutdown)
//! as with sockets.

mod server_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use server_support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tollgate_tokio::Identity;
use tollgate_tokio::server::{Echo, InlineHandler, MessageRef, RateLimit, Reply};

/// Greets, answers `whoami` with `sub exp`, `count` with the messages this connection
/// sent, `id` with the connection's id, closes on `bye`, echoes the rest; counts opens
/// and closes.
#[derive(Default)]
struct Probe {
    opened: AtomicUsize,
    closed: AtomicUsize,
}

impl InlineHandler for Probe {
    /// Messages received on the connection.
    type State = u64;

    fn on_open(&self, _: &mut u64, reply: &mut Reply<'_>) {
        self.opened.fetch_add(1, Ordering::SeqCst);
        let greeting = format!("hello {}", reply.identity().sub().unwrap_or("-"));
        reply.text(&greeting);
    }

    fn on_message(&self, seen: &mut u64, reply: &mut Reply<'_>, message: MessageRef<'_>) {
        *seen += 1;
        match message {
            MessageRef::Text("whoami") => {
                let identity = reply.identity();
                let answer = format!(
                    "{} {}",
                    identity.sub().unwrap_or("-"),
                    identity.exp().unwrap_or(0)
                );
                reply.text(&answer);
            }
            MessageRef::Text("count") => reply.text(&seen.to_string()),
            MessageRef::Text("id") => reply.text(&reply.id().to_string()),
            MessageRef::Text("bye") => {
                reply.text("see you");
                reply.close(4000, "bye");
                assert!(reply.is_closing());
                reply.text("never sent");
            }
            other => reply.message(other),
        }
    }

    fn on_close(&self, _: &mut u64, _: &Identity) {
        self.closed.fetch_add(1, Ordering::SeqCst);
    }
}

/// A masked client frame: `first` byte (FIN, RSV, opcode), then `payload` (< 126 bytes).
fn frame(first: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [0x11, 0x5a, 0xc3, 0x07];
    let mut out = vec![first, 0x80 | u8::try_from(payload.len()).unwrap()];
    out.extend_from_slice(&mask);
    out.extend(payload.iter().zip(mask.iter().cycle()).map(|(b, m)| b ^ m));
    out
}

#[tokio::test]
async fn echo_answers_text_binary_and_messages_larger_than_the_read_buffer() {
    let server = serve_inline(config(), Echo).await;
    let mut client = connect_query(server.addr, &token("alice", 60)).await;
    round_trip(&mut client, "hello").await;
    client.send_binary(&[0, 1, 2, 255]).await.unwrap();
    assert_eq!(next(&mut client).await, Got::Binary(vec![0, 1, 2, 255]));
    // Larger than the read buffer: streamed in pieces, answered whole.
    let big: Vec<u8> = (0..300_000_u32).map(|i| (i % 251) as u8).collect();
    client.send_binary(&big).await.unwrap();
    assert_eq!(next(&mut client).await, Got::Binary(big));
    let text = "ünïcödé ".repeat(20_000);
    round_trip(&mut client, &text).await;
}

#[tokio::test]
async fn many_pipelined_messages_come_back_in_order() {
    let server = serve_inline(config(), Echo).await;
    let mut client = connect_query(server.addr, &token("alice", 60)).await;
    for i in 0..2000 {
        client.send_text(&format!("message {i}")).await.unwrap();
    }
    for i in 0..2000 {
        assert_eq!(next(&mut client).await, Got::Text(format!("message {i}")));
    }
}

#[tokio::test]
async fn handler_sees_the_identity_and_opens_and_closes_once() {
    let probe = Arc::new(Probe::default());
    let server = serve_inline(config(), Arc::clone(&probe)).await;
    let mut client = connect_query(server.addr, &token("alice", 60)).await;
    assert_eq!(next(&mut client).await, Got::Text("hello alice".into()));
    client.send_text("whoami").await.unwrap();
    let Got::Text(answer) = next(&mut client).await else {
        panic!("no answer")
    };
    assert!(answer.starts_with("alice "), "{answer}");
    client.send_text("bye").await.unwrap();
    assert_eq!(next(&mut client).await, Got::Text("see you".into()));
    assert_eq!(next(&mut client).await, Got::Close(4000, "bye".into()));
    tokio::time::timeout(STEP, async {
        while probe.closed.load(Ordering::SeqCst) == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap();
    assert_eq!(probe.opened.load(Ordering::SeqCst), 1);
    assert_eq!(probe.closed.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn refresh_replaces_the_identity_the_handler_sees() {
    let server = serve_inline(config(), Probe::default()).await;
    let mut client = connect_query(server.addr, &token("alice", 60)).await;
    assert_eq!(next(&mut client).await, Got::Text("hello alice".into()));
    let fresh = token("alice", 3600);
    client
        .send_text(&format!(r#"{{"type":"refresh","token":"{fresh}"}}"#))
        .await
        .unwrap();
    assert_eq!(
        next(&mut client).await,
        Got::Text(r#"{"type":"authenticated"}"#.into())
    );
    client.send_text("whoami").await.unwrap();
    let Got::Text(answer) = next(&mut client).await else {
        panic!("no answer")
    };
    let exp: u64 = answer.strip_prefix("alice ").unwrap().parse().unwrap();
    assert!(exp >= now() + 3000, "{answer}");
    let mallory = token("mallory", 3600);
    client
        .send_text(&format!(r#"{{"type":"refresh","token":"{mallory}"}}"#))
        .await
        .unwrap();
    let _unauthorized = next(&mut client).await;
    assert_eq!(
        next(&mut client).await,
        Got::Close(1008, "subject_mismatch".into())
    );
}

#[tokio::test]
async fn expired_token_closes_1008_expired() {
    let server = serve_inline(config(), Echo).await;
    let mut client = connect_query(server.addr, &token("alice", 2)).await;
    round_trip(&mut client, "still valid").await;
    assert_eq!(next(&mut client).await, Got::Close(1008, "expired".into()));
}

#[tokio::test]
async fn rate_limit_closes_1008_rate_limited() {
    let limited = config().with_rate_limit(RateLimit::per_second(5).with_burst(5));
    let server = serve_inline(limited, Echo).await;
    let mut client = connect_query(server.addr, &token("alice", 60)).await;
    for i in 0..20 {
        if client.send_text(&format!("m{i}")).await.is_err() {
            break;
        }
    }
    let mut echoed = 0;
    loop {
        match next(&mut client).await {
            Got::Text(_) => echoed += 1,
            Got::Close(code, reason) => {
                assert_eq!((code, reason.as_str()), (1008, "rate_limited"));
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    // The burst of 5, plus any token refilled (one per 200 ms) while the 20 were sent.
    assert!((5..20).contains(&echoed), "{echoed} echoed");
}

#[tokio::test]
async fn answers_to_earlier_messages_precede_the_protocol_error_close() {
    let server = serve_inline(config(), Echo).await;
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    let mut bytes = upgrade_request(&format!("/ws?token={}", token("alice", 60)), "").into_bytes();
    bytes.extend(frame(0x81, b"one"));
    bytes.extend(frame(0x89, b"ping"));
    bytes.extend(frame(0x82, b"two"));
    // RSV2 set with no extension negotiated: a protocol error.
    bytes.extend(frame(0xa1, b"bad"));
    tcp.write_all(&bytes).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(STEP, tcp.read_to_end(&mut answer))
        .await
        .unwrap()
        .unwrap();
    let head_end = answer.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let mut rest = &answer[head_end..];
    let mut got = Vec::new();
    while rest.len() >= 2 {
        let len = usize::from(rest[1] & 0x7f);
        got.push((rest[0], rest[2..2 + len].to_vec()));
        rest = &rest[2 + len..];
    }
    assert_eq!(got.len(), 4, "{got:?}");
    assert_eq!(got[0], (0x81, b"one".to_vec()));
    assert_eq!(got[1], (0x8a, b"ping".to_vec()));
    assert_eq!(got[2], (0x82, b"two".to_vec()));
    assert_eq!(got[3].0, 0x88);
    assert_eq!(u16::from_be_bytes([got[3].1[0], got[3].1[1]]), 1002);
}

#[tokio::test]
async fn refused_tokens_never_reach_the_handler_and_shutdown_closes_1001() {
    let probe = Arc::new(Probe::default());
    let server = serve_inline(config(), Arc::clone(&probe)).await;
    let answer = raw_exchange(
        server.addr,
        &upgrade_request(&format!("/ws?token={}", token("alice", -60)), ""),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 401 "), "{answer}");
    assert_eq!(probe.opened.load(Ordering::SeqCst), 0);
    let mut client = connect_query(server.addr, &token("bob", 60)).await;
    assert_eq!(next(&mut client).await, Got::Text("hello bob".into()));
    server.shutdown.shutdown();
    assert_eq!(
        next(&mut client).await,
        Got::Close(1001, "server_shutdown".into())
    );
    tokio::time::timeout(STEP, server.task)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(probe.closed.load(Ordering::SeqCst), 1);
}

/// Echoes, but panics on `boom`.
#[derive(Default)]
struct Fragile {
    closed: AtomicUsize,
}

impl InlineHandler for Fragile {
    type State = ();

    fn on_message(&self, (): &mut (), reply: &mut Reply<'_>, message: MessageRef<'_>) {
        assert_ne!(message, MessageRef::Text("boom"), "the handler's own bug");
        reply.message(message);
    }

    fn on_close(&self, (): &mut (), _: &Identity) {
        self.closed.fetch_add(1, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn a_panicking_handler_closes_only_its_connection_with_1011() {
    let fragile = Arc::new(Fragile::default());
    let server = serve_inline(config(), Arc::clone(&fragile)).await;
    let mut bystander = connect_query(server.addr, &token("bob", 60)).await;
    let mut client = connect_query(server.addr, &token("alice", 60)).await;
    for text in ["before", "boom", "after"] {
        client.send_text(text).await.unwrap();
    }
    assert_eq!(next(&mut client).await, Got::Text("before".into()));
    assert_eq!(
        next(&mut client).await,
        Got::Close(1011, "internal_error".into())
    );
    round_trip(&mut bystander, "still served").await;
    let mut again = connect_query(server.addr, &token("alice", 60)).await;
    round_trip(&mut again, "new connection").await;
    tokio::time::timeout(STEP, async {
        while fragile.closed.load(Ordering::SeqCst) == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn each_connection_has_its_own_state_and_id() {
    let server = serve_inline(config(), Probe::default()).await;
    let mut alice = connect_query(server.addr, &token("alice", 60)).await;
    let mut bob = connect_query(server.addr, &token("bob", 60)).await;
    assert_eq!(next(&mut alice).await, Got::Text("hello alice".into()));
    assert_eq!(next(&mut bob).await, Got::Text("hello bob".into()));
    for _ in 0..3 {
        round_trip(&mut alice, "ping me").await;
    }
    alice.send_text("count").await.unwrap();
    assert_eq!(next(&mut alice).await, Got::Text("4".into()));
    bob.send_text("count").await.unwrap();
    assert_eq!(next(&mut bob).await, Got::Text("1".into()));
    alice.send_text("id").await.unwrap();
    bob.send_text("id").await.unwrap();
    let (Got::Text(a), Got::Text(b)) = (next(&mut alice).await, next(&mut bob).await) else {
        panic!("no ids")
    };
    assert_ne!(a, b);
}
