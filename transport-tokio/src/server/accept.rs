//! The upgrade: read the request within the handshake timeout, authenticate it, answer
//! it, and start the connection task. [`Acceptor::accept_stream`] does it for any
//! stream.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, watch};
use tokio::time::timeout;
use tollgate::auth::{AuthError, AuthMode};
use tollgate::io::Refusal;
use tollgate::ws::close::CloseCode;
use tollgate::ws::handshake::{
    EMPTY_HEADER, HandshakeError, Rejection, Request, ServerConfig as HandshakeConfig, Status,
    TokenSource, extract_token,
};
use tracing::Instrument;

use super::config::{ServerConfig, TokenFrom};
use super::driver::{Demand, Driver, End, Wiring, reason, unix_now};
use super::inline::InlineHandler;
use super::limits::{GlobalPermit, Limits, UserPermit};
use super::shutdown::ShutdownHandle;
use super::socket::AuthenticatedSocket;
use crate::handle::{ConnectionHandle, ConnectionId, Identity, Overflow};

#[cfg(feature = "axum")]
mod framework;
#[cfg(feature = "axum")]
pub(crate) use framework::{Decision, Upgraded};

/// Header lines accepted in an upgrade request (browsers send about 15).
const MAX_REQUEST_HEADERS: usize = 32;

/// Incoming messages buffered for the application before the connection stops reading.
const INCOMING_QUEUE: usize = 64;

/// The lists the core's handshake rules borrow, built from a [`ServerConfig`] once per
/// upgrade (the accept path and the axum path share them).
struct RuleLists<'a> {
    origins: Option<Vec<&'a str>>,
    protocols: Vec<&'a str>,
    sources: Vec<TokenSource<'a>>,
}

impl<'a> RuleLists<'a> {
    fn new(config: &'a ServerConfig) -> Self {
        Self {
            origins: config
                .allowed_origins
                .as_ref()
                .map(|origins| origins.iter().map(String::as_str).collect()),
            protocols: config.protocols.iter().map(String::as_str).collect(),
            sources: config
                .token_sources
                .iter()
                .map(TokenFrom::as_source)
                .collect(),
        }
    }

    /// The handshake rules (origins, subprotocols, token sources) over these lists.
    fn rules(&self) -> HandshakeConfig<'_> {
        let rules = HandshakeConfig::new()
            .with_protocols(&self.protocols)
            .with_token_sources(&self.sources);
        match &self.origins {
            Some(origins) => rules.with_allowed_origins(origins),
            None => rules,
        }
    }
}

/// The answer to a connection over a cap, before the upgrade.
const SERVICE_UNAVAILABLE: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n\
Retry-After: 5\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 21\r\n\r\n\
too_many_connections\n";

/// Why a connection was not handed to the application. The client was told only a
/// stable code (HTTP status or close reason); the details are for logs.
#[derive(Debug)]
#[non_exhaustive]
pub enum AcceptError {
    /// The upgrade request was malformed or refused (400, 403, 405, 426, 431; answered).
    Handshake(HandshakeError),
    /// The token was missing or refused (401/400, or close 1008; answered).
    Auth(AuthError),
    /// A connection cap was reached (503, or close 1013 `too_many_connections`).
    TooManyConnections,
    /// TLS, the request or the token verification took longer than the handshake
    /// timeout; the connection was dropped without an answer.
    Timeout,
    /// The server is shutting down.
    Shutdown,
    /// The client went away or broke the protocol before authenticating.
    Closed,
    /// The transport failed.
    Io(io::Error),
}

impl fmt::Display for AcceptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Handshake(error) => write!(f, "upgrade request refused: {error}"),
            Self::Auth(error) => write!(f, "authentication failed: {}", error.code()),
            Self::TooManyConnections => f.write_str("too many connections"),
            Self::Timeout => f.write_str("handshake timed out"),
            Self::Shutdown => f.write_str("server is shutting down"),
            Self::Closed => f.write_str("client left before authenticating"),
            Self::Io(error) => write!(f, "I/O error: {error}"),
        }
    }
}

