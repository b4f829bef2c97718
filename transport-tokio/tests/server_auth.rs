//! The server's authentication: every token source, both refusal modes, first-message
//! authentication, origins.

mod server_support;

use std::time::Duration;

use server_support::*;
use tollgate::ws::handshake::{ClientRequest, ResponseError};
use tollgate_tokio::server::{Refusal, TokenFrom};

#[tokio::test]
async fn token_in_the_query_string_is_accepted() {
    let server = serve(config()).await;
    let mut client = connect_query(server.addr, &token("alice", 60)).await;
    round_trip(&mut client, "hello").await;
}

#[tokio::test]
async fn token_in_the_authorization_header_is_accepted() {
    let server = serve(config()).await;
    let token = token("alice", 60);
    let request = ClientRequest::new("localhost", "/ws").with_bearer(&token);
    let mut client = connect(server.addr, &request).await.unwrap();
    round_trip(&mut client, "bearer").await;
}

#[tokio::test]
async fn token_in_the_subprotocol_is_accepted_and_only_the_marker_is_answered() {
    let server = serve(config()).await;
    let token = token("alice", 60);
    let request =
        ClientRequest::new("localhost", "/ws").with_token_protocol("tollgate.bearer", &token);
    let mut client = connect(server.addr, &request).await.unwrap();
    round_trip(&mut client, "protocol").await;
    let raw = raw_exchange_head(
        server.addr,
        &upgrade_request(
            "/ws",
            &format!("Sec-WebSocket-Protocol: tollgate.bearer, {token}\r\n"),
        ),
    )
    .await;
    assert!(
        raw.contains("Sec-WebSocket-Protocol: tollgate.bearer\r\n"),
        "{raw}"
    );
    assert!(!raw.contains(&token), "{raw}");
}

#[tokio::test]
async fn token_in_a_configured_cookie_is_accepted() {
    let server = serve(config().with_token_sources([TokenFrom::cookie("session")])).await;
    let token = token("alice", 60);
    let cookie = format!("theme=dark; session={token}");
    let headers = [("Cookie", cookie.as_str())];
    let request = ClientRequest::new("localhost", "/ws").with_headers(&headers);
    let mut client = connect(server.addr, &request).await.unwrap();
    round_trip(&mut client, "cookie").await;
}

