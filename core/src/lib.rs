//! # tollgate
//!
//! JWT-authenticated WebSocket connections for `no_std` targets and servers alike.
//!
//! This crate is the sans-IO core: **no networking code, no clock, no allocator, no
//! global RNG**. Time is an argument (`now`, Unix seconds), randomness is injected
//! (`rand_core`), and every buffer belongs to the caller.
//!
//! ```text
//!  bytes from a socket                                   bytes to a socket
//!        │                                                      ▲
//!        ▼                                                      │
//!  ws::handshake ──► token extraction ──► jwt::verify ──► 101 / 401 / 403 / 426 / 503
//!  (httparse)        (query, Bearer,      (JWS signature        │
//!                     subprotocol,         + claims checks)     │
//!                     cookie)                                   │
//!        │                                                      │
//!        ▼                                                      │
//!  ws::conn (frame codec, unmasking, UTF-8, close/ping) ──► poll_transmit
//!        │
//!        ▼
//!  io::accept / io::accept_authenticated / io::connect ──► io::WebSocket
//!  (embedded-io-async Read + Write) — what the tokio and embassy transports wrap.
//! ```
//!
//! The modules:
//! - [`base64url`]: strict, unpadded, canonical base64url.
//! - [`jwt`]: compact JWS verification and JWT claim validation (HS256, ES256, RS256),
//!   keys from raw secrets, PEM/DER and JWK/JWKS, chosen by a
//!   [`KeyResolver`](jwt::KeyResolver) from the header (and, if it asks, the claims).
//! - [`ws`]: RFC 6455 handshake (server and client) and frame codec as a state machine.
//! - [`io`]: the async driver over `embedded-io-async` streams.
//! - [`auth`]: glue that verifies the token found in a handshake.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]
// With every algorithm feature off, no key can exist and the verification paths are dead.
#![cfg_attr(
    not(any(feature = "hs256", feature = "es256", feature = "rs256")),
    allow(unused)
)]
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

pub mod auth;
pub mod base64url;
pub mod error;
#[cfg(fuzzing)]
pub mod fuzzing;
pub mod io;
pub mod jwt;
pub mod ws;
