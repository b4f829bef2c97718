//! What the server logs: a span per connection with its id and `sub`, refusals with
//! their stable code, and never the token.

mod server_support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use server_support::*;

/// Everything logged, shared with the subscriber.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn connection_span_names_the_subject_and_no_token_is_logged() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

    let server = serve(config()).await;
    let good = token("alice", 60);
    let mut client = connect_query(server.addr, &good).await;
    round_trip(&mut client, "hello").await;
    let expired = token("bob", -120);
    let answer = raw_exchange(
        server.addr,
        &upgrade_request(&format!("/ws?token={expired}"), ""),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    drop(client);
    server.shutdown.shutdown_and_wait(STEP).await;

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("sub=\"alice\"") || logs.contains("sub=alice"),
        "{logs}"
    );
    assert!(logs.contains("authenticated"), "{logs}");
    assert!(
        logs.contains("code=\"expired\"") || logs.contains("code=expired"),
        "{logs}"
    );
    assert!(logs.contains("conn="), "{logs}");
    for token in [&good, &expired] {
        // Neither the token nor its signature may appear anywhere.
        let signature = token.rsplit('.').next().unwrap();
        assert!(!logs.contains(signature), "token logged:\n{logs}");
    }
}
