//! The axum integration with real clients: an axum app on 127.0.0.1:0 whose `/ws` route
//! takes tollgate's `WebSocketUpgrade` extractor behaves like `Server`: valid tokens
//! from every source are accepted and messages round-trip; refused tokens get 401 (or
//! 101 then close 1008, per the refusal mode); first-message authentication works; a
//! plain GET is refused with 400; and the acceptor's counts return to zero.

use std::time::Duration;

use axum::response::Response;
use axum::routing::get;
use serde_json::json;
use tollgate_tests::{App, run_all, token, verifier};
use tollgate_tokio::axum::WebSocketUpgrade;
use tollgate_tokio::server::{Acceptor, Refusal, ServerConfig, TokenFrom};

struct AxumApp {
    url: String,
    acceptor: Acceptor,
}

impl Drop for AxumApp {
    fn drop(&mut self) {
        self.acceptor.shutdown_handle().shutdown();
    }
}

async fn serve(config: ServerConfig) -> AxumApp {
    let acceptor = Acceptor::new(config);
    let app = App::new();
    let route = get(move |upgrade: WebSocketUpgrade| async move {
        let response: Response = upgrade.on_upgrade(move |socket| async move {
            app.handle(socket).await.ok();
        });
        response
    });
    let router = axum::Router::new()
        .route("/ws", route)
        .route("/", get(|| async { "an axum app" }))
        .with_state(acceptor.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "ws://127.0.0.1:{}/ws",
        listener.local_addr().unwrap().port()
    );
    tokio::spawn(async move { axum::serve(listener, router).await });
    AxumApp { url, acceptor }
}

#[tokio::test]
async fn axum_accepts_valid_tokens_from_every_source_and_round_trips() {
    let sources = [
        TokenFrom::query(),
        TokenFrom::Bearer,
        TokenFrom::subprotocol(),
        TokenFrom::cookie("session"),
    ];
    let server = serve(ServerConfig::new(verifier()).with_token_sources(sources)).await;
    for via in ["query", "header", "subprotocol", "cookie"] {
        let spec = json!({
            "url": server.url, "token": token("axel", 60), "via": via, "cookie": "session",
            "steps": [{"send": "whoami"}, {"recv": 1}, {"send_size": 70000}, {"recv": 1}],
        });
        for (peer, out) in run_all(&spec).await {
            assert_eq!(out["status"], 101, "{peer:?} via {via}: {out}");
            let got = out["received"].as_array().unwrap();
            assert!(
                got[0].as_str().unwrap().starts_with("axel "),
                "{peer:?} via {via}"
            );
            assert_eq!(got[1].as_str().unwrap().len(), 70000, "{peer:?} via {via}");
            assert_eq!(out["close"]["code"], 1000, "{peer:?} via {via}");
        }
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while server.acceptor.open_connections() != 0 {
        assert!(tokio::time::Instant::now() < deadline, "connections leaked");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn axum_refuses_with_401_or_close_1008() {
    let http = serve(ServerConfig::new(verifier())).await;
    let close = serve(ServerConfig::new(verifier()).with_refusal(Refusal::CloseAfterUpgrade)).await;
    let expired = token("axel", -60);
    let spec = json!({"url": http.url, "token": expired, "via": "header"});
    for (peer, out) in run_all(&spec).await {
        assert_eq!(out["status"], 401, "{peer:?}: {out}");
        let challenge = out["www_authenticate"].as_str().unwrap();
        assert!(
            challenge.contains(r#"error="invalid_token""#),
            "{peer:?}: {challenge}"
        );
        assert!(challenge.contains("expired"), "{peer:?}: {challenge}");
    }
    let spec = json!({"url": close.url, "token": expired, "via": "query", "until_close": true});
    for (peer, out) in run_all(&spec).await {
        assert_eq!(out["status"], 101, "{peer:?}: {out}");
        assert_eq!(out["close"]["code"], 1008, "{peer:?}: {out}");
        assert_eq!(out["close"]["reason"], "expired", "{peer:?}: {out}");
    }
}

#[tokio::test]
async fn axum_first_message_authentication() {
    let config = ServerConfig::new(verifier()).with_first_message_auth(Duration::from_secs(1));
    let server = serve(config).await;
    let spec = json!({
        "url": server.url, "via": "none",
        "steps": [{"auth": token("axel", 60)}, {"recv": 1}, {"send": "whoami"}, {"recv": 1}],
    });
    for (peer, out) in run_all(&spec).await {
        let got = out["received"].as_array().unwrap();
        assert_eq!(got[0], r#"{"type":"authenticated"}"#, "{peer:?}: {out}");
        assert!(
            got[1].as_str().unwrap().starts_with("axel "),
            "{peer:?}: {out}"
        );
    }
    let spec = json!({"url": server.url, "via": "none", "until_close": true});
    for (peer, out) in run_all(&spec).await {
        assert_eq!(out["close"]["code"], 1008, "{peer:?}: {out}");
        assert_eq!(out["close"]["reason"], "missing_token", "{peer:?}: {out}");
    }
}

#[tokio::test]
async fn axum_refuses_a_plain_get_with_400() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = serve(ServerConfig::new(verifier())).await;
    let addr = server
        .url
        .trim_start_matches("ws://")
        .trim_end_matches("/ws")
        .to_owned();
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(b"GET /ws HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut answer))
        .await
        .unwrap()
        .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 4"), "{answer}");
}