#[tokio::test]
async fn unconfigured_sources_are_ignored() {
    let server = serve(config().with_token_sources([TokenFrom::Bearer])).await;
    let answer = raw_exchange(
        server.addr,
        &upgrade_request(&format!("/ws?token={}", token("alice", 60)), ""),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 401 "), "{answer}");
}

#[tokio::test]
async fn missing_token_is_refused_with_a_plain_bearer_challenge() {
    let server = serve(config()).await;
    let answer = raw_exchange(server.addr, &upgrade_request("/ws", "")).await;
    assert!(
        answer.starts_with("HTTP/1.1 401 Unauthorized\r\n"),
        "{answer}"
    );
    assert!(answer.contains("WWW-Authenticate: Bearer\r\n"), "{answer}");
}

#[tokio::test]
async fn expired_token_is_refused_with_401_and_the_rfc_6750_challenge() {
    let server = serve(config()).await;
    let answer = raw_exchange(
        server.addr,
        &upgrade_request(&format!("/ws?token={}", token("alice", -120)), ""),
    )
    .await;
    assert!(
        answer.starts_with("HTTP/1.1 401 Unauthorized\r\n"),
        "{answer}"
    );
    assert!(
        answer.contains(
            "WWW-Authenticate: Bearer error=\"invalid_token\", error_description=\"expired\"\r\n"
        ),
        "{answer}"
    );
}

#[tokio::test]
async fn forged_token_is_refused_and_the_client_sees_the_stable_code() {
    let server = serve(config()).await;
    let token = token("alice", 60);
    // Another character inside the signature (not the last, whose low bits must be zero).
    let at = token.len() - 10;
    let swap = if &token[at..=at] == "A" { "B" } else { "A" };
    let forged = format!("{}{swap}{}", &token[..at], &token[at + 1..]);
    let request = ClientRequest::new("localhost", "/ws").with_query_token("token", &forged);
    let refused = connect(server.addr, &request).await.unwrap_err();
    let tollgate::io::Error::Response(ResponseError::Rejected(rejected)) = refused else {
        panic!("{refused:?}");
    };
    assert_eq!(rejected.status(), 401);
    assert_eq!(rejected.error_description(), Some("invalid_signature"));
}

#[tokio::test]
async fn refusal_after_upgrade_closes_1008_with_the_code() {
    let server = serve(config().with_refusal(Refusal::CloseAfterUpgrade)).await;
    let mut client = connect_query(server.addr, &token("alice", -120)).await;
    assert_eq!(next(&mut client).await, Got::Close(1008, "expired".into()));
    let request = ClientRequest::new("localhost", "/ws");
    let mut anonymous = connect(server.addr, &request).await.unwrap();
    assert_eq!(
        next(&mut anonymous).await,
        Got::Close(1008, "missing_token".into())
    );
}

#[tokio::test]
async fn first_message_authentication_succeeds_and_nothing_leaks_before() {
    let server = serve(config().with_first_message_auth(Duration::from_secs(5))).await;
    let request = ClientRequest::new("localhost", "/ws");
    let mut client = connect(server.addr, &request).await.unwrap();
    let auth = format!(
        r#"{{"type":"authenticate","token":"{}"}}"#,
        token("alice", 60)
    );
    client.send_text(&auth).await.unwrap();
    assert_eq!(
        next(&mut client).await,
        Got::Text(r#"{"type":"authenticated"}"#.into())
    );
    client.send_text("whoami").await.unwrap();
    let Got::Text(whoami) = next(&mut client).await else {
        panic!("no answer");
    };
    assert!(whoami.starts_with("alice "), "{whoami}");
}

#[tokio::test]
async fn first_message_with_a_bad_token_is_answered_unauthorized_then_1008() {
    let server = serve(config().with_first_message_auth(Duration::from_secs(5))).await;
    let request = ClientRequest::new("localhost", "/ws");
    let mut client = connect(server.addr, &request).await.unwrap();
    let auth = format!(
        r#"{{"type":"authenticate","token":"{}"}}"#,
        token("alice", -120)
    );
    client.send_text(&auth).await.unwrap();
    let Got::Text(reply) = next(&mut client).await else {
        panic!("no reply");
    };
    let reply: serde_json::Value = serde_json::from_str(&reply).unwrap();
    assert_eq!(reply["type"], "unauthorized");
    assert_eq!(reply["code"], "expired");
    assert_eq!(next(&mut client).await, Got::Close(1008, "expired".into()));
}

#[tokio::test]
async fn first_message_that_is_not_an_authenticate_message_is_refused() {
    let server = serve(config().with_first_message_auth(Duration::from_secs(5))).await;
    let mut client = connect(server.addr, &ClientRequest::new("localhost", "/ws"))
        .await
        .unwrap();
    client.send_text("hello").await.unwrap();
    let Got::Text(reply) = next(&mut client).await else {
        panic!("no reply");
    };
    assert!(reply.contains("invalid_auth_message"), "{reply}");
    assert_eq!(
        next(&mut client).await,
        Got::Close(1008, "invalid_auth_message".into())
    );
}

#[tokio::test]
async fn first_message_timeout_closes_1008() {
    let server = serve(config().with_first_message_auth(Duration::from_millis(300))).await;
    let mut client = connect(server.addr, &ClientRequest::new("localhost", "/ws"))
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let Got::Text(reply) = next(&mut client).await else {
        panic!("no reply");
    };
    assert!(reply.contains("unauthorized"), "{reply}");
    assert_eq!(
        next(&mut client).await,
        Got::Close(1008, "missing_token".into())
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn first_message_mode_still_accepts_a_token_in_the_request() {
    let server = serve(config().with_first_message_auth(Duration::from_secs(5))).await;
    let mut client = connect_query(server.addr, &token("alice", 60)).await;
    round_trip(&mut client, "direct").await;
}

#[tokio::test]
async fn origin_outside_the_allow_list_gets_403() {
    let server = serve(config().with_allowed_origins(["https://app.example"])).await;
    let target = format!("/ws?token={}", token("alice", 60));
    let refused = raw_exchange(
        server.addr,
        &upgrade_request(&target, "Origin: https://evil.example\r\n"),
    )
    .await;
    assert!(refused.starts_with("HTTP/1.1 403 "), "{refused}");
    let allowed = raw_exchange_head(
        server.addr,
        &upgrade_request(&target, "Origin: https://app.example\r\n"),
    )
    .await;
    assert!(allowed.starts_with("HTTP/1.1 101 "), "{allowed}");
}

/// Sends `request` and returns the response head (up to the blank line).
async fn raw_exchange_head(addr: std::net::SocketAddr, request: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    let mut byte = [0_u8; 1];
    tokio::time::timeout(STEP, async {
        while !head.ends_with(b"\r\n\r\n") {
            if tcp.read(&mut byte).await.unwrap() == 0 {
                break;
            }
            head.push(byte[0]);
        }
    })
    .await
    .unwrap();
    String::from_utf8_lossy(&head).into_owned()
}

/// An application verifier: opaque tokens looked up asynchronously.
struct Lookup {
    delay: Duration,
}

impl tollgate_tokio::TokenVerifier for Lookup {
    fn verify<'a>(&'a self, token: &'a str, _now: u64) -> tollgate_tokio::VerifyFuture<'a> {
        Box::pin(async move {
            tokio::time::sleep(self.delay).await;
            if token == "opaque-token-1" {
                let claims = serde_json::json!({"sub": "opaque"});
                let serde_json::Value::Object(claims) = claims else {
                    unreachable!()
                };
                Ok(tollgate_tokio::Identity::new("HS256", None, claims))
            } else {
                Err(tollgate::auth::AuthError::Jwt(
                    tollgate::jwt::JwtError::InvalidSignature,
                ))
            }
        })
    }
}

#[tokio::test]
async fn application_verifier_decides_who_connects() {
    let verifier = Lookup {
        delay: Duration::from_millis(20),
    };
    let server = serve(tollgate_tokio::server::ServerConfig::new(verifier)).await;
    let mut client = connect_query(server.addr, "opaque-token-1").await;
    client.send_text("whoami").await.unwrap();
    assert_eq!(next(&mut client).await, Got::Text("opaque 0".into()));
    let answer = raw_exchange(server.addr, &upgrade_request("/ws?token=other", "")).await;
    assert!(
        answer.contains("error_description=\"invalid_signature\""),
        "{answer}"
    );
}

#[tokio::test]
async fn verifier_that_never_answers_is_cut_at_the_handshake_timeout() {
    let verifier = Lookup {
        delay: Duration::from_secs(3600),
    };
    let config = tollgate_tokio::server::ServerConfig::new(verifier)
        .with_handshake_timeout(Duration::from_millis(300));
    let server = serve(config).await;
    let started = std::time::Instant::now();
    let answer = raw_exchange(
        server.addr,
        &upgrade_request("/ws?token=opaque-token-1", ""),
    )
    .await;
    assert!(answer.is_empty(), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(3));
}
