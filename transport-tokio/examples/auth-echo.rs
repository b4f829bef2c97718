//! An authenticated echo server for interop tests: the upgrade needs an HS256 JWT, then
//! every text and binary message comes back (fragmented messages reassembled) until the
//! token expires. It runs the core driver (`tollgate::io::accept_authenticated`) over
//! tokio TCP.
//!
//! ```text
//! TOLLGATE_SECRET=... cargo run -p tollgate-tokio --example auth-echo -- 127.0.0.1:0 \
//!     [--aud AUD]... [--iss ISS]... [--leeway SECS] [--allowed-origin ORIGIN]...
//!     [--refuse-after-upgrade]
//! ```
//!
//! The token is taken from the query parameter `token`, `Authorization: Bearer`, or the
//! subprotocol entry after `tollgate.bearer`. A bad token is refused with 401 and
//! `WWW-Authenticate: Bearer error="invalid_token", error_description="<code>"`; with
//! `--refuse-after-upgrade` the upgrade completes and the server closes with 1008 and
//! the code as reason instead (what a browser can see). Other refusals: 403 for an
//! origin not on the `--allowed-origin` list, 426 for a version other than 13, 400 for a
//! malformed upgrade. A connection whose token expires is closed with 1008 `expired`.
//! Prints `listening on ws://ADDR` once bound.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use embedded_io_adapters::tokio_1::FromTokio;
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;
use tollgate::auth::{AuthError, Authenticator};
use tollgate::io::{self, Authenticated, Refusal, ServerOptions};
use tollgate::jwt::alg::hs256::Hs256Secret;
use tollgate::jwt::{Key, Validation};
use tollgate::ws::handshake::ServerConfig;

use common::End;

/// What the command line asked for; leaked once at startup so that every connection
/// task can borrow it.
struct Settings {
    auth: Authenticator<'static, Key>,
    options: ServerOptions<'static>,
}

fn usage(message: &str) -> ! {
    eprintln!("auth-echo: {message}");
    eprintln!(
        "usage: TOLLGATE_SECRET=... auth-echo ADDR [--aud AUD]... [--iss ISS]... \
         [--leeway SECS] [--allowed-origin ORIGIN]... [--refuse-after-upgrade]"
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
    let mut refusal = Refusal::Http;
    let mut leeway = None;
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .unwrap_or_else(|| usage(&format!("{arg} needs a value")))
        };
        match arg.as_str() {
            "--aud" => audiences.push(value()),
            "--iss" => issuers.push(value()),
            "--allowed-origin" => origins.push(value()),
            "--leeway" => {
                let secs = value();
                leeway = Some(
                    secs.parse()
                        .unwrap_or_else(|e| usage(&format!("{secs}: {e}"))),
                );
            }
            "--refuse-after-upgrade" => refusal = Refusal::CloseAfterUpgrade,
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
    if let Some(secs) = leeway {
        validation = validation.leeway(secs);
    }
    if !audiences.is_empty() {
        validation = validation.audiences(leak(audiences));
    }
    if !issuers.is_empty() {
        validation = validation.issuers(leak(issuers));
    }
    let mut handshake = ServerConfig::new();
    if !origins.is_empty() {
        handshake = handshake.with_allowed_origins(leak(origins));
    }
    let options = ServerOptions::new(handshake)
        .with_connection(common::config())
        .with_refusal(refusal);
    let auth = Authenticator::new(key, validation);
    (addr, Settings { auth, options })
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let (addr, settings) = settings();
    let settings: &'static Settings = Box::leak(Box::new(settings));
    let listener = TcpListener::bind(addr).await?;
    println!("listening on ws://{}", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        tokio::spawn(serve(stream, settings));
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// One connection: authenticated upgrade, echo until close or expiry. Failures end the
/// connection and nothing else (refusals were already answered by the driver).
async fn serve(stream: TcpStream, settings: &Settings) {
    let _ = stream.set_nodelay(true);
    let mut stream = FromTokio::new(stream);
    let mut read_buf = vec![0; common::READ_BUFFER_LEN];
    let mut write_buf = vec![0; common::WRITE_BUFFER_LEN];
    let mut scratch = vec![0; common::READ_BUFFER_LEN];
    let accepted = io::accept_authenticated(
        &mut stream,
        &settings.options,
        &settings.auth,
        now(),
        &mut read_buf,
        &mut write_buf,
        &mut scratch,
    )
    .await;
    match accepted {
        Ok(Authenticated::Verified(mut session)) => {
            let deadline = settings.auth.deadline(&session.token).map(|deadline| {
                Instant::now() + Duration::from_secs(deadline.saturating_sub(now()))
            });
            match common::echo(&mut session.socket, deadline, |_| true).await {
                Ok(End::Deadline) => {
                    let _ = session.socket.close_with(AuthError::EXPIRED).await;
                }
                Ok(_) => {}
                Err(e) => eprintln!("connection: {e}"),
            }
        }
        // Only `AuthMode::FirstMessage` leaves the token to the first message.
        Ok(Authenticated::AwaitingFirstMessage { .. }) => {}
        Err(e) => eprintln!("refused: {e}"),
    }
    common::linger(stream.inner_mut()).await;
}
