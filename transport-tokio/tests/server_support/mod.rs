//! Shared by the `server_*` tests: HS256 tokens minted here, a server on 127.0.0.1:0
//! echoing what it receives, and a client built on the core's client driver over tokio.
#![allow(dead_code, reason = "each test binary uses a different part")]

use std::future::Future;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use embedded_io_adapters::tokio_1::FromTokio;
use futures_util::StreamExt;
use getrandom::SysRng;
use getrandom::rand_core::UnwrapErr;
use serde_json::json;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tollgate::io::{self, Message as WireMessage, Read, WebSocket, Write};
use tollgate::jwt::Key;
use tollgate::jwt::alg::hs256::Hs256Secret;
use tollgate::ws::close::CloseCode;
use tollgate::ws::conn::Config;
use tollgate::ws::handshake::ClientRequest;
use tollgate_tokio::server::{
    AuthenticatedSocket, InlineHandler, Server, ServerConfig, ShutdownHandle, StaticVerifier,
};

/// Every wait in these tests is bounded by this.
pub const STEP: Duration = Duration::from_secs(10);

pub const SECRET: &[u8] = b"server-test-secret-0123456789abcdef";

/// Unix seconds now.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn b64(bytes: &[u8]) -> String {
    let mut out = vec![0_u8; bytes.len() * 2 + 4];
    tollgate::base64url::encode(bytes, &mut out)
        .unwrap()
        .to_owned()
}

