//! An optional event router for JSON text messages, socket.io / Verani style.
//!
//! Clients send `{"event": "<name>", "data": <any JSON>}` (`data` may be left out and is
//! then `null`). A [`Router`] maps each event name to an async handler, optionally guarded
//! by roles read from the verified token, and answers on the same connection:
//!
//! | outcome                                  | reply to the client                                         |
//! |------------------------------------------|-------------------------------------------------------------|
//! | handler returned `Ok(Some(value))`        | `{"event":"<name>:ack","data":value}`                        |
//! | handler returned `Ok(None)`               | nothing                                                     |
//! | handler returned `Err(e)`                 | `{"event":"error","data":{"code":"<e.code()>"}}`            |
//! | no handler for the event                  | `{"event":"error","data":{"code":"unknown_event"}}`         |
//! | the token lacks every role of the route   | `{"event":"error","data":{"code":"forbidden"}}`             |
//! | not a JSON object with a string `event`   | `{"event":"error","data":{"code":"invalid_message"}}`       |
//!
//! When the client's message has an `"id"` (a string or a number), every reply to it
//! carries the same `"id"`, so a client can match acks and errors to requests.
//! Clients only ever see a stable code; a handler error's details go to `tracing`.
//!
//! The server (or the application's message loop) builds one [`ConnectionContext`] per
//! connection and calls [`Router::dispatch`] for each text message. `dispatch` runs the
//! handler to completion before returning, so a connection's events are handled in order;
//! a handler with long work should spawn a task and reply later through
//! [`EventContext::handle`]. A handler that panics unwinds the task that called
//! `dispatch` (the connection's [`Registration`](crate::Registration) still cleans up).
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use serde_json::json;
//! use tollgate_tokio::handle::Overflow;
//! use tollgate_tokio::router::{ConnectionContext, Dispatch, EventError, Router};
//! use tollgate_tokio::{Command, ConnectionHandle, ConnectionId, Identity, Message};
//! use tokio::sync::mpsc;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let router: Router = Router::new()
//!     .on("ping", |_ctx| async { Ok(Some(json!("pong"))) })
//!     .on("add", |ctx| async move {
//!         let [a, b]: [i64; 2] = ctx.parse_data()?;
//!         a.checked_add(b)
//!             .map(|sum| Some(json!(sum)))
//!             .ok_or(EventError::new("overflow"))
//!     })
//!     .on_with_roles("shutdown", &["admin"], |_ctx| async { Ok(None) });
//!
//! // What the server has for each authenticated connection.
//! let claims = json!({"sub": "alice", "role": "user"});
//! let identity = Identity::new("HS256", None, claims.as_object().unwrap().clone());
//! let (tx, mut rx) = mpsc::channel(16);
//! let handle = ConnectionHandle::new(ConnectionId::next(), identity.sub_arc(), tx, Arc::new(Overflow::default()));
//! let conn = ConnectionContext::new(Arc::new(identity), handle, ());
//!
//! let reply = |rx: &mut mpsc::Receiver<Command>| match rx.try_recv() {
//!     Ok(Command::Send(Message::Text(text))) => text.to_string(),
//!     other => panic!("expected a text reply, got {other:?}"),
//! };
//!
//! router.dispatch(&conn, r#"{"event":"ping"}"#).await;
//! assert_eq!(reply(&mut rx), r#"{"event":"ping:ack","data":"pong"}"#);
//!
//! router.dispatch(&conn, r#"{"event":"add","data":[2,3],"id":7}"#).await;
//! assert_eq!(reply(&mut rx), r#"{"event":"add:ack","data":5,"id":7}"#);
//!
//! let outcome = router.dispatch(&conn, r#"{"event":"shutdown"}"#).await;
//! assert_eq!(outcome, Dispatch::Forbidden);
//! assert_eq!(reply(&mut rx), r#"{"event":"error","data":{"code":"forbidden"}}"#);
//! # }
//! ```

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::handle::{ConnectionHandle, Identity, Message};
use crate::sessions::Sessions;

/// The stable codes the router itself answers with in `{"event":"error","data":{"code":…}}`.
pub mod codes {
    /// The message is not a JSON object with a string `event` (and, if present, a string
    /// or number `id`).
    pub const INVALID_MESSAGE: &str = "invalid_message";
    /// No handler is registered for the event.
    pub const UNKNOWN_EVENT: &str = "unknown_event";
    /// The event needs a role the token does not grant.
    pub const FORBIDDEN: &str = "forbidden";
    /// The event's `data` does not have the shape its handler expects
    /// ([`EventError::invalid_data`](super::EventError::invalid_data)).
    pub const INVALID_DATA: &str = "invalid_data";
    /// The handler failed for a reason the client is not told
    /// ([`EventError::internal`](super::EventError::internal)).
    pub const INTERNAL_ERROR: &str = "internal_error";
}

