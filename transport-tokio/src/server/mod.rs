//! The authenticated WebSocket server: no framework, tokio only.
//!
//! ```text
//!  TcpListener ─► [TLS] ─► upgrade request ─► token (query, Bearer, subprotocol, cookie)
//!   (Server)                (handshake        │  TokenVerifier → Identity
//!                            timeout)         ├─ refused: 401 + WWW-Authenticate, or 101 + close 1008 <code>
//!                                             └─ none, first-message mode: 101, then
//!                                                {"type":"authenticate","token":…} → {"type":"authenticated"}
//!                                                             │
//!   connection task (one per connection) ◄────────────────────┘
//!     sans-IO tollgate::ws::conn::Connection over the stream; expiry timer (1008 expired),
//!     in-band refresh, ping / dead peer, rate limit (1008 rate_limited), size limit (1009),
//!     bounded outgoing queue (1008 slow_consumer), shutdown (1001)
//!        ▲ ConnectionHandle (any task)         │ Stream<Item = Result<Message, Error>>
//!        └──────── AuthenticatedSocket (the application's handler) ◄┘
//! ```
//!
//! - [`Server`] listens on TCP (optionally TLS, feature `tls`) and hands out
//!   [`AuthenticatedSocket`]s with [`Server::accept`], or runs a handler per connection
//!   with [`Server::serve`].
//! - [`Server::serve_inline`] runs an [`InlineHandler`] inside each connection's own
//!   task instead: one task and no queue per connection, for handlers that answer each
//!   message from the message itself ([`Echo`]; see the [`inline`] module).
//! - [`Acceptor::accept_stream`] does the same for any `AsyncRead + AsyncWrite` stream.
//! - [`ServerConfig`] holds the policies; [`StaticVerifier`] verifies tokens with keys
//!   fixed at startup (any [`TokenVerifier`](crate::TokenVerifier) will do).
//! - [`ShutdownHandle`] stops it all gracefully.
//!
//! Nothing reaches the application before the connection is authenticated. The client
//! is only ever told stable codes (`expired`, `invalid_signature`, `rate_limited`, …);
//! details go to `tracing`, in a span per connection with its id and `sub` (never the
//! token).
//!
//! **In-band refresh.** After authentication, a text message
//! `{"type":"authenticate"|"refresh","token":"…"}` carries a fresher token. The server
//! verifies it, requires the same `sub` (otherwise close 1008 `subject_mismatch`; a
//! token that does not verify closes with its own code, after an `unauthorized` reply),
//! moves the expiry deadline, updates [`AuthenticatedSocket::identity`] and answers
//! `{"type":"authenticated"}`. These messages are consumed: the application never sees
//! them.
//!
//! **Registering connections.** The server keeps no registry of its own. A handler
//! registers its connection wherever the application wants it (a sessions registry,
//! rooms, an event router) with [`AuthenticatedSocket::handle`] and
//! [`AuthenticatedSocket::identity`], and keeps the registration (a guard that removes
//! the entry on drop) for as long as it holds the socket:
//!
//! ```text
//! server.serve(move |mut socket| {
//!     let _entry = sessions.register(socket.handle());   // removed when the handler returns
//!     async move { while let Some(message) = socket.next().await { … } }
//! })
//! ```
//!
//! **Refusals and codes.** Tokens are refused per [`ServerConfig::with_refusal`]; a
//! connection over a cap gets 503 (`too_many_connections`) before the upgrade or close
//! 1013 after it; a slow handshake is dropped without an answer. On a live connection:
//! 1008 `expired`, `rate_limited`, `slow_consumer`, `subject_mismatch`; 1009 for a
//! message over the size limit; 1002/1007 for protocol errors; 1001 `server_shutdown`;
//! 1011 `internal_error` when a [`serve`](Server::serve) handler fails.
//!
//! # Example
//!
//! An authenticated echo server:
//!
//! ```no_run
//! use futures_util::{SinkExt, StreamExt};
//! use tollgate::jwt::{Key, alg::hs256::Hs256Secret};
//! use tollgate_tokio::server::{AuthenticatedSocket, Server, ServerConfig, StaticVerifier};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let key = Key::Hs256(Hs256Secret::new(b"0123456789abcdef0123456789abcdef")?);
//!     let config = ServerConfig::new(StaticVerifier::new(key));
//!     let server = Server::bind("127.0.0.1:9001", config).await?;
//!     server
//!         .serve(|mut socket: AuthenticatedSocket| async move {
//!             while let Some(message) = socket.next().await {
//!                 socket.send(message?).await?;
//!             }
//!             Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
//!         })
//!         .await;
//!     Ok(())
//! }
//! ```

use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream, ToSocketAddrs};
use tokio::sync::mpsc;
use tracing::Instrument;

pub(crate) mod accept;
mod config;
mod driver;
pub mod inline;
mod limits;
mod shutdown;
mod socket;
#[cfg(feature = "tls")]
mod tls;
mod verifier;

