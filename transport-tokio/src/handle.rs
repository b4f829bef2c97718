//! The types shared by the server, the [`Sessions`](crate::Sessions) registry and the event router:
//! who a connection belongs to ([`Identity`]), what travels over it ([`Message`]) and how
//! other tasks reach it ([`ConnectionHandle`]).
//!
//! A connection task owns the socket. Everything else (the sessions registry, a router
//! handler, the application) talks to it through a cloneable [`ConnectionHandle`] that
//! puts [`Command`]s on the connection's bounded outgoing queue. A full queue means the
//! client does not read fast enough: the handle marks the connection overflowed and the
//! connection task closes it (1008 `slow_consumer`) instead of letting memory grow.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use tokio::sync::{Notify, mpsc};

/// Identifies one connection for the life of the process (never reused).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId(u64);

impl ConnectionId {
    /// A fresh, process-unique id.
    #[must_use]
    pub fn next() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        Self(NEXT.fetch_add(1, Ordering::Relaxed))
    }

    /// The number behind the id (for logs).
    #[must_use]
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for ConnectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A whole WebSocket data message, to or from a client. Cheap to clone, so one broadcast
/// is one allocation however many connections receive it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A text message (valid UTF-8).
    Text(Arc<str>),
    /// A binary message.
    Binary(Bytes),
}

impl Message {
    /// A text message.
    pub fn text(text: impl Into<Arc<str>>) -> Self {
        Self::Text(text.into())
    }

    /// A binary message.
    pub fn binary(data: impl Into<Bytes>) -> Self {
        Self::Binary(data.into())
    }

    /// The payload length in bytes.
    #[must_use]
    pub fn len(&self) -> usize {
        match self {
            Self::Text(text) => text.len(),
            Self::Binary(data) => data.len(),
        }
    }

    /// Whether the payload is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The text, if this is a text message.
    #[must_use]
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Self::Text(text) => Some(text),
            Self::Binary(_) => None,
        }
    }
}

/// What another task asks a connection to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Send this message.
    Send(Message),
    /// Send a close frame with this code and reason (a stable code such as `kicked`),
    /// then end the connection.
    Close {
        /// The close code (1000, 1001, 1008, ...).
        code: u16,
        /// The close reason, at most 123 bytes.
        reason: Arc<str>,
    },
}

/// Why a [`ConnectionHandle`] could not queue a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendError {
    /// The connection has ended.
    Closed,
    /// The outgoing queue was full: the connection is being closed as a slow consumer.
    Overflowed,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Closed => "the connection has ended",
            Self::Overflowed => "the connection's outgoing queue is full (slow consumer)",
        })
    }
}

impl std::error::Error for SendError {}

/// The shared flag a handle raises when the outgoing queue overflowed; the connection
/// task waits on it and closes the connection.
#[derive(Debug, Default)]
pub struct Overflow {
    raised: AtomicBool,
    notify: Notify,
}

impl Overflow {
    /// Raise the flag and wake the connection task.
    pub fn raise(&self) {
        self.raised.store(true, Ordering::Release);
        self.notify.notify_one();
    }

    /// Whether the flag was raised.
    #[must_use]
    pub fn is_raised(&self) -> bool {
        self.raised.load(Ordering::Acquire)
    }

    /// Wait until the flag is raised (returns at once if it already was).
    pub async fn raised(&self) {
        while !self.is_raised() {
            self.notify.notified().await;
        }
    }
}

/// A cloneable way to reach one live connection from any task.
#[derive(Debug, Clone)]
pub struct ConnectionHandle {
    id: ConnectionId,
    sub: Option<Arc<str>>,
    tx: mpsc::Sender<Command>,
    overflow: Arc<Overflow>,
}

impl ConnectionHandle {
    /// A handle over the sending half of a connection's bounded outgoing queue.
    #[must_use]
    pub fn new(
        id: ConnectionId,
        sub: Option<Arc<str>>,
        tx: mpsc::Sender<Command>,
        overflow: Arc<Overflow>,
    ) -> Self {
        Self {
            id,
            sub,
            tx,
            overflow,
        }
    }

    /// The connection's id.
    #[must_use]
    pub const fn id(&self) -> ConnectionId {
        self.id
    }

