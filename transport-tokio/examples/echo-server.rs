//! An authenticated echo server on the `tollgate_tokio::server` library: every text and
//! binary message comes back to its sender; `whoami` is answered with the token's `sub`.
//!
//! ```text
//! TOLLGATE_SECRET=... cargo run -p tollgate-tokio --example echo-server -- [ADDR] \
//!     [--first-message] [--refuse-after-upgrade] [--tls CERT KEY]   (--tls: feature `tls`)
//! ```
//!
//! Tokens are HS256 with the secret in `TOLLGATE_SECRET`, carried in the `token` query
//! parameter, `Authorization: Bearer`, or the `tollgate.bearer` subprotocol (or, with
//! `--first-message`, as `{"type":"authenticate","token":"…"}`). Mint one with
//! `tollgate token --secret-env TOLLGATE_SECRET --alg HS256 --sub alice --exp 600`.
//! Ctrl-C shuts the server down gracefully (close 1001). Prints `listening on ws://ADDR`
//! (or `wss://`) once bound. Set `RUST_LOG`-style verbosity with `TOLLGATE_LOG=debug`.

use std::time::Duration;

use futures_util::StreamExt;
use tollgate::jwt::Key;
use tollgate::jwt::alg::hs256::Hs256Secret;
use tollgate_tokio::Message;
use tollgate_tokio::server::{AuthenticatedSocket, Refusal, Server, ServerConfig, StaticVerifier};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

async fn echo(mut socket: AuthenticatedSocket) -> Result<(), BoxError> {
    let user = socket.identity().sub().unwrap_or("anonymous").to_owned();
    tracing::info!(%user, "connected");
    while let Some(message) = socket.next().await {
        // A client that vanished, broke the protocol or was closed by policy ends here;
        // the server already answered it. Not a failure of this handler.
        let message = match message {
            Ok(message) => message,
            Err(error) => {
                tracing::info!(%error, "connection ended");
                break;
            }
        };
        let reply = match message {
            Message::Text(text) if &*text == "whoami" => Message::text(user.as_str()),
            other => other,
        };
        socket.send(reply).await?;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let level = match std::env::var("TOLLGATE_LOG").as_deref() {
        Ok("debug") => tracing::Level::DEBUG,
        Ok("warn") => tracing::Level::WARN,
        _ => tracing::Level::INFO,
    };
    tracing_subscriber::fmt().with_max_level(level).init();

    let mut args = std::env::args().skip(1);
    let mut addr = "127.0.0.1:9001".to_owned();
    let mut first_message = false;
    let mut refusal = Refusal::Http;
    let mut tls: Option<(String, String)> = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--first-message" => first_message = true,
            "--refuse-after-upgrade" => refusal = Refusal::CloseAfterUpgrade,
            "--tls" => match (args.next(), args.next()) {
                (Some(cert), Some(key)) => tls = Some((cert, key)),
                _ => return Err("--tls needs CERT and KEY".into()),
            },
            other if !other.starts_with('-') => addr = other.to_owned(),
            other => return Err(format!("unknown option {other}").into()),
        }
    }
    let secret = std::env::var("TOLLGATE_SECRET").map_err(|_| "set TOLLGATE_SECRET")?;
    let key = Key::Hs256(Hs256Secret::new(secret.as_bytes())?);

    let mut config = ServerConfig::new(StaticVerifier::new(key)).with_refusal(refusal);
    if first_message {
        config = config.with_first_message_auth(Duration::from_secs(10));
    }
    let server = Server::bind(addr.as_str(), config).await?;
    let scheme = match tls {
        #[cfg(feature = "tls")]
        Some((cert, key)) => {
            let tls = tollgate_tokio::server::TlsConfig::from_pem_files(cert, key)?;
            return run(server.with_tls(tls), "wss").await;
        }
        #[cfg(not(feature = "tls"))]
        Some(_) => return Err("built without the `tls` feature".into()),
        None => "ws",
    };
    run(server, scheme).await
}

async fn run(server: Server, scheme: &str) -> Result<(), BoxError> {
    println!("listening on {scheme}://{}", server.local_addr());
    let shutdown = server.shutdown_handle();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            shutdown.shutdown();
        }
    });
    server.serve(echo).await;
    Ok(())
}
