//! An authenticated WebSocket echo server on a NUCLEO-F767ZI.
//!
//! - Ethernet: the on-chip MAC with the board's RMII PHY, address by DHCP.
//! - Clock: SNTP against the DHCP gateway (most routers answer; set `NTP_SERVER` otherwise),
//!   repeated hourly. Until the first answer the server refuses upgrades with 503: tokens
//!   cannot be checked without the date.
//! - Server: port 80, two concurrent connections, HS256 tokens from the query parameter
//!   `token`, `Authorization: Bearer` or the `tollgate.bearer` subprotocol; a connection is
//!   closed with 1008 `expired` when its token expires.
//!
//! Memory per connection slot: 4.5 KiB of buffers (see `Slot`), in `static`s.
#![no_std]
#![no_main]

use defmt::{info, warn};
use embassy_executor::Spawner;
use embassy_net::udp::{PacketMetadata, UdpSocket};
use embassy_net::{Ipv4Address, Runner, Stack, StackResources};
use embassy_stm32::eth::{self, Ethernet, GenericPhy, PacketQueue, Sma};
use embassy_stm32::peripherals::{ETH, ETH_SMA, RNG};
use embassy_stm32::rng::{self, Rng};
use embassy_stm32::time::Hertz;
use embassy_stm32::{Config, bind_interrupts};
use embassy_time::{Duration, Instant, Timer, with_timeout};
use static_cell::{ConstStaticCell, StaticCell};
use tollgate::auth::Authenticator;
use tollgate::io::{Message, ServerOptions};
use tollgate::jwt::alg::hs256::Hs256Secret;
use tollgate::jwt::{Key, Validation};
use tollgate::ws::handshake::ServerConfig;
use tollgate_embassy::{BufferStorage, Clock, Error, Handler, Server, TcpConnection};
use {defmt_rtt as _, panic_probe as _};

bind_interrupts!(struct Irqs {
    ETH => eth::InterruptHandler;
    RNG => rng::InterruptHandler<RNG>;
});

type Device = Ethernet<'static, ETH, GenericPhy<Sma<'static, ETH_SMA>>>;

/// The HS256 secret shared with the token issuer. Replace it (and keep it out of the
/// repository) on a real device.
const SECRET: &[u8] = b"example secret: replace with 32+ random bytes";

/// The SNTP server; `None` asks the DHCP gateway.
const NTP_SERVER: Option<Ipv4Address> = None;

/// Seconds between 1900-01-01 (NTP era 0) and 1970-01-01.
const NTP_UNIX_OFFSET: u64 = 2_208_988_800;

/// TCP windows 1 KiB each, messages up to 1 KiB (+ 14 header bytes), 512-byte answers
/// (every refusal fits), tokens up to 1 KiB: 4622 bytes.
type Slot = BufferStorage<1024, 1024, 1038, 512, 1024>;

static CLOCK: Clock = Clock::new();
static SLOTS: ConstStaticCell<[Slot; 2]> = ConstStaticCell::new([Slot::new(), Slot::new()]);

struct Echo;

impl Handler for Echo {
    async fn handle(&self, connection: &mut TcpConnection<'_, '_>) -> Result<(), Error> {
        let subject = connection
            .token()
            .registered()
            .sub()
            .and_then(|s| s.as_str());
        info!("connected: {}", subject);
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
            Ok(()) => info!("connection closed"),
            Err(error) => warn!("connection ended: {}", error),
        }
    }
}

#[embassy_executor::task]
async fn net_task(mut runner: Runner<'static, Device>) -> ! {
    runner.run().await
}

/// Asks the SNTP server for the time until it answers, then hourly.
#[embassy_executor::task]
async fn sntp_task(stack: Stack<'static>) -> ! {
    let mut rx_meta = [PacketMetadata::EMPTY; 2];
    let mut tx_meta = [PacketMetadata::EMPTY; 2];
    let mut rx = [0; 128];
    let mut tx = [0; 128];
    let mut socket = UdpSocket::new(stack, &mut rx_meta, &mut rx, &mut tx_meta, &mut tx);
    if socket.bind(0).is_err() {
        warn!("SNTP: no UDP port");
    }
    loop {
        let server = NTP_SERVER.or_else(|| stack.config_v4().and_then(|c| c.gateway));
        let synced = match server {
            Some(server) => sntp(&mut socket, server).await,
            None => false,
        };
        Timer::after(Duration::from_secs(if synced { 3600 } else { 10 })).await;
    }
}

