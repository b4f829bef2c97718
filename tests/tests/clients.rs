//! Real clients (Python `websockets`, Node `ws`) against a `tollgate-tokio` server on
//! 127.0.0.1:0: every token source, both refusal modes, first-message authentication,
//! expiry and in-band refresh, sessions (kick, send to every connection of a user),
//! role-guarded events, the rate limit and the message size limit.
//!
//! Each test runs the same script on both clients at once and asserts on what each
//! printed (`tests/ws-interop/steps.py` and `steps.mjs`).

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tollgate_tests::{
    Peer, Running, mint_with, run_all, run_client, serve, token, token_with_role, verifier,
};
use tollgate_tokio::server::{RateLimit, Refusal, ServerConfig, TokenFrom};

fn config() -> ServerConfig {
    ServerConfig::new(verifier())
}

fn close_of(out: &Value) -> (u64, &str) {
    let close = &out["close"];
    (
        close["code"].as_u64().unwrap_or(0),
        close["reason"].as_str().unwrap_or(""),
    )
}

fn received(out: &Value) -> Vec<String> {
    out["received"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|item| item.as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn every_handshake_token_source_authenticates_both_clients() {
    let server = serve(config().with_token_sources([
        TokenFrom::query(),
        TokenFrom::Bearer,
        TokenFrom::subprotocol(),
        TokenFrom::cookie("session"),
    ]))
    .await;
    for via in ["query", "header", "subprotocol", "cookie"] {
        let sub = format!("user-{via}");
        let spec = json!({
            "url": server.url(), "token": token(&sub, 60), "via": via, "cookie": "session",
            "steps": [{"send": "whoami"}, {"recv": 1}, {"send": "héllo"}, {"recv": 1}],
        });
        for (peer, out) in run_all(&spec).await {
            assert_eq!(out["status"], 101, "{peer:?} via {via}: {out}");
            let got = received(&out);
            assert!(
                got[0].starts_with(&format!("{sub} ")),
                "{peer:?} via {via}: {out}"
            );
            assert_eq!(got[1], "héllo", "{peer:?} via {via}");
            let protocol = out["protocol"].as_str();
            let expected = (via == "subprotocol").then_some("tollgate.bearer");
            assert_eq!(
                protocol, expected,
                "{peer:?} via {via}: the token is never echoed"
            );
            assert_eq!(close_of(&out).0, 1000, "{peer:?} via {via}");
        }
    }
}

#[tokio::test]
async fn a_source_not_configured_is_not_read() {
    let server = serve(config().with_token_sources([TokenFrom::Bearer])).await;
    let spec = json!({"url": server.url(), "token": token("alice", 60), "via": "query"});
    for (peer, out) in run_all(&spec).await {
        assert_eq!(out["status"], 401, "{peer:?}: {out}");
    }
}

#[tokio::test]
async fn http_refusal_is_401_with_the_rfc6750_challenge() {
    let server = serve(config()).await;
    let forged = mint_with(
        b"another-secret-0123456789abcdef!",
        &json!({"sub": "eve", "exp": tollgate_tests::now() + 60}),
    );
    for (token, code) in [
        (forged, "invalid_signature"),
        (token("alice", -30), "expired"),
    ] {
        let spec = json!({"url": server.url(), "token": token, "via": "header"});
        for (peer, out) in run_all(&spec).await {
            assert_eq!(out["status"], 401, "{peer:?}: {out}");
            let challenge = out["www_authenticate"].as_str().unwrap_or_default();
            assert!(challenge.starts_with("Bearer"), "{peer:?}: {challenge}");
            assert!(
                challenge.contains(r#"error="invalid_token""#),
                "{peer:?}: {challenge}"
            );
            assert!(
                challenge.contains(code),
                "{peer:?}: {challenge} lacks {code}"
            );
        }
    }
    let spec = json!({"url": server.url(), "via": "none"});
    for (peer, out) in run_all(&spec).await {
        assert_eq!(
            out["status"], 401,
            "{peer:?}: a missing token is refused too: {out}"
        );
    }
}

#[tokio::test]
async fn close_after_upgrade_refusal_is_1008_with_the_stable_code() {
    let server = serve(config().with_refusal(Refusal::CloseAfterUpgrade)).await;
    let forged = mint_with(
        b"another-secret-0123456789abcdef!",
        &json!({"sub": "eve", "exp": tollgate_tests::now() + 60}),
    );
    for (token, code) in [
        (forged, "invalid_signature"),
        (token("alice", -30), "expired"),
    ] {
        let spec =
            json!({"url": server.url(), "token": token, "via": "query", "until_close": true});
        for (peer, out) in run_all(&spec).await {
            assert_eq!(out["status"], 101, "{peer:?}: {out}");
            assert_eq!(close_of(&out), (1008, code), "{peer:?}: {out}");
            assert!(
                received(&out).is_empty(),
                "{peer:?}: nothing before the close"
            );
        }
    }
}

fn first_message_config() -> ServerConfig {
    config().with_first_message_auth(Duration::from_secs(1))
}

#[tokio::test]
async fn first_message_authentication_succeeds_then_messages_flow() {
    let server = serve(first_message_config()).await;
    let spec = json!({
        "url": server.url(), "via": "none",
        "steps": [{"auth": token("carol", 60)}, {"recv": 1}, {"send": "whoami"}, {"recv": 1}],
    });
    for (peer, out) in run_all(&spec).await {
        let got = received(&out);
        assert_eq!(got[0], r#"{"type":"authenticated"}"#, "{peer:?}: {out}");
        assert!(got[1].starts_with("carol "), "{peer:?}: {out}");
        assert_eq!(close_of(&out).0, 1000, "{peer:?}");
    }
}

#[tokio::test]
async fn first_message_timeout_is_unauthorized_then_1008() {
    let server = serve(first_message_config()).await;
    let spec = json!({"url": server.url(), "via": "none", "until_close": true});
    let started = Instant::now();
    for (peer, out) in run_all(&spec).await {
        let got = received(&out);
        assert_eq!(got.len(), 1, "{peer:?}: {out}");
        let reply: Value = serde_json::from_str(&got[0]).unwrap();
        assert_eq!(reply["type"], "unauthorized", "{peer:?}");
        assert_eq!(reply["code"], "missing_token", "{peer:?}");
        assert_eq!(close_of(&out), (1008, "missing_token"), "{peer:?}");
    }
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn first_message_bad_token_is_unauthorized_then_1008() {
    let server = serve(first_message_config()).await;
    let forged = mint_with(
        b"another-secret-0123456789abcdef!",
        &json!({"sub": "eve", "exp": tollgate_tests::now() + 60}),
    );
    let cases = [
        (json!({"auth": forged}), "invalid_signature"),
        (json!({"auth": token("carol", -5)}), "expired"),
        (
            json!({"send": "hello, no token here"}),
            "invalid_auth_message",
        ),
    ];
    for (step, code) in cases {
        let spec =
            json!({"url": server.url(), "via": "none", "steps": [step], "until_close": true});
        for (peer, out) in run_all(&spec).await {
            let got = received(&out);
            assert_eq!(got.len(), 1, "{peer:?}: {out}");
            let reply: Value = serde_json::from_str(&got[0]).unwrap();
            assert_eq!(reply["type"], "unauthorized", "{peer:?}: {out}");
            assert_eq!(reply["code"], code, "{peer:?}: {out}");
            assert_eq!(close_of(&out), (1008, code), "{peer:?}: {out}");
        }
    }
}

#[tokio::test]
async fn a_short_lived_token_is_closed_1008_expired() {
    let server = serve(config()).await;
    let spec = json!({"url": server.url(), "token": token("dave", 4), "via": "query", "until_close": true});
    let started = Instant::now();
    for (peer, out) in run_all(&spec).await {
        assert_eq!(out["status"], 101, "{peer:?}: {out}");
        assert_eq!(close_of(&out), (1008, "expired"), "{peer:?}: {out}");
    }
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(900),
        "closed too early: {elapsed:?}"
    );
    assert!(
        elapsed < Duration::from_secs(12),
        "closed too late: {elapsed:?}"
    );
}

#[tokio::test]
async fn in_band_refresh_moves_the_deadline() {
    let server = serve(config()).await;
    let fresh = token("erin", 8);
    let spec = json!({
        "url": server.url(), "token": token("erin", 4), "via": "query", "until_close": true,
        // The `whoami` goes out after the first token's expiry: its answer proves the
        // connection outlived it.
        "steps": [{"auth": fresh}, {"recv": 1}, {"sleep": 4.5}, {"send": "whoami"}, {"recv": 1}],
    });
    let started = Instant::now();
    for (peer, out) in run_all(&spec).await {
        let got = received(&out);
        assert_eq!(got[0], r#"{"type":"authenticated"}"#, "{peer:?}: {out}");
        assert!(got[1].starts_with("erin "), "{peer:?}: {out}");
        assert_eq!(close_of(&out), (1008, "expired"), "{peer:?}: {out}");
    }
    assert!(started.elapsed() >= Duration::from_secs(5));
}

#[tokio::test]
async fn refresh_with_another_subject_is_refused() {
    let server = serve(config()).await;
    let spec = json!({
        "url": server.url(), "token": token("erin", 60), "via": "query", "until_close": true,
        "steps": [{"auth": token("mallory", 60)}],
    });
    for (peer, out) in run_all(&spec).await {
        let got = received(&out);
        let reply: Value = serde_json::from_str(&got[0]).unwrap();
        assert_eq!(reply["code"], "subject_mismatch", "{peer:?}: {out}");
        assert_eq!(
            close_of(&out),
            (1008, "subject_mismatch"),
            "{peer:?}: {out}"
        );
    }
}

/// Starts `peer` as `sub` waiting to be closed, and waits until it is registered.
async fn waiting(
    server: &Running,
    peer: Peer,
    sub: &str,
    count: usize,
) -> tokio::task::JoinHandle<Value> {
    let spec =
        json!({"url": server.url(), "token": token(sub, 60), "via": "query", "until_close": true});
    let task = tokio::spawn(async move { run_client(peer, &spec).await });
    let sub = sub.to_owned();
    server
        .wait_for("the client to connect", |sessions| {
            sessions.connections_of(&sub).len() >= count
        })
        .await;
    task
}

#[tokio::test]
async fn send_to_user_reaches_both_connections_of_the_user() {
    let server = serve(config()).await;
    let peers = tollgate_tests::peers();
    let mut alices = Vec::new();
    for (n, &peer) in peers.iter().enumerate() {
        // One connection per client kind, both of user alice (two with one kind only).
        alices.push(waiting(&server, peer, "alice", alices.len() + 1).await);
        if peers.len() == 1 && n == 0 {
            alices.push(waiting(&server, peer, "alice", 2).await);
        }
    }
    let whisper = json!({"event": "whisper", "data": {"to": "alice", "text": "psst"}, "id": 1});
    let spec = json!({
        "url": server.url(), "token": token("bob", 60), "via": "header",
        "steps": [{"send": whisper.to_string()}, {"recv": 1}],
    });
    for (peer, out) in run_all(&spec).await {
        assert_eq!(
            received(&out),
            [r#"{"event":"whisper:ack","data":2,"id":1}"#],
            "{peer:?}"
        );
    }
    assert_eq!(server.app.sessions.kick("alice", "bye"), 2);
    for alice in alices {
        let out = alice.await.unwrap();
        let got = received(&out);
        let whispers = got.iter().filter(|m| m.contains(r#""from":"bob""#)).count();
        assert_eq!(whispers, got.len(), "{out}");
        assert!(!got.is_empty(), "{out}");
        assert_eq!(close_of(&out), (1008, "bye"), "{out}");
    }
    server
        .wait_for("no session left", |s| s.connection_count() == 0)
        .await;
}

#[tokio::test]
async fn kick_by_an_admin_closes_the_user_and_others_are_forbidden() {
    let server = serve(config()).await;
    for peer in tollgate_tests::peers() {
        let victim = waiting(&server, peer, "victim", 1).await;
        let kick = json!({"event": "kick", "data": "victim"}).to_string();
        let attempt = json!({
            "url": server.url(), "token": token_with_role("pleb", "user"), "via": "query",
            "steps": [{"send": kick}, {"recv": 1}],
        });
        let out = run_client(peer, &attempt).await;
        assert_eq!(
            received(&out),
            [r#"{"event":"error","data":{"code":"forbidden"}}"#],
            "{peer:?}"
        );
        assert!(server.app.sessions.is_connected("victim"));
        let admin = json!({
            "url": server.url(), "token": token_with_role("root", "admin"), "via": "query",
            "steps": [{"send": kick}, {"recv": 1}],
        });
        let out = run_client(peer, &admin).await;
        assert_eq!(
            received(&out),
            [r#"{"event":"kick:ack","data":1}"#],
            "{peer:?}"
        );
        let out = victim.await.unwrap();
        assert_eq!(close_of(&out), (1008, "kicked"), "{peer:?}: {out}");
        server
            .wait_for("the victim to leave", |s| !s.is_connected("victim"))
            .await;
    }
}

#[tokio::test]
async fn rooms_broadcast_to_members_only() {
    let server = serve(config()).await;
    let join = json!({"event": "join", "data": "lobby"}).to_string();
    let say = json!({"event": "say", "data": {"room": "lobby", "text": "hi all"}}).to_string();
    let spec = json!({
        "url": server.url(), "token": token("frank", 60), "via": "query",
        "steps": [{"send": join}, {"recv": 1}, {"send": say}, {"recv": 2}],
    });
    for peer in tollgate_tests::peers() {
        let out = run_client(peer, &spec).await;
        let got = received(&out);
        assert_eq!(got[0], r#"{"event":"join:ack","data":true}"#, "{peer:?}");
        // The sender is a member: the broadcast and the ack, in either order.
        assert!(
            got.contains(&r#"{"event":"said","data":{"room":"lobby","text":"hi all"}}"#.to_owned()),
            "{peer:?}: {out}"
        );
        assert!(
            got.contains(&r#"{"event":"say:ack","data":1}"#.to_owned()),
            "{peer:?}: {out}"
        );
    }
    server
        .wait_for("rooms to empty", |s| s.room_count() == 0)
        .await;
}

#[tokio::test]
async fn exceeding_the_rate_limit_closes_1008_rate_limited() {
    let server = serve(config().with_rate_limit(RateLimit::per_second(5).with_burst(5))).await;
    let burst: Vec<Value> = (0..30).map(|n| json!({"send": format!("m{n}")})).collect();
    let spec = json!({"url": server.url(), "token": token("gina", 60), "via": "query", "steps": burst, "until_close": true});
    for (peer, out) in run_all(&spec).await {
        assert_eq!(close_of(&out), (1008, "rate_limited"), "{peer:?}: {out}");
        let echoes = received(&out).len();
        // Sends after the close are lost, and so may be echoes still in flight.
        assert!(echoes < 30, "{peer:?}: {echoes} echoes");
    }
}

#[tokio::test]
async fn an_oversized_message_closes_1009() {
    let server = serve(config().with_max_message_size(1024)).await;
    let spec = json!({
        "url": server.url(), "token": token("hank", 60), "via": "query", "until_close": true,
        "steps": [{"send_size": 1024}, {"recv": 1}, {"send_size": 1025}],
    });
    for (peer, out) in run_all(&spec).await {
        assert_eq!(
            received(&out).len(),
            1,
            "{peer:?}: the limit itself passes: {out}"
        );
        assert_eq!(close_of(&out).0, 1009, "{peer:?}: {out}");
    }
}
