//! tollgate inside an axum app (feature `axum`): `/` is an ordinary route, `/ws` takes
//! the [`WebSocketUpgrade`] extractor, which authenticates the upgrade request exactly
//! as the framework-free server does, then echoes messages (`whoami` answers the `sub`).
//!
//! ```text
//! TOLLGATE_SECRET=0123456789abcdef0123456789abcdef \
//!     cargo run -p tollgate-tokio --features axum --example axum -- [ADDR]
//! ```
//!
//! Mint a token with `tollgate token --secret-env TOLLGATE_SECRET --alg HS256 --sub alice
//! --exp 600` and connect to `ws://ADDR/ws?token=<token>` (or send it as
//! `Authorization: Bearer`, or in the `tollgate.bearer` subprotocol). A refused token
//! gets 401 with `WWW-Authenticate: Bearer error="invalid_token", …`.

use axum::Router;
use axum::response::Response;
use axum::routing::get;
use futures_util::StreamExt;
use tollgate::jwt::Key;
use tollgate::jwt::alg::hs256::Hs256Secret;
use tollgate_tokio::Message;
use tollgate_tokio::axum::WebSocketUpgrade;
use tollgate_tokio::server::{Acceptor, ServerConfig, StaticVerifier};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

async fn ws(upgrade: WebSocketUpgrade) -> Response {
    upgrade.on_upgrade(|mut socket| async move {
        let user = socket.identity().sub().unwrap_or("anonymous").to_owned();
        while let Some(Ok(message)) = socket.next().await {
            let reply = match message {
                Message::Text(text) if &*text == "whoami" => Message::text(user.as_str()),
                other => other,
            };
            if socket.send(reply).await.is_err() {
                break;
            }
        }
    })
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    tracing_subscriber::fmt().init();
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9004".to_owned());
    let secret = std::env::var("TOLLGATE_SECRET").map_err(|_| "set TOLLGATE_SECRET")?;
    let key = Key::Hs256(Hs256Secret::new(secret.as_bytes())?);
    let acceptor = Acceptor::new(ServerConfig::new(StaticVerifier::new(key)));
    let app = Router::new()
        .route(
            "/",
            get(|| async { "tollgate in axum: connect a WebSocket to /ws\n" }),
        )
        .route("/ws", get(ws))
        .with_state(acceptor.clone());
    let listener = tokio::net::TcpListener::bind(addr.as_str()).await?;
    let local = listener.local_addr()?;
    println!("axum listening on http://{local}");
    println!(
        "token: tollgate token --secret-env TOLLGATE_SECRET --alg HS256 --sub alice --exp 600"
    );
    println!("connect to ws://{local}/ws?token=<token>");
    let shutdown = acceptor.shutdown_handle();
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            tokio::signal::ctrl_c().await.ok();
            // Close every WebSocket (1001) too, not only the HTTP side.
            shutdown.shutdown();
        })
        .await?;
    Ok(())
}
