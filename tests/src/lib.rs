//! Support for tollgate's cross-crate and real-client tests (the files in `tests/tests/`).
//!
//! - [`mint`] and [`token`]: HS256 tokens signed with [`SECRET`], verified by [`verifier`].
//! - [`serve`]: a `tollgate-tokio` server on 127.0.0.1:0 running [`App`], which registers
//!   every connection in a [`Sessions`] registry, dispatches JSON events through a
//!   role-guarded [`Router`] and echoes everything else.
//! - [`Peer`] and [`run_client`]: the scripted clients of `tests/ws-interop/` (Python
//!   `websockets` and Node `ws`, installed by `scripts/install-test-deps.sh`), driven by a
//!   JSON spec and answering with one JSON object.
//! - [`RustClient`]: the core's client driver over tokio, for load tests.
//!
//! Every wait is bounded; everything listens on loopback only.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use embedded_io_adapters::tokio_1::FromTokio;
use futures_util::StreamExt;
use getrandom::SysRng;
use getrandom::rand_core::UnwrapErr;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tollgate::io::{self, Message as WireMessage, WebSocket};
use tollgate::jwt::Key;
use tollgate::jwt::alg::hs256::Hs256Secret;
use tollgate::ws::close::CloseCode;
use tollgate::ws::conn::Config;
use tollgate::ws::handshake::ClientRequest;
use tollgate_tokio::router::{EventError, event_message};
use tollgate_tokio::server::{
    Acceptor, AuthenticatedSocket, Server, ServerConfig, ShutdownHandle, StaticVerifier,
};
use tollgate_tokio::{ConnectionContext, Message, Router, Sessions};

/// Every single wait of the Rust side of a test is bounded by this.
pub const STEP: Duration = Duration::from_secs(15);

/// The HS256 secret of every test token.
pub const SECRET: &[u8] = b"tollgate-tests-secret-0123456789abcdef";

/// Unix seconds now.
#[must_use]
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn b64(bytes: &[u8]) -> String {
    let mut out = vec![0_u8; bytes.len() * 2 + 4];
    tollgate::base64url::encode(bytes, &mut out)
        .map(str::to_owned)
        .unwrap_or_default()
}

