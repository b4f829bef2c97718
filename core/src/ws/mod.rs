//! RFC 6455 WebSocket: handshake and frame codec as a sans-IO state machine.

pub mod close;
pub mod conn;
pub mod error;
pub mod frame;
pub mod handshake;
pub mod mask;
pub mod utf8;