/// The claim roles are read from unless [`Router::role_claim`] says otherwise.
pub const DEFAULT_ROLE_CLAIM: &str = "role";

/// What a handler returns: `Ok(Some(data))` acknowledges with `data`, `Ok(None)` sends no
/// reply, `Err` sends the error's stable code.
pub type EventResult = Result<Option<Value>, EventError>;

/// The boxed future a handler is stored as.
pub type EventFuture = Pin<Box<dyn Future<Output = EventResult> + Send>>;

type Handler<S> = Arc<dyn Fn(EventContext<S>) -> EventFuture + Send + Sync>;

/// Maps event names to async handlers. Build it once, share it (it is cheap to clone) and
/// call [`dispatch`](Self::dispatch) from every connection. `S` is the application state
/// handed to every handler.
pub struct Router<S = ()> {
    routes: HashMap<Arc<str>, Route<S>>,
    role_claim: Arc<str>,
}

struct Route<S> {
    roles: Option<Box<[String]>>,
    handler: Handler<S>,
}

impl<S> Clone for Route<S> {
    fn clone(&self) -> Self {
        Self {
            roles: self.roles.clone(),
            handler: Arc::clone(&self.handler),
        }
    }
}

impl<S> Clone for Router<S> {
    fn clone(&self) -> Self {
        Self {
            routes: self.routes.clone(),
            role_claim: Arc::clone(&self.role_claim),
        }
    }
}

impl<S> Default for Router<S> {
    fn default() -> Self {
        Self {
            routes: HashMap::new(),
            role_claim: Arc::from(DEFAULT_ROLE_CLAIM),
        }
    }
}

impl<S> fmt::Debug for Router<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut events: Vec<&str> = self.routes.keys().map(|name| &**name).collect();
        events.sort_unstable();
        f.debug_struct("Router")
            .field("events", &events)
            .field("role_claim", &self.role_claim)
            .finish()
    }
}

