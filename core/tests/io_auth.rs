//! Authenticated upgrades through the async driver: tokens in the request, refusals as
//! HTTP or as close 1008 after the upgrade, first-message authentication, expiry.
#![cfg(feature = "hs256")]

mod io_support;

use io_support::{End, NOW, XorShift, duplex, join, key, token, token_signed};
use serde::Deserialize;
use tollgate::auth::{AuthError, AuthMode, Authenticator};
use tollgate::io::{self, Authenticated, Error, Message, Refusal, ServerOptions, Session};
use tollgate::jwt::{JwtError, Key, Validation};
use tollgate::ws::close::CloseCode;
use tollgate::ws::conn::Config;
use tollgate::ws::error::ProtocolError;
use tollgate::ws::handshake::{ClientRequest, ResponseError, ServerConfig};

const ALICE: &str = r#"{"sub":"alice","role":"admin","exp":1700000600}"#;
const MARKER: &str = "tollgate.bearer";

fn authenticator(mode: AuthMode) -> Authenticator<'static, Key> {
    Authenticator::new(key(), Validation::new()).with_mode(mode)
}

fn options(refusal: Refusal) -> ServerOptions<'static> {
    ServerOptions::new(ServerConfig::new()).with_refusal(refusal)
}

struct Buffers {
    server_read: Vec<u8>,
    server_write: Vec<u8>,
    scratch: Vec<u8>,
    client_read: Vec<u8>,
    client_write: Vec<u8>,
}

impl Buffers {
    fn new() -> Self {
        Self {
            server_read: vec![0; 2048],
            server_write: vec![0; 512],
            scratch: vec![0; 512],
            client_read: vec![0; 1024],
            client_write: vec![0; 1024],
        }
    }
}

async fn accept<'b, 's>(
    end: End,
    refusal: Refusal,
    auth: &Authenticator<'static, Key>,
    read: &'b mut [u8],
    write: &'b mut [u8],
    scratch: &'s mut [u8],
) -> Result<Authenticated<'b, 'static, 's, End>, Error<core::convert::Infallible>> {
    io::accept_authenticated(end, &options(refusal), auth, NOW, read, write, scratch).await
}

async fn connect<'b, 'r>(
    end: End,
    request: &ClientRequest<'r>,
    read: &'b mut [u8],
    write: &'b mut [u8],
) -> Result<io::Upgraded<'b, 'r, End, XorShift>, Error<core::convert::Infallible>> {
    io::connect(end, request, Config::DEFAULT, XorShift(77), read, write).await
}

fn verified<'b, 's>(outcome: Authenticated<'b, 'static, 's, End>) -> Session<'b, 'static, 's, End> {
    match outcome {
        Authenticated::Verified(session) => session,
        Authenticated::AwaitingFirstMessage { .. } => panic!("expected a verified token"),
    }
}

#[derive(Deserialize)]
struct Custom<'a> {
    sub: &'a str,
    role: &'a str,
}

#[test]
fn valid_token_from_query_header_or_subprotocol_is_accepted_with_its_claims() {
    let jwt = token(ALICE);
    let requests = [
        (
            ClientRequest::new("example.com", "/ws").with_query_token("token", &jwt),
            None,
        ),
        (
            ClientRequest::new("example.com", "/ws").with_bearer(&jwt),
            None,
        ),
        (
            ClientRequest::new("example.com", "/ws").with_token_protocol(MARKER, &jwt),
            Some(MARKER),
        ),
    ];
    let auth = authenticator(AuthMode::Handshake);
    for (seed, (request, protocol)) in requests.iter().enumerate() {
        let (a, b) = duplex(seed as u64 + 1, 1 + seed * 40);
        let mut bufs = Buffers::new();
        let server = async {
            let outcome = accept(
                a,
                Refusal::Http,
                &auth,
                &mut bufs.server_read,
                &mut bufs.server_write,
                &mut bufs.scratch,
            )
            .await
            .unwrap();
            let mut session = verified(outcome);
            assert_eq!(session.protocol, *protocol);
            let claims = session.token.registered();
            assert!(claims.sub().is_some_and(|sub| sub == "alice"));
            assert_eq!(auth.deadline(&session.token), Some(1_700_000_660));
            let custom: Custom<'_> = session.token.claims(&mut [0; 64]).unwrap();
            assert_eq!((custom.sub, custom.role), ("alice", "admin"));
            assert_eq!(session.socket.recv().await.unwrap(), Message::Text("hi"));
        };
        let client = async {
            let mut upgraded = connect(b, request, &mut bufs.client_read, &mut bufs.client_write)
                .await
                .unwrap();
            assert_eq!(upgraded.protocol, *protocol);
            upgraded.socket.send_text("hi").await.unwrap();
        };
        join(server, client);
    }
}

