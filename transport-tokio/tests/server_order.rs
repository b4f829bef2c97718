//! Order on the wire when valid messages and a protocol error arrive together: the
//! application's answers to the valid messages come first, then the 1002 close (what a
//! sequential peer sees, and what Autobahn 3.2, 4.1.3 and 5.15 check strictly). The
//! connection task parses the next message only when the application asks for it.

mod server_support;

use std::time::Duration;

use futures_util::StreamExt;
use server_support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A masked client frame: `first` byte (FIN, RSV, opcode), then `payload` (< 126 bytes).
fn frame(first: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [0x37, 0xfa, 0x21, 0x3d];
    let mut out = vec![first, 0x80 | u8::try_from(payload.len()).unwrap()];
    out.extend_from_slice(&mask);
    out.extend(payload.iter().zip(mask.iter().cycle()).map(|(b, m)| b ^ m));
    out
}

/// The server frames after the 101 response: (opcode, payload).
fn frames(answer: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let head_end = answer.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert!(answer.starts_with(b"HTTP/1.1 101 "));
    let mut rest = &answer[head_end..];
    let mut out = Vec::new();
    while rest.len() >= 2 {
        let len = usize::from(rest[1] & 0x7f);
        assert!(len < 126, "unexpected long frame");
        out.push((rest[0] & 0x0f, rest[2..2 + len].to_vec()));
        rest = &rest[2 + len..];
    }
    out
}

#[tokio::test]
async fn answers_to_earlier_messages_precede_the_protocol_error_close() {
    // A slow application: each answer is sent after a pause.
    let server = serve_with(config(), |mut socket| async move {
        while let Some(Ok(message)) = socket.next().await {
            tokio::time::sleep(Duration::from_millis(20)).await;
            if socket.send(message).await.is_err() {
                break;
            }
        }
        Ok(())
    })
    .await;
    for _ in 0..5 {
        let mut tcp = TcpStream::connect(server.addr).await.unwrap();
        let mut bytes =
            upgrade_request(&format!("/ws?token={}", token("alice", 60)), "").into_bytes();
        bytes.extend(frame(0x81, b"one"));
        bytes.extend(frame(0x81, b"two"));
        // RSV2 set with no extension negotiated: a protocol error.
        bytes.extend(frame(0xa1, b"bad"));
        bytes.extend(frame(0x89, b""));
        tcp.write_all(&bytes).await.unwrap();
        let mut answer = Vec::new();
        tokio::time::timeout(STEP, tcp.read_to_end(&mut answer))
            .await
            .unwrap()
            .unwrap();
        let got = frames(&answer);
        assert_eq!(got.len(), 3, "{got:?}");
        assert_eq!(got[0], (1, b"one".to_vec()));
        assert_eq!(got[1], (1, b"two".to_vec()));
        assert_eq!(got[2].0, 8, "{got:?}");
        assert_eq!(u16::from_be_bytes([got[2].1[0], got[2].1[1]]), 1002);
    }
}