/// An HS256 token with these claims, signed with [`SECRET`].
pub fn mint(claims: &serde_json::Value) -> String {
    let header = b64(br#"{"alg":"HS256","typ":"JWT"}"#);
    let input = format!("{header}.{}", b64(claims.to_string().as_bytes()));
    let signature = Hs256Secret::new(SECRET).unwrap().sign(input.as_bytes());
    format!("{input}.{}", b64(&signature))
}

/// A token for `sub` valid for `secs` more seconds.
pub fn token(sub: &str, secs: i64) -> String {
    let exp = now() as i64 + secs;
    mint(&json!({"sub": sub, "exp": exp}))
}

/// A verifier over [`SECRET`] with `leeway` seconds.
pub fn verifier(leeway: u64) -> StaticVerifier {
    StaticVerifier::new(Key::Hs256(Hs256Secret::new(SECRET).unwrap())).with_leeway(leeway)
}

/// The default test configuration: [`verifier`] with leeway 0.
pub fn config() -> ServerConfig {
    ServerConfig::new(verifier(0))
}

/// Echoes every message back; text `whoami` is answered with the current `sub` and
/// `exp`.
pub async fn echo(mut socket: AuthenticatedSocket) -> Result<(), String> {
    while let Some(message) = socket.next().await {
        let message = message.map_err(|e| e.to_string())?;
        let reply = match message.as_text() {
            Some("whoami") => {
                let identity = socket.identity();
                tollgate_tokio::Message::text(format!(
                    "{} {}",
                    identity.sub().unwrap_or("-"),
                    identity.exp().unwrap_or(0)
                ))
            }
            _ => message,
        };
        socket.send(reply).await.map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// A running echo server.
pub struct Running {
    pub addr: SocketAddr,
    pub shutdown: ShutdownHandle,
    pub task: tokio::task::JoinHandle<()>,
}

/// Starts `config` on 127.0.0.1:0 serving [`echo`].
pub async fn serve(config: ServerConfig) -> Running {
    serve_with(config, echo).await
}

/// Starts `config` on 127.0.0.1:0 serving `handler`.
pub async fn serve_with<H, F>(config: ServerConfig, handler: H) -> Running
where
    H: Fn(AuthenticatedSocket) -> F + Send + Sync + 'static,
    F: Future<Output = Result<(), String>> + Send + 'static,
{
    let server = Server::bind("127.0.0.1:0", config).await.unwrap();
    let addr = server.local_addr();
    let shutdown = server.shutdown_handle();
    let task = tokio::spawn(server.serve(handler));
    Running {
        addr,
        shutdown,
        task,
    }
}

/// Starts `config` on 127.0.0.1:0 serving `handler` inline.
pub async fn serve_inline<H: InlineHandler>(config: ServerConfig, handler: H) -> Running {
    let server = Server::bind("127.0.0.1:0", config).await.unwrap();
    let addr = server.local_addr();
    let shutdown = server.shutdown_handle();
    let task = tokio::spawn(server.serve_inline(handler));
    Running {
        addr,
        shutdown,
        task,
    }
}

/// A client connection over any stream.
pub type Client<S> = WebSocket<'static, FromTokio<S>, UnwrapErr<SysRng>>;

/// The client's connection limits: large messages allowed (the server's are tested).
fn client_config() -> Config {
    Config::DEFAULT
        .with_read_buffer_len(usize::MAX)
        .with_max_frame_size(64 << 20)
        .with_max_message_size(64 << 20)
}

/// Opens a WebSocket on `stream` with `request`.
pub async fn connect_on<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    request: &ClientRequest<'_>,
) -> Result<Client<S>, io::Error<std::io::Error>> {
    let read_buf: &'static mut [u8] = Box::leak(vec![0_u8; 1024 * 1024].into_boxed_slice());
    let write_buf: &'static mut [u8] = Box::leak(vec![0_u8; 64 * 1024].into_boxed_slice());
    let upgraded = io::connect(
        FromTokio::new(stream),
        request,
        client_config(),
        UnwrapErr(SysRng),
        read_buf,
        write_buf,
    )
    .await?;
    Ok(upgraded.socket)
}

/// Connects to `addr` over TCP with `request` (its lifetime is the call's).
pub async fn connect(
    addr: SocketAddr,
    request: &ClientRequest<'_>,
) -> Result<Client<TcpStream>, io::Error<std::io::Error>> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    tokio::time::timeout(STEP, connect_on(tcp, request))
        .await
        .expect("handshake timed out")
}

/// Connects with `token` in the query string.
pub async fn connect_query(addr: SocketAddr, token: &str) -> Client<TcpStream> {
    let request = ClientRequest::new("localhost", "/ws").with_query_token("token", token);
    connect(addr, &request).await.expect("upgrade refused")
}

/// What the client saw next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Got {
    Text(String),
    Binary(Vec<u8>),
    /// The server's close code and reason.
    Close(u16, String),
    /// The connection ended without a close frame, or failed.
    Ended(String),
}

/// The next data message or close, skipping pings and pongs; fails the test after
/// [`STEP`].
pub async fn next<S: Read + Write>(client: &mut WebSocket<'_, S, UnwrapErr<SysRng>>) -> Got
where
    S::Error: std::fmt::Debug,
{
    tokio::time::timeout(STEP, async {
        loop {
            match client.recv().await {
                Ok(WireMessage::Text(text)) => return Got::Text(text.to_owned()),
                Ok(WireMessage::Binary(data)) => return Got::Binary(data.to_vec()),
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

/// Sends `text` and expects it back.
pub async fn round_trip<S: Read + Write>(
    client: &mut WebSocket<'_, S, UnwrapErr<SysRng>>,
    text: &str,
) where
    S::Error: std::fmt::Debug,
{
    client.send_text(text).await.unwrap();
    assert_eq!(next(client).await, Got::Text(text.to_owned()));
}

/// Sends raw `request` bytes and reads everything the server answers until it closes.
pub async fn raw_exchange(addr: SocketAddr, request: &str) -> String {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(STEP, tcp.read_to_end(&mut answer))
        .await
        .expect("server did not close")
        .unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

/// A valid upgrade request head with `extra` header lines (each ending in `\r\n`).
pub fn upgrade_request(target: &str, extra: &str) -> String {
    format!(
        "GET {target} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
}
