//! The server's limits: message size, rate, slow consumers, connection caps, slow
//! handshakes, dead peers.

mod server_support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use server_support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tollgate::ws::handshake::{ClientRequest, ResponseError};
use tollgate_tokio::server::{RateLimit, Refusal};
use tollgate_tokio::{ConnectionHandle, Message, SendError};

#[tokio::test]
async fn oversized_message_is_closed_1009() {
    let server = serve(config().with_max_message_size(1024)).await;
    let mut client = connect_query(server.addr, &token("alice", 60)).await;
    round_trip(&mut client, &"a".repeat(1024)).await;
    client.send_binary(&[0_u8; 1025]).await.unwrap();
    let Got::Close(code, _) = next(&mut client).await else {
        panic!("not closed");
    };
    assert_eq!(code, 1009);
}

#[tokio::test]
async fn oversized_fragmented_message_is_closed_1009() {
    let server = serve(config().with_max_message_size(64 * 1024)).await;
    let mut client = connect_query(server.addr, &token("alice", 60)).await;
    // Larger than the server's read buffer: streamed, counted, refused.
    client.send_binary(&vec![7_u8; 100 * 1024]).await.unwrap();
    let Got::Close(code, _) = next(&mut client).await else {
        panic!("not closed");
    };
    assert_eq!(code, 1009);
}

#[tokio::test]
async fn large_message_within_the_limit_round_trips() {
    let server = serve(config().with_max_message_size(512 * 1024)).await;
    let mut client = connect_query(server.addr, &token("alice", 60)).await;
    let payload: Vec<u8> = (0..300 * 1024).map(|i| (i % 251) as u8).collect();
    client.send_binary(&payload).await.unwrap();
    assert_eq!(next(&mut client).await, Got::Binary(payload));
}

#[tokio::test]
async fn message_rate_over_the_limit_closes_1008_rate_limited() {
    let server = serve(config().with_rate_limit(RateLimit::per_second(5).with_burst(5))).await;
    let mut client = connect_query(server.addr, &token("alice", 60)).await;
    for i in 0..5 {
        round_trip(&mut client, &format!("m{i}")).await;
    }
    client.send_text("one too many").await.unwrap();
    assert_eq!(
        next(&mut client).await,
        Got::Close(1008, "rate_limited".into())
    );
}