    /// The verified `sub` of the connection's token, if it had one.
    #[must_use]
    pub fn sub(&self) -> Option<&str> {
        self.sub.as_deref()
    }

    /// Queue a message without waiting.
    ///
    /// # Errors
    /// [`SendError::Closed`] once the connection ended; [`SendError::Overflowed`] when
    /// the queue is full, which also closes the connection as a slow consumer.
    pub fn send(&self, message: Message) -> Result<(), SendError> {
        self.command(Command::Send(message))
    }

    /// Ask the connection to close with `code` and `reason`.
    ///
    /// # Errors
    /// As [`send`](Self::send).
    pub fn close(&self, code: u16, reason: &str) -> Result<(), SendError> {
        self.command(Command::Close {
            code,
            reason: reason.into(),
        })
    }

    /// Whether the connection has ended (its queue's receiver is gone).
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    fn command(&self, command: Command) -> Result<(), SendError> {
        match self.tx.try_send(command) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Closed(_)) => Err(SendError::Closed),
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.overflow.raise();
                Err(SendError::Overflowed)
            }
        }
    }
}

/// Who is on the other end: the verified token's identity, kept with the connection.
///
/// The claims are kept as the token's JSON text, with `sub` and `exp` read out of it:
/// an idle connection holds a few hundred bytes for its identity. The parsed claims
/// object is built the first time [`claims`](Self::claims), [`claim`](Self::claim) or
/// [`roles`](Self::roles) asks for it, then kept.
#[derive(Debug, Clone)]
pub struct Identity {
    sub: Option<Arc<str>>,
    alg: &'static str,
    kid: Option<Box<str>>,
    exp: Option<u64>,
    json: Arc<str>,
    parsed: OnceLock<Arc<serde_json::Map<String, serde_json::Value>>>,
}

/// A NumericDate in whole seconds: a fractional one expires at the next whole second,
/// as in the core.
fn numeric_date(value: &serde_json::Number) -> Option<u64> {
    value.as_u64().or_else(|| {
        value
            .as_f64()
            .filter(|e| *e >= 0.0)
            .map(|e| e.ceil() as u64)
    })
}

/// The registered claims the server reads itself.
#[derive(serde::Deserialize)]
struct Registered<'a> {
    #[serde(borrow, default)]
    sub: Option<std::borrow::Cow<'a, str>>,
    #[serde(default)]
    exp: Option<serde_json::Number>,
}

impl Identity {
    /// An identity from the verified token's parts: `claims` is the whole claims object.
    #[must_use]
    pub fn new(
        alg: &'static str,
        kid: Option<String>,
        claims: serde_json::Map<String, serde_json::Value>,
    ) -> Self {
        let sub = claims
            .get("sub")
            .and_then(serde_json::Value::as_str)
            .map(Arc::from);
        let exp = claims
            .get("exp")
            .and_then(|exp| numeric_date(exp.as_number()?));
        Self {
            sub,
            alg,
            kid: kid.map(String::into_boxed_str),
            exp,
            json: serde_json::Value::Object(claims).to_string().into(),
            parsed: OnceLock::new(),
        }
    }

    /// An identity from the verified token's claims as JSON text (the token's decoded
    /// payload), kept as it is.
    ///
    /// # Errors
    /// When `json` is not a JSON object, or its `sub` is not a string or its `exp` not a
    /// number.
    pub fn from_claims_json(
        alg: &'static str,
        kid: Option<&str>,
        json: &str,
    ) -> Result<Self, serde_json::Error> {
        if !json.trim_start().starts_with('{') {
            return Err(serde::de::Error::custom("the claims are not a JSON object"));
        }
        let registered: Registered<'_> = serde_json::from_str(json)?;
        let exp = registered.exp.as_ref().and_then(numeric_date);
        Ok(Self {
            sub: registered.sub.map(|sub| Arc::from(&*sub)),
            alg,
            kid: kid.map(Box::from),
            exp,
            json: Arc::from(json),
            parsed: OnceLock::new(),
        })
    }

    /// The `sub` claim, if the token had one.
    #[must_use]
    pub fn sub(&self) -> Option<&str> {
        self.sub.as_deref()
    }

