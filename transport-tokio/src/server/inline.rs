//! Handlers that answer inside the connection task: [`InlineHandler`].
//!
//! An [`AuthenticatedSocket`](super::AuthenticatedSocket) hands every message to an
//! application task over a queue and takes its answers back over another: the handler
//! can await anything, reach other connections, live as long as it likes. That costs a
//! task and two queues per connection, and two hops per message.
//!
//! A handler that answers from the message alone (an echo, a request computed from its
//! own content, a validator, a counter) does not need any of it. An [`InlineHandler`] is
//! called by the connection task itself, for each message, with the message borrowed
//! from the read buffer; what it replies is encoded straight into the write buffer and
//! sent with the replies to the other messages of the same read. One task per
//! connection, no queue, no copy of the message, and an idle connection holds no buffer.
//!
//! Everything else stays as with a socket: authentication before the first message,
//! expiry (1008 `expired`), in-band refresh, ping and dead-peer timeout, rate limit,
//! size limit (1009), protocol errors (1002/1007) sent after the replies to the messages
//! before them, graceful shutdown (1001).
//!
//! ```no_run
//! use tollgate_tokio::server::{InlineHandler, MessageRef, Reply, Server, ServerConfig};
//!
//! /// Answers `whoami` with the token's subject and `count` with the messages so far.
//! struct WhoAmI;
//!
//! impl InlineHandler for WhoAmI {
//!     /// Messages received on this connection.
//!     type State = u64;
//!
//!     fn on_message(&self, seen: &mut u64, reply: &mut Reply<'_>, message: MessageRef<'_>) {
//!         *seen += 1;
//!         match message {
//!             MessageRef::Text("whoami") => {
//!                 let sub = reply.identity().sub().unwrap_or("anonymous").to_owned();
//!                 reply.text(&sub);
//!             }
//!             MessageRef::Text("count") => reply.text(&seen.to_string()),
//!             _ => reply.close(1003, "unsupported"),
//!         }
//!     }
//! }
//!
//! # async fn run(config: ServerConfig) -> std::io::Result<()> {
//! let server = Server::bind("127.0.0.1:9001", config).await?;
//! server.serve_inline(WhoAmI).await;
//! # Ok(())
//! # }
//! ```

use std::sync::Arc;

use tollgate::ws::close::{CloseCode, MAX_CLOSE_REASON_LEN};
use tollgate::ws::conn::{Connection, MessageKind};
use tollgate::ws::frame::MAX_HEADER_LEN;

use crate::handle::{ConnectionId, Identity};

/// A data message, borrowed from the connection's buffer for the length of one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageRef<'a> {
    /// A text message (valid UTF-8, checked).
    Text(&'a str),
    /// A binary message.
    Binary(&'a [u8]),
}

impl MessageRef<'_> {
    /// The payload's bytes.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Text(text) => text.as_bytes(),
            Self::Binary(data) => data,
        }
    }

    /// The payload's length in bytes.
    #[must_use]
    pub const fn len(&self) -> usize {
        self.as_bytes().len()
    }

    /// Whether the payload is empty.
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A handler called by the connection task for every data message of every connection
/// (see the [module docs](self)). It must not block: it runs on the runtime's worker
/// thread, between reads of this connection and of others. A callback that panics ends
/// only its own connection: the replies written before the panic are sent, then close
/// 1011 `internal_error` (the panic is logged with `tracing`).
pub trait InlineHandler: Send + Sync + 'static {
    /// What the handler keeps per connection (a counter, subscriptions; `()` for
    /// nothing): created with `Default` when the connection is authenticated, handed to
    /// every callback, dropped when the connection has ended. It lives in the
    /// connection's task: keep it small, since an idle connection holds it too.
    type State: Default + Send + 'static;

    /// Once per connection, after authentication and before any message.
    fn on_open(&self, state: &mut Self::State, reply: &mut Reply<'_>) {
        let _ = (state, reply);
    }

    /// For each data message, in the order received; [`Reply::identity`] is the current
    /// identity (in-band refreshes replace it).
    fn on_message(&self, state: &mut Self::State, reply: &mut Reply<'_>, message: MessageRef<'_>);

    /// Once per connection, when it has ended (however it ended).
    fn on_close(&self, state: &mut Self::State, identity: &Identity) {
        let _ = (state, identity);
    }
}