#[tokio::test]
async fn slow_consumer_is_closed_and_its_queue_stays_bounded() {
    let handles: Arc<Mutex<Vec<ConnectionHandle>>> = Arc::default();
    let registry = Arc::clone(&handles);
    let config = config()
        .with_outgoing_queue(8)
        .with_write_timeout(Duration::from_secs(1));
    let server = serve_with(config, move |mut socket| {
        registry.lock().unwrap().push(socket.handle());
        async move {
            use futures_util::StreamExt;
            while socket.next().await.is_some() {}
            Ok(())
        }
    })
    .await;
    // Connect, then never read.
    let token = token("alice", 60);
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    tcp.write_all(upgrade_request(&format!("/ws?token={token}"), "").as_bytes())
        .await
        .unwrap();
    let handle = tokio::time::timeout(STEP, async {
        loop {
            if let Some(handle) = handles.lock().unwrap().first() {
                return handle.clone();
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap();
    let chunk = Message::binary(vec![0_u8; 256 * 1024]);
    let outcome = tokio::time::timeout(STEP, async {
        let mut sent = 0_usize;
        loop {
            match handle.send(chunk.clone()) {
                Ok(()) => sent += 1,
                Err(error) => return (sent, error),
            }
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the queue never filled");
    let (sent, error) = outcome;
    assert!(
        matches!(error, SendError::Overflowed | SendError::Closed),
        "{error:?}"
    );
    // Bounded: what was accepted is the socket buffers plus the queue, far below
    // what an unbounded queue would have taken by now.
    assert!(sent < 4096, "{sent} messages queued");
    tokio::time::timeout(STEP, async {
        while !handle.is_closed() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("connection not closed");
    assert_eq!(handle.send(Message::text("late")), Err(SendError::Closed));
}

#[tokio::test]
async fn per_user_cap_refuses_the_extra_connection_with_503() {
    let server = serve(config().with_max_connections_per_user(2)).await;
    let mut first = connect_query(server.addr, &token("alice", 60)).await;
    let mut second = connect_query(server.addr, &token("alice", 60)).await;
    let answer = raw_exchange(
        server.addr,
        &upgrade_request(&format!("/ws?token={}", token("alice", 60)), ""),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 503 "), "{answer}");
    assert!(answer.ends_with("too_many_connections\n"), "{answer}");
    // Another user is not affected.
    let mut bob = connect_query(server.addr, &token("bob", 60)).await;
    round_trip(&mut bob, "bob").await;
    round_trip(&mut second, "second").await;
    // A slot frees when a connection closes.
    first
        .close(tollgate::ws::close::CloseCode::NORMAL, "")
        .await
        .unwrap();
    drop(first);
    let mut third = tokio::time::timeout(STEP, async {
        loop {
            let request = ClientRequest::new("localhost", "/ws");
            let token = token("alice", 60);
            let request = request.with_query_token("token", &token);
            match connect(server.addr, &request).await {
                Ok(client) => return client,
                Err(tollgate::io::Error::Response(ResponseError::Rejected(_))) => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(error) => panic!("{error:?}"),
            }
        }
    })
    .await
    .unwrap();
    round_trip(&mut third, "third").await;
}

#[tokio::test]
async fn per_user_cap_after_upgrade_closes_1013() {
    let config = config()
        .with_max_connections_per_user(1)
        .with_refusal(Refusal::CloseAfterUpgrade);
    let server = serve(config).await;
    let mut first = connect_query(server.addr, &token("alice", 60)).await;
    let mut extra = connect_query(server.addr, &token("alice", 60)).await;
    assert_eq!(
        next(&mut extra).await,
        Got::Close(1013, "too_many_connections".into())
    );
    round_trip(&mut first, "still here").await;
}

#[tokio::test]
async fn global_cap_refuses_with_503() {
    let server = serve(config().with_max_connections(1)).await;
    let mut first = connect_query(server.addr, &token("alice", 60)).await;
    let answer = raw_exchange(
        server.addr,
        &upgrade_request(&format!("/ws?token={}", token("bob", 60)), ""),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 503 "), "{answer}");
    round_trip(&mut first, "first").await;
}

#[tokio::test]
async fn slowloris_is_cut_at_the_handshake_timeout() {
    let server = serve(config().with_handshake_timeout(Duration::from_millis(500))).await;
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    tcp.write_all(b"GET /ws HTTP/1.1\r\nHost: localhost\r\n")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let mut rest = Vec::new();
    // Keep dribbling header bytes; the server must hang up anyway.
    let cut = tokio::time::timeout(STEP, async {
        let mut byte = [0_u8; 64];
        loop {
            if tcp.write_all(b"X").await.is_err() {
                return;
            }
            match tokio::time::timeout(Duration::from_millis(100), tcp.read(&mut byte)).await {
                Ok(Ok(0) | Err(_)) => return,
                Ok(Ok(n)) => rest.extend_from_slice(&byte[..n]),
                Err(_) => {}
            }
        }
    })
    .await;
    assert!(cut.is_ok(), "connection never cut");
    assert!(rest.is_empty(), "answered a slow client");
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(3), "cut after {elapsed:?}");
}

#[tokio::test]
async fn silent_peer_is_dropped_after_ping_interval_plus_timeout() {
    let config = config().with_ping(Some(Duration::from_millis(200)), Duration::from_millis(300));
    let ended: Arc<Mutex<Option<String>>> = Arc::default();
    let report = Arc::clone(&ended);
    let server = serve_with(config, move |mut socket| {
        let report = Arc::clone(&report);
        async move {
            use futures_util::StreamExt;
            while let Some(item) = socket.next().await {
                if let Err(error) = item {
                    *report.lock().unwrap() = Some(error.to_string());
                }
            }
            Ok(())
        }
    })
    .await;
    // Upgrade over raw TCP, then go silent (never answer pings).
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    let target = format!("/ws?token={}", token("alice", 60));
    tcp.write_all(upgrade_request(&target, "").as_bytes())
        .await
        .unwrap();
    let mut seen = Vec::new();
    tokio::time::timeout(STEP, async {
        let mut buf = [0_u8; 256];
        loop {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .expect("silent peer never dropped");
    // The server pinged (opcode 0x9) before giving up.
    assert!(seen.windows(2).any(|w| w == [0x89, 0x00]), "no ping seen");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(ended.lock().unwrap().as_deref(), Some("peer timed out"));
}

#[tokio::test]
async fn slow_consumer_that_reads_again_sees_close_1008_slow_consumer() {
    let handles: Arc<Mutex<Vec<ConnectionHandle>>> = Arc::default();
    let registry = Arc::clone(&handles);
    let config = config()
        .with_outgoing_queue(4)
        .with_write_timeout(Duration::from_secs(30));
    let server = serve_with(config, move |mut socket| {
        registry.lock().unwrap().push(socket.handle());
        async move {
            use futures_util::StreamExt;
            while socket.next().await.is_some() {}
            Ok(())
        }
    })
    .await;
    let mut client = connect_query(server.addr, &token("alice", 60)).await;
    let handle = tokio::time::timeout(STEP, async {
        loop {
            if let Some(handle) = handles.lock().unwrap().first() {
                return handle.clone();
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap();
    // The client does not read while the queue fills.
    let chunk = Message::binary(vec![0_u8; 64 * 1024]);
    let error = tokio::time::timeout(STEP, async {
        loop {
            if let Err(error) = handle.send(chunk.clone()) {
                return error;
            }
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the queue never filled");
    assert_eq!(error, SendError::Overflowed);
    // Reading again, the client gets what was written, then the reason.
    let end = tokio::time::timeout(STEP, async {
        loop {
            match next(&mut client).await {
                Got::Binary(_) => {}
                other => return other,
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(end, Got::Close(1008, "slow_consumer".into()));
}
