//! What a [`Server`](super::Server) enforces: the [`ServerConfig`] builder.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tollgate::auth::AuthMode;
use tollgate::io::Refusal;
use tollgate::ws::handshake::token::{DEFAULT_PROTOCOL_MARKER, DEFAULT_QUERY_PARAMETER};
use tollgate::ws::handshake::{ServerConfig as HandshakeConfig, TokenSource};

use crate::verify::TokenVerifier;

/// One place the upgrade request may carry the token (an owned
/// [`TokenSource`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenFrom {
    /// The query parameter `name` (`wss://host/path?token=…`), percent-decoded.
    Query(String),
    /// `Authorization: Bearer <token>` (non-browser clients).
    Bearer,
    /// `Sec-WebSocket-Protocol: <marker>, <token>`; the server answers with the marker,
    /// never the token (browsers cannot set headers, but can offer subprotocols).
    Subprotocol(String),
    /// The cookie `name`. Exposes the endpoint to cross-site WebSocket hijacking:
    /// configure it only together with [`ServerConfig::with_allowed_origins`].
    Cookie(String),
}

impl TokenFrom {
    /// The `token` query parameter.
    #[must_use]
    pub fn query() -> Self {
        Self::Query(DEFAULT_QUERY_PARAMETER.to_owned())
    }

    /// The `tollgate.bearer` marker subprotocol.
    #[must_use]
    pub fn subprotocol() -> Self {
        Self::Subprotocol(DEFAULT_PROTOCOL_MARKER.to_owned())
    }

    /// The cookie `name`.
    #[must_use]
    pub fn cookie(name: impl Into<String>) -> Self {
        Self::Cookie(name.into())
    }

    /// The core's borrowed form.
    #[must_use]
    pub fn as_source(&self) -> TokenSource<'_> {
        match self {
            Self::Query(name) => TokenSource::Query { name },
            Self::Bearer => TokenSource::AuthorizationBearer,
            Self::Subprotocol(marker) => TokenSource::Subprotocol { marker },
            Self::Cookie(name) => TokenSource::Cookie { name },
        }
    }
}

/// A per-connection token bucket on incoming messages: `per_second` refill, `burst`
/// capacity. Every data message (including in-band refreshes) takes one token; a message
/// that finds the bucket empty closes the connection with 1008 `rate_limited`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    per_second: f64,
    burst: f64,
}

impl RateLimit {
    /// `per_second` messages per second sustained, bursts of as many.
    #[must_use]
    pub fn per_second(per_second: u32) -> Self {
        let rate = f64::from(per_second.max(1));
        Self {
            per_second: rate,
            burst: rate,
        }
    }

    /// Allow bursts of `burst` messages (at least 1).
    #[must_use]
    pub fn with_burst(mut self, burst: u32) -> Self {
        self.burst = f64::from(burst.max(1));
        self
    }

    /// The sustained rate, in messages per second.
    #[must_use]
    pub const fn rate(&self) -> f64 {
        self.per_second
    }

    /// The burst size, in messages.
    #[must_use]
    pub const fn burst(&self) -> f64 {
        self.burst
    }
}