pub use accept::{AcceptError, Acceptor};
pub use config::{RateLimit, ServerConfig, TokenFrom};
pub use inline::{Echo, InlineHandler, MessageRef, Reply};
pub use shutdown::ShutdownHandle;
pub use socket::{AuthenticatedSocket, Error};
#[cfg(feature = "tls")]
pub use tls::TlsConfig;
pub use tollgate::auth::AuthMode;
pub use tollgate::io::Refusal;
pub use verifier::StaticVerifier;

/// Authenticated connections waiting for [`Server::accept`].
const ACCEPTED_QUEUE: usize = 64;

/// A TCP (or TLS) listener that authenticates every connection.
///
/// Each connection's handshake runs in its own task, so a slow client never delays
/// another; authenticated sockets are queued for [`accept`](Self::accept) or given to
/// the [`serve`](Self::serve) handler. See the [module docs](self) for an example.
pub struct Server {
    listener: Option<TcpListener>,
    local_addr: SocketAddr,
    acceptor: Acceptor,
    #[cfg(feature = "tls")]
    tls: Option<TlsConfig>,
    accepted: Option<mpsc::Receiver<AuthenticatedSocket>>,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.local_addr)
            .field("acceptor", &self.acceptor)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// Listens on `addr` (use port 0 for any free port, then
    /// [`local_addr`](Self::local_addr)).
    ///
    /// # Errors
    /// When the address cannot be bound.
    pub async fn bind(addr: impl ToSocketAddrs, config: ServerConfig) -> io::Result<Self> {
        Self::from_listener(TcpListener::bind(addr).await?, config)
    }

    /// Serves on a listener of the application's own.
    ///
    /// # Errors
    /// When the listener has no local address.
    pub fn from_listener(listener: TcpListener, config: ServerConfig) -> io::Result<Self> {
        Ok(Self {
            local_addr: listener.local_addr()?,
            listener: Some(listener),
            acceptor: Acceptor::new(config),
            #[cfg(feature = "tls")]
            tls: None,
            accepted: None,
        })
    }

    /// Accept `wss://` only: every connection starts with a TLS handshake (within the
    /// handshake timeout).
    #[cfg(feature = "tls")]
    #[must_use]
    pub fn with_tls(mut self, tls: TlsConfig) -> Self {
        self.tls = Some(tls);
        self
    }

    /// The address listened on.
    #[must_use]
    pub const fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The acceptor behind the server (configuration, open connection count).
    #[must_use]
    pub const fn acceptor(&self) -> &Acceptor {
        &self.acceptor
    }

    /// The trigger for a graceful shutdown.
    #[must_use]
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.acceptor.shutdown_handle()
    }

    /// The next authenticated connection; `None` once the server shuts down. Refused
    /// connections never show up here (they are answered and logged).
    pub async fn accept(&mut self) -> Option<AuthenticatedSocket> {
        if let Some(listener) = self.listener.take() {
            let (tx, rx) = mpsc::channel(ACCEPTED_QUEUE);
            self.accepted = Some(rx);
            let listen = Listen {
                listener,
                acceptor: self.acceptor.clone(),
                #[cfg(feature = "tls")]
                tls: self.tls.clone(),
                deliver: Queue(tx),
            };
            tokio::spawn(listen.run());
        }
        let shutdown = self.acceptor.shutdown_handle();
        let accepted = self.accepted.as_mut()?;
        tokio::select! {
            () = shutdown.triggered() => None,
            socket = accepted.recv() => socket,
        }
    }

    /// Runs `handler` on every authenticated connection, each in its own task, until
    /// the server shuts down; then waits (up to the configured grace) for connections
    /// and handlers to end.
    ///
    /// A handler error is logged (`tracing::warn!`) and the client gets close 1011
    /// `internal_error`, nothing more. A handler that returns `Ok` drops its socket,
    /// which closes the connection (1000) if it is still open.
    pub async fn serve<H, F>(mut self, handler: H)
    where
        H: Fn(AuthenticatedSocket) -> F + Send + Sync + 'static,
        F: Future + Send + 'static,
        F::Output: HandlerResult,
    {
        let shutdown = self.shutdown_handle();
        while let Some(socket) = self.accept().await {
            let handle = socket.handle();
            let span = socket.span().clone();
            let work = handler(socket);
            let task = async move {
                if let Some(error) = work.await.failure() {
                    tracing::warn!(error = %error, "handler failed");
                    let _ = handle.close(1011, "internal_error");
                }
            };
            shutdown.tracker().spawn(task.instrument(span));
        }
        self.finish(&shutdown).await;
    }

    /// Runs every authenticated connection with `handler` called inside the
    /// connection's own task (see [`InlineHandler`]) until the server shuts down; then
    /// waits (up to the configured grace) for the connections to end.
    ///
    /// One task per connection and no queue: the fastest way to serve handlers that
    /// answer each message from the message itself, such as [`Echo`]. Connections a
    /// previous [`accept`](Self::accept) took over are not served here.
    pub async fn serve_inline<H: InlineHandler>(mut self, handler: H) {
        let shutdown = self.shutdown_handle();
        if let Some(listener) = self.listener.take() {
            let listen = Listen {
                listener,
                acceptor: self.acceptor.clone(),
                #[cfg(feature = "tls")]
                tls: self.tls.clone(),
                deliver: Inline(Arc::new(handler)),
            };
            listen.run().await;
        }
        self.finish(&shutdown).await;
    }

    /// Shuts down and waits for the tasks, up to the grace.
    async fn finish(&self, shutdown: &ShutdownHandle) {
        let grace = self.acceptor.config().shutdown_grace;
        if !shutdown.shutdown_and_wait(grace).await {
            tracing::warn!(
                running = shutdown.running_tasks(),
                "shutdown grace elapsed with tasks still running"
            );
        }
    }
}

