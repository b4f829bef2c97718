//! # tollgate-embassy
//!
//! JWT-authenticated WebSockets on microcontrollers: the [`tollgate`] core driven over
//! [`embassy-net`](embassy_net) TCP sockets, with every buffer the caller's, no heap and
//! no `unsafe`.
//!
//! ```text
//!  Server::run ── N slots ── TcpSocket::accept(port)
//!                               │   Clock::unix_time  (never set → 503, ClockNotSet)
//!                               ▼
//!                 tollgate::io::accept_authenticated   ◄── with_timeout(handshake)
//!                 (token: query · Bearer · subprotocol; 401 / 400 / 1008 on refusal)
//!                               │   token-less + AuthMode::FirstMessage
//!                               ▼
//!                 authenticate_first_message            ◄── with_timeout(first message)
//!                               │
//!                               ▼
//!                 Handler::handle(&mut Connection)      ◄── Timer::at(exp + leeway)
//!                               │                            → Error::Expired
//!                               ▼
//!                 Connection::close (1000, or 1008 "expired"), TCP FIN, accept again
//! ```
//!
//! - [`Server`]: accepts on one port with a fixed number of concurrent sockets (one
//!   [`Buffers`] slot each), verifies tokens with a [`tollgate::auth::Authenticator`],
//!   enforces the handshake, first-message and expiry timers, and hands each
//!   authenticated [`Connection`] to the application's [`Handler`].
//! - [`Client`]: a device connecting out with its own token.
//! - [`Clock`]: Unix time from an [`embassy_time::Instant`] offset that the application
//!   sets (SNTP, RTC). Until it is set, verification is refused ([`ClockNotSet`]) instead
//!   of skipping the time checks.
//!
//! The crate is generic where it can be: [`Connection`] works over any
//! [`embedded_io_async`] stream, so host tests can drive it without a network stack.
//!
//! # Example
//!
//! An echo server with two slots (the task that runs the embassy-net stack and the one
//! that sets the clock are the application's):
//!
//! ```
//! use embassy_net::Stack;
//! use tollgate::auth::Authenticator;
//! use tollgate::io::{Message, ServerOptions};
//! use tollgate::jwt::{Key, Validation};
//! use tollgate::ws::handshake::ServerConfig;
//! use tollgate_embassy::{BufferStorage, Clock, Error, Handler, Server, TcpConnection};
//!
//! /// TCP windows 1 KiB each, messages up to 1 KiB, 512-byte answers, tokens up to 1 KiB.
//! type Slot = BufferStorage<1024, 1024, 1038, 512, 1024>;
//!
//! struct Echo;
//!
//! impl Handler for Echo {
//!     async fn handle(&self, connection: &mut TcpConnection<'_, '_>) -> Result<(), Error> {
//!         loop {
//!             let (message, mut sender) = connection.recv_split().await?;
//!             match message {
//!                 Message::Text(text) => sender.send_text(text).await?,
//!                 Message::Binary(data) => sender.send_binary(data).await?,
//!                 Message::Close(_) => return Ok(()),
//!                 Message::Ping(_) | Message::Pong(_) => {}
//!             }
//!         }
//!     }
//! }
//!
//! async fn serve(stack: Stack<'static>, key: Key, clock: &'static Clock, slots: &'static mut [Slot; 2]) {
//!     let auth = Authenticator::new(key, Validation::new());
//!     let server = Server::new(stack, 80, auth, ServerOptions::new(ServerConfig::new()), clock);
//!     server.run(slots.each_mut().map(Slot::buffers), &Echo).await;
//! }
//! # fn main() {}
//! ```
//!
//! # Memory
//! Per slot: the five [`Buffers`] (the example above: 4622 bytes) plus the slot's share
//! of the [`Server::run`] future (on `thumbv7em-none-eabihf`, release: a two-slot server
//! task takes 6560 bytes, about 3.2 KiB a slot). embassy-net's socket storage is the
//! application's `StackResources`. Nothing is allocated; verification runs on the stack
//! of the executor (HS256 needs little; see the core's footprint figures for ES256 and
//! RS256).
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::unreachable,
        clippy::todo,
        clippy::unimplemented
    )
)]

mod client;
mod clock;
mod connection;
mod error;
mod server;

pub use client::{Client, ClientSocket, DEFAULT_CONNECT_TIMEOUT};
pub use clock::Clock;
pub use connection::{Connection, DEFAULT_CLOSE_TIMEOUT};
pub use error::{ClockNotSet, Error};
pub use server::{
    BufferStorage, Buffers, DEFAULT_FIRST_MESSAGE_TIMEOUT, DEFAULT_HANDSHAKE_TIMEOUT, Handler,
    Server, TcpConnection,
};