impl<S: Clone + Send + Sync + 'static> Router<S> {
    /// A router with no events, reading roles from the `role` claim.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Handle event `name` with `handler`, for every authenticated connection. A later
    /// handler for the same name replaces the earlier one.
    ///
    /// Handlers are closures returning a future, `|ctx| async move { … }`, or async
    /// closures, `async |ctx| { … }`.
    #[must_use]
    pub fn on<F, Fut>(self, name: &str, handler: F) -> Self
    where
        F: Fn(EventContext<S>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = EventResult> + Send + 'static,
    {
        self.route(name, None, handler)
    }

    /// Handle event `name` with `handler` only for tokens granting at least one of `roles`
    /// in the [role claim](Self::role_claim); others get the `forbidden` error (an empty
    /// `roles` lets no one in).
    #[must_use]
    pub fn on_with_roles<F, Fut>(self, name: &str, roles: &[&str], handler: F) -> Self
    where
        F: Fn(EventContext<S>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = EventResult> + Send + 'static,
    {
        let roles = roles.iter().map(|role| (*role).to_owned()).collect();
        self.route(name, Some(roles), handler)
    }

    /// Read roles from claim `claim` instead of `role` (for example `roles`, `scope` or
    /// `groups`). The claim may be a string, a space-separated string or an array of
    /// strings ([`Identity::roles`]).
    #[must_use]
    pub fn role_claim(mut self, claim: &str) -> Self {
        self.role_claim = Arc::from(claim);
        self
    }

    /// Whether a handler is registered for event `name`.
    #[must_use]
    pub fn handles(&self, name: &str) -> bool {
        self.routes.contains_key(name)
    }

    /// Handle one text message from connection `conn`: parse it, check the route's roles,
    /// run the handler and send the reply (see the [module docs](self) for the replies).
    /// Returns what happened; the reply has already been queued on `conn.handle`.
    pub async fn dispatch(&self, conn: &ConnectionContext<S>, text: &str) -> Dispatch {
        let Some(request) = Request::parse(text) else {
            tracing::debug!(conn = %conn.handle.id(), "event message is not valid");
            send_error(conn, None, codes::INVALID_MESSAGE);
            return Dispatch::InvalidMessage;
        };
        let id = request.id.as_ref();
        let Some((name, route)) = self.routes.get_key_value(request.event.as_str()) else {
            tracing::debug!(
                conn = %conn.handle.id(),
                event = %Shortened(&request.event),
                "unknown event"
            );
            send_error(conn, id, codes::UNKNOWN_EVENT);
            return Dispatch::UnknownEvent;
        };
        if let Some(roles) = &route.roles
            && !self.grants(&conn.identity, roles)
        {
            tracing::warn!(
                conn = %conn.handle.id(),
                sub = conn.identity.sub().unwrap_or("-"),
                event = %name,
                "event refused: the token has none of the required roles"
            );
            send_error(conn, id, codes::FORBIDDEN);
            return Dispatch::Forbidden;
        }
        let context = EventContext {
            identity: Arc::clone(&conn.identity),
            handle: conn.handle.clone(),
            sessions: conn.sessions.clone(),
            state: conn.state.clone(),
            event: Arc::clone(name),
            data: request.data,
        };
        match (route.handler)(context).await {
            Ok(Some(data)) => {
                let ack = reply(&format!("{name}:ack"), data, id);
                Dispatch::Handled {
                    acked: send(conn, ack),
                }
            }
            Ok(None) => Dispatch::Handled { acked: false },
            Err(error) => {
                tracing::warn!(
                    conn = %conn.handle.id(),
                    sub = conn.identity.sub().unwrap_or("-"),
                    event = %name,
                    code = error.code(),
                    error = %error,
                    "event handler failed"
                );
                send_error(conn, id, error.code());
                Dispatch::Failed { code: error.code() }
            }
        }
    }

    /// [`dispatch`](Self::dispatch) for a whole message: text is dispatched, binary is
    /// answered with `invalid_message` (events are JSON text).
    pub async fn dispatch_message(
        &self,
        conn: &ConnectionContext<S>,
        message: &Message,
    ) -> Dispatch {
        match message {
            Message::Text(text) => self.dispatch(conn, text).await,
            Message::Binary(_) => {
                tracing::debug!(conn = %conn.handle.id(), "binary message where events are text");
                send_error(conn, None, codes::INVALID_MESSAGE);
                Dispatch::InvalidMessage
            }
        }
    }

    fn route<F, Fut>(mut self, name: &str, roles: Option<Box<[String]>>, handler: F) -> Self
    where
        F: Fn(EventContext<S>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = EventResult> + Send + 'static,
    {
        let handler: Handler<S> = Arc::new(move |context| Box::pin(handler(context)));
        self.routes
            .insert(Arc::from(name), Route { roles, handler });
        self
    }

    fn grants(&self, identity: &Identity, required: &[String]) -> bool {
        identity
            .roles(&self.role_claim)
            .iter()
            .any(|granted| required.iter().any(|role| role == granted))
    }
}

/// What [`Router::dispatch`] did with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Dispatch {
    /// The handler ran and succeeded.
    Handled {
        /// Whether an ack was queued (the handler returned data and the connection
        /// accepted the reply).
        acked: bool,
    },
    /// No handler for the event; the client got `unknown_event`.
    UnknownEvent,
    /// The token lacks the event's roles; the client got `forbidden`.
    Forbidden,
    /// The message was not a valid event message; the client got `invalid_message`.
    InvalidMessage,
    /// The handler returned an error; the client got its stable `code`.
    Failed {
        /// The code sent to the client.
        code: &'static str,
    },
}

/// The per-connection parts every handler receives: built once when the connection is
/// authenticated and passed to each [`Router::dispatch`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ConnectionContext<S = ()> {
    /// Who is connected. Replace it when the connection re-authenticates.
    pub identity: Arc<Identity>,
    /// The connection itself; replies go through it.
    pub handle: ConnectionHandle,
    /// The registry the connection is registered in, if the application uses one.
    pub sessions: Option<Sessions>,
    /// The application state.
    pub state: S,
}

impl<S> ConnectionContext<S> {
    /// The context of a connection with no sessions registry.
    #[must_use]
    pub const fn new(identity: Arc<Identity>, handle: ConnectionHandle, state: S) -> Self {
        Self {
            identity,
            handle,
            sessions: None,
            state,
        }
    }

    /// Give handlers access to `sessions` (for rooms, per-user messages, kicking).
    #[must_use]
    pub fn with_sessions(mut self, sessions: Sessions) -> Self {
        self.sessions = Some(sessions);
        self
    }
}

/// Everything a handler gets for one event. Owned, so the handler's future can outlive
/// the message.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct EventContext<S = ()> {
    /// Who sent the event.
    pub identity: Arc<Identity>,
    /// The sender's connection (for replies beyond the ack, or joining rooms).
    pub handle: ConnectionHandle,
    /// The sessions registry, when the connection context has one.
    pub sessions: Option<Sessions>,
    /// The application state.
    pub state: S,
    /// The event's name.
    pub event: Arc<str>,
    /// The event's `data` (`null` when the message had none).
    pub data: Value,
}