/// An HS256 token over `claims`, signed with `secret`.
///
/// # Panics
/// When `secret` is not a usable HS256 key.
#[must_use]
pub fn mint_with(secret: &[u8], claims: &Value) -> String {
    let header = b64(br#"{"alg":"HS256","typ":"JWT"}"#);
    let input = format!("{header}.{}", b64(claims.to_string().as_bytes()));
    let key = Hs256Secret::new(secret).expect("test secret");
    format!("{input}.{}", b64(&key.sign(input.as_bytes())))
}

/// An HS256 token over `claims`, signed with [`SECRET`].
#[must_use]
pub fn mint(claims: &Value) -> String {
    mint_with(SECRET, claims)
}

/// A token for `sub` that expires `secs` from now (negative: already expired).
#[must_use]
pub fn token(sub: &str, secs: i64) -> String {
    mint(&json!({"sub": sub, "exp": now() as i64 + secs}))
}

/// A token for `sub` with role claim `role`, valid for a minute.
#[must_use]
pub fn token_with_role(sub: &str, role: &str) -> String {
    mint(&json!({"sub": sub, "role": role, "exp": now() + 60}))
}

/// A verifier over [`SECRET`] with no leeway, so expiry tests can use tokens that live a
/// few seconds.
///
/// # Panics
/// Never: the secret is valid.
#[must_use]
pub fn verifier() -> StaticVerifier {
    let key = Key::Hs256(Hs256Secret::new(SECRET).expect("test secret"));
    StaticVerifier::new(key).with_leeway(0)
}

/// The test server's event router: `whisper` (send to every connection of a user),
/// `join` and `say` (rooms), and `kick`, allowed to `admin`s only.
#[must_use]
pub fn router() -> Router {
    Router::new()
        .on("whisper", |ctx| async move {
            let to: String = ctx.data["to"].as_str().unwrap_or_default().to_owned();
            let text = ctx.data["text"].clone();
            let sessions = ctx.sessions.clone().ok_or(EventError::new("no_sessions"))?;
            let from = ctx.sub().unwrap_or("-").to_owned();
            let reached = sessions.send_to_user(
                &to,
                event_message("whisper", json!({"from": from, "text": text})),
            );
            Ok(Some(json!(reached)))
        })
        .on("join", |ctx| async move {
            let room: String = ctx.parse_data()?;
            let sessions = ctx.sessions.clone().ok_or(EventError::new("no_sessions"))?;
            Ok(Some(json!(sessions.join(&room, ctx.handle.id()))))
        })
        .on("say", |ctx| async move {
            let room = ctx.data["room"].as_str().unwrap_or_default().to_owned();
            let sessions = ctx.sessions.clone().ok_or(EventError::new("no_sessions"))?;
            let message = event_message("said", ctx.data.clone());
            Ok(Some(json!(sessions.broadcast_to_room(&room, message))))
        })
        .on_with_roles("kick", &["admin"], |ctx| async move {
            let sub: String = ctx.parse_data()?;
            let sessions = ctx.sessions.clone().ok_or(EventError::new("no_sessions"))?;
            Ok(Some(json!(sessions.kick(&sub, "kicked"))))
        })
}

/// The test application: every connection is registered in `sessions`; a text message
/// that is a JSON object with an `event` goes to `router`; `whoami` is answered with
/// `<sub> <exp>`; everything else is echoed.
#[derive(Clone, Default)]
pub struct App {
    /// The registry every connection joins.
    pub sessions: Sessions,
    /// The router events go to.
    pub router: Router,
}

impl App {
    /// An application with a fresh registry and [`router`].
    #[must_use]
    pub fn new() -> Self {
        Self {
            sessions: Sessions::new(),
            router: router(),
        }
    }

    /// Serves one connection until it ends.
    ///
    /// # Errors
    /// The reason the connection ended, when it did not end with a close handshake.
    pub async fn handle(self, mut socket: AuthenticatedSocket) -> Result<(), String> {
        let registration = self.sessions.register(socket.handle());
        let context = ConnectionContext::new(Arc::new(socket.identity()), socket.handle(), ())
            .with_sessions(self.sessions.clone());
        while let Some(message) = socket.next().await {
            let message = message.map_err(|e| e.to_string())?;
            let text = message.as_text().unwrap_or_default();
            if text.starts_with('{') && text.contains("\"event\"") {
                self.router.dispatch_message(&context, &message).await;
                continue;
            }
            let reply = if text == "whoami" {
                let identity = socket.identity();
                Message::text(format!(
                    "{} {}",
                    identity.sub().unwrap_or("-"),
                    identity.exp().unwrap_or(0)
                ))
            } else {
                message
            };
            socket.send(reply).await.map_err(|e| e.to_string())?;
        }
        drop(registration);
        Ok(())
    }
}

/// A server running [`App`] on 127.0.0.1:0.
pub struct Running {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The application (its sessions registry).
    pub app: App,
    /// The server's acceptor (open connection count).
    pub acceptor: Acceptor,
    /// Stops it.
    pub shutdown: ShutdownHandle,
}

impl Running {
    /// `ws://127.0.0.1:<port>/ws`.
    #[must_use]
    pub fn url(&self) -> String {
        format!("ws://127.0.0.1:{}/ws", self.addr.port())
    }

    /// Waits until `condition` holds on the registry, or fails after [`STEP`].
    ///
    /// # Panics
    /// When the condition does not hold in time.
    pub async fn wait_for(&self, what: &str, condition: impl Fn(&Sessions) -> bool) {
        let deadline = tokio::time::Instant::now() + STEP;
        while !condition(&self.app.sessions) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.shutdown.shutdown();
    }
}

/// Starts `server` running [`App`].
#[must_use]
pub fn start(server: Server) -> Running {
    let app = App::new();
    let running = Running {
        addr: server.local_addr(),
        app: app.clone(),
        acceptor: server.acceptor().clone(),
        shutdown: server.shutdown_handle(),
    };
    tokio::spawn(server.serve(move |socket| app.clone().handle(socket)));
    running
}

/// Binds `config` on 127.0.0.1:0 and starts [`App`] on it.
///
/// # Panics
/// When no loopback port can be bound.
pub async fn serve(config: ServerConfig) -> Running {
    let server = Server::bind("127.0.0.1:0", config)
        .await
        .expect("bind 127.0.0.1:0");
    start(server)
}

/// A scripted WebSocket client of `tests/ws-interop/`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Peer {
    /// `steps.py`, Python `websockets`.
    Python,
    /// `steps.mjs`, Node `ws`.
    Node,
}

/// The repository root.
#[must_use]
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn python() -> String {
    std::env::var("TOLLGATE_PYTHON")
        .unwrap_or_else(|_| repo().join(".venv/bin/python").display().to_string())
}

fn node() -> String {
    std::env::var("TOLLGATE_NODE").unwrap_or_else(|_| "node".into())
}

impl Peer {
    /// Why this client cannot run here, if it cannot.
    #[must_use]
    pub fn problem(self) -> Option<String> {
        let probe = match self {
            Self::Python => std::process::Command::new(python())
                .args(["-c", "import websockets"])
                .output(),
            Self::Node => {
                let module = repo().join("tests/js/node_modules/ws");
                if !module.is_dir() {
                    return Some(format!("{} is missing", module.display()));
                }
                std::process::Command::new(node()).arg("--version").output()
            }
        };
        match probe {
            Ok(out) if out.status.success() => None,
            Ok(out) => Some(String::from_utf8_lossy(&out.stderr).trim().to_owned()),
            Err(e) => Some(format!("cannot start {self:?}: {e}")),
        }
    }
}

