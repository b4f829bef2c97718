//! Token lifetime on a live connection: the `expired` close, in-band refresh, and the
//! refusal of a refresh for another subject.

mod server_support;

use std::time::{Duration, Instant};

use serde_json::json;
use server_support::*;

#[tokio::test]
async fn connection_is_closed_1008_expired_when_the_token_expires() {
    let server = serve(config()).await;
    let mut client = connect_query(server.addr, &token("alice", 2)).await;
    round_trip(&mut client, "still valid").await;
    let started = Instant::now();
    assert_eq!(next(&mut client).await, Got::Close(1008, "expired".into()));
    let waited = started.elapsed();
    assert!(waited < Duration::from_secs(4), "closed after {waited:?}");
}

#[tokio::test]
async fn leeway_delays_the_expired_close() {
    let server = serve(tollgate_tokio::server::ServerConfig::new(verifier(2))).await;
    let mut client = connect_query(server.addr, &token("alice", 1)).await;
    let started = Instant::now();
    assert_eq!(next(&mut client).await, Got::Close(1008, "expired".into()));
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(1500),
        "closed after {waited:?}"
    );
}

#[tokio::test]
async fn refresh_moves_the_deadline_and_is_not_delivered() {
    let server = serve(config()).await;
    let mut client = connect_query(server.addr, &token("alice", 2)).await;
    let fresh = token("alice", 60);
    client
        .send_text(&format!(r#"{{"type":"refresh","token":"{fresh}"}}"#))
        .await
        .unwrap();
    assert_eq!(
        next(&mut client).await,
        Got::Text(r#"{"type":"authenticated"}"#.into())
    );
    // Past the first token's expiry the connection still works, and the application
    // sees the new identity.
    tokio::time::sleep(Duration::from_secs(3)).await;
    client.send_text("whoami").await.unwrap();
    let expected_exp = now() + 57;
    let Got::Text(whoami) = next(&mut client).await else {
        panic!("connection did not survive the refresh");
    };
    let exp: u64 = whoami.strip_prefix("alice ").unwrap().parse().unwrap();
    assert!(exp >= expected_exp, "{whoami}");
}

#[tokio::test]
async fn authenticate_message_after_auth_also_refreshes() {
    let server = serve(config()).await;
    let mut client = connect_query(server.addr, &token("alice", 2)).await;
    let fresh = token("alice", 60);
    client
        .send_text(&format!(r#"{{"type":"authenticate","token":"{fresh}"}}"#))
        .await
        .unwrap();
    assert_eq!(
        next(&mut client).await,
        Got::Text(r#"{"type":"authenticated"}"#.into())
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    round_trip(&mut client, "alive").await;
}

#[tokio::test]
async fn refresh_for_another_subject_closes_1008_subject_mismatch() {
    let server = serve(config()).await;
    let mut client = connect_query(server.addr, &token("alice", 60)).await;
    let mallory = token("mallory", 60);
    client
        .send_text(&format!(r#"{{"type":"refresh","token":"{mallory}"}}"#))
        .await
        .unwrap();
    let Got::Text(reply) = next(&mut client).await else {
        panic!("no reply");
    };
    assert!(reply.contains("subject_mismatch"), "{reply}");
    assert_eq!(
        next(&mut client).await,
        Got::Close(1008, "subject_mismatch".into())
    );
}

#[tokio::test]
async fn refresh_with_an_expired_token_closes_with_its_code() {
    let server = serve(config()).await;
    let mut client = connect_query(server.addr, &token("alice", 60)).await;
    let stale = mint(&json!({"sub": "alice", "exp": now() - 10}));
    client
        .send_text(&format!(r#"{{"type":"refresh","token":"{stale}"}}"#))
        .await
        .unwrap();
    let Got::Text(reply) = next(&mut client).await else {
        panic!("no reply");
    };
    assert!(reply.contains("unauthorized"), "{reply}");
    assert_eq!(next(&mut client).await, Got::Close(1008, "expired".into()));
}

#[tokio::test]
async fn ordinary_json_messages_reach_the_application() {
    let server = serve(config()).await;
    let mut client = connect_query(server.addr, &token("alice", 60)).await;
    round_trip(&mut client, r#"{"type":"chat","text":"hi"}"#).await;
}
