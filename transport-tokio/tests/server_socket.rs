//! The application's side of a connection: the `AuthenticatedSocket` stream and sink,
//! handles used from other tasks, handler outcomes, and what the connection task does
//! with control frames and protocol errors.

mod server_support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use server_support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tollgate::io::Message as WireMessage;
use tollgate::ws::close::CloseCode;
use tollgate::ws::conn::MessageKind;
use tollgate::ws::handshake::ClientRequest;
use tollgate_tokio::server::{AuthenticatedSocket, Error};
use tollgate_tokio::{ConnectionHandle, Message};

#[tokio::test]
async fn handler_error_is_answered_with_1011_internal_error() {
    let server = serve_with(config(), |mut socket| async move {
        socket.next().await;
        Err("database unreachable at 10.0.0.7".to_owned())
    })
    .await;
    let mut client = connect_query(server.addr, &token("alice", 60)).await;
    client.send_text("go").await.unwrap();
    assert_eq!(
        next(&mut client).await,
        Got::Close(1011, "internal_error".into())
    );
}

#[tokio::test]
async fn dropping_the_socket_closes_the_connection_normally() {
    let server = serve_with(config(), |socket| async move {
        socket
            .send(Message::text("bye"))
            .await
            .map_err(|e| e.to_string())
    })
    .await;
    let mut client = connect_query(server.addr, &token("alice", 60)).await;
    assert_eq!(next(&mut client).await, Got::Text("bye".into()));
    assert_eq!(next(&mut client).await, Got::Close(1000, String::new()));
}

