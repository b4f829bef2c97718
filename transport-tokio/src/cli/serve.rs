//! `tollgate serve`: the authenticated WebSocket server of DESIGN §4, on the server library
//! and its axum integration.
//!
//! Without key options it runs in development mode: a fresh random HS256 secret, a printed
//! ready-to-use token, and `POST /login`, which mints short-lived tokens for the demo page.
//! Routes: `GET /` (demo page), `POST /login` (development mode only, else 404),
//! `GET /healthz` (`ok`) and `/ws`, the authenticated WebSocket: a chat (events `chat`,
//! `kick`, presence) or, with `--echo`, a plain echo of every data message.

mod config;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{FromRef, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::ListenerExt as _;
use base64ct::Encoding as _;
use clap::{ArgMatches, Args};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tollgate::jwt::Key;
use tollgate::jwt::alg::hs256::Hs256Secret;

use super::keys::{SigningKey, VerifyingKeyArgs};
use super::token::sign_compact;
use super::{Outcome, UsageError, token_verifier};
use crate::TokenVerifier;
use crate::axum::WebSocketUpgrade;
use crate::jwks::{JwksConfig, Rules};
use crate::router::{EventContext, EventError, event_message};
use crate::server::{Acceptor, AuthenticatedSocket, RateLimit, ServerConfig};
use crate::server::{Echo, Refusal, StaticVerifier, TokenFrom};
use crate::{ConnectionContext, Router, Sessions};

/// The demo page, served at `/`.
const DEMO_PAGE: &str = include_str!("serve/demo.html");
/// Lifetime of the token printed in development mode.
const DEV_TOKEN_SECS: u64 = 3600;
/// Random bytes in the development secret.
const DEV_SECRET_BYTES: usize = 32;
/// Roles allowed to kick.
const KICK_ROLES: &[&str] = &["admin", "moderator"];

/// Options of `tollgate serve`. Every option can also come from a `TOLLGATE_…` variable and
/// from the `--config` file (command line first, then environment, then file, then default);
/// secrets only from an environment variable or a file, never from the command line.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// TOML file with any of these settings (keys as the option names, `_` for `-`); the
    /// command line and then the environment override it. Secrets only as secret_file or
    /// secret_env.
    #[arg(long, env = "TOLLGATE_CONFIG", value_name = "FILE")]
    pub config: Option<std::path::PathBuf>,
    /// Address to listen on.
    #[arg(long, env = "TOLLGATE_LISTEN", default_value = "127.0.0.1:3000")]
    pub listen: SocketAddr,
    /// Verification keys; none of them means development mode (random HS256 secret).
    #[command(flatten)]
    pub keys: VerifyingKeyArgs,
    /// Accepted issuer (repeatable, or comma-separated in TOLLGATE_ISS).
    #[arg(long, env = "TOLLGATE_ISS", value_delimiter = ',')]
    pub iss: Vec<String>,
    /// Accepted audience (repeatable, or comma-separated in TOLLGATE_AUD).
    #[arg(long, env = "TOLLGATE_AUD", value_delimiter = ',')]
    pub aud: Vec<String>,
    /// Clock skew allowed for exp/nbf/iat, in seconds.
    #[arg(long, env = "TOLLGATE_LEEWAY", value_name = "SECS")]
    pub leeway: Option<u64>,
    /// Where tokens are looked for: query, header, subprotocol, cookie (comma-separated).
    #[arg(
        long,
        env = "TOLLGATE_TOKEN_FROM",
        value_delimiter = ',',
        value_name = "LIST",
        value_parser = ["query", "header", "subprotocol", "cookie"],
    )]
    pub token_from: Vec<String>,
    /// Authenticate with the first message (`{"type":"authenticate","token":…}`) within SECS
    /// seconds instead of during the upgrade.
    #[arg(long, env = "TOLLGATE_FIRST_MESSAGE", value_name = "SECS")]
    pub first_message: Option<u64>,
    /// Largest accepted message, in bytes.
    #[arg(long, env = "TOLLGATE_MAX_MESSAGE_SIZE", value_name = "BYTES")]
    pub max_message_size: Option<usize>,
    /// Most simultaneous connections (503 beyond).
    #[arg(long, env = "TOLLGATE_MAX_CONNECTIONS", value_name = "N")]
    pub max_connections: Option<usize>,
    /// Most simultaneous connections per user (`sub`).
    #[arg(long, env = "TOLLGATE_MAX_CONNECTIONS_PER_USER", value_name = "N")]
    pub max_connections_per_user: Option<usize>,
    /// Messages per second allowed per connection.
    #[arg(long, env = "TOLLGATE_RATE_LIMIT", value_name = "PER_SEC")]
    pub rate_limit: Option<u32>,
    /// Allowed Origin header value (repeatable; default: any).
    #[arg(long, env = "TOLLGATE_ALLOWED_ORIGIN", value_delimiter = ',')]
    pub allowed_origin: Vec<String>,
    /// TLS certificate chain (PEM) for `https://` and `wss://`; needs --tls-key.
    #[cfg(feature = "tls")]
    #[arg(
        long,
        env = "TOLLGATE_TLS_CERT",
        value_name = "FILE",
        requires = "tls_key"
    )]
    pub tls_cert: Option<std::path::PathBuf>,
    /// TLS private key (PEM) matching --tls-cert.
    #[cfg(feature = "tls")]
    #[arg(
        long,
        env = "TOLLGATE_TLS_KEY",
        value_name = "FILE",
        requires = "tls_cert"
    )]
    pub tls_key: Option<std::path::PathBuf>,
    /// Echo every data message back instead of running the chat (conformance, benchmarks).
    #[arg(long, env = "TOLLGATE_ECHO")]
    pub echo: bool,
    /// Lifetime of the tokens `POST /login` issues in development mode (short values let
    /// the demo page show its in-band refresh within seconds).
    #[arg(
        long,
        env = "TOLLGATE_LOGIN_TOKEN_SECS",
        value_name = "SECS",
        default_value_t = 300,
        value_parser = clap::value_parser!(u64).range(1..=86_400),
    )]
    pub login_token_secs: u64,
}

