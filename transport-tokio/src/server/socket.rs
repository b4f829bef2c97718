//! [`AuthenticatedSocket`]: what the application gets for each authenticated connection.

use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use futures_core::Stream;
use futures_sink::Sink;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::PollSender;
use tollgate::ws::error::ProtocolError;

use super::driver::Demand;
use crate::handle::{Command, ConnectionHandle, ConnectionId, Identity, Message, SendError};

/// Why a connection ended other than by a close handshake: the last item of an
/// [`AuthenticatedSocket`]'s stream.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The server closed the connection by policy, with this close code and stable
    /// reason: `expired` (1008), `rate_limited` (1008), `slow_consumer` (1008),
    /// `subject_mismatch` or another token code after a refused refresh (1008),
    /// `server_shutdown` (1001).
    Closed {
        /// The close code sent.
        code: u16,
        /// The stable reason sent.
        reason: &'static str,
    },
    /// The client broke RFC 6455 (or sent a message over the size limit: 1009); the
    /// close frame with the error's code was sent.
    Protocol(ProtocolError),
    /// Nothing arrived from the client for the ping interval plus the dead-peer timeout,
    /// or a write stalled past the write timeout; the connection was dropped.
    Timeout,
    /// The transport failed or ended without a close frame.
    Io(io::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Closed { code, reason } => write!(f, "connection closed ({code} {reason})"),
            Self::Protocol(error) => write!(f, "WebSocket protocol error: {error}"),
            Self::Timeout => f.write_str("peer timed out"),
            Self::Io(error) => write!(f, "I/O error: {error}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Protocol(error) => Some(error),
            Self::Io(error) => Some(error),
            Self::Closed { .. } | Self::Timeout => None,
        }
    }
}

/// Where the connection task leaves the reason it ended, for the stream's last item.
pub(crate) type EndSlot = Arc<Mutex<Option<Error>>>;

/// One authenticated WebSocket connection, handed to the application.
///
/// - Incoming data messages: the [`Stream`] of `Result<Message, Error>`. It ends
///   (`None`) after a close handshake; a connection that ended otherwise (policy close,
///   protocol error, dead peer, I/O error) yields one `Err` first. Control messages and
///   in-band `{"type":"authenticate"|"refresh","token":"…"}` messages are handled by the
///   server and never appear here.
/// - Outgoing: [`send`](Self::send) (waits while the outgoing queue is full), the
///   [`Sink`] implementation (same queue), or a cloneable [`handle`](Self::handle) for
///   other tasks (which never waits: a full queue closes the connection as a slow
///   consumer).
/// - [`close`](Self::close) starts the close handshake. Dropping the socket closes the
///   connection (1000) too: keep it alive as long as the connection should live, even
///   when other tasks reach it through its handle.
///
/// Register the connection with an application registry (such as the sessions
/// registry) through [`handle`](Self::handle) and [`identity`](Self::identity):
///
/// ```no_run
/// use futures_util::StreamExt;
/// use tollgate_tokio::Message;
/// use tollgate_tokio::server::AuthenticatedSocket;
///
/// async fn chat(mut socket: AuthenticatedSocket) -> Result<(), Box<dyn std::error::Error>> {
///     let user = socket.identity().sub().unwrap_or("anonymous").to_owned();
///     let handle = socket.handle(); // e.g. `sessions.register(handle)`
///     while let Some(message) = socket.next().await {
///         if let Message::Text(text) = message? {
///             handle.send(Message::text(format!("{user}: {text}")))?;
///         }
///     }
///     Ok(())
/// }
/// ```
pub struct AuthenticatedSocket {
    handle: ConnectionHandle,
    identity: watch::Receiver<Identity>,
    protocol: Option<String>,
    incoming: mpsc::Receiver<Message>,
    /// Tells the connection task when this side waits for a message.
    demand: Arc<Demand>,
    /// Messages taken so far.
    taken: u64,
    end: EndSlot,
    ended: bool,
    sink: PollSender<Command>,
    span: tracing::Span,
}

impl fmt::Debug for AuthenticatedSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthenticatedSocket")
            .field("id", &self.handle.id())
            .field("sub", &self.handle.sub())
            .field("protocol", &self.protocol)
            .finish_non_exhaustive()
    }
}