impl std::error::Error for AcceptError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Handshake(error) => Some(error),
            Self::Auth(error) => Some(error),
            Self::Io(error) => Some(error),
            _ => None,
        }
    }
}

impl From<io::Error> for AcceptError {
    fn from(error: io::Error) -> Self {
        Self::Io(error)
    }
}

/// Turns streams into [`AuthenticatedSocket`]s under one [`ServerConfig`]: the
/// framework-free core of [`Server`](super::Server), usable with any transport (TLS,
/// Unix sockets, in-memory pipes in tests). Cheap to clone; every clone shares the
/// connection counts and the shutdown trigger.
///
/// ```no_run
/// use tokio::net::TcpListener;
/// use tollgate_tokio::server::{Acceptor, ServerConfig, StaticVerifier};
/// # async fn run(key: tollgate::jwt::Key) -> std::io::Result<()> {
/// let acceptor = Acceptor::new(ServerConfig::new(StaticVerifier::new(key)));
/// let listener = TcpListener::bind("127.0.0.1:9000").await?;
/// loop {
///     let (tcp, _) = listener.accept().await?;
///     let acceptor = acceptor.clone();
///     tokio::spawn(async move {
///         if let Ok(socket) = acceptor.accept_stream(tcp).await {
///             // hand `socket` to the application
///             # drop(socket);
///         }
///     });
/// }
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Acceptor {
    config: Arc<ServerConfig>,
    limits: Arc<Limits>,
    shutdown: ShutdownHandle,
}

/// What the upgrade produced.
struct Upgrade {
    identity: Option<Identity>,
    protocol: Option<String>,
    pipelined: Vec<u8>,
    user: Option<UserPermit>,
}

impl Acceptor {
    /// An acceptor enforcing `config`.
    #[must_use]
    pub fn new(config: ServerConfig) -> Self {
        Self {
            config: Arc::new(config),
            limits: Arc::new(Limits::default()),
            shutdown: ShutdownHandle::new(),
        }
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// The trigger that closes every connection of this acceptor (1001) and refuses new
    /// ones.
    #[must_use]
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.shutdown.clone()
    }

    /// Connections open now, handshakes in progress included.
    #[must_use]
    pub fn open_connections(&self) -> usize {
        self.limits.open()
    }