/// Everything a server enforces, with safe defaults; built by chaining `with_*`.
///
/// | setting | default |
/// | --- | --- |
/// | token sources | query `token`, `Authorization: Bearer`, subprotocol `tollgate.bearer` |
/// | auth mode | [`AuthMode::Handshake`] (token in the upgrade request) |
/// | refusal | [`Refusal::Http`] (401 + RFC 6750 `WWW-Authenticate`) |
/// | handshake timeout | 10 s (TLS, request head, token verification; also bounds each verification of a first message or refresh) |
/// | request head | 8 KiB (431 beyond) |
/// | first-message timeout | 10 s |
/// | max message size | 1 MiB (bigger: close 1009) |
/// | connections | unlimited globally and per user |
/// | rate limit | none |
/// | ping interval / dead-peer timeout | 30 s / 30 s |
/// | outgoing queue | 256 messages (full: close 1008 `slow_consumer`) |
/// | write timeout | 10 s (a stalled write closes the connection) |
/// | origins | any |
/// | shutdown grace | 10 s |
///
/// Connection caps: a connection over the global cap, or over the per-user cap
/// (counted by `sub`; tokens without `sub` are not counted per user), is refused like a
/// token: with [`Refusal::Http`], `503 Service Unavailable` and the body
/// `too_many_connections`; after an upgrade (with [`Refusal::CloseAfterUpgrade`], or in
/// first-message mode once the user is known), close 1013 (try again later) with the
/// reason `too_many_connections`.
///
/// ```
/// use std::time::Duration;
/// use tollgate::jwt::{Key, alg::hs256::Hs256Secret};
/// use tollgate_tokio::server::{RateLimit, ServerConfig, StaticVerifier, TokenFrom};
///
/// let key = Key::Hs256(Hs256Secret::new(b"0123456789abcdef0123456789abcdef")?);
/// let config = ServerConfig::new(StaticVerifier::new(key).with_issuers(["https://issuer.example"]))
///     .with_token_sources([TokenFrom::Bearer, TokenFrom::query()])
///     .with_first_message_auth(Duration::from_secs(5))
///     .with_max_message_size(64 * 1024)
///     .with_max_connections_per_user(3)
///     .with_rate_limit(RateLimit::per_second(20).with_burst(40));
/// assert_eq!(config.max_message_size(), 64 * 1024);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct ServerConfig {
    pub(crate) verifier: Arc<dyn TokenVerifier>,
    pub(crate) token_sources: Vec<TokenFrom>,
    pub(crate) mode: AuthMode,
    pub(crate) refusal: Refusal,
    pub(crate) handshake_timeout: Duration,
    pub(crate) first_message_timeout: Duration,
    pub(crate) max_message_size: usize,
    pub(crate) max_connections: Option<usize>,
    pub(crate) max_connections_per_user: Option<usize>,
    pub(crate) rate_limit: Option<RateLimit>,
    pub(crate) ping_interval: Option<Duration>,
    pub(crate) peer_timeout: Duration,
    pub(crate) outgoing_queue: usize,
    pub(crate) write_timeout: Duration,
    pub(crate) allowed_origins: Option<Vec<String>>,
    pub(crate) protocols: Vec<String>,
    pub(crate) shutdown_grace: Duration,
    pub(crate) max_request_bytes: usize,
}

impl fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerConfig")
            .field("token_sources", &self.token_sources)
            .field("mode", &self.mode)
            .field("refusal", &self.refusal)
            .field("handshake_timeout", &self.handshake_timeout)
            .field("first_message_timeout", &self.first_message_timeout)
            .field("max_message_size", &self.max_message_size)
            .field("max_connections", &self.max_connections)
            .field("max_connections_per_user", &self.max_connections_per_user)
            .field("rate_limit", &self.rate_limit)
            .field("ping_interval", &self.ping_interval)
            .field("peer_timeout", &self.peer_timeout)
            .field("outgoing_queue", &self.outgoing_queue)
            .field("write_timeout", &self.write_timeout)
            .field("allowed_origins", &self.allowed_origins)
            .field("protocols", &self.protocols)
            .field("shutdown_grace", &self.shutdown_grace)
            .field("max_request_bytes", &self.max_request_bytes)
            .finish_non_exhaustive()
    }
}

impl ServerConfig {
    /// The defaults (see the table above) with tokens verified by `verifier`.
    pub fn new(verifier: impl TokenVerifier) -> Self {
        Self::with_shared_verifier(Arc::new(verifier))
    }

    /// The defaults with a verifier shared with other parts of the application.
    #[must_use]
    pub fn with_shared_verifier(verifier: Arc<dyn TokenVerifier>) -> Self {
        Self {
            verifier,
            token_sources: vec![
                TokenFrom::query(),
                TokenFrom::Bearer,
                TokenFrom::subprotocol(),
            ],
            mode: AuthMode::Handshake,
            refusal: Refusal::Http,
            handshake_timeout: Duration::from_secs(10),
            first_message_timeout: Duration::from_secs(10),
            max_message_size: 1 << 20,
            max_connections: None,
            max_connections_per_user: None,
            rate_limit: None,
            ping_interval: Some(Duration::from_secs(30)),
            peer_timeout: Duration::from_secs(30),
            outgoing_queue: 256,
            write_timeout: Duration::from_secs(10),
            allowed_origins: None,
            protocols: Vec::new(),
            shutdown_grace: Duration::from_secs(10),
            max_request_bytes: HandshakeConfig::DEFAULT_MAX_REQUEST_BYTES,
        }
    }

    /// Where the upgrade request may carry the token, in order. Two different tokens in
    /// two sources are refused (400 `invalid_request`).
    #[must_use]
    pub fn with_token_sources(mut self, sources: impl IntoIterator<Item = TokenFrom>) -> Self {
        self.token_sources = sources.into_iter().collect();
        self
    }

