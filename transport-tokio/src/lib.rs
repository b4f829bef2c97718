//! tollgate on tokio: authenticated WebSocket servers and the `tollgate` command-line program.
//!
//! The [`server`] module is the server library: [`server::Server`] (TCP, optionally
//! TLS) and [`server::Acceptor`] (any stream) authenticate every upgrade with a
//! [`TokenVerifier`] and hand the application [`server::AuthenticatedSocket`]s; other
//! tasks reach a connection through its [`ConnectionHandle`].
//!
//! The [`cli`] module is the whole `tollgate` program; `src/bin/tollgate.rs` only calls
//! [`cli::main`].
//!
//! Around each authenticated connection: [`sessions`] is the registry of live connections
//! by user and by room (per-user delivery, room broadcasts, kicking), and [`router`] is an
//! optional dispatcher of JSON `{"event", "data"}` messages to async, role-guarded handlers.

#[cfg(feature = "axum")]
pub mod axum;
pub mod cli;
pub mod handle;
pub mod jwks;
pub mod router;
pub mod server;
pub mod sessions;
pub mod verify;

pub use handle::{Command, ConnectionHandle, ConnectionId, Identity, Message, SendError};
pub use router::{ConnectionContext, Dispatch, EventContext, EventError, Router};
pub use sessions::{Registration, Sessions};
pub use verify::{TokenVerifier, VerifyFuture};