    /// Performs the upgrade and authentication on `stream`, answers refusals, and on
    /// success starts the connection's task (tracked for graceful shutdown) and returns
    /// the socket.
    ///
    /// # Errors
    /// The [`AcceptError`] that ended the attempt (the client got its answer).
    pub async fn accept_stream<S>(&self, stream: S) -> Result<AuthenticatedSocket, AcceptError>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        self.accept_from(stream, None).await
    }

    pub(crate) async fn accept_from<S>(
        &self,
        stream: S,
        peer: Option<SocketAddr>,
    ) -> Result<AuthenticatedSocket, AcceptError>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let accepted = self.authenticate_from(stream, peer).await?;
        Ok(self.start(accepted))
    }

    /// The upgrade and authentication of [`accept_from`](Self::accept_from), without
    /// starting the connection task.
    pub(crate) async fn authenticate_from<S>(
        &self,
        stream: S,
        peer: Option<SocketAddr>,
    ) -> Result<Accepted<S>, AcceptError>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let id = ConnectionId::next();
        let span = match peer {
            Some(peer) => {
                tracing::info_span!("ws", conn = id.get(), %peer, sub = tracing::field::Empty)
            }
            None => tracing::info_span!("ws", conn = id.get(), sub = tracing::field::Empty),
        };
        let result = self
            .accept_in_span(stream, id, span.clone())
            .instrument(span.clone())
            .await;
        match &result {
            Err(AcceptError::Auth(error)) => {
                span.in_scope(|| tracing::info!(code = error.code(), "authentication refused"));
            }
            Err(error) => span.in_scope(|| tracing::debug!(%error, "connection refused")),
            Ok(_) => {}
        }
        result
    }

    async fn accept_in_span<S>(
        &self,
        mut stream: S,
        id: ConnectionId,
        span: tracing::Span,
    ) -> Result<Accepted<S>, AcceptError>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        if self.shutdown.is_shutdown() {
            return Err(AcceptError::Shutdown);
        }
        let config = &self.config;
        let global = self.limits.try_global(config.max_connections);
        let upgrade = match timeout(
            config.handshake_timeout,
            self.upgrade(&mut stream, global.is_some()),
        )
        .await
        {
            Ok(upgrade) => upgrade?,
            Err(_) => return Err(AcceptError::Timeout),
        };
        let Some(global) = global else {
            return Err(AcceptError::TooManyConnections);
        };
        let mut driver = Driver::new(stream, Arc::clone(config), &upgrade.pipelined);
        let (identity, user) = match upgrade.identity {
            Some(identity) => (identity, upgrade.user),
            None => self.first_message(&mut driver).await?,
        };
        if let Some(sub) = identity.sub() {
            span.record("sub", sub);
        }
        tracing::info!(alg = identity.alg(), "authenticated");
        Ok(Accepted {
            driver,
            id,
            identity,
            protocol: upgrade.protocol,
            permits: (global, user),
            span,
        })
    }

    /// Reads and answers the upgrade request; `capacity` is false when the global cap
    /// was reached.
    async fn upgrade<S>(&self, stream: &mut S, capacity: bool) -> Result<Upgrade, AcceptError>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send,
    {
        let config = &self.config;
        let lists = RuleLists::new(config);
        let rules = lists
            .rules()
            .with_max_request_bytes(config.max_request_bytes);
        let sources = &lists.sources;
        let mut buf = vec![0_u8; rules.max_request_bytes()];
        let end = read_head(stream, &rules, &mut buf).await?;
        let mut headers = [EMPTY_HEADER; MAX_REQUEST_HEADERS];
        let received = buf.get(..end).unwrap_or_default();
        let request = match rules.parse_request(received, &mut headers) {
            Ok(Status::Complete(request)) => request,
            Ok(Status::Partial) => return Err(AcceptError::Handshake(HandshakeError::Malformed)),
            Err(error) => {
                write_rejection(stream, Rejection::from_error(error)).await?;
                return Err(AcceptError::Handshake(error));
            }
        };
        let pipelined = received.get(request.head_len()..).unwrap_or_default();
        let refuse = Refuse {
            config,
            rules: &rules,
            request: &request,
            pipelined,
        };
        if !capacity {
            refuse.capacity(stream).await?;
            return Err(AcceptError::TooManyConnections);
        }
        let mut decode = vec![0_u8; end];
        let identity = match extract_token(&request, sources, &mut decode) {
            Err(HandshakeError::MissingToken) if config.mode == AuthMode::FirstMessage => None,
            Err(error) => {
                let error = AuthError::from(error);
                refuse.auth(stream, error).await?;
                return Err(AcceptError::Auth(error));
            }
            Ok(token) => match config.verifier.verify(token.as_str(), unix_now()).await {
                Ok(identity) => Some(identity),
                Err(error) => {
                    refuse.auth(stream, error).await?;
                    return Err(AcceptError::Auth(error));
                }
            },
        };
        let user = match &identity {
            Some(identity) => match self.user_permit(identity) {
                Ok(user) => user,
                Err(()) => {
                    refuse.capacity(stream).await?;
                    return Err(AcceptError::TooManyConnections);
                }
            },
            None => None,
        };
        let protocol = rules.select_protocol(&request);
        write_accept(stream, &request, protocol).await?;
        Ok(Upgrade {
            identity,
            protocol: protocol.map(str::to_owned),
            pipelined: pipelined.to_vec(),
            user,
        })
    }

    /// A permit under the per-user cap (`None` when there is no cap or no `sub`).
    fn user_permit(&self, identity: &Identity) -> Result<Option<UserPermit>, ()> {
        match (self.config.max_connections_per_user, identity.sub_arc()) {
            (Some(max), Some(sub)) => self.limits.try_user(sub, max).map(Some).ok_or(()),
            _ => Ok(None),
        }
    }

    /// First-message authentication on an upgraded connection.
    async fn first_message<S>(
        &self,
        driver: &mut Driver<S>,
    ) -> Result<(Identity, Option<UserPermit>), AcceptError>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send,
    {
        let token = match driver.first_message().await {
            Ok(token) => token,
            Err(Ok(error)) => {
                driver.refuse(error).await;
                return Err(AcceptError::Auth(error));
            }
            Err(Err(_)) => return Err(AcceptError::Closed),
        };
        let verify = self.config.verifier.verify(&token, unix_now());
        let identity = match timeout(self.config.handshake_timeout, verify).await {
            Ok(Ok(identity)) => identity,
            Ok(Err(error)) => {
                driver.refuse(error).await;
                return Err(AcceptError::Auth(error));
            }
            Err(_) => {
                driver.close(1011, reason::INTERNAL_ERROR).await;
                return Err(AcceptError::Timeout);
            }
        };
        let Ok(user) = self.user_permit(&identity) else {
            let code = CloseCode::TRY_AGAIN_LATER.as_u16();
            driver.close(code, reason::TOO_MANY_CONNECTIONS).await;
            return Err(AcceptError::TooManyConnections);
        };
        match driver.acknowledge().await {
            Ok(()) => Ok((identity, user)),
            Err(End::Io(error)) => Err(AcceptError::Io(error)),
            Err(_) => Err(AcceptError::Closed),
        }
    }

    /// Wires the queues and spawns the connection task.
    pub(crate) fn start<S>(&self, accepted: Accepted<S>) -> AuthenticatedSocket
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let Accepted {
            driver,
            id,
            identity,
            protocol,
            permits,
            span,
        } = accepted;
        let (out_tx, out_rx) = mpsc::channel(self.config.outgoing_queue);
        let (in_tx, in_rx) = mpsc::channel(INCOMING_QUEUE);
        let overflow = Arc::new(Overflow::default());
        let handle = ConnectionHandle::new(
            id,
            identity.sub_arc(),
            out_tx.clone(),
            Arc::clone(&overflow),
        );
        let (identity_tx, identity_rx) = watch::channel(identity);
        let end = Arc::new(Mutex::new(None));
        let demand = Arc::new(Demand::default());
        let wiring = Wiring {
            outgoing: out_rx,
            incoming: in_tx,
            demand: Arc::clone(&demand),
            overflow,
            identity: identity_tx,
            shutdown: self.shutdown.token(),
            end: Arc::clone(&end),
        };
        let task = async move {
            let _permits = permits;
            driver.run(wiring).await;
        };
        self.shutdown.tracker().spawn(task.instrument(span.clone()));
        AuthenticatedSocket::new(
            handle,
            out_tx,
            identity_rx,
            protocol,
            (in_rx, demand),
            end,
            span,
        )
    }

    /// Starts the task that runs an authenticated connection with an inline handler
    /// (tracked for graceful shutdown). The task holds the connection's state and
    /// nothing of the upgrade.
    pub(crate) fn spawn_inline<S, H>(&self, accepted: Accepted<S>, handler: H)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
        H: InlineHandler,
    {
        let Accepted {
            driver,
            id,
            identity,
            permits,
            span,
            ..
        } = accepted;
        let task = driver
            .run_inline(handler, (id, identity), self.shutdown.token(), permits)
            .instrument(span);
        self.shutdown.tracker().spawn(task);
    }
}