    /// First-message authentication: an upgrade request without a token is accepted,
    /// and its first message must be `{"type":"authenticate","token":"…"}` within
    /// `timeout`. The server answers `{"type":"authenticated"}`, or
    /// `{"type":"unauthorized","code":"…","message":"…"}` and close 1008 with the
    /// code as reason (also when the timeout passes: `missing_token`). Nothing reaches
    /// the application before. A token in the request is still accepted as usual.
    #[must_use]
    pub fn with_first_message_auth(mut self, timeout: Duration) -> Self {
        self.mode = AuthMode::FirstMessage;
        self.first_message_timeout = timeout;
        self
    }

    /// How refused tokens (and connection caps) are answered: [`Refusal::Http`] (401
    /// before the upgrade) or [`Refusal::CloseAfterUpgrade`] (101, then close 1008 with
    /// the stable code as reason: browsers can read it, they cannot read a 401).
    #[must_use]
    pub fn with_refusal(mut self, refusal: Refusal) -> Self {
        self.refusal = refusal;
        self
    }

    /// The time a client has to complete TLS and send its upgrade request (and for the
    /// token to verify); a slow client is disconnected without an answer.
    #[must_use]
    pub fn with_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// The largest incoming message, in bytes, across fragments; larger ones close the
    /// connection with 1009.
    #[must_use]
    pub fn with_max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes.max(1);
        self
    }

    /// At most `max` connections at once (handshakes in progress included).
    #[must_use]
    pub fn with_max_connections(mut self, max: usize) -> Self {
        self.max_connections = Some(max);
        self
    }

    /// At most `max` connections at once per `sub`.
    #[must_use]
    pub fn with_max_connections_per_user(mut self, max: usize) -> Self {
        self.max_connections_per_user = Some(max);
        self
    }

    /// Limit incoming messages per connection.
    #[must_use]
    pub fn with_rate_limit(mut self, limit: RateLimit) -> Self {
        self.rate_limit = Some(limit);
        self
    }

    /// Ping every `interval`; a peer from which nothing (data, pong) arrived for
    /// `interval + timeout` is dead and its connection dropped. `None` turns pings off.
    #[must_use]
    pub fn with_ping(mut self, interval: Option<Duration>, timeout: Duration) -> Self {
        self.ping_interval = interval;
        self.peer_timeout = timeout;
        self
    }

    /// The bound of each connection's outgoing queue, in messages. A
    /// [`ConnectionHandle::send`](crate::ConnectionHandle::send) that finds it full
    /// closes the connection with 1008 `slow_consumer`.
    #[must_use]
    pub fn with_outgoing_queue(mut self, messages: usize) -> Self {
        self.outgoing_queue = messages.max(1);
        self
    }

    /// How long one write to the client may take before the connection is dropped.
    #[must_use]
    pub fn with_write_timeout(mut self, timeout: Duration) -> Self {
        self.write_timeout = timeout;
        self
    }

    /// Accept only browsers from these origins (`https://app.example`, ASCII case
    /// ignored); others get 403. Requests without `Origin` (non-browser clients) pass.
    #[must_use]
    pub fn with_allowed_origins<I, S>(mut self, origins: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.allowed_origins = Some(origins.into_iter().map(Into::into).collect());
        self
    }

    /// Application subprotocols spoken, most preferred first.
    #[must_use]
    pub fn with_protocols<I, S>(mut self, protocols: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.protocols = protocols.into_iter().map(Into::into).collect();
        self
    }

    /// The longest upgrade request head accepted, in bytes (431 beyond; default 8 KiB).
    /// Raise it for browsers sending large cookies.
    #[must_use]
    pub fn with_max_request_bytes(mut self, bytes: usize) -> Self {
        self.max_request_bytes = bytes.max(256);
        self
    }

    /// How long a graceful shutdown waits for connections to close.
    #[must_use]
    pub fn with_shutdown_grace(mut self, grace: Duration) -> Self {
        self.shutdown_grace = grace;
        self
    }

    /// The verifier.
    #[must_use]
    pub fn verifier(&self) -> &Arc<dyn TokenVerifier> {
        &self.verifier
    }

    /// The token sources, in order.
    #[must_use]
    pub fn token_sources(&self) -> &[TokenFrom] {
        &self.token_sources
    }

    /// The authentication mode.
    #[must_use]
    pub const fn auth_mode(&self) -> AuthMode {
        self.mode
    }

    /// How refusals are answered.
    #[must_use]
    pub const fn refusal(&self) -> Refusal {
        self.refusal
    }

    /// The largest incoming message, in bytes.
    #[must_use]
    pub const fn max_message_size(&self) -> usize {
        self.max_message_size
    }
}