impl AuthenticatedSocket {
    pub(crate) fn new(
        handle: ConnectionHandle,
        outgoing: mpsc::Sender<Command>,
        identity: watch::Receiver<Identity>,
        protocol: Option<String>,
        (incoming, demand): (mpsc::Receiver<Message>, Arc<Demand>),
        end: EndSlot,
        span: tracing::Span,
    ) -> Self {
        Self {
            handle,
            identity,
            protocol,
            incoming,
            demand,
            taken: 0,
            end,
            ended: false,
            sink: PollSender::new(outgoing),
            span,
        }
    }

    /// The connection's id.
    #[must_use]
    pub fn id(&self) -> ConnectionId {
        self.handle.id()
    }

    /// The verified identity: the latest one, after an in-band refresh.
    #[must_use]
    pub fn identity(&self) -> Identity {
        self.identity.borrow().clone()
    }

    /// A cloneable handle to this connection's outgoing queue, for other tasks and
    /// registries.
    #[must_use]
    pub fn handle(&self) -> ConnectionHandle {
        self.handle.clone()
    }

    /// The application subprotocol negotiated, if any (never a token; the token marker
    /// protocol when the token came that way).
    #[must_use]
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// The connection's `tracing` span (`ws` with `conn`, `peer`, `sub`), to instrument
    /// the application's work on it.
    #[must_use]
    pub fn span(&self) -> &tracing::Span {
        &self.span
    }

    /// Queue `message`, waiting while the outgoing queue is full.
    ///
    /// # Errors
    /// [`SendError::Closed`] once the connection has ended.
    pub async fn send(&self, message: Message) -> Result<(), SendError> {
        self.command(Command::Send(message)).await
    }

    /// Close the connection with `code` and `reason` (at most 123 bytes; a stable code
    /// such as `bye`). Messages already queued are sent first.
    ///
    /// # Errors
    /// [`SendError::Closed`] once the connection has ended.
    pub async fn close(&self, code: u16, reason: &str) -> Result<(), SendError> {
        self.command(Command::Close {
            code,
            reason: reason.into(),
        })
        .await
    }

    /// Receive the next data message; `None` once the connection has ended (see the
    /// type's docs for the `Err` item).
    pub async fn recv(&mut self) -> Option<Result<Message, Error>> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }

    async fn command(&self, command: Command) -> Result<(), SendError> {
        let sender = self.sink.get_ref().ok_or(SendError::Closed)?;
        sender.send(command).await.map_err(|_| SendError::Closed)
    }
}

impl Stream for AuthenticatedSocket {
    type Item = Result<Message, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.ended {
            return Poll::Ready(None);
        }
        match self.incoming.poll_recv(cx) {
            Poll::Ready(Some(message)) => {
                self.taken += 1;
                Poll::Ready(Some(Ok(message)))
            }
            Poll::Ready(None) => {
                self.ended = true;
                let end = self
                    .end
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .take();
                Poll::Ready(end.map(Err))
            }
            Poll::Pending => {
                self.demand.ask(self.taken);
                Poll::Pending
            }
        }
    }
}

impl Sink<Message> for AuthenticatedSocket {
    type Error = SendError;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), SendError>> {
        self.sink.poll_reserve(cx).map_err(|_| SendError::Closed)
    }

    fn start_send(mut self: Pin<&mut Self>, message: Message) -> Result<(), SendError> {
        self.sink
            .send_item(Command::Send(message))
            .map_err(|_| SendError::Closed)
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Result<(), SendError>> {
        // Queued is as far as the application can push; the connection task writes.
        Poll::Ready(Ok(()))
    }

    /// Closes the connection (1000) after the queued messages.
    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), SendError>> {
        if self.sink.is_closed() {
            return Poll::Ready(Ok(()));
        }
        match self.sink.poll_reserve(cx) {
            Poll::Ready(Ok(())) => {
                let close = Command::Close {
                    code: 1000,
                    reason: "".into(),
                };
                // A connection that ended meanwhile is closed all the same.
                let _ = self.sink.send_item(close);
                self.sink.close();
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(_)) => Poll::Ready(Ok(())),
            Poll::Pending => Poll::Pending,
        }
    }
}