#[tokio::test]
async fn handle_reaches_the_connection_from_another_task() {
    let handles: Arc<Mutex<Vec<ConnectionHandle>>> = Arc::default();
    let registry = Arc::clone(&handles);
    let server = serve_with(config(), move |mut socket: AuthenticatedSocket| {
        registry.lock().unwrap().push(socket.handle());
        async move {
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
    assert_eq!(handle.sub(), Some("alice"));
    handle.send(Message::text("broadcast")).unwrap();
    handle.send(Message::binary(vec![1_u8, 2])).unwrap();
    handle.close(4000, "kicked").unwrap();
    assert_eq!(next(&mut client).await, Got::Text("broadcast".into()));
    assert_eq!(next(&mut client).await, Got::Binary(vec![1, 2]));
    assert_eq!(next(&mut client).await, Got::Close(4000, "kicked".into()));
}

#[tokio::test]
async fn split_stream_and_sink_forward_messages() {
    let server = serve_with(config(), |socket| async move {
        let (sink, stream) = socket.split();
        stream
            .filter_map(|item| async move { item.ok().map(Ok) })
            .forward(sink)
            .await
            .map_err(|e| e.to_string())
    })
    .await;
    let mut client = connect_query(server.addr, &token("alice", 60)).await;
    round_trip(&mut client, "through the sink").await;
    client.send_binary(&[9, 8, 7]).await.unwrap();
    assert_eq!(next(&mut client).await, Got::Binary(vec![9, 8, 7]));
}

#[tokio::test]
async fn sink_close_closes_the_connection() {
    let server = serve_with(config(), |mut socket| async move {
        socket
            .send(Message::text("last"))
            .await
            .map_err(|e| e.to_string())?;
        SinkExt::close(&mut socket)
            .await
            .map_err(|e| e.to_string())?;
        while socket.next().await.is_some() {}
        Ok(())
    })
    .await;
    let mut client = connect_query(server.addr, &token("alice", 60)).await;
    assert_eq!(next(&mut client).await, Got::Text("last".into()));
    assert_eq!(next(&mut client).await, Got::Close(1000, String::new()));
}

#[tokio::test]
async fn application_sees_why_the_server_closed() {
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let report = Arc::clone(&seen);
    let server = serve_with(config(), move |mut socket| {
        let report = Arc::clone(&report);
        async move {
            while let Some(item) = socket.next().await {
                let line = match item {
                    Ok(_) => "message".to_owned(),
                    Err(Error::Closed { code, reason }) => format!("closed {code} {reason}"),
                    Err(other) => format!("other {other}"),
                };
                report.lock().unwrap().push(line);
            }
            report.lock().unwrap().push("end".to_owned());
            Ok(())
        }
    })
    .await;
    let mut client = connect_query(server.addr, &token("alice", 1)).await;
    assert_eq!(next(&mut client).await, Got::Close(1008, "expired".into()));
    tokio::time::timeout(STEP, async {
        while seen.lock().unwrap().last().map(String::as_str) != Some("end") {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap();
    assert_eq!(*seen.lock().unwrap(), ["closed 1008 expired", "end"]);
}

#[tokio::test]
async fn client_close_ends_the_stream_without_an_error() {
    let ended: Arc<Mutex<Option<bool>>> = Arc::default();
    let report = Arc::clone(&ended);
    let server = serve_with(config(), move |mut socket| {
        let report = Arc::clone(&report);
        async move {
            let mut clean = true;
            while let Some(item) = socket.next().await {
                clean &= item.is_ok();
            }
            *report.lock().unwrap() = Some(clean);
            Ok(())
        }
    })
    .await;
    let mut client = connect_query(server.addr, &token("alice", 60)).await;
    client.send_text("one").await.unwrap();
    client.close(CloseCode::NORMAL, "done").await.unwrap();
    tokio::time::timeout(STEP, async {
        while ended.lock().unwrap().is_none() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap();
    assert_eq!(*ended.lock().unwrap(), Some(true));
}

#[tokio::test]
async fn client_ping_is_answered_with_a_pong() {
    let server = serve(config()).await;
    let mut client = connect_query(server.addr, &token("alice", 60)).await;
    client.send_ping(b"are you there").await.unwrap();
    let pong = tokio::time::timeout(STEP, async {
        loop {
            if let WireMessage::Pong(payload) = client.recv().await.unwrap() {
                return payload.to_vec();
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(pong, b"are you there");
}

#[tokio::test]
async fn fragmented_text_is_reassembled_before_delivery() {
    let server = serve(config()).await;
    let mut client = connect_query(server.addr, &token("alice", 60)).await;
    let euro = "price: 5€".as_bytes();
    let (head, tail) = euro.split_at(euro.len() - 2);
    let mut sender = client.sender();
    sender
        .send_fragment(MessageKind::Text, head, false)
        .await
        .unwrap();
    sender
        .send_fragment(MessageKind::Text, tail, true)
        .await
        .unwrap();
    assert_eq!(next(&mut client).await, Got::Text("price: 5€".into()));
}

#[tokio::test]
async fn unmasked_client_frame_is_a_protocol_error_1002() {
    let server = serve(config()).await;
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    let target = format!("/ws?token={}", token("alice", 60));
    tcp.write_all(upgrade_request(&target, "").as_bytes())
        .await
        .unwrap();
    // An unmasked text frame "hi" pipelined right after the request.
    tcp.write_all(&[0x81, 0x02, b'h', b'i']).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(STEP, tcp.read_to_end(&mut answer))
        .await
        .unwrap()
        .unwrap();
    let head_end = answer.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert!(answer.starts_with(b"HTTP/1.1 101 "));
    let frame = &answer[head_end..];
    assert_eq!(frame[0], 0x88, "not a close frame: {frame:?}");
    assert_eq!(u16::from_be_bytes([frame[2], frame[3]]), 1002);
}

/// What the handler saw: `sub`, subprotocol, the custom `room` claim.
type Seen = (String, Option<String>, String);

#[tokio::test]
async fn socket_exposes_identity_protocol_and_id() {
    let seen: Arc<Mutex<Option<Seen>>> = Arc::default();
    let report = Arc::clone(&seen);
    let server = serve_with(config(), move |socket| {
        let identity = socket.identity();
        *report.lock().unwrap() = Some((
            identity.sub().unwrap_or("-").to_owned(),
            socket.protocol().map(str::to_owned),
            identity
                .claim("room")
                .and_then(|r| r.as_str())
                .unwrap_or("-")
                .to_owned(),
        ));
        assert_eq!(socket.handle().id(), socket.id());
        echo(socket)
    })
    .await;
    let token = mint(&serde_json::json!({"sub": "dana", "exp": now() + 60, "room": "lobby"}));
    let request =
        ClientRequest::new("localhost", "/ws").with_token_protocol("tollgate.bearer", &token);
    let mut client = connect(server.addr, &request).await.unwrap();
    // The echo proves the handler ran.
    round_trip(&mut client, "x").await;
    assert_eq!(
        *seen.lock().unwrap(),
        Some((
            "dana".to_owned(),
            Some("tollgate.bearer".to_owned()),
            "lobby".to_owned()
        ))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_clients_each_get_their_own_echo() {
    let server = serve(config()).await;
    let addr = server.addr;
    let clients = (0..64).map(|i| {
        tokio::spawn(async move {
            let mut client = connect_query(addr, &token(&format!("user{i}"), 60)).await;
            for round in 0..5 {
                round_trip(&mut client, &format!("client {i} round {round}")).await;
            }
            client.send_text("whoami").await.unwrap();
            let Got::Text(whoami) = next(&mut client).await else {
                panic!("no answer");
            };
            assert!(whoami.starts_with(&format!("user{i} ")), "{whoami}");
        })
    });
    for client in clients.collect::<Vec<_>>() {
        tokio::time::timeout(STEP, client).await.unwrap().unwrap();
    }
}
