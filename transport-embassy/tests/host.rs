//! Two embassy-net stacks in one process, joined by an in-memory link: embassy servers
//! (`tollgate_embassy::Server`) on one, embassy clients (`tollgate_embassy::Client`) on
//! the other.
//!
//! Task pools are static and an executor runs once per process, so every scenario runs
//! in one executor run, one after the other, on a thread of its own; each test below
//! waits for that run (bounded) and checks its own scenario's outcome.

mod common;

use std::sync::OnceLock;
use std::sync::mpsc;

use common::{SECRET, SERVER_ADDRESS, mint, unix_now};
use embassy_executor::{Executor, Spawner};
use embassy_net::Stack;
use embassy_net::tcp::TcpSocket;
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embassy_sync::channel::Channel;
use embassy_time::{Duration, Instant, with_timeout};
use getrandom::SysRng;
use getrandom::rand_core::UnwrapErr;
use tollgate::auth::{AuthMode, Authenticator};
use tollgate::io::{self, Message, Refusal, ServerOptions};
use tollgate::jwt::alg::hs256::Hs256Secret;
use tollgate::jwt::{Key, Validation};
use tollgate::ws::close::CloseCode;
use tollgate::ws::handshake::{ClientRequest, ResponseError, ServerConfig};
use tollgate_embassy::{
    BufferStorage, Buffers, Client, ClientSocket, Clock, Error, Handler, Server, TcpConnection,
};

/// Every scenario together must finish within this (it takes about 6 s).
const OVERALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(90);

/// One scenario's own bound.
const SCENARIO_TIMEOUT: Duration = Duration::from_secs(15);

/// Handshake mode, 401 refusals, two slots, 1 s handshake timeout.
const HANDSHAKE_PORT: u16 = 8080;
/// First-message mode, one slot, 1 s first-message timeout.
const FIRST_MESSAGE_PORT: u16 = 8081;
/// A clock that is never set.
const UNSET_CLOCK_PORT: u16 = 8082;
/// Refusal after the upgrade (close 1008).
const CLOSE_REFUSAL_PORT: u16 = 8083;

type Slot = BufferStorage<2048, 2048, 2048, 1024, 1024>;
type Rng = UnwrapErr<SysRng>;
type Reports = Channel<CriticalSectionRawMutex, Result<(), Error>, 8>;
type Outcome = Result<(), String>;

static CLOCK: Clock = Clock::new();
static UNSET_CLOCK: Clock = Clock::new();

/// Greets with `hello <sub>`, then echoes; reports how every connection ended.
struct Echo {
    reports: Reports,
}

impl Handler for Echo {
    async fn handle(&self, connection: &mut TcpConnection<'_, '_>) -> Result<(), Error> {
        let sub = connection
            .token()
            .registered()
            .sub()
            .and_then(|s| s.as_str());
        let greeting = format!("hello {}", sub.unwrap_or("?"));
        connection.send_text(&greeting).await?;
        loop {
            let (message, mut sender) = connection.recv_split().await?;
            match message {
                Message::Text(text) => sender.send_text(text).await?,
                Message::Binary(data) => sender.send_binary(data).await?,
                Message::Close(_) => return Ok(()),
                Message::Ping(_) | Message::Pong(_) => {}
            }
        }
    }

    fn ended(&self, result: Result<(), Error>) {
        self.reports.try_send(result).unwrap();
    }
}

static ECHO_HANDSHAKE: Echo = Echo {
    reports: Channel::new(),
};
static ECHO_FIRST_MESSAGE: Echo = Echo {
    reports: Channel::new(),
};
static ECHO_UNSET_CLOCK: Echo = Echo {
    reports: Channel::new(),
};
static ECHO_CLOSE_REFUSAL: Echo = Echo {
    reports: Channel::new(),
};

fn authenticator(mode: AuthMode) -> Authenticator<'static, Key> {
    let key = Key::Hs256(Hs256Secret::new(SECRET).unwrap());
    Authenticator::new(key, Validation::new().leeway(0)).with_mode(mode)
}