/// An authenticated connection, before its task starts.
pub(crate) struct Accepted<S> {
    driver: Driver<S>,
    id: ConnectionId,
    identity: Identity,
    protocol: Option<String>,
    permits: (GlobalPermit, Option<UserPermit>),
    span: tracing::Span,
}

/// How to refuse a parsed request.
struct Refuse<'r, 'h, 'b> {
    config: &'r Arc<ServerConfig>,
    rules: &'r HandshakeConfig<'r>,
    request: &'r Request<'h, 'b>,
    pipelined: &'r [u8],
}

impl Refuse<'_, '_, '_> {
    /// A refused token: 401/400, or 101 and close 1008 with the code.
    async fn auth<S>(&self, stream: &mut S, error: AuthError) -> io::Result<()>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send,
    {
        match self.config.refusal {
            Refusal::Http => write_rejection(stream, error.rejection()).await,
            _ => {
                self.close(stream, error.close_code().as_u16(), error.code())
                    .await
            }
        }
    }

    /// A cap was reached: 503, or 101 and close 1013.
    async fn capacity<S>(&self, stream: &mut S) -> io::Result<()>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send,
    {
        match self.config.refusal {
            Refusal::Http => {
                stream.write_all(SERVICE_UNAVAILABLE).await?;
                stream.shutdown().await
            }
            _ => {
                let code = CloseCode::TRY_AGAIN_LATER.as_u16();
                self.close(stream, code, reason::TOO_MANY_CONNECTIONS).await
            }
        }
    }

    async fn close<S>(&self, stream: &mut S, code: u16, reason: &str) -> io::Result<()>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send,
    {
        write_accept(
            stream,
            self.request,
            self.rules.select_protocol(self.request),
        )
        .await?;
        let mut driver = Driver::new(stream, Arc::clone(self.config), self.pipelined);
        match driver.close(code, reason).await {
            End::Io(error) => Err(error),
            _ => Ok(()),
        }
    }
}