impl ServeArgs {
    fn is_dev(&self) -> bool {
        let k = &self.keys;
        k.secret_env.is_none()
            && k.secret_file.is_none()
            && k.key.is_none()
            && k.jwk.is_none()
            && k.jwks.is_none()
            && !k.is_remote()
    }

    fn token_sources(&self) -> Vec<TokenFrom> {
        self.token_from
            .iter()
            .map(|name| match name.as_str() {
                "query" => TokenFrom::query(),
                "subprotocol" => TokenFrom::subprotocol(),
                "cookie" => TokenFrom::cookie("token"),
                _ => TokenFrom::Bearer,
            })
            .collect()
    }
}

/// Shared state of the HTTP routes.
#[derive(Clone)]
struct AppState {
    acceptor: Acceptor,
    sessions: Sessions,
    router: Arc<Router>,
    /// The development secret; `None` outside development mode (no `/login`).
    dev_key: Option<Arc<SigningKey>>,
    /// Lifetime of the tokens `POST /login` issues.
    login_token_secs: u64,
    echo: bool,
}

impl FromRef<AppState> for Acceptor {
    fn from_ref(state: &AppState) -> Self {
        state.acceptor.clone()
    }
}

/// Runs `tollgate serve` until Ctrl-C or SIGTERM; `matches` tell which settings the command
/// line or the environment gave (those win over the `--config` file).
///
/// # Errors
/// A [`UsageError`] for an unusable config file or keys, a port that cannot be bound, or a
/// server failure.
pub fn run(args: &ServeArgs, matches: &ArgMatches) -> Result<Outcome, UsageError> {
    let args = &config::resolve(args, matches)?;
    init_tracing();
    let runtime = tokio::runtime::Runtime::new()
        .map_err(|e| UsageError::context("cannot start the runtime", e))?;
    runtime.block_on(serve(args))?;
    Ok(Outcome {
        stdout: String::new(),
        status: 0,
    })
}

/// Logs to stderr; `RUST_LOG` may name a level (`debug`, `warn`, …), default `info`.
fn init_tracing() {
    let level = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| v.parse::<tracing::Level>().ok())
        .unwrap_or(tracing::Level::INFO);
    // A second initialisation (tests calling `run` twice) is harmless.
    let _ = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .try_init();
}