impl<H: InlineHandler + ?Sized> InlineHandler for Arc<H> {
    type State = H::State;

    fn on_open(&self, state: &mut Self::State, reply: &mut Reply<'_>) {
        (**self).on_open(state, reply);
    }

    fn on_message(&self, state: &mut Self::State, reply: &mut Reply<'_>, message: MessageRef<'_>) {
        (**self).on_message(state, reply, message);
    }

    fn on_close(&self, state: &mut Self::State, identity: &Identity) {
        (**self).on_close(state, identity);
    }
}

/// Sends every data message back as it came (text as text, binary as binary): the
/// server of `tollgate serve --echo`, for conformance suites and benchmarks.
#[derive(Debug, Clone, Copy, Default)]
pub struct Echo;

impl InlineHandler for Echo {
    type State = ();

    fn on_message(&self, (): &mut (), reply: &mut Reply<'_>, message: MessageRef<'_>) {
        reply.message(message);
    }
}

/// A close the handler asked for.
#[derive(Debug)]
pub(crate) struct CloseRequest {
    pub(crate) code: u16,
    pub(crate) reason: Box<str>,
}

/// The connection as an [`InlineHandler`] sees it: who is on the other end, and where
/// the answers go (frames encoded into the connection's write buffer, sent after the
/// handler returns with the answers to the other messages of the same read, in order).
#[derive(Debug)]
pub struct Reply<'a> {
    id: ConnectionId,
    identity: &'a Identity,
    conn: &'a mut Connection,
    out: &'a mut Vec<u8>,
    close: &'a mut Option<CloseRequest>,
}

impl<'a> Reply<'a> {
    pub(crate) fn new(
        (id, identity): (ConnectionId, &'a Identity),
        conn: &'a mut Connection,
        out: &'a mut Vec<u8>,
        close: &'a mut Option<CloseRequest>,
    ) -> Self {
        Self {
            id,
            identity,
            conn,
            out,
            close,
        }
    }

    /// The connection's id (as in its `tracing` span).
    #[must_use]
    pub const fn id(&self) -> ConnectionId {
        self.id
    }

    /// The verified identity of the connection's current token.
    #[must_use]
    pub const fn identity(&self) -> &Identity {
        self.identity
    }

    /// Sends a text message.
    pub fn text(&mut self, text: &str) {
        self.frame(MessageKind::Text, text.as_bytes());
    }

    /// Sends a binary message.
    pub fn binary(&mut self, data: &[u8]) {
        self.frame(MessageKind::Binary, data);
    }

    /// Sends `message` (text or binary as it is).
    pub fn message(&mut self, message: MessageRef<'_>) {
        match message {
            MessageRef::Text(text) => self.text(text),
            MessageRef::Binary(data) => self.binary(data),
        }
    }

    /// Closes the connection with `code` (a code not valid on the wire becomes 1000) and
    /// `reason` (cut to 123 bytes), after the replies written so far. Replies written
    /// after it, and the messages behind this one, are dropped.
    pub fn close(&mut self, code: u16, reason: &str) {
        if self.close.is_some() {
            return;
        }
        let code = if CloseCode::new(code).is_valid_on_wire() {
            code
        } else {
            1000
        };
        *self.close = Some(CloseRequest {
            code,
            reason: truncate(reason, MAX_CLOSE_REASON_LEN).into(),
        });
    }

    /// Whether a close was asked for (later replies are dropped).
    #[must_use]
    pub const fn is_closing(&self) -> bool {
        self.close.is_some()
    }

    fn frame(&mut self, kind: MessageKind, payload: &[u8]) {
        if self.close.is_some() {
            return;
        }
        let at = self.out.len();
        self.out.reserve(MAX_HEADER_LEN + payload.len());
        self.out.resize(at + MAX_HEADER_LEN, 0);
        let header_out = self.out.get_mut(at..).unwrap_or_default();
        match self
            .conn
            .encode_frame_header(kind, true, payload.len() as u64, header_out)
        {
            Ok((len, _)) => {
                self.out.truncate(at + len);
                self.out.extend_from_slice(payload);
            }
            // Closing or closed: nothing more is sent.
            Err(_) => self.out.truncate(at),
        }
    }
}

/// `text` cut to at most `max` bytes at a character boundary.
pub(crate) fn truncate(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.get(..end).unwrap_or_default()
}
