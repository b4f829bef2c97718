//! An authenticated echo server for interop tests: the upgrade needs an HS256 JWT, then
//! every text and binary message comes back (fragmented messages reassembled).
//!
//! ```text
//! TOLLGATE_SECRET=... cargo run -p tollgate-tokio --example auth-echo -- 127.0.0.1:0 \
//!     [--aud AUD]... [--iss ISS]... [--allowed-origin ORIGIN]... [--refuse-after-upgrade]
//! ```
//!
//! The token is taken from the query parameter `token`, `Authorization: Bearer`, or the
//! subprotocol entry after `tollgate.bearer`. A bad token is refused with 401 and
//! `WWW-Authenticate: Bearer error="invalid_token", error_description="<code>"`; with
//! `--refuse-after-upgrade` the upgrade completes and the server closes with 1008 and
//! the code as the reason instead (what a browser can see). Other refusals: 403 for an
//! origin not on the `--allowed-origin` list, 426 for a version other than 13, 400 for a
//! malformed upgrade. Prints `listening on ws://ADDR` once bound.

mod common;

use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use embedded_io_adapters::tokio_1::FromTokio;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tollgate::jwt::alg::hs256::Hs256Secret;
use tollgate::jwt::{self, JwtError, Key, Validation};
use tollgate::ws::close::CloseCode;
use tollgate::ws::conn::Connection;
use tollgate::ws::handshake::token::DEFAULT_TOKEN_SOURCES;
use tollgate::ws::handshake::{
    EMPTY_HEADER, HandshakeError, Rejection, Request, ServerConfig, Status,
};

/// What the command line asked for; leaked once at startup so that every connection
/// task can borrow it.
struct Settings {
    key: Key,
    validation: Validation<'static>,
    server: ServerConfig<'static>,
    refuse_after_upgrade: bool,
}

fn usage(message: &str) -> ! {
    eprintln!("auth-echo: {message}");
    eprintln!(
        "usage: TOLLGATE_SECRET=... auth-echo ADDR [--aud AUD]... [--iss ISS]... \
         [--allowed-origin ORIGIN]... [--refuse-after-upgrade]"
    );
    std::process::exit(2)
}

fn leak(list: Vec<String>) -> &'static [&'static str] {
    list.into_iter()
        .map(|s| &*s.leak())
        .collect::<Vec<_>>()
        .leak()
}

fn settings() -> (SocketAddr, Settings) {
    let mut args = std::env::args().skip(1);
    let mut addr = None;
    let (mut audiences, mut issuers, mut origins) = (Vec::new(), Vec::new(), Vec::new());
    let mut refuse_after_upgrade = false;
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .unwrap_or_else(|| usage(&format!("{arg} needs a value")))
        };
        match arg.as_str() {
            "--aud" => audiences.push(value()),
            "--iss" => issuers.push(value()),
            "--allowed-origin" => origins.push(value()),
            "--refuse-after-upgrade" => refuse_after_upgrade = true,
            _ if addr.is_none() && !arg.starts_with('-') => {
                addr = Some(
                    arg.parse()
                        .unwrap_or_else(|e| usage(&format!("{arg}: {e}"))),
                );
            }
            _ => usage(&format!("unexpected argument {arg}")),
        }
    }
    let addr = addr.unwrap_or_else(|| usage("missing ADDR"));
    let secret = std::env::var_os("TOLLGATE_SECRET")
        .unwrap_or_else(|| usage("TOLLGATE_SECRET is not set"))
        .into_encoded_bytes();
    let key = Hs256Secret::new(&secret)
        .map(Key::Hs256)
        .unwrap_or_else(|e| usage(&format!("TOLLGATE_SECRET: {e}")));
    let mut validation = Validation::new();
    if !audiences.is_empty() {
        validation = validation.audiences(leak(audiences));
    }
    if !issuers.is_empty() {
        validation = validation.issuers(leak(issuers));
    }
    let mut server = ServerConfig::new()
        .with_max_request_bytes(common::MAX_HEAD)
        .with_token_sources(&DEFAULT_TOKEN_SOURCES);
    if !origins.is_empty() {
        server = server.with_allowed_origins(leak(origins));
    }
    let settings = Settings {
        key,
        validation,
        server,
        refuse_after_upgrade,
    };
    (addr, settings)
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let (addr, settings) = settings();
    let settings: &'static Settings = Box::leak(Box::new(settings));
    let listener = TcpListener::bind(addr).await?;
    println!("listening on ws://{}", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        tokio::spawn(async move {
            if let Err(e) = serve(stream, settings).await {
                eprintln!("connection: {e}");
            }
        });
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Why the upgrade is refused: no usable token, or a token that failed verification.
#[derive(Clone, Copy)]
enum Refusal {
    Handshake(HandshakeError),
    Token(JwtError),
}

impl Refusal {
    /// The stable code the client is told.
    fn code(self) -> &'static str {
        match self {
            Self::Handshake(e) => e.code(),
            Self::Token(e) => e.code(),
        }
    }

    fn rejection(self) -> Rejection {
        match self {
            Self::Handshake(e) => Rejection::from(e),
            Self::Token(e) => Rejection::invalid_token(e.code()),
        }
    }
}

fn check_token(settings: &Settings, request: &Request<'_, '_>, len: usize) -> Result<(), Refusal> {
    let mut decoded = vec![0; len];
    let token = settings
        .server
        .extract_token(request, &mut decoded)
        .map_err(Refusal::Handshake)?;
    let mut scratch = vec![0; token.as_str().len()];
    jwt::verify(
        token.as_str().as_bytes(),
        &settings.key,
        &settings.validation,
        now(),
        &mut scratch,
    )
    .map(drop)
    .map_err(Refusal::Token)
}

async fn serve(mut stream: TcpStream, settings: &Settings) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let server = &settings.server;
    let Some((head, len)) = common::read_request(&mut stream, server).await? else {
        return Ok(());
    };
    let mut headers = [EMPTY_HEADER; common::MAX_HEADERS];
    let Ok(Status::Complete(request)) = server.parse_request(&head[..len], &mut headers) else {
        return Err(std::io::Error::other("request changed between parses"));
    };
    let verdict = check_token(settings, &request, len);
    if let Err(refusal) = verdict
        && !settings.refuse_after_upgrade
    {
        return common::refuse(&mut stream, refusal.rejection()).await;
    }
    let mut response = [0; 512];
    let n = request
        .write_accept(server.select_protocol(&request), &[], &mut response)
        .map_err(std::io::Error::other)?;
    stream.write_all(&response[..n]).await?;

    let mut io = FromTokio::new(stream);
    let mut conn = Connection::server(common::config());
    if let Err(refusal) = verdict {
        conn.close(CloseCode::POLICY_VIOLATION, refusal.code())
            .map_err(std::io::Error::other)?;
        common::flush_control(&mut io, &mut conn).await?;
    }
    let mut input = common::ReadBuf::new(&head[request.head_len()..len]);
    common::echo(&mut io, &mut conn, &mut input, |_| true).await?;
    common::linger(io.inner_mut()).await
}
