//! First-message authentication (socketio-jwt style): the upgrade carries no token; the
//! client's first message must be `{"type":"authenticate","token":"…"}` within 10 s.
//!
//! ```text
//! TOLLGATE_SECRET=0123456789abcdef0123456789abcdef cargo run -p tollgate-tokio --example first-message -- [ADDR]
//! ```
//!
//! The server answers `{"type":"authenticated"}`, then echoes every message; or
//! `{"type":"unauthorized","code":"…","message":"…"}` and close 1008 with the code
//! (`missing_token` after the timeout, `expired`, `invalid_signature`, …). Later
//! `{"type":"authenticate","token":"…"}` messages refresh the token in band (same `sub`),
//! which moves the connection's expiry. Mint a token with
//! `tollgate token --secret-env TOLLGATE_SECRET --alg HS256 --sub alice --exp 600`.

use std::time::Duration;

use futures_util::StreamExt;
use tollgate::jwt::Key;
use tollgate::jwt::alg::hs256::Hs256Secret;
use tollgate_tokio::server::{AuthenticatedSocket, Server, ServerConfig, StaticVerifier};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

async fn echo(mut socket: AuthenticatedSocket) -> Result<(), BoxError> {
    let identity = socket.identity();
    tracing::info!(
        sub = identity.sub(),
        exp = identity.exp(),
        "authenticated by first message"
    );
    while let Some(message) = socket.next().await {
        socket.send(message?).await?;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    tracing_subscriber::fmt().init();
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9003".to_owned());
    let secret = std::env::var("TOLLGATE_SECRET").map_err(|_| "set TOLLGATE_SECRET")?;
    let key = Key::Hs256(Hs256Secret::new(secret.as_bytes())?);
    let config = ServerConfig::new(StaticVerifier::new(key))
        .with_first_message_auth(Duration::from_secs(10));
    let server = Server::bind(addr.as_str(), config).await?;
    let local = server.local_addr();
    println!("listening on ws://{local} (first-message authentication)");
    println!(
        "token: tollgate token --secret-env TOLLGATE_SECRET --alg HS256 --sub alice --exp 600"
    );
    println!(
        r#"connect to ws://{local}/ and send {{"type":"authenticate","token":"<token>"}} first"#
    );

    let shutdown = server.shutdown_handle();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            shutdown.shutdown();
        }
    });
    server.serve(echo).await;
    Ok(())
}
