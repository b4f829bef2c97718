//! Shared by the host test and the host example: two embassy-net stacks in one process,
//! joined by an in-memory IP link (`embassy-net-driver-channel` and two copying tasks),
//! and HS256 tokens minted with the core's signer.
#![allow(dead_code, reason = "the test and the example use different parts")]

use std::time::{SystemTime, UNIX_EPOCH};

use embassy_executor::Spawner;
use embassy_net::{Config, Ipv4Address, Ipv4Cidr, Runner, Stack, StackResources, StaticConfigV4};
use embassy_net_driver_channel::driver::{HardwareAddress, LinkState};
use embassy_net_driver_channel::{Device, RxRunner, State, TxRunner};
use static_cell::StaticCell;
use tollgate::base64url;
use tollgate::jwt::alg::hs256::Hs256Secret;

/// The link's packet size.
pub const MTU: usize = 1500;

/// The server's address (TEST-NET-1: documentation only; the packets never leave the
/// process).
pub const SERVER_ADDRESS: Ipv4Address = Ipv4Address::new(192, 0, 2, 1);

/// The client's address.
pub const CLIENT_ADDRESS: Ipv4Address = Ipv4Address::new(192, 0, 2, 2);

/// The shared HS256 secret.
pub const SECRET: &[u8] = b"tollgate-embassy host test secret, 32+ bytes";

type LinkState4 = State<MTU, 4, 4>;

/// Copies every packet one stack sends into the other's receive queue.
#[embassy_executor::task(pool_size = 2)]
async fn carry(mut from: TxRunner<'static, MTU>, mut to: RxRunner<'static, MTU>) -> ! {
    loop {
        let packet = from.tx_buf().await;
        let slot = to.rx_buf().await;
        let n = packet.len().min(slot.len());
        slot[..n].copy_from_slice(&packet[..n]);
        to.rx_done(n);
        from.tx_done();
    }
}

#[embassy_executor::task(pool_size = 2)]
async fn run_stack(mut runner: Runner<'static, Device<'static, MTU>>) -> ! {
    runner.run().await
}

fn stack(
    spawner: Spawner,
    device: Device<'static, MTU>,
    address: Ipv4Address,
    resources: &'static mut StackResources<8>,
    seed: u64,
) -> Stack<'static> {
    let config = Config::ipv4_static(StaticConfigV4 {
        address: Ipv4Cidr::new(address, 24),
        gateway: None,
        dns_servers: Default::default(),
    });
    let (stack, runner) = embassy_net::new(device, config, resources, seed);
    spawner.spawn(run_stack(runner).unwrap());
    stack
}

/// Starts both stacks and the link; returns (server, client) once both are up.
pub async fn start(spawner: Spawner) -> (Stack<'static>, Stack<'static>) {
    static STATES: StaticCell<[LinkState4; 2]> = StaticCell::new();
    static RESOURCES: StaticCell<[StackResources<8>; 2]> = StaticCell::new();
    let [server_state, client_state] = STATES.init([State::new(), State::new()]);
    let [server_resources, client_resources] =
        RESOURCES.init([StackResources::new(), StackResources::new()]);
    let (server_runner, server_device) =
        embassy_net_driver_channel::new(server_state, HardwareAddress::Ip);
    let (client_runner, client_device) =
        embassy_net_driver_channel::new(client_state, HardwareAddress::Ip);
    let (server_link, server_rx, server_tx) = server_runner.split();
    let (client_link, client_rx, client_tx) = client_runner.split();
    server_link.set_link_state(LinkState::Up);
    client_link.set_link_state(LinkState::Up);
    spawner.spawn(carry(server_tx, client_rx).unwrap());
    spawner.spawn(carry(client_tx, server_rx).unwrap());
    let server = stack(spawner, server_device, SERVER_ADDRESS, server_resources, 1);
    let client = stack(spawner, client_device, CLIENT_ADDRESS, client_resources, 2);
    server.wait_config_up().await;
    client.wait_config_up().await;
    (server, client)
}

/// Sets `clock` to the host's time, to the millisecond.
pub fn set_clock(clock: &tollgate_embassy::Clock) {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    clock.set_unix_time_ms_at(now.as_millis() as u64, embassy_time::Instant::now());
}

/// The host's Unix time.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn b64(bytes: &[u8]) -> String {
    let mut out = vec![0; bytes.len() * 4 / 3 + 4];
    base64url::encode(bytes, &mut out).unwrap().to_owned()
}

/// An HS256 token for `sub` expiring `lifetime` seconds from now (negative: already
/// expired), signed with `secret`.
pub fn mint(secret: &[u8], sub: &str, lifetime: i64) -> String {
    let exp = unix_now() as i64 + lifetime;
    let input = format!(
        "{}.{}",
        b64(br#"{"alg":"HS256","typ":"JWT"}"#),
        b64(format!(r#"{{"sub":"{sub}","exp":{exp}}}"#).as_bytes())
    );
    let signature = Hs256Secret::new(secret).unwrap().sign(input.as_bytes());
    format!("{input}.{}", b64(&signature))
}