fn server(
    stack: Stack<'static>,
    port: u16,
    mode: AuthMode,
    refusal: Refusal,
    clock: &'static Clock,
) -> &'static Server<'static, Key> {
    let options = ServerOptions::new(ServerConfig::new()).with_refusal(refusal);
    let server = Server::new(stack, port, authenticator(mode), options, clock)
        .with_handshake_timeout(Duration::from_secs(1))
        .with_first_message_timeout(Duration::from_secs(1))
        .with_close_timeout(Duration::from_secs(2));
    Box::leak(Box::new(server))
}

#[embassy_executor::task]
async fn run_two(server: &'static Server<'static, Key>, slots: [Buffers<'static>; 2]) {
    server.run(slots, &ECHO_HANDSHAKE).await;
}

#[embassy_executor::task(pool_size = 3)]
async fn serve_slot(
    server: &'static Server<'static, Key>,
    buffers: Buffers<'static>,
    handler: &'static Echo,
) {
    server.serve(buffers, handler).await;
}

fn start_servers(spawner: Spawner, stack: Stack<'static>) {
    let slots: &'static mut [Slot; 5] = Box::leak(Box::new(core::array::from_fn(|_| Slot::new())));
    let [a, b, c, d, e] = slots.each_mut().map(Slot::buffers);
    let handshake = server(
        stack,
        HANDSHAKE_PORT,
        AuthMode::Handshake,
        Refusal::Http,
        &CLOCK,
    );
    spawner.spawn(run_two(handshake, [a, b]).unwrap());
    let first = server(
        stack,
        FIRST_MESSAGE_PORT,
        AuthMode::FirstMessage,
        Refusal::Http,
        &CLOCK,
    );
    spawner.spawn(serve_slot(first, c, &ECHO_FIRST_MESSAGE).unwrap());
    let unset = server(
        stack,
        UNSET_CLOCK_PORT,
        AuthMode::Handshake,
        Refusal::Http,
        &UNSET_CLOCK,
    );
    spawner.spawn(serve_slot(unset, d, &ECHO_UNSET_CLOCK).unwrap());
    let close = server(
        stack,
        CLOSE_REFUSAL_PORT,
        AuthMode::Handshake,
        Refusal::CloseAfterUpgrade,
        &CLOCK,
    );
    spawner.spawn(serve_slot(close, e, &ECHO_CLOSE_REFUSAL).unwrap());
}

/// A client connection's memory.
struct Memory {
    tcp_rx: [u8; 2048],
    tcp_tx: [u8; 2048],
    read: [u8; 2048],
    write: [u8; 1024],
}

impl Memory {
    fn new() -> Box<Self> {
        Box::new(Self {
            tcp_rx: [0; 2048],
            tcp_tx: [0; 2048],
            read: [0; 2048],
            write: [0; 1024],
        })
    }

    fn parts(&mut self, stack: Stack<'static>) -> (TcpSocket<'_>, &mut [u8], &mut [u8]) {
        let socket = TcpSocket::new(stack, &mut self.tcp_rx, &mut self.tcp_tx);
        (socket, &mut self.read, &mut self.write)
    }
}

fn rng() -> Rng {
    UnwrapErr(SysRng)
}

fn check(condition: bool, what: impl FnOnce() -> String) -> Outcome {
    if condition { Ok(()) } else { Err(what()) }
}

/// The next report of a server, within 5 s.
async fn report(handler: &Echo) -> Result<Result<(), Error>, String> {
    with_timeout(Duration::from_secs(5), handler.reports.receive())
        .await
        .map_err(|_| "no server report".to_owned())
}

async fn expect_text(socket: &mut ClientSocket<'_, '_, Rng>, expected: &str) -> Outcome {
    match socket.recv().await {
        Ok(Message::Text(text)) => check(text == expected, || {
            format!("got {text:?}, want {expected:?}")
        }),
        other => Err(format!("want text {expected:?}, got {other:?}")),
    }
}

async fn expect_close(socket: &mut ClientSocket<'_, '_, Rng>, code: u16, reason: &str) -> Outcome {
    loop {
        match socket.recv().await {
            Ok(Message::Close(close)) => {
                return check(
                    close.code.map(CloseCode::as_u16) == Some(code) && close.reason == reason,
                    || format!("closed with {close:?}, want {code} {reason:?}"),
                );
            }
            Ok(Message::Text(text)) if text.contains("\"unauthorized\"") => {}
            other => return Err(format!("want close {code}, got {other:?}")),
        }
    }
}

/// Two connections at once on the two-slot server: greetings, echoes, normal closes.
async fn valid_tokens(stack: Stack<'static>) -> Outcome {
    let (alice_token, bob_token) = (mint(SECRET, "alice", 3600), mint(SECRET, "bob", 3600));
    let (mut alice_memory, mut bob_memory) = (Memory::new(), Memory::new());
    let (mut alice_tcp, read, write) = alice_memory.parts(stack);
    let request = ClientRequest::new("server.test", "/").with_bearer(&alice_token);
    let mut alice = Client::new(request)
        .connect(
            &mut alice_tcp,
            (SERVER_ADDRESS, HANDSHAKE_PORT),
            rng(),
            read,
            write,
        )
        .await
        .map_err(|e| format!("alice: {e:?}"))?
        .socket;
    let (mut bob_tcp, read, write) = bob_memory.parts(stack);
    let request = ClientRequest::new("server.test", "/?x=1").with_query_token("token", &bob_token);
    let mut bob = Client::new(request)
        .connect(
            &mut bob_tcp,
            (SERVER_ADDRESS, HANDSHAKE_PORT),
            rng(),
            read,
            write,
        )
        .await
        .map_err(|e| format!("bob: {e:?}"))?
        .socket;
    expect_text(&mut alice, "hello alice").await?;
    expect_text(&mut bob, "hello bob").await?;
    alice.send_text("one").await.map_err(|e| format!("{e:?}"))?;
    bob.send_binary(&[1, 2, 3])
        .await
        .map_err(|e| format!("{e:?}"))?;
    expect_text(&mut alice, "one").await?;
    match bob.recv().await {
        Ok(Message::Binary(data)) => check(data == [1, 2, 3], || format!("echo {data:?}"))?,
        other => return Err(format!("want binary echo, got {other:?}")),
    }
    let long = "x".repeat(1500);
    alice.send_text(&long).await.map_err(|e| format!("{e:?}"))?;
    expect_text(&mut alice, &long).await?;
    alice
        .close(CloseCode::NORMAL, "bye")
        .await
        .map_err(|e| format!("{e:?}"))?;
    bob.close(CloseCode::NORMAL, "")
        .await
        .map_err(|e| format!("{e:?}"))?;
    for _ in 0..2 {
        let ended = report(&ECHO_HANDSHAKE).await?;
        check(ended.is_ok(), || format!("server: {ended:?}"))?;
    }
    Ok(())
}

/// The HTTP refusal a client sees for `token` on `port`.
async fn refusal_status(
    stack: Stack<'static>,
    port: u16,
    token: &str,
) -> Result<(u16, String), String> {
    let mut memory = Memory::new();
    let (mut tcp, read, write) = memory.parts(stack);
    let request = ClientRequest::new("server.test", "/").with_bearer(token);
    let refusal = match Client::new(request)
        .connect(&mut tcp, (SERVER_ADDRESS, port), rng(), read, write)
        .await
    {
        Err(Error::WebSocket(io::Error::Response(ResponseError::Rejected(rejected)))) => Ok((
            rejected.status(),
            rejected.error_description().unwrap_or_default().to_owned(),
        )),
        Err(other) => Err(format!("want a refusal, got {other:?}")),
        Ok(_) => Err("upgraded".to_owned()),
    };
    // As a polite client does: the server's flush of its refusal waits for our ACK.
    tcp.close();
    let _ = tcp.flush().await;
    refusal
}

async fn bad_signature(stack: Stack<'static>) -> Outcome {
    let token = mint(b"another secret, also 32 bytes long!", "mallory", 3600);
    let (status, description) = refusal_status(stack, HANDSHAKE_PORT, &token).await?;
    check(status == 401 && description == "invalid_signature", || {
        format!("{status} {description}")
    })?;
    let ended = report(&ECHO_HANDSHAKE).await?;
    check(ended.is_err_and(|e| e.is_refused()), || {
        format!("server: {ended:?}")
    })
}

async fn expired_at_handshake(stack: Stack<'static>) -> Outcome {
    let token = mint(SECRET, "alice", -10);
    let (status, description) = refusal_status(stack, HANDSHAKE_PORT, &token).await?;
    check(status == 401 && description == "expired", || {
        format!("{status} {description}")
    })?;
    let ended = report(&ECHO_HANDSHAKE).await?;
    check(ended.is_err_and(|e| e.is_refused()), || {
        format!("server: {ended:?}")
    })
}

async fn unset_clock(stack: Stack<'static>) -> Outcome {
    let token = mint(SECRET, "alice", 3600);
    let (status, _) = refusal_status(stack, UNSET_CLOCK_PORT, &token).await?;
    check(status == 503, || format!("status {status}"))?;
    let ended = report(&ECHO_UNSET_CLOCK).await?;
    check(ended == Err(Error::ClockNotSet), || {
        format!("server: {ended:?}")
    })
}

async fn refused_after_upgrade(stack: Stack<'static>) -> Outcome {
    let token = mint(b"another secret, also 32 bytes long!", "mallory", 3600);
    let mut memory = Memory::new();
    let (mut tcp, read, write) = memory.parts(stack);
    let request = ClientRequest::new("server.test", "/").with_bearer(&token);
    let mut socket = Client::new(request)
        .connect(
            &mut tcp,
            (SERVER_ADDRESS, CLOSE_REFUSAL_PORT),
            rng(),
            read,
            write,
        )
        .await
        .map_err(|e| format!("{e:?}"))?
        .socket;
    expect_close(&mut socket, 1008, "invalid_signature").await?;
    let ended = report(&ECHO_CLOSE_REFUSAL).await?;
    check(ended.is_err_and(|e| e.is_refused()), || {
        format!("server: {ended:?}")
    })
}

/// A token-less upgrade on the first-message server, then `first` as first message.
async fn first_message(stack: Stack<'static>, first: Option<&str>, then: &str) -> Outcome {
    let mut memory = Memory::new();
    let (mut tcp, read, write) = memory.parts(stack);
    let request = ClientRequest::new("server.test", "/");
    let mut socket = Client::new(request)
        .connect(
            &mut tcp,
            (SERVER_ADDRESS, FIRST_MESSAGE_PORT),
            rng(),
            read,
            write,
        )
        .await
        .map_err(|e| format!("{e:?}"))?
        .socket;
    if let Some(first) = first {
        socket
            .send_text(first)
            .await
            .map_err(|e| format!("{e:?}"))?;
    }
    match then {
        "authenticated" => {
            expect_text(&mut socket, r#"{"type":"authenticated"}"#).await?;
            expect_text(&mut socket, "hello carol").await?;
            socket
                .send_text("two")
                .await
                .map_err(|e| format!("{e:?}"))?;
            expect_text(&mut socket, "two").await?;
            socket
                .close(CloseCode::NORMAL, "")
                .await
                .map_err(|e| format!("{e:?}"))?;
        }
        reason => expect_close(&mut socket, 1008, reason).await?,
    }
    Ok(())
}

async fn first_message_valid(stack: Stack<'static>) -> Outcome {
    let message = format!(
        r#"{{"type":"authenticate","token":"{}"}}"#,
        mint(SECRET, "carol", 3600)
    );
    first_message(stack, Some(&message), "authenticated").await?;
    let ended = report(&ECHO_FIRST_MESSAGE).await?;
    check(ended.is_ok(), || format!("server: {ended:?}"))
}

async fn first_message_bad(stack: Stack<'static>) -> Outcome {
    let token = mint(b"another secret, also 32 bytes long!", "mallory", 3600);
    let message = format!(r#"{{"type":"authenticate","token":"{token}"}}"#);
    first_message(stack, Some(&message), "invalid_signature").await?;
    let ended = report(&ECHO_FIRST_MESSAGE).await?;
    check(ended.is_err_and(|e| e.is_refused()), || {
        format!("server: {ended:?}")
    })
}

async fn first_message_timeout(stack: Stack<'static>) -> Outcome {
    first_message(stack, None, "auth_timeout").await?;
    let ended = report(&ECHO_FIRST_MESSAGE).await?;
    check(ended == Err(Error::FirstMessageTimeout), || {
        format!("server: {ended:?}")
    })
}

async fn handshake_timeout(stack: Stack<'static>) -> Outcome {
    let mut memory = Memory::new();
    let (mut tcp, _, _) = memory.parts(stack);
    tcp.connect((SERVER_ADDRESS, HANDSHAKE_PORT))
        .await
        .map_err(|e| format!("{e:?}"))?;
    let ended = report(&ECHO_HANDSHAKE).await?;
    check(ended == Err(Error::HandshakeTimeout), || {
        format!("server: {ended:?}")
    })
}

/// A token valid for 2 s (leeway 0): the server closes 1008 `expired` at its `exp`.
async fn expiry(stack: Stack<'static>) -> Outcome {
    let token = mint(SECRET, "dave", 2);
    let exp = unix_now() + 2;
    let mut memory = Memory::new();
    let (mut tcp, read, write) = memory.parts(stack);
    let request = ClientRequest::new("server.test", "/").with_bearer(&token);
    let mut socket = Client::new(request)
        .connect(
            &mut tcp,
            (SERVER_ADDRESS, HANDSHAKE_PORT),
            rng(),
            read,
            write,
        )
        .await
        .map_err(|e| format!("{e:?}"))?
        .socket;
    expect_text(&mut socket, "hello dave").await?;
    let started = Instant::now();
    expect_close(&mut socket, 1008, "expired").await?;
    let now = unix_now();
    check(now >= exp && now <= exp + 1, || {
        format!(
            "closed at {now}, token expired at {exp} (waited {} ms)",
            started.elapsed().as_millis()
        )
    })?;
    let ended = report(&ECHO_HANDSHAKE).await?;
    check(ended == Err(Error::Expired), || {
        format!("server: {ended:?}")
    })
}

#[embassy_executor::task]
async fn scenarios(spawner: Spawner, done: mpsc::Sender<Vec<(&'static str, Outcome)>>) {
    common::set_clock(&CLOCK);
    let (server_stack, client_stack) = common::start(spawner).await;
    start_servers(spawner, server_stack);
    let mut outcomes = Vec::new();
    macro_rules! run {
        ($name:ident) => {
            let outcome = with_timeout(SCENARIO_TIMEOUT, $name(client_stack))
                .await
                .unwrap_or_else(|_| Err("scenario timed out".to_owned()));
            outcomes.push((stringify!($name), outcome));
        };
    }
    run!(valid_tokens);
    run!(bad_signature);
    run!(expired_at_handshake);
    run!(unset_clock);
    run!(refused_after_upgrade);
    run!(first_message_valid);
    run!(first_message_bad);
    run!(first_message_timeout);
    run!(handshake_timeout);
    run!(expiry);
    done.send(outcomes).unwrap();
}

fn outcome(name: &str) {
    static OUTCOMES: OnceLock<Vec<(&'static str, Outcome)>> = OnceLock::new();
    let outcomes = OUTCOMES.get_or_init(|| {
        let (done, finished) = mpsc::channel();
        std::thread::spawn(move || {
            let executor: &'static mut Executor = Box::leak(Box::new(Executor::new()));
            executor.run(|spawner| spawner.spawn(scenarios(spawner, done).unwrap()));
        });
        finished
            .recv_timeout(OVERALL_TIMEOUT)
            .expect("the scenarios finish in time")
    });
    let (_, outcome) = outcomes
        .iter()
        .find(|(scenario, _)| *scenario == name)
        .expect("the scenario ran");
    if let Err(message) = outcome {
        panic!("{name}: {message}");
    }
}

#[test]
fn valid_tokens_are_accepted_and_messages_flow_both_ways_on_two_slots() {
    outcome("valid_tokens");
}

#[test]
fn bad_signature_is_refused_with_401_invalid_signature() {
    outcome("bad_signature");
}

#[test]
fn expired_token_is_refused_with_401_expired() {
    outcome("expired_at_handshake");
}

#[test]
fn unset_clock_refuses_with_503_and_clock_not_set() {
    outcome("unset_clock");
}

#[test]
fn refusal_after_upgrade_closes_1008_with_the_code() {
    outcome("refused_after_upgrade");
}

#[test]
fn first_message_authenticates_a_tokenless_upgrade() {
    outcome("first_message_valid");
}

#[test]
fn bad_first_message_token_is_answered_unauthorized_and_closed_1008() {
    outcome("first_message_bad");
}

#[test]
fn missing_first_message_closes_1008_auth_timeout() {
    outcome("first_message_timeout");
}

#[test]
fn silent_client_hits_the_handshake_timeout() {
    outcome("handshake_timeout");
}

#[test]
fn connection_closes_1008_expired_when_the_token_expires() {
    outcome("expiry");
}