/// Reads until the request head is complete (or refused); returns the bytes read.
async fn read_head<S>(
    stream: &mut S,
    rules: &HandshakeConfig<'_>,
    buf: &mut [u8],
) -> Result<usize, AcceptError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let mut end = 0;
    loop {
        let free = buf.get_mut(end..).unwrap_or_default();
        if free.is_empty() {
            let error = HandshakeError::RequestTooLarge;
            write_rejection(stream, Rejection::from_error(error)).await?;
            return Err(AcceptError::Handshake(error));
        }
        let n = stream.read(free).await?;
        if n == 0 {
            return Err(AcceptError::Closed);
        }
        end += n;
        let mut headers = [EMPTY_HEADER; MAX_REQUEST_HEADERS];
        match rules.parse_request(buf.get(..end).unwrap_or_default(), &mut headers) {
            Ok(Status::Partial) => {}
            // Complete, or refused: the caller parses again and answers.
            _ => return Ok(end),
        }
    }
}

async fn write_rejection<S: AsyncWrite + Unpin>(
    stream: &mut S,
    rejection: Rejection,
) -> io::Result<()> {
    let mut out = [0_u8; Rejection::MAX_LEN];
    let len = rejection.write(&mut out).unwrap_or(0);
    stream.write_all(out.get(..len).unwrap_or_default()).await?;
    stream.shutdown().await
}

async fn write_accept<S: AsyncWrite + Unpin>(
    stream: &mut S,
    request: &Request<'_, '_>,
    protocol: Option<&str>,
) -> io::Result<()> {
    let mut out = [0_u8; 512];
    let len = request
        .write_accept(protocol, &[], &mut out)
        .map_err(|error| io::Error::other(error.to_string()))?;
    stream.write_all(out.get(..len).unwrap_or_default()).await?;
    stream.flush().await
}