/// One SNTP exchange (RFC 4330): a client request, the server's transmit timestamp.
async fn sntp(socket: &mut UdpSocket<'_>, server: Ipv4Address) -> bool {
    let mut request = [0_u8; 48];
    request[0] = 0x23; // no leap warning, version 4, client
    if socket.send_to(&request, (server, 123)).await.is_err() {
        return false;
    }
    let mut answer = [0_u8; 48];
    let Ok(Ok((n, _))) = with_timeout(Duration::from_secs(2), socket.recv_from(&mut answer)).await
    else {
        return false;
    };
    let arrived = Instant::now();
    let Some(&[s0, s1, s2, s3, f0, f1, f2, f3]) = answer.get(40..48).filter(|_| n >= 48) else {
        return false;
    };
    let seconds = u64::from(u32::from_be_bytes([s0, s1, s2, s3]));
    let fraction = u64::from(u32::from_be_bytes([f0, f1, f2, f3]));
    let Some(unix) = seconds.checked_sub(NTP_UNIX_OFFSET) else {
        return false;
    };
    CLOCK.set_unix_time_ms_at(unix * 1000 + ((fraction * 1000) >> 32), arrived);
    info!("SNTP: Unix time {}", unix);
    true
}

#[embassy_executor::main]
async fn main(spawner: Spawner) {
    let p = embassy_stm32::init(clocks());

    let mut rng = Rng::new(p.RNG, Irqs);
    let mut seed = [0; 8];
    if rng.async_fill_bytes(&mut seed).await.is_err() {
        warn!("RNG failed; the TCP sequence numbers are predictable");
    }

    static PACKETS: StaticCell<PacketQueue<4, 4>> = StaticCell::new();
    let device = Ethernet::new(
        PACKETS.init(PacketQueue::new()),
        p.ETH,
        Irqs,
        p.PA1,
        p.PA7,
        p.PC4,
        p.PC5,
        p.PG13,
        p.PB13,
        p.PG11,
        [0x02, 0x00, 0x00, 0x7e, 0x11, 0x6a],
        p.ETH_SMA,
        p.PA2,
        p.PC1,
    );
    // Two server sockets, the SNTP socket, DHCP.
    static RESOURCES: StaticCell<StackResources<4>> = StaticCell::new();
    let (stack, runner) = embassy_net::new(
        device,
        embassy_net::Config::dhcpv4(Default::default()),
        RESOURCES.init(StackResources::new()),
        u64::from_le_bytes(seed),
    );
    spawner.spawn(net_task(runner).unwrap());
    stack.wait_config_up().await;
    if let Some(config) = stack.config_v4() {
        info!("address {}", config.address);
    }
    spawner.spawn(sntp_task(stack).unwrap());

    spawner.spawn(server_task(stack).unwrap());
}

/// The WebSocket server: two slots, one future.
#[embassy_executor::task]
async fn server_task(stack: Stack<'static>) {
    let key = match Hs256Secret::new(SECRET) {
        Ok(secret) => Key::Hs256(secret),
        Err(error) => defmt::panic!("HS256 secret: {}", error),
    };
    let auth = Authenticator::new(key, Validation::new());
    let options = ServerOptions::new(ServerConfig::new());
    let server = Server::new(stack, 80, auth, options, &CLOCK);
    let slots = SLOTS.take();
    server.run(slots.each_mut().map(Slot::buffers), &Echo).await;
}

/// 216 MHz from the 8 MHz clock the on-board ST-LINK feeds to HSE.
fn clocks() -> Config {
    use embassy_stm32::rcc::{
        AHBPrescaler, APBPrescaler, Hse, HseMode, Pll, PllMul, PllPDiv, PllPreDiv, PllSource,
        Sysclk,
    };
    let mut config = Config::default();
    config.rcc.hse = Some(Hse {
        freq: Hertz(8_000_000),
        mode: HseMode::Bypass,
    });
    config.rcc.pll_src = PllSource::HSE;
    config.rcc.pll = Some(Pll {
        prediv: PllPreDiv::DIV4,
        mul: PllMul::MUL216,
        divp: Some(PllPDiv::DIV2),
        divq: None,
        divr: None,
    });
    config.rcc.ahb_pre = AHBPrescaler::DIV1;
    config.rcc.apb1_pre = APBPrescaler::DIV4;
    config.rcc.apb2_pre = APBPrescaler::DIV2;
    config.rcc.sys = Sysclk::PLL1_P;
    config
}