/// What a [`Server::serve`] handler may return: `()`, or a `Result<(), E>` whose error
/// is logged (and answered with close 1011 `internal_error`).
pub trait HandlerResult: Send + 'static {
    /// The failure to log, if the handler failed.
    fn failure(self) -> Option<Box<dyn fmt::Display + Send>>;
}

impl HandlerResult for () {
    fn failure(self) -> Option<Box<dyn fmt::Display + Send>> {
        None
    }
}

impl<E: fmt::Display + Send + 'static> HandlerResult for Result<(), E> {
    fn failure(self) -> Option<Box<dyn fmt::Display + Send>> {
        self.err()
            .map(|error| Box::new(error) as Box<dyn fmt::Display + Send>)
    }
}

/// What the accept loop does with an accepted stream.
trait Deliver: Clone + Send + Sync + 'static {
    fn deliver<S>(
        self,
        acceptor: Acceptor,
        stream: S,
        peer: SocketAddr,
    ) -> impl Future<Output = ()> + Send
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static;
}

/// Authenticate it and queue the socket for [`Server::accept`].
#[derive(Clone)]
struct Queue(mpsc::Sender<AuthenticatedSocket>);

impl Deliver for Queue {
    async fn deliver<S>(self, acceptor: Acceptor, stream: S, peer: SocketAddr)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        // Refusals were answered and logged in the connection's span. A server dropped
        // meanwhile drops the socket too, which closes it.
        if let Ok(socket) = acceptor.accept_from(stream, Some(peer)).await {
            drop(self.0.send(socket).await);
        }
    }
}

/// Authenticate it and start its task with the inline handler.
struct Inline<H>(Arc<H>);

impl<H> Clone for Inline<H> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<H: InlineHandler> Deliver for Inline<H> {
    async fn deliver<S>(self, acceptor: Acceptor, stream: S, peer: SocketAddr)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        // This task ends once the connection's own starts.
        if let Ok(accepted) = acceptor.authenticate_from(stream, Some(peer)).await {
            acceptor.spawn_inline(accepted, self.0);
        }
    }
}

/// The accept loop.
struct Listen<D> {
    listener: TcpListener,
    acceptor: Acceptor,
    #[cfg(feature = "tls")]
    tls: Option<TlsConfig>,
    deliver: D,
}

impl<D: Deliver> Listen<D> {
    async fn run(self) {
        let shutdown = self.acceptor.shutdown_handle();
        loop {
            let accepted = tokio::select! {
                () = shutdown.triggered() => return,
                accepted = self.listener.accept() => accepted,
            };
            match accepted {
                Ok((tcp, peer)) => {
                    let connect = self.connect(tcp, peer);
                    shutdown.tracker().spawn(connect);
                }
                Err(error) => {
                    // Out of file descriptors and the like: pause rather than spin.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }

    fn connect(&self, tcp: TcpStream, peer: SocketAddr) -> impl Future<Output = ()> + use<D> {
        let acceptor = self.acceptor.clone();
        let deliver = self.deliver.clone();
        #[cfg(feature = "tls")]
        let tls = self.tls.clone();
        async move {
            // Small frames (pongs, acknowledgements) should not wait for Nagle.
            let _ = tcp.set_nodelay(true);
            #[cfg(feature = "tls")]
            if let Some(tls) = tls {
                let timeout = acceptor.config().handshake_timeout;
                let handshake = tokio::time::timeout(timeout, tls.acceptor().accept(tcp));
                match Box::pin(handshake).await {
                    Ok(Ok(stream)) => deliver.deliver(acceptor, stream, peer).await,
                    Ok(Err(error)) => tracing::debug!(%peer, %error, "TLS handshake failed"),
                    Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                }
                return;
            }
            deliver.deliver(acceptor, tcp, peer).await;
        }
    }
}
