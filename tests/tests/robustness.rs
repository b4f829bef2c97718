//! Robustness on loopback, bounded in count and time: thousands of concurrent
//! authenticated connections held and released without leaking registry entries,
//! connection counts or tasks; a storm of bad tokens that costs authenticated clients
//! nothing; a slowloris client cut at the handshake timeout.
//!
//! Client and server share this process, so 2,000 connections take about 4,000 file
//! descriptors: the test checks the soft `ulimit -n` (20,000 on the machine these were
//! written on) and lowers its count when the limit is lower.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tollgate::ws::close::CloseCode;
use tollgate_tests::{
    Got, Running, STEP, mint_with, next, now, rust_client, serve, token, verifier,
};
use tollgate_tokio::server::ServerConfig;

/// The soft limit on open file descriptors (`ulimit -n`), from `/proc/self/limits`.
fn fd_limit() -> usize {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|limits| {
            limits
                .lines()
                .find(|line| line.starts_with("Max open files"))
                .and_then(|line| line.split_whitespace().nth(3))
                .and_then(|soft| soft.parse().ok())
        })
        .unwrap_or(1024)
}

/// Polls `condition` until it holds, or fails after [`STEP`].
async fn eventually(what: &str, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + STEP;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn all_released(server: &Running) {
    eventually("every connection to be released", || {
        server.app.sessions.connection_count() == 0
            && server.app.sessions.user_count() == 0
            && server.acceptor.open_connections() == 0
            && server.shutdown.running_tasks() == 0
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_connections_are_held_then_released_without_leaks() {
    // Two descriptors per connection (both ends live here) plus headroom.
    let wanted = 2_000;
    let count = wanted.min(fd_limit().saturating_sub(200) / 2);
    if count < wanted {
        eprintln!(
            "ulimit -n is {}: holding {count} connections, not {wanted}",
            fd_limit()
        );
    }
    let server = serve(ServerConfig::new(verifier())).await;
    let addr = server.addr;
    let started = Instant::now();
    let mut clients = Vec::with_capacity(count);
    // Batches keep the listen backlog from overflowing.
    for batch in 0..count.div_ceil(250) {
        let connects: FuturesUnordered<_> = (batch * 250..count.min((batch + 1) * 250))
            .map(|n| async move {
                let token = token(&format!("user{}", n % 500), 300);
                let mut client = rust_client(addr, &token).await.expect("upgrade");
                client.send_text("whoami").await.unwrap();
                match next(&mut client).await {
                    Got::Text(text) => assert!(text.starts_with("user")),
                    other => panic!("expected whoami's answer, got {other:?}"),
                }
                client
            })
            .collect();
        clients.extend(connects.collect::<Vec<_>>().await);
    }
    let opened = started.elapsed();
    assert_eq!(server.app.sessions.connection_count(), count);
    assert_eq!(server.app.sessions.user_count(), count.min(500));
    assert_eq!(server.acceptor.open_connections(), count);
    let user7 = (0..count).filter(|n| n % 500 == 7).count();
    assert_eq!(server.app.sessions.connections_of("user7").len(), user7);
    // Half leave with a close handshake, half just drop the TCP connection.
    let closes: FuturesUnordered<_> = clients
        .into_iter()
        .enumerate()
        .map(|(n, mut client)| async move {
            if n % 2 == 0 {
                client.close(CloseCode::NORMAL, "bye").await.unwrap();
                assert!(matches!(
                    next(&mut client).await,
                    Got::Close(1000, _) | Got::Ended(_)
                ));
            }
        })
        .collect();
    closes.collect::<Vec<()>>().await;
    all_released(&server).await;
    eprintln!(
        "{count} connections opened in {opened:?}, all released after {:?}",
        started.elapsed()
    );
}

/// Sends an upgrade request with `token` and returns the status line of the answer.
async fn bad_upgrade(addr: SocketAddr, token: &str) -> String {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "GET /ws?token={token} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n\r\n"
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(STEP, tcp.read_to_end(&mut answer))
        .await
        .expect("the refusal did not end the connection")
        .ok();
    String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_token_storm_costs_authenticated_clients_nothing() {
    const CLIENTS: usize = 20;
    const MESSAGES: usize = 100;
    const BAD: usize = 2_000;
    let server = serve(ServerConfig::new(verifier())).await;
    let addr = server.addr;
    let storm = tokio::spawn(async move {
        let forged = mint_with(
            b"storm-secret-0123456789abcdef0123",
            &serde_json::json!({"sub": "x", "exp": now() + 60}),
        );
        let mut refused = 0;
        for wave in 0..BAD / 100 {
            let attempts: FuturesUnordered<_> = (0..100)
                .map(|n| {
                    let token = match (wave + n) % 3 {
                        0 => forged.clone(),
                        1 => token("late", -100),
                        _ => "not.a.token".to_owned(),
                    };
                    async move { bad_upgrade(addr, &token).await }
                })
                .collect();
            let lines: Vec<String> = attempts.collect().await;
            refused += lines.iter().filter(|line| line.contains(" 401 ")).count();
        }
        refused
    });
    let chatters: FuturesUnordered<_> = (0..CLIENTS)
        .map(|n| async move {
            let mut client = rust_client(addr, &token(&format!("chatty{n}"), 300))
                .await
                .unwrap();
            let mut echoed = 0;
            for m in 0..MESSAGES {
                let text = format!("{n}:{m}");
                client.send_text(&text).await.unwrap();
                match next(&mut client).await {
                    Got::Text(got) if got == text => echoed += 1,
                    other => panic!("client {n} message {m}: got {other:?}"),
                }
            }
            client.close(CloseCode::NORMAL, "").await.unwrap();
            echoed
        })
        .collect();
    let echoed: usize = chatters.collect::<Vec<usize>>().await.into_iter().sum();
    let refused = storm.await.unwrap();
    assert_eq!(
        echoed,
        CLIENTS * MESSAGES,
        "authenticated messages were lost"
    );
    assert_eq!(refused, BAD, "every bad token gets its 401");
    all_released(&server).await;
}

#[tokio::test]
async fn a_slowloris_client_is_cut_at_the_handshake_timeout() {
    let timeout = Duration::from_millis(800);
    let server = serve(ServerConfig::new(verifier()).with_handshake_timeout(timeout)).await;
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    let started = Instant::now();
    tcp.write_all(b"GET /ws HTTP/1.1\r\nHost: localhost\r\n")
        .await
        .unwrap();
    // One header byte every 100 ms: never a complete request.
    let drip = async {
        for byte in b"X-Slow: ".iter().cycle() {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if tcp.write_all(&[*byte]).await.is_err() {
                return;
            }
            let mut probe = [0_u8; 64];
            match tokio::time::timeout(Duration::from_millis(1), tcp.read(&mut probe)).await {
                Ok(Ok(0) | Err(_)) => return,
                Ok(Ok(n)) => panic!("the server answered a slowloris: {:?}", &probe[..n]),
                Err(_) => {}
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(5), drip)
        .await
        .expect("the slow client was never cut");
    let cut = started.elapsed();
    assert!(cut >= timeout, "cut before the timeout: {cut:?}");
    assert!(cut < timeout * 3, "cut late: {cut:?}");
    eventually("the slow connection to be uncounted", || {
        server.acceptor.open_connections() == 0
    })
    .await;
}
