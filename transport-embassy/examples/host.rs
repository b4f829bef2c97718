//! The embassy server and client on the host: two embassy-net stacks in one process,
//! joined by an in-memory link (no TAP device needed), on the `platform-std` executor.
//!
//! ```text
//! cargo run -p tollgate-embassy --example host
//! ```
//!
//! A device (`192.0.2.2`) connects to the server (`192.0.2.1:80`) with a token valid for
//! 3 s, exchanges a few messages, and is closed with 1008 `expired` when the token runs
//! out; then a forged token is refused with 401. Exits by itself within about 4 s (and
//! fails after 30 s whatever happens).

#[path = "../tests/common/mod.rs"]
mod common;

use std::sync::atomic::{AtomicBool, Ordering};

use common::{SECRET, SERVER_ADDRESS, mint, unix_now};
use embassy_executor::{Executor, Spawner};
use embassy_net::Stack;
use embassy_net::tcp::TcpSocket;
use embassy_time::Timer;
use getrandom::SysRng;
use getrandom::rand_core::UnwrapErr;
use static_cell::StaticCell;
use tollgate::auth::Authenticator;
use tollgate::io::{self, Message, ServerOptions};
use tollgate::jwt::alg::hs256::Hs256Secret;
use tollgate::jwt::{Key, Validation};
use tollgate::ws::handshake::{ClientRequest, ResponseError, ServerConfig};
use tollgate_embassy::{BufferStorage, Client, Clock, Error, Handler, Server, TcpConnection};

/// Per slot: 2 KiB TCP windows, messages up to 2 KiB, 1 KiB answers, tokens up to 1 KiB.
type Slot = BufferStorage<2048, 2048, 2062, 1024, 1024>;

static CLOCK: Clock = Clock::new();
static DONE: AtomicBool = AtomicBool::new(false);

struct Echo;

impl Handler for Echo {
    async fn handle(&self, connection: &mut TcpConnection<'_, '_>) -> Result<(), Error> {
        let subject = connection
            .token()
            .registered()
            .sub()
            .and_then(|s| s.as_str());
        println!(
            "server: {} connected until {:?}",
            subject.unwrap_or("?"),
            connection.deadline()
        );
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
        match result {
            Ok(()) => println!("server: connection closed"),
            Err(error) => println!("server: connection ended: {error}"),
        }
    }
}

#[embassy_executor::task]
async fn server(stack: Stack<'static>) {
    static SLOTS: StaticCell<[Slot; 2]> = StaticCell::new();
    let slots = SLOTS.init_with(|| [Slot::new(), Slot::new()]);
    let key = Key::Hs256(Hs256Secret::new(SECRET).unwrap());
    let auth = Authenticator::new(key, Validation::new().leeway(0));
    let options = ServerOptions::new(ServerConfig::new());
    let server = Server::new(stack, 80, auth, options, &CLOCK);
    server.run(slots.each_mut().map(Slot::buffers), &Echo).await;
}

/// The device: one session until its token expires, then a forged token.
#[embassy_executor::task]
async fn device(stack: Stack<'static>) {
    let (mut tcp_rx, mut tcp_tx) = ([0; 2048], [0; 2048]);
    let (mut read, mut write) = ([0; 2062], [0; 1024]);
    let token = mint(SECRET, "sensor-17", 3);
    let mut tcp = TcpSocket::new(stack, &mut tcp_rx, &mut tcp_tx);
    let client = Client::new(ClientRequest::new("hub.test", "/").with_bearer(&token));
    let rng = UnwrapErr(SysRng);
    let mut socket = client
        .connect(&mut tcp, (SERVER_ADDRESS, 80), rng, &mut read, &mut write)
        .await
        .expect("the server accepts the token")
        .socket;
    for text in ["temperature 21.5", "humidity 40"] {
        socket.send_text(text).await.unwrap();
        if let Ok(Message::Text(echo)) = socket.recv().await {
            println!("device: echo {echo:?}");
        }
    }
    match socket.recv().await {
        Ok(Message::Close(close)) => println!(
            "device: server closed with {:?} {:?} at {}",
            close.code.map(|code| code.as_u16()),
            close.reason,
            unix_now()
        ),
        other => println!("device: unexpected {other:?}"),
    }
    tcp.close();
    let _ = tcp.flush().await;
    drop(tcp);

    let forged = mint(b"not the server's secret, 32 bytes!!", "sensor-17", 60);
    let mut tcp = TcpSocket::new(stack, &mut tcp_rx, &mut tcp_tx);
    let client = Client::new(ClientRequest::new("hub.test", "/").with_bearer(&forged));
    match client
        .connect(
            &mut tcp,
            (SERVER_ADDRESS, 80),
            UnwrapErr(SysRng),
            &mut read,
            &mut write,
        )
        .await
    {
        Err(Error::WebSocket(io::Error::Response(ResponseError::Rejected(rejected)))) => println!(
            "device: forged token refused with {} {:?}",
            rejected.status(),
            rejected.error_description()
        ),
        Err(other) => println!("device: unexpected error {other}"),
        Ok(_) => println!("device: the forged token was accepted!"),
    }
    tcp.close();
    let _ = tcp.flush().await;
    // Time for the server to report the refusal.
    Timer::after_millis(100).await;
    DONE.store(true, Ordering::SeqCst);
}

#[embassy_executor::task]
async fn start(spawner: Spawner) {
    common::set_clock(&CLOCK);
    let (server_stack, device_stack) = common::start(spawner).await;
    spawner.spawn(server(server_stack).unwrap());
    spawner.spawn(device(device_stack).unwrap());
}

fn main() {
    std::thread::spawn(|| {
        std::thread::sleep(std::time::Duration::from_secs(30));
        eprintln!("host example: still running after 30 s");
        std::process::exit(1);
    });
    static EXECUTOR: StaticCell<Executor> = StaticCell::new();
    let executor = EXECUTOR.init(Executor::new());
    executor.run_until(
        |spawner| spawner.spawn(start(spawner).unwrap()),
        || DONE.load(Ordering::SeqCst),
    );
}