async fn serve(args: &ServeArgs) -> Result<(), UsageError> {
    let (verifier, dev_key): (Arc<dyn TokenVerifier>, _) = if args.is_dev() {
        let mut secret = vec![0u8; DEV_SECRET_BYTES];
        getrandom::fill(&mut secret).map_err(|e| UsageError::context("no randomness", e))?;
        let secret = base64ct::Base64UrlUnpadded::encode_string(&secret).into_bytes();
        let key = Hs256Secret::new(&secret).map_err(|e| UsageError::context("secret", e))?;
        let mut verifier = StaticVerifier::new(Key::Hs256(key))
            .with_issuers(args.iss.clone())
            .with_audiences(args.aud.clone());
        if let Some(leeway) = args.leeway {
            verifier = verifier.with_leeway(leeway);
        }
        (
            Arc::new(verifier),
            Some(Arc::new(SigningKey::Hs256(secret))),
        )
    } else {
        let mut rules = Rules::new();
        for iss in &args.iss {
            rules = rules.issuer(iss.as_str());
        }
        for aud in &args.aud {
            rules = rules.audience(aud.as_str());
        }
        if let Some(leeway) = args.leeway {
            rules = rules.leeway(leeway);
        }
        let verifier = token_verifier(&args.keys, rules, JwksConfig::default()).await?;
        (verifier, None)
    };

    let mut config = ServerConfig::with_shared_verifier(verifier);
    let sources = args.token_sources();
    if !sources.is_empty() {
        config = config.with_token_sources(sources);
    }
    if let Some(secs) = args.first_message {
        config = config.with_first_message_auth(Duration::from_secs(secs));
    }
    if let Some(bytes) = args.max_message_size {
        config = config.with_max_message_size(bytes);
    }
    if let Some(max) = args.max_connections {
        config = config.with_max_connections(max);
    }
    if let Some(max) = args.max_connections_per_user {
        config = config.with_max_connections_per_user(max);
    }
    if let Some(rate) = args.rate_limit {
        config = config.with_rate_limit(RateLimit::per_second(rate));
    }
    if !args.allowed_origin.is_empty() {
        config = config.with_allowed_origins(args.allowed_origin.clone());
    }
    if dev_key.is_some() {
        // Development mode serves the demo page: page JavaScript sees a 401 only as close
        // 1006, but it does read a close reason, so refused tokens get 101 + close 1008
        // with the stable code (`expired`, `invalid_signature`, …) and the page says why.
        config = config.with_refusal(Refusal::CloseAfterUpgrade);
    }

    let acceptor = Acceptor::new(config);
    let state = AppState {
        acceptor: acceptor.clone(),
        sessions: Sessions::new(),
        router: Arc::new(chat_router()),
        dev_key,
        login_token_secs: args.login_token_secs,
        echo: args.echo,
    };
    let app = axum::Router::new()
        .route("/", get(demo_page))
        .route("/healthz", get(|| async { "ok" }))
        .route("/login", post(login))
        .route("/ws", get(ws))
        .with_state(state.clone());

    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| UsageError::context(format!("cannot listen on {}", args.listen), e))?;
    let local = listener
        .local_addr()
        .map_err(|e| UsageError::context("local address", e))?;
    #[cfg(feature = "tls")]
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        let tls = crate::server::TlsConfig::from_pem_files(cert, key)
            .map_err(|e| UsageError::context("cannot load the TLS certificate or key", e))?;
        print_banner(local, "https", &state)?;
        serve_tls(listener, tls, app, &acceptor).await;
        return Ok(());
    }
    print_banner(local, "http", &state)?;

    let shutdown = acceptor.shutdown_handle();
    // Small WebSocket frames go out at once, not after the client's delayed ACK.
    let listener = listener.tap_io(|tcp| {
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(%error, "cannot set TCP_NODELAY");
        }
    });
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            termination().await;
            tracing::info!("shutting down");
            // Every WebSocket gets 1001 (going away), not only the HTTP side.
            shutdown.shutdown_and_wait(Duration::from_secs(5)).await;
        })
        .await
        .map_err(|e| UsageError::context("server failed", e))?;
    Ok(())
}

/// Serves `app` over TLS until Ctrl-C or SIGTERM (axum's own `serve` speaks plain TCP only).
#[cfg(feature = "tls")]
async fn serve_tls(
    listener: tokio::net::TcpListener,
    tls: crate::server::TlsConfig,
    app: axum::Router,
    acceptor: &Acceptor,
) {
    let shutdown = acceptor.shutdown_handle();
    let stop = termination();
    tokio::pin!(stop);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let tls = tls.acceptor().clone();
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        tokio::spawn(async move {
            let stream = match tls.accept(tcp).await {
                Ok(stream) => stream,
                Err(error) => {
                    tracing::debug!(%peer, %error, "TLS handshake failed");
                    return;
                }
            };
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .with_upgrades();
            if let Err(error) = connection.await {
                tracing::debug!(%peer, %error, "HTTP connection failed");
            }
        });
    }
    tracing::info!("shutting down");
    shutdown.shutdown_and_wait(Duration::from_secs(5)).await;
}