impl<S> EventContext<S> {
    /// The sender's `sub` claim, if the token had one.
    #[must_use]
    pub fn sub(&self) -> Option<&str> {
        self.identity.sub()
    }

    /// The event's `data` as the handler's own type.
    ///
    /// # Errors
    /// [`EventError::invalid_data`] (code `invalid_data`) when `data` does not
    /// deserialize into `T`.
    pub fn parse_data<T: serde::de::DeserializeOwned>(&self) -> Result<T, EventError> {
        T::deserialize(&self.data).map_err(EventError::invalid_data)
    }
}

/// A handler's failure: a stable code for the client and, optionally, a source that only
/// the logs see.
#[derive(Debug)]
pub struct EventError {
    code: &'static str,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl EventError {
    /// A failure the client is told as `code` (a stable `snake_case` word such as
    /// `not_found` or `rate_limited`).
    #[must_use]
    pub const fn new(code: &'static str) -> Self {
        Self { code, source: None }
    }

    /// A failure told to the client as `code`, with details for the logs only.
    pub fn with_source(
        code: &'static str,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self {
            code,
            source: Some(source.into()),
        }
    }

    /// The event's data has the wrong shape (code `invalid_data`).
    pub fn invalid_data(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::with_source(codes::INVALID_DATA, source)
    }

    /// An internal failure (code `internal_error`); the client learns nothing more.
    pub fn internal(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::with_source(codes::INTERNAL_ERROR, source)
    }

    /// The code the client is told.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        self.code
    }
}

impl fmt::Display for EventError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Some(source) => write!(f, "{}: {source}", self.code),
            None => f.write_str(self.code),
        }
    }
}

impl std::error::Error for EventError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|source| source as &(dyn std::error::Error + 'static))
    }
}

impl From<serde_json::Error> for EventError {
    /// A `serde_json` error from reading the event's data is `invalid_data`.
    fn from(error: serde_json::Error) -> Self {
        Self::invalid_data(error)
    }
}

/// The text message `{"event": event, "data": data}`, for pushing events to clients (for
/// example through [`Sessions::broadcast_to_room`]) in the format the router speaks.
#[must_use]
pub fn event_message(event: &str, data: Value) -> Message {
    reply(event, data, None)
}

/// A parsed `{"event", "data", "id"}` message.
struct Request {
    event: String,
    data: Value,
    id: Option<Value>,
}

impl Request {
    fn parse(text: &str) -> Option<Self> {
        let Ok(Value::Object(mut object)) = serde_json::from_str::<Value>(text) else {
            return None;
        };
        let Some(Value::String(event)) = object.remove("event") else {
            return None;
        };
        let id = match object.remove("id") {
            None => None,
            Some(id @ (Value::String(_) | Value::Number(_))) => Some(id),
            Some(_) => return None,
        };
        let data = object.remove("data").unwrap_or(Value::Null);
        Some(Self { event, data, id })
    }
}

fn reply(event: &str, data: Value, id: Option<&Value>) -> Message {
    let mut object = Map::with_capacity(3);
    object.insert("event".to_owned(), Value::String(event.to_owned()));
    object.insert("data".to_owned(), data);
    if let Some(id) = id {
        object.insert("id".to_owned(), id.clone());
    }
    Message::text(Value::Object(object).to_string())
}

fn send_error<S>(conn: &ConnectionContext<S>, id: Option<&Value>, code: &str) {
    let mut data = Map::with_capacity(1);
    data.insert("code".to_owned(), Value::String(code.to_owned()));
    send(conn, reply("error", Value::Object(data), id));
}

/// Queue a reply; a connection that ended or overflowed is already being closed, so the
/// failure is only worth a debug line.
fn send<S>(conn: &ConnectionContext<S>, message: Message) -> bool {
    match conn.handle.send(message) {
        Ok(()) => true,
        Err(error) => {
            tracing::debug!(conn = %conn.handle.id(), %error, "event reply not queued");
            false
        }
    }
}

/// A client-chosen string for the logs, cut to a bounded length.
struct Shortened<'a>(&'a str);

impl fmt::Display for Shortened<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const MAX_CHARS: usize = 64;
        let mut chars = self.0.char_indices();
        match chars.nth(MAX_CHARS) {
            Some((end, _)) => write!(f, "{:?}…", self.0.get(..end).unwrap_or_default()),
            None => write!(f, "{:?}", self.0),
        }
    }
}

#[cfg(test)]
mod tests;
