//! RFC 6455 WebSocket: handshake and frame codec as a sans-IO state machine.
//!
//! - [`handshake`]: the HTTP/1.1 upgrade (§4) and token extraction.
//! - [`conn`]: after the upgrade, a [`Connection`](conn::Connection) turns bytes read from
//!   the transport into events borrowing the read buffer, and queues the control frames
//!   owed to the peer for [`poll_transmit`](conn::Connection::poll_transmit).
//! - [`frame`] (header codec), [`mask`] (in-place, resumable XOR), [`utf8`] (incremental
//!   validation) and [`close`] (status codes) are its building blocks, public for fuzzing,
//!   benchmarks and drivers that write payloads zero-copy.
//! - [`error`]: [`ProtocolError`](error::ProtocolError), one variant per RFC rule, each
//!   mapped to its close code in one place.

pub mod close;
pub mod conn;
pub mod error;
pub mod frame;
pub mod handshake;
pub mod mask;
pub mod utf8;