/// The clients that can run here. A missing one is skipped with a note, or fails the
/// test under `CI=true`.
///
/// # Panics
/// Under `CI=true`, when a client is missing.
#[must_use]
pub fn peers() -> Vec<Peer> {
    [Peer::Python, Peer::Node]
        .into_iter()
        .filter(|&peer| match peer.problem() {
            None => true,
            Some(problem) if std::env::var("CI").as_deref() == Ok("true") => {
                panic!("{peer:?} client unavailable under CI=true: {problem}")
            }
            Some(problem) => {
                eprintln!(
                    "skipping the {peer:?} client ({problem}); run scripts/install-test-deps.sh"
                );
                false
            }
        })
        .collect()
}

/// Runs `peer` with `spec` (see `tests/ws-interop/steps.py`) and returns what it printed.
/// The client is killed after its own `timeout` (default 20 s) plus five seconds.
///
/// # Panics
/// When the client cannot start, hangs, or prints no JSON.
pub async fn run_client(peer: Peer, spec: &Value) -> Value {
    let mut command = match peer {
        Peer::Python => {
            let mut command = tokio::process::Command::new(python());
            command.arg(repo().join("tests/ws-interop/steps.py"));
            command
        }
        Peer::Node => {
            let mut command = tokio::process::Command::new(node());
            command.arg(repo().join("tests/ws-interop/steps.mjs"));
            command
        }
    };
    command
        .arg(spec.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let limit = Duration::from_secs(spec["timeout"].as_u64().unwrap_or(20) + 5);
    let out = tokio::time::timeout(limit, command.output())
        .await
        .unwrap_or_else(|_| panic!("{peer:?} client hung: {spec}"))
        .unwrap_or_else(|e| panic!("cannot start the {peer:?} client: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.trim()).unwrap_or_else(|_| {
        panic!(
            "{peer:?} client printed no JSON\nstdout: {stdout}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// Runs `spec` on every available client at once; returns each client's output.
pub async fn run_all(spec: &Value) -> Vec<(Peer, Value)> {
    let runs = peers().into_iter().map(|peer| async move {
        let out = run_client(peer, spec).await;
        let shown: String = out.to_string().chars().take(400).collect();
        eprintln!("{peer:?}: {shown}");
        (peer, out)
    });
    futures_util::future::join_all(runs).await
}

/// A client connection of the core's driver over tokio.
pub type RustClient = WebSocket<'static, FromTokio<TcpStream>, UnwrapErr<SysRng>>;

/// Opens a WebSocket to `addr` with `token` in the query, using the core's client driver
/// with small buffers (a few KiB per connection: load tests open thousands). The
/// buffers are leaked for the life of the test process.
///
/// # Errors
/// When the connection or the upgrade fails.
pub async fn rust_client(
    addr: SocketAddr,
    token: &str,
) -> Result<RustClient, io::Error<std::io::Error>> {
    let tcp = TcpStream::connect(addr).await.map_err(io::Error::Io)?;
    let read_buf: &'static mut [u8] = Box::leak(vec![0_u8; 4096].into_boxed_slice());
    let write_buf: &'static mut [u8] = Box::leak(vec![0_u8; 2048].into_boxed_slice());
    let request = ClientRequest::new("localhost", "/ws").with_query_token("token", token);
    let config = Config::DEFAULT.with_read_buffer_len(usize::MAX);
    let upgraded = io::connect(
        FromTokio::new(tcp),
        &request,
        config,
        UnwrapErr(SysRng),
        read_buf,
        write_buf,
    )
    .await?;
    Ok(upgraded.socket)
}

/// What a [`RustClient`] saw next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Got {
    /// A text message.
    Text(String),
    /// A binary message, by length.
    Binary(usize),
    /// The server's close code and reason.
    Close(u16, String),
    /// The connection failed or ended without a close frame.
    Ended(String),
}

/// The next data message or close, skipping pings and pongs.
///
/// # Panics
/// When nothing arrives within [`STEP`].
pub async fn next(client: &mut RustClient) -> Got {
    tokio::time::timeout(STEP, async {
        loop {
            match client.recv().await {
                Ok(WireMessage::Text(text)) => return Got::Text(text.to_owned()),
                Ok(WireMessage::Binary(data)) => return Got::Binary(data.len()),
                Ok(WireMessage::Close(frame)) => {
                    let code = frame.code.map_or(1005, CloseCode::as_u16);
                    return Got::Close(code, frame.reason.to_owned());
                }
                Ok(WireMessage::Ping(_) | WireMessage::Pong(_)) => {}
                Err(error) => return Got::Ended(format!("{error:?}")),
            }
        }
    })
    .await
    .expect("nothing arrived in time")
}
