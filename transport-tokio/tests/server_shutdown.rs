//! Graceful shutdown: open connections are closed with 1001, new ones are refused, and
//! the server's tasks end within the grace period.

mod server_support;

use std::time::Duration;

use server_support::*;
use tokio::net::TcpStream;
use tollgate_tokio::server::{Acceptor, Server};

#[tokio::test]
async fn shutdown_closes_every_connection_with_1001_and_serve_returns() {
    let server = serve(config().with_shutdown_grace(Duration::from_secs(5))).await;
    let mut alice = connect_query(server.addr, &token("alice", 60)).await;
    let mut bob = connect_query(server.addr, &token("bob", 60)).await;
    round_trip(&mut alice, "a").await;
    round_trip(&mut bob, "b").await;
    server.shutdown.shutdown();
    for client in [&mut alice, &mut bob] {
        assert_eq!(
            next(client).await,
            Got::Close(1001, "server_shutdown".into())
        );
    }
    tokio::time::timeout(STEP, server.task)
        .await
        .expect("serve did not return")
        .unwrap();
    assert_eq!(server.shutdown.running_tasks(), 0);
    // The listener is gone.
    let refused = tokio::time::timeout(STEP, TcpStream::connect(server.addr)).await;
    assert!(matches!(refused, Ok(Err(_))), "{refused:?}");
}

#[tokio::test]
async fn shutdown_and_wait_reports_completion_within_the_grace() {
    let server = serve(config()).await;
    let mut client = connect_query(server.addr, &token("alice", 60)).await;
    round_trip(&mut client, "hi").await;
    let waiting = {
        let shutdown = server.shutdown.clone();
        tokio::spawn(async move { shutdown.shutdown_and_wait(Duration::from_secs(5)).await })
    };
    assert_eq!(
        next(&mut client).await,
        Got::Close(1001, "server_shutdown".into())
    );
    assert!(tokio::time::timeout(STEP, waiting).await.unwrap().unwrap());
}

#[tokio::test]
async fn accept_returns_none_after_shutdown() {
    let mut server = Server::bind("127.0.0.1:0", config()).await.unwrap();
    let addr = server.local_addr();
    let shutdown = server.shutdown_handle();
    let token = token("alice", 60);
    let client = tokio::spawn(async move { connect_query(addr, &token).await });
    let socket = tokio::time::timeout(STEP, server.accept())
        .await
        .unwrap()
        .expect("no connection");
    assert_eq!(socket.identity().sub(), Some("alice"));
    let mut client = client.await.unwrap();
    shutdown.shutdown();
    assert!(server.accept().await.is_none());
    assert_eq!(
        next(&mut client).await,
        Got::Close(1001, "server_shutdown".into())
    );
    drop(socket);
}

#[tokio::test]
async fn acceptor_refuses_streams_after_shutdown() {
    let acceptor = Acceptor::new(config());
    acceptor.shutdown_handle().shutdown();
    let (server_end, _client_end) = tokio::io::duplex(1024);
    let refused = acceptor.accept_stream(server_end).await.unwrap_err();
    assert!(
        matches!(refused, tollgate_tokio::server::AcceptError::Shutdown),
        "{refused:?}"
    );
}

#[tokio::test]
async fn acceptor_works_over_an_in_memory_stream() {
    let acceptor = Acceptor::new(config());
    let (server_end, client_end) = tokio::io::duplex(64 * 1024);
    let token = token("carol", 60);
    let client = tokio::spawn(async move {
        let request =
            tollgate::ws::handshake::ClientRequest::new("localhost", "/ws").with_bearer(&token);
        let mut client = connect_on(client_end, &request).await.unwrap();
        round_trip(&mut client, "in memory").await;
    });
    let socket = tokio::time::timeout(STEP, acceptor.accept_stream(server_end))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(socket.identity().sub(), Some("carol"));
    let echo = tokio::spawn(echo(socket));
    tokio::time::timeout(STEP, client).await.unwrap().unwrap();
    drop(echo);
}
