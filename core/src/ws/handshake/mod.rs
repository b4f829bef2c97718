//! The HTTP/1.1 upgrade handshake (RFC 6455 §4).

pub mod accept;
pub mod client;
pub mod server;
pub mod token;