    /// The `sub` claim shared, for registries.
    #[must_use]
    pub fn sub_arc(&self) -> Option<Arc<str>> {
        self.sub.clone()
    }

    /// The algorithm the token was verified with (`HS256`, `ES256`, `RS256`).
    #[must_use]
    pub const fn alg(&self) -> &'static str {
        self.alg
    }

    /// The `kid` of the token's header, if any.
    #[must_use]
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The `exp` claim (Unix seconds), if any.
    #[must_use]
    pub const fn exp(&self) -> Option<u64> {
        self.exp
    }

    /// The claims as the token carried them: a JSON object's text.
    #[must_use]
    pub fn claims_json(&self) -> &str {
        &self.json
    }

    /// Every claim of the token, as JSON (parsed on the first call, then kept).
    #[must_use]
    pub fn claims(&self) -> &serde_json::Map<String, serde_json::Value> {
        self.parsed.get_or_init(|| {
            Arc::new(
                match serde_json::from_str::<serde_json::Value>(&self.json) {
                    Ok(serde_json::Value::Object(map)) => map,
                    _ => serde_json::Map::new(),
                },
            )
        })
    }

    /// One claim by name.
    #[must_use]
    pub fn claim(&self, name: &str) -> Option<&serde_json::Value> {
        self.claims().get(name)
    }

    /// The claims as the application's own type, read from the token's JSON.
    ///
    /// # Errors
    /// When the claims do not deserialize into `T`.
    pub fn deserialize<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(&self.json)
    }

    /// The roles carried by `claim`: a string (`"admin"`), a space-separated string
    /// (`"admin moderator"`, as OAuth `scope`), or an array of strings.
    #[must_use]
    pub fn roles(&self, claim: &str) -> Vec<&str> {
        match self.claim(claim) {
            Some(serde_json::Value::String(text)) => text.split_whitespace().collect(),
            Some(serde_json::Value::Array(items)) => {
                items.iter().filter_map(serde_json::Value::as_str).collect()
            }
            _ => Vec::new(),
        }
    }

    /// Whether `claim` grants any of `roles`.
    #[must_use]
    pub fn has_any_role(&self, claim: &str, roles: &[&str]) -> bool {
        self.roles(claim).iter().any(|role| roles.contains(role))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::Identity;

    const CLAIMS: &str =
        r#"{"sub":"alice","exp":1700000000.5,"roles":"admin moderator","n":[1,2],"room":"lobby"}"#;

    #[test]
    fn claims_are_kept_as_the_token_carried_them() {
        let identity = Identity::from_claims_json("HS256", Some("k1"), CLAIMS).unwrap();
        assert_eq!(identity.claims_json(), CLAIMS);
        assert_eq!(identity.sub(), Some("alice"));
        assert_eq!(identity.kid(), Some("k1"));
        // A fractional NumericDate expires at the next whole second.
        assert_eq!(identity.exp(), Some(1_700_000_001));
        assert_eq!(identity.claim("n"), Some(&json!([1, 2])));
        assert_eq!(identity.roles("roles"), ["admin", "moderator"]);
        assert!(identity.has_any_role("roles", &["moderator"]));
        let room: serde_json::Value = identity.deserialize().unwrap();
        assert_eq!(room["room"], "lobby");
    }

    #[test]
    fn claims_that_are_not_an_object_or_mistyped_are_refused() {
        for bad in [
            "[1,2]",
            "\"alice\"",
            "{\"sub\":1}",
            "{\"exp\":\"soon\"}",
            "{\"sub\":",
        ] {
            assert!(
                Identity::from_claims_json("HS256", None, bad).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn an_identity_from_a_map_reads_the_same_claims() {
        let map = json!({"sub": "bob", "exp": 5, "roles": ["user"]});
        let identity = Identity::new("ES256", None, map.as_object().unwrap().clone());
        assert_eq!(identity.sub(), Some("bob"));
        assert_eq!(identity.exp(), Some(5));
        assert_eq!(identity.roles("roles"), ["user"]);
        let reparsed: serde_json::Value = serde_json::from_str(identity.claims_json()).unwrap();
        assert_eq!(reparsed, map);
    }
}