fn print_banner(local: SocketAddr, scheme: &str, state: &AppState) -> Result<(), UsageError> {
    let mode = if state.echo { "echo" } else { "chat" };
    println!("tollgate serve ({mode}) listening on {scheme}://{local}");
    if let Some(SigningKey::Hs256(secret)) = state.dev_key.as_deref() {
        let shown: String = String::from_utf8_lossy(secret).chars().take(4).collect();
        println!("development mode: random HS256 secret {shown}… (POST /login issues tokens)");
        let token = mint(state, "dev", "admin", DEV_TOKEN_SECS)?;
        println!("token (sub dev, role admin, 1 h): {token}");
        let ws = if scheme == "https" { "wss" } else { "ws" };
        println!("demo page: {scheme}://{local}/");
        println!("connect:   {ws}://{local}/ws?token={token}");
    }
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
async fn termination() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Signs an HS256 token with the development secret.
fn mint(state: &AppState, sub: &str, role: &str, secs: u64) -> Result<String, UsageError> {
    let Some(key) = state.dev_key.as_deref() else {
        return Err(UsageError("not in development mode".to_owned()));
    };
    let now = super::now_or(None)?;
    let mut header = Map::new();
    header.insert("alg".into(), "HS256".into());
    header.insert("typ".into(), "JWT".into());
    let mut claims = Map::new();
    claims.insert("sub".into(), sub.into());
    claims.insert("role".into(), role.into());
    claims.insert("iat".into(), now.into());
    claims.insert("exp".into(), (now + secs).into());
    sign_compact(key, &header, &claims)
}

async fn demo_page() -> Html<&'static str> {
    Html(DEMO_PAGE)
}

#[derive(Deserialize)]
struct Login {
    username: String,
    #[serde(default)]
    role: String,
}

async fn login(State(state): State<AppState>, body: axum::body::Bytes) -> Response {
    if state.dev_key.is_none() {
        return StatusCode::NOT_FOUND.into_response();
    }
    let Ok(login) = serde_json::from_slice::<Login>(&body) else {
        return bad_request("expected {\"username\":…,\"role\":…}");
    };
    let username = login.username.trim();
    if username.is_empty() || username.len() > 64 {
        return bad_request("username must be 1 to 64 bytes");
    }
    let role = if login.role.is_empty() {
        "user"
    } else {
        login.role.as_str()
    };
    match mint(&state, username, role, state.login_token_secs) {
        Ok(token) => json_response(
            StatusCode::OK,
            &json!({"token": token, "expires_in": state.login_token_secs}),
        ),
        Err(e) => {
            tracing::error!(error = %e, "cannot sign a token");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

fn bad_request(message: &str) -> Response {
    json_response(StatusCode::BAD_REQUEST, &json!({"error": message}))
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn ws(State(state): State<AppState>, upgrade: WebSocketUpgrade) -> Response {
    if state.echo {
        // Answered inside each connection's task: no handler task, no queues.
        return upgrade.on_upgrade_inline(Echo);
    }
    upgrade.on_upgrade(move |socket| chat(socket, state))
}

async fn chat(mut socket: AuthenticatedSocket, state: AppState) {
    let sessions = state.sessions.clone();
    let registration = sessions.register(socket.handle());
    let identity = socket.identity();
    tracing::info!(user = identity.sub(), "connected");
    let context = ConnectionContext::new(Arc::new(identity.clone()), socket.handle(), ())
        .with_sessions(sessions.clone());
    broadcast_presence(&sessions);
    while let Some(message) = socket.next().await {
        let Ok(message) = message else { break };
        state.router.dispatch_message(&context, &message).await;
    }
    drop(registration);
    tracing::info!(user = identity.sub(), "disconnected");
    broadcast_presence(&sessions);
}

fn broadcast_presence(sessions: &Sessions) {
    let online: Vec<String> = sessions.users().iter().map(|u| u.to_string()).collect();
    sessions.broadcast(event_message("presence", json!({ "online": online })));
}

fn sessions(ctx: &EventContext) -> Result<&Sessions, EventError> {
    ctx.sessions.as_ref().ok_or(EventError::new("unavailable"))
}

fn chat_router() -> Router {
    Router::new()
        .on("chat", |ctx| async move {
            let text: String = ctx.parse_data()?;
            let from = ctx.sub().unwrap_or("anonymous");
            let message = event_message("chat", json!({"from": from, "text": text}));
            Ok(Some(json!(sessions(&ctx)?.broadcast(message))))
        })
        .on_with_roles("kick", KICK_ROLES, |ctx| async move {
            let target: String = ctx.parse_data()?;
            tracing::info!(by = ctx.sub(), %target, "kick");
            Ok(Some(json!(sessions(&ctx)?.kick(&target, "kicked"))))
        })
}
