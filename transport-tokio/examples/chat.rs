//! A chat server: rooms, private messages and kicking, on the server library with the
//! [`Sessions`] registry and a role-guarded event [`Router`].
//!
//! ```text
//! TOLLGATE_SECRET=0123456789abcdef0123456789abcdef cargo run -p tollgate-tokio --example chat -- [ADDR]
//! ```
//!
//! Clients send `{"event": …, "data": …}` (add `"id"` to match replies):
//!
//! | event     | data                      | effect                                           |
//! |-----------|---------------------------|--------------------------------------------------|
//! | `join`    | `"room"`                  | join the room                                    |
//! | `leave`   | `"room"`                  | leave it                                         |
//! | `say`     | `{"room", "text"}`        | everyone in the room gets `{"event":"message"…}` |
//! | `whisper` | `{"to": sub, "text"}`     | every connection of user `to` gets it            |
//! | `kick`    | `"sub"`                   | `role: admin` only: close 1008 `kicked` for them |
//!
//! Others get `{"event":"error","data":{"code":"forbidden"}}` for `kick`. Mint tokens with
//! `tollgate token --secret-env TOLLGATE_SECRET --alg HS256 --sub alice --claim role=admin --exp 3600`
//! and connect with any WebSocket client to `ws://ADDR/?token=<token>`.

use std::sync::Arc;

use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::json;
use tollgate::jwt::Key;
use tollgate::jwt::alg::hs256::Hs256Secret;
use tollgate_tokio::router::{EventContext, EventError, event_message};
use tollgate_tokio::server::{AuthenticatedSocket, Server, ServerConfig, StaticVerifier};
use tollgate_tokio::{ConnectionContext, Router, Sessions};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Deserialize)]
struct Say {
    room: String,
    text: String,
}

#[derive(Deserialize)]
struct Whisper {
    to: String,
    text: String,
}

fn sessions(ctx: &EventContext) -> Result<&Sessions, EventError> {
    ctx.sessions.as_ref().ok_or(EventError::new("unavailable"))
}

fn router() -> Router {
    Router::new()
        .on("join", |ctx| async move {
            let room: String = ctx.parse_data()?;
            Ok(Some(json!(sessions(&ctx)?.join(&room, ctx.handle.id()))))
        })
        .on("leave", |ctx| async move {
            let room: String = ctx.parse_data()?;
            Ok(Some(json!(sessions(&ctx)?.leave(&room, ctx.handle.id()))))
        })
        .on("say", |ctx| async move {
            let say: Say = ctx.parse_data()?;
            let sessions = sessions(&ctx)?;
            if !sessions
                .rooms_of(ctx.handle.id())
                .iter()
                .any(|room| **room == *say.room)
            {
                return Err(EventError::new("not_in_room"));
            }
            let from = ctx.sub().unwrap_or("anonymous");
            let message = event_message(
                "message",
                json!({"room": say.room, "from": from, "text": say.text}),
            );
            Ok(Some(json!(sessions.broadcast_to_room(&say.room, message))))
        })
        .on("whisper", |ctx| async move {
            let whisper: Whisper = ctx.parse_data()?;
            let from = ctx.sub().unwrap_or("anonymous");
            let message = event_message("whisper", json!({"from": from, "text": whisper.text}));
            Ok(Some(json!(
                sessions(&ctx)?.send_to_user(&whisper.to, message)
            )))
        })
        .on_with_roles("kick", &["admin"], |ctx| async move {
            let sub: String = ctx.parse_data()?;
            tracing::info!(by = ctx.sub(), %sub, "kick");
            Ok(Some(json!(sessions(&ctx)?.kick(&sub, "kicked"))))
        })
}

async fn chat(
    mut socket: AuthenticatedSocket,
    sessions: Sessions,
    router: Arc<Router>,
) -> Result<(), BoxError> {
    // Dropping the registration (however the loop ends) removes the connection from the
    // registry and from every room.
    let _registration = sessions.register(socket.handle());
    let context = ConnectionContext::new(Arc::new(socket.identity()), socket.handle(), ())
        .with_sessions(sessions);
    tracing::info!(user = socket.identity().sub(), "joined");
    while let Some(message) = socket.next().await {
        router.dispatch_message(&context, &message?).await;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    tracing_subscriber::fmt().init();
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9002".to_owned());
    let secret = std::env::var("TOLLGATE_SECRET").map_err(|_| "set TOLLGATE_SECRET")?;
    let key = Key::Hs256(Hs256Secret::new(secret.as_bytes())?);
    let server = Server::bind(addr.as_str(), ServerConfig::new(StaticVerifier::new(key))).await?;
    let local = server.local_addr();
    println!("chat listening on ws://{local}");
    println!(
        "token: tollgate token --secret-env TOLLGATE_SECRET --alg HS256 --sub alice --claim role=admin --exp 3600"
    );
    println!(
        r#"connect to ws://{local}/?token=<token>, then send {{"event":"join","data":"lobby"}}"#
    );

    let shutdown = server.shutdown_handle();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            shutdown.shutdown();
        }
    });
    let sessions = Sessions::new();
    let router = Arc::new(router());
    server
        .serve(move |socket| chat(socket, sessions.clone(), Arc::clone(&router)))
        .await;
    Ok(())
}
