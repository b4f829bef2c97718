//! tollgate on tokio: authenticated WebSocket servers and the `tollgate` command-line program.
//!
//! The [`server`] module is the server library: [`server::Server`] (TCP, optionally
//! TLS) and [`server::Acceptor`] (any stream) authenticate every upgrade with a
//! [`TokenVerifier`] and hand the application [`server::AuthenticatedSocket`]s; other
//! tasks reach a connection through its [`ConnectionHandle`].
//!
//! The [`cli`] module is the whole `tollgate` program; `src/bin/tollgate.rs` only calls
//! [`cli::main`].

pub mod cli;
pub mod handle;
pub mod server;
pub mod verify;

pub use handle::{Command, ConnectionHandle, ConnectionId, Identity, Message, SendError};
pub use verify::{TokenVerifier, VerifyFuture};