/// The server's refusal as the client sees it, and the server's error.
fn refused(
    request: ClientRequest<'_>,
    refusal: Refusal,
    mode: AuthMode,
) -> (
    Error<core::convert::Infallible>,
    Error<core::convert::Infallible>,
) {
    let (a, b) = duplex(21, 64);
    let mut bufs = Buffers::new();
    let auth = authenticator(mode);
    let server = async {
        accept(
            a,
            refusal,
            &auth,
            &mut bufs.server_read,
            &mut bufs.server_write,
            &mut bufs.scratch,
        )
        .await
        .map(|_| ())
        .unwrap_err()
    };
    let client = async {
        connect(b, &request, &mut bufs.client_read, &mut bufs.client_write)
            .await
            .map(|_| ())
            .unwrap_err()
    };
    join(server, client)
}

fn rejection(error: Error<core::convert::Infallible>) -> (u16, Option<String>) {
    match error {
        Error::Response(ResponseError::Rejected(rejected)) => (
            rejected.status(),
            rejected.error_description().map(str::to_owned),
        ),
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[test]
fn refused_tokens_get_401_with_the_stable_code() {
    let forged = token_signed(ALICE, b"another secret, another issuer!!");
    let expired = token(r#"{"sub":"alice","exp":1699990000}"#);
    let cases = [
        (
            forged.as_str(),
            JwtError::InvalidSignature,
            "invalid_signature",
        ),
        (expired.as_str(), JwtError::Expired, "expired"),
        ("abc.def", JwtError::Malformed, "malformed"),
    ];
    for (jwt, error, code) in cases {
        let request = ClientRequest::new("example.com", "/ws").with_bearer(jwt);
        let (server, client) = refused(request, Refusal::Http, AuthMode::Handshake);
        assert_eq!(server, Error::Auth(AuthError::Jwt(error)));
        assert_eq!(rejection(client), (401, Some(code.to_owned())));
    }
}

#[test]
fn missing_token_gets_401_with_a_plain_bearer_challenge() {
    let request = ClientRequest::new("example.com", "/ws");
    let (server, client) = refused(request, Refusal::Http, AuthMode::Handshake);
    assert_eq!(server, Error::Auth(AuthError::MissingToken));
    assert_eq!(rejection(client), (401, None));

    let (a, mut b) = duplex(22, 4096);
    let mut bufs = Buffers::new();
    let auth = authenticator(AuthMode::Handshake);
    let server = async {
        let result = accept(
            a,
            Refusal::Http,
            &auth,
            &mut bufs.server_read,
            &mut bufs.server_write,
            &mut bufs.scratch,
        )
        .await;
        assert!(result.is_err());
    };
    let peer = async {
        let mut out = [0u8; 512];
        let (len, _) = ClientRequest::new("x", "/")
            .write_with_key([3; 16], &mut out)
            .unwrap();
        b.write_raw(&out[..len]).await;
        let answer = String::from_utf8(b.read_to_end().await).unwrap();
        assert!(answer.starts_with("HTTP/1.1 401 Unauthorized\r\n"));
        assert!(answer.contains("\r\nWWW-Authenticate: Bearer\r\n"));
    };
    join(server, peer);
}

#[test]
fn conflicting_tokens_get_400() {
    let one = token(ALICE);
    let other = token(r#"{"sub":"bob","exp":1700000600}"#);
    let request = ClientRequest::new("example.com", "/ws")
        .with_bearer(&one)
        .with_query_token("token", &other);
    let (server, client) = refused(request, Refusal::Http, AuthMode::Handshake);
    assert_eq!(server, Error::Auth(AuthError::ConflictingTokens));
    assert_eq!(
        rejection(client),
        (400, Some("conflicting_tokens".to_owned()))
    );
}

#[test]
fn refusal_after_upgrade_closes_with_1008_and_the_code() {
    let forged = token_signed(ALICE, b"another secret, another issuer!!");
    let expired = token(r#"{"sub":"alice","exp":1699990000}"#);
    let cases = [
        (
            forged.as_str(),
            JwtError::InvalidSignature,
            "invalid_signature",
        ),
        (expired.as_str(), JwtError::Expired, "expired"),
    ];
    let auth = authenticator(AuthMode::Handshake);
    for (seed, (jwt, error, code)) in cases.into_iter().enumerate() {
        // A browser: the token rides in the subprotocol list.
        let request = ClientRequest::new("example.com", "/ws").with_token_protocol(MARKER, jwt);
        let (a, b) = duplex(seed as u64 + 30, 9);
        let mut bufs = Buffers::new();
        let server = async {
            let result = accept(
                a,
                Refusal::CloseAfterUpgrade,
                &auth,
                &mut bufs.server_read,
                &mut bufs.server_write,
                &mut bufs.scratch,
            )
            .await;
            assert_eq!(
                result.map(|_| ()).unwrap_err(),
                Error::Auth(AuthError::Jwt(error))
            );
        };
        let client = async {
            let mut upgraded = connect(b, &request, &mut bufs.client_read, &mut bufs.client_write)
                .await
                .unwrap();
            assert_eq!(upgraded.protocol, Some(MARKER));
            match upgraded.socket.recv().await.unwrap() {
                Message::Close(frame) => {
                    assert_eq!(frame.code, Some(CloseCode::POLICY_VIOLATION));
                    assert_eq!(frame.reason, code);
                }
                other => panic!("unexpected {other:?}"),
            }
            assert_eq!(upgraded.socket.recv().await.unwrap_err(), Error::Closed);
        };
        join(server, client);
    }
}

#[test]
fn malformed_upgrade_keeps_its_http_status_after_upgrade_refusals() {
    let (a, mut b) = duplex(40, 4096);
    let mut bufs = Buffers::new();
    let auth = authenticator(AuthMode::Handshake);
    let server = async {
        let result = accept(
            a,
            Refusal::CloseAfterUpgrade,
            &auth,
            &mut bufs.server_read,
            &mut bufs.server_write,
            &mut bufs.scratch,
        )
        .await;
        assert!(matches!(result, Err(Error::Handshake(_))));
    };
    let peer = async {
        b.write_raw(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n")
            .await;
        assert!(b.read_to_end().await.starts_with(b"HTTP/1.1 400 "));
    };
    join(server, peer);
}

/// First-message authentication: the client sends `message` first; returns what the
/// server's `finish` returned (as the subject) and what the client received.
fn first_message(
    message: Vec<u8>,
    binary: bool,
) -> (
    Result<String, Error<core::convert::Infallible>>,
    Vec<String>,
) {
    let (a, b) = duplex(50, 17);
    let mut bufs = Buffers::new();
    let auth = authenticator(AuthMode::FirstMessage);
    let server = async {
        let outcome = accept(
            a,
            Refusal::Http,
            &auth,
            &mut bufs.server_read,
            &mut bufs.server_write,
            &mut bufs.scratch,
        )
        .await
        .unwrap();
        assert!(matches!(
            outcome,
            Authenticated::AwaitingFirstMessage { .. }
        ));
        let mut session = outcome.finish(&auth, NOW).await?;
        let subject = session.token.registered().sub().unwrap().to_string();
        assert_eq!(session.socket.recv().await.unwrap(), Message::Text("after"));
        Ok(subject)
    };
    let client = async {
        let request = ClientRequest::new("example.com", "/ws");
        let mut ws = connect(b, &request, &mut bufs.client_read, &mut bufs.client_write)
            .await
            .unwrap()
            .socket;
        ws.send_ping(b"before").await.unwrap();
        if binary {
            ws.send_binary(&message).await.unwrap();
        } else {
            ws.send_text(std::str::from_utf8(&message).unwrap())
                .await
                .unwrap();
        }
        let mut seen = Vec::new();
        loop {
            match ws.recv().await {
                Ok(Message::Text(text)) => {
                    seen.push(text.to_owned());
                    if text == r#"{"type":"authenticated"}"# {
                        ws.send_text("after").await.unwrap();
                    }
                }
                Ok(Message::Close(frame)) => {
                    seen.push(format!(
                        "close {} {}",
                        frame.code.unwrap().as_u16(),
                        frame.reason
                    ));
                }
                Ok(Message::Pong(_) | Message::Ping(_)) => {}
                Ok(Message::Binary(_)) => panic!("no binary expected"),
                Err(Error::Closed | Error::Eof) => return seen,
                Err(error) => panic!("{error:?}"),
            }
        }
    };
    join(server, client)
}

#[test]
fn first_message_authenticates_and_is_acknowledged() {
    let message = format!(r#"{{"type":"authenticate","token":"{}"}}"#, token(ALICE));
    let (subject, seen) = first_message(message.into_bytes(), false);
    assert_eq!(subject.unwrap(), "alice");
    assert_eq!(seen, [r#"{"type":"authenticated"}"#]);
}

#[test]
fn first_message_with_a_bad_token_is_refused_then_closed_with_1008() {
    let forged = token_signed(ALICE, b"another secret, another issuer!!");
    let message = format!(r#"{{"type":"authenticate","token":"{forged}"}}"#);
    let (result, seen) = first_message(message.into_bytes(), false);
    assert_eq!(
        result.unwrap_err(),
        Error::Auth(AuthError::Jwt(JwtError::InvalidSignature))
    );
    assert_eq!(
        seen,
        [
            r#"{"type":"unauthorized","code":"invalid_signature","message":"token signature is invalid"}"#,
            "close 1008 invalid_signature",
        ]
    );
}

#[test]
fn first_message_of_another_shape_is_refused() {
    let cases = [
        (b"hello".to_vec(), false),
        (br#"{"type":"refresh","token":"a.b.c"}"#.to_vec(), false),
        (br#"{"type":"authenticate","token":"a.b.c"}"#.to_vec(), true),
    ];
    for (message, binary) in cases {
        let (result, seen) = first_message(message, binary);
        assert_eq!(
            result.unwrap_err(),
            Error::Auth(AuthError::InvalidAuthMessage)
        );
        assert_eq!(seen.last().unwrap(), "close 1008 invalid_auth_message");
    }
}

#[test]
fn first_message_mode_still_verifies_a_handshake_token() {
    let jwt = token(ALICE);
    let request = ClientRequest::new("example.com", "/ws").with_bearer(&jwt);
    let (a, b) = duplex(60, 128);
    let mut bufs = Buffers::new();
    let auth = authenticator(AuthMode::FirstMessage);
    let server = async {
        let outcome = accept(
            a,
            Refusal::Http,
            &auth,
            &mut bufs.server_read,
            &mut bufs.server_write,
            &mut bufs.scratch,
        )
        .await
        .unwrap();
        let session = verified(outcome);
        assert!(
            session
                .token
                .registered()
                .sub()
                .is_some_and(|s| s == "alice")
        );
    };
    let client = async {
        connect(b, &request, &mut bufs.client_read, &mut bufs.client_write)
            .await
            .unwrap();
    };
    join(server, client);

    let forged = token_signed(ALICE, b"another secret, another issuer!!");
    let request = ClientRequest::new("example.com", "/ws").with_bearer(&forged);
    let (server, client) = refused(request, Refusal::Http, AuthMode::FirstMessage);
    assert_eq!(
        server,
        Error::Auth(AuthError::Jwt(JwtError::InvalidSignature))
    );
    assert_eq!(rejection(client).0, 401);
}

#[test]
fn expired_connection_is_closed_with_1008_expired() {
    let jwt = token(ALICE);
    let request = ClientRequest::new("example.com", "/ws").with_query_token("token", &jwt);
    let (a, b) = duplex(70, 64);
    let mut bufs = Buffers::new();
    let auth = authenticator(AuthMode::Handshake);
    let server = async {
        let outcome = accept(
            a,
            Refusal::Http,
            &auth,
            &mut bufs.server_read,
            &mut bufs.server_write,
            &mut bufs.scratch,
        )
        .await
        .unwrap();
        let mut session = verified(outcome);
        // The transport's timer fires at the deadline.
        assert_eq!(auth.deadline(&session.token), Some(1_700_000_600 + 60));
        session.socket.close_with(AuthError::EXPIRED).await.unwrap();
    };
    let client = async {
        let mut ws = connect(b, &request, &mut bufs.client_read, &mut bufs.client_write)
            .await
            .unwrap()
            .socket;
        match ws.recv().await.unwrap() {
            Message::Close(frame) => {
                assert_eq!(frame.code, Some(CloseCode::POLICY_VIOLATION));
                assert_eq!(frame.reason, "expired");
            }
            other => panic!("unexpected {other:?}"),
        }
    };
    join(server, client);
}

#[test]
fn protocol_errors_after_authentication_still_close_1002() {
    let jwt = token(ALICE);
    let (a, mut b) = duplex(80, 4096);
    let mut bufs = Buffers::new();
    let auth = authenticator(AuthMode::Handshake);
    let server = async {
        let outcome = accept(
            a,
            Refusal::Http,
            &auth,
            &mut bufs.server_read,
            &mut bufs.server_write,
            &mut bufs.scratch,
        )
        .await
        .unwrap();
        let mut session = verified(outcome);
        assert_eq!(
            session.socket.recv().await.unwrap_err(),
            Error::Protocol(ProtocolError::ReservedOpcode)
        );
    };
    let peer = async {
        let mut out = [0u8; 1024];
        let (len, _) = ClientRequest::new("x", "/")
            .with_bearer(&jwt)
            .write_with_key([5; 16], &mut out)
            .unwrap();
        b.write_raw(&out[..len]).await;
        b.read_until(b"\r\n\r\n").await;
        b.write_raw(&[0x83, 0x80, 0, 0, 0, 0]).await;
        let rest = b.read_to_end().await;
        assert_eq!(&rest[2..4], &1002_u16.to_be_bytes());
    };
    join(server, peer);
}
