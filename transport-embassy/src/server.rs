//! The server: a fixed number of TCP sockets accepting on one port, each running the
//! authenticated handshake and then the application's [`Handler`].

use core::convert::Infallible;

use embassy_futures::join::join_array;
use embassy_net::Stack;
use embassy_net::tcp::TcpSocket;
use embassy_time::{Duration, Timer, with_timeout};
use embedded_io_async::Write as _;
use tollgate::auth::Authenticator;
use tollgate::io::{self, Authenticated, ServerOptions, Session, Upgraded};
use tollgate::jwt::KeySource;
use tollgate::ws::close::CloseCode;

use crate::clock::Clock;
use crate::connection::{Connection, DEFAULT_CLOSE_TIMEOUT};
use crate::error::Error;

/// How long an upgrade request may take to arrive by default.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a token-less upgrade may wait for its authentication message by default.
pub const DEFAULT_FIRST_MESSAGE_TIMEOUT: Duration = Duration::from_secs(10);

/// The pause after a failed accept before listening again.
const ACCEPT_RETRY_DELAY: Duration = Duration::from_millis(100);

/// The answer while the wall clock is not set: no token can be checked yet.
const SERVICE_UNAVAILABLE: &[u8] =
    b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";

/// The close reason when no authentication message arrived in time.
const AUTH_TIMEOUT: &str = "auth_timeout";

/// A connection of the [`Server`]: over an embassy-net TCP socket.
pub type TcpConnection<'a, 't> = Connection<'a, &'a mut TcpSocket<'t>>;

/// The memory of one connection slot, all of it the caller's (typically `'static`).
///
/// - `tcp_rx`, `tcp_tx`: the TCP socket's receive and send windows.
/// - `read`: the upgrade request head (a longer one is refused with 431), then incoming
///   frames; messages up to `read.len() - 14` bytes arrive whole. At least 125 bytes.
/// - `write`: the handshake answer (a refusal needs up to
///   [`Rejection::MAX_LEN`](tollgate::ws::handshake::Rejection::MAX_LEN) = 512 bytes to
///   be sent at all), then outgoing frames (larger ones are written from the caller's
///   memory). At least 125 bytes.
/// - `scratch`: the verified token's decoded header and claims, which the
///   [`Connection`] borrows; the longest accepted token's length suffices.
#[derive(Debug)]
pub struct Buffers<'a> {
    /// TCP receive buffer.
    pub tcp_rx: &'a mut [u8],
    /// TCP send buffer.
    pub tcp_tx: &'a mut [u8],
    /// WebSocket read buffer.
    pub read: &'a mut [u8],
    /// WebSocket write buffer.
    pub write: &'a mut [u8],
    /// Token scratch buffer.
    pub scratch: &'a mut [u8],
}

/// Owned storage for one slot's [`Buffers`], `const`-constructible so that it can live in
/// a `static` (for instance a `static_cell::ConstStaticCell`, which is not copied through
/// the stack).
#[derive(Debug)]
pub struct BufferStorage<
    const TCP_RX: usize,
    const TCP_TX: usize,
    const READ: usize,
    const WRITE: usize,
    const SCRATCH: usize,
> {
    tcp_rx: [u8; TCP_RX],
    tcp_tx: [u8; TCP_TX],
    read: [u8; READ],
    write: [u8; WRITE],
    scratch: [u8; SCRATCH],
}

impl<
    const TCP_RX: usize,
    const TCP_TX: usize,
    const READ: usize,
    const WRITE: usize,
    const SCRATCH: usize,
> BufferStorage<TCP_RX, TCP_TX, READ, WRITE, SCRATCH>
{
    /// The bytes of one slot.
    pub const LEN: usize = TCP_RX + TCP_TX + READ + WRITE + SCRATCH;

    /// Zeroed storage.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            tcp_rx: [0; TCP_RX],
            tcp_tx: [0; TCP_TX],
            read: [0; READ],
            write: [0; WRITE],
            scratch: [0; SCRATCH],
        }
    }

    /// The buffers, borrowed.
    pub fn buffers(&mut self) -> Buffers<'_> {
        Buffers {
            tcp_rx: &mut self.tcp_rx,
            tcp_tx: &mut self.tcp_tx,
            read: &mut self.read,
            write: &mut self.write,
            scratch: &mut self.scratch,
        }
    }
}

impl<
    const TCP_RX: usize,
    const TCP_TX: usize,
    const READ: usize,
    const WRITE: usize,
    const SCRATCH: usize,
> Default for BufferStorage<TCP_RX, TCP_TX, READ, WRITE, SCRATCH>
{
    fn default() -> Self {
        Self::new()
    }
}

/// What the application does with an authenticated connection.
///
/// One handler serves every slot, concurrently, through `&self`.
// Embassy executors run tasks on one thread: the futures need not be `Send`.
#[allow(async_fn_in_trait)]
pub trait Handler {
    /// Serves one authenticated connection until it returns. The server then closes the
    /// connection (1000, or 1008 `expired` once the token expired) and the socket.
    ///
    /// # Errors
    /// Whatever ended the connection; it is passed on to [`ended`](Self::ended).
    async fn handle(&self, connection: &mut TcpConnection<'_, '_>) -> Result<(), Error>;

    /// Told how every connection attempt ended: [`Error::Accept`] when listening failed
    /// (retried after 100 ms), refusals (a refused token [`Error::is_refused`]), timeouts,
    /// and the handler's own result. Does nothing unless overridden.
    fn ended(&self, result: Result<(), Error>) {
        let _ = result;
    }
}

/// An authenticated WebSocket server on one TCP port of an embassy-net [`Stack`].
///
/// Each slot (one set of [`Buffers`]) is one TCP socket that accepts a connection,
/// checks the clock, runs the upgrade with token verification
/// ([`tollgate::io::accept_authenticated`]) under the handshake timeout, then, for a
/// token-less upgrade in [`AuthMode::FirstMessage`](tollgate::auth::AuthMode), the
/// first-message authentication under its timeout, hands the [`Connection`] to the
/// [`Handler`], closes, and accepts again. [`run`](Self::run) drives `N` slots in one
/// future; [`serve`](Self::serve) drives one, for applications that spawn a task per slot.
pub struct Server<'a, K> {
    stack: Stack<'a>,
    port: u16,
    auth: Authenticator<'a, K>,
    options: ServerOptions<'a>,
    clock: &'a Clock,
    handshake_timeout: Duration,
    first_message_timeout: Duration,
    close_timeout: Duration,
    tcp_timeout: Option<Duration>,
}

/// The settings, not the key material.
impl<K: KeySource> core::fmt::Debug for Server<'_, K> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Server")
            .field("port", &self.port)
            .field("mode", &self.auth.mode())
            .field("handshake_timeout", &self.handshake_timeout)
            .field("first_message_timeout", &self.first_message_timeout)
            .field("close_timeout", &self.close_timeout)
            .field("tcp_timeout", &self.tcp_timeout)
            .finish_non_exhaustive()
    }
}

impl<'a, K: KeySource> Server<'a, K> {
    /// A server on `port` of `stack`, letting in the connections `auth` verifies at the
    /// time `clock` tells, with the handshake rules and limits of `options`.
    #[must_use]
    pub const fn new(
        stack: Stack<'a>,
        port: u16,
        auth: Authenticator<'a, K>,
        options: ServerOptions<'a>,
        clock: &'a Clock,
    ) -> Self {
        Self {
            stack,
            port,
            auth,
            options,
            clock,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            first_message_timeout: DEFAULT_FIRST_MESSAGE_TIMEOUT,
            close_timeout: DEFAULT_CLOSE_TIMEOUT,
            tcp_timeout: None,
        }
    }

    /// How long the upgrade request may take ([`DEFAULT_HANDSHAKE_TIMEOUT`]).
    #[must_use]
    pub const fn with_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// How long a token-less upgrade may wait for its authentication message
    /// ([`DEFAULT_FIRST_MESSAGE_TIMEOUT`]).
    #[must_use]
    pub const fn with_first_message_timeout(mut self, timeout: Duration) -> Self {
        self.first_message_timeout = timeout;
        self
    }

    /// How long closing waits for the peer, at the WebSocket and at the TCP level
    /// ([`DEFAULT_CLOSE_TIMEOUT`]).
    #[must_use]
    pub const fn with_close_timeout(mut self, timeout: Duration) -> Self {
        self.close_timeout = timeout;
        self
    }

    /// The TCP inactivity timeout of the sockets
    /// ([`TcpSocket::set_timeout`]; none by default).
    #[must_use]
    pub const fn with_tcp_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.tcp_timeout = timeout;
        self
    }

    /// The port.
    #[must_use]
    pub const fn port(&self) -> u16 {
        self.port
    }

    /// The authenticator.
    #[must_use]
    pub const fn authenticator(&self) -> &Authenticator<'a, K> {
        &self.auth
    }

    /// Serves `N` connections at a time, one per slot, forever (returns at once only
    /// for `N = 0`). The slots' futures live inside this one: nothing is spawned.
    pub async fn run<H: Handler, const N: usize>(&self, slots: [Buffers<'_>; N], handler: &H) {
        join_array(slots.map(|buffers| self.serve(buffers, handler))).await;
    }

    /// Serves one connection at a time on the slot `buffers`, forever.
    pub async fn serve<H: Handler>(&self, mut buffers: Buffers<'_>, handler: &H) -> Infallible {
        loop {
            let result = self.serve_one(&mut buffers, handler).await;
            let not_listening = matches!(result, Err(Error::Accept(_)));
            handler.ended(result);
            if not_listening {
                // An invalid port fails at once, every time: do not spin on it.
                Timer::after(ACCEPT_RETRY_DELAY).await;
            }
        }
    }

    /// Accepts one TCP connection on the slot `buffers` and serves it to the end: clock
    /// check, upgrade and authentication, the handler, the close.
    ///
    /// # Errors
    /// [`Error::Accept`]; [`Error::ClockNotSet`] (503 was answered);
    /// [`Error::HandshakeTimeout`]; [`Error::FirstMessageTimeout`] (closed 1008
    /// `auth_timeout`); [`Error::WebSocket`] for a refused upgrade or token (the refusal
    /// was written) or a failed connection; the handler's error.
    pub async fn serve_one<H: Handler>(
        &self,
        buffers: &mut Buffers<'_>,
        handler: &H,
    ) -> Result<(), Error> {
        let mut socket = TcpSocket::new(self.stack, buffers.tcp_rx, buffers.tcp_tx);
        socket.set_timeout(self.tcp_timeout);
        socket.accept(self.port).await.map_err(Error::Accept)?;
        let result = self
            .session(
                &mut socket,
                buffers.read,
                buffers.write,
                buffers.scratch,
                handler,
            )
            .await;
        // FIN after everything written; the peer's acknowledgement is awaited, not
        // required.
        socket.close();
        let _ = with_timeout(self.close_timeout, socket.flush()).await;
        result
    }

    async fn session<H: Handler>(
        &self,
        socket: &mut TcpSocket<'_>,
        read: &mut [u8],
        write: &mut [u8],
        scratch: &mut [u8],
        handler: &H,
    ) -> Result<(), Error> {
        let Ok(now) = self.clock.unix_time() else {
            // The answer is a courtesy; the refusal stands either way.
            let _ = with_timeout(self.close_timeout, socket.write_all(SERVICE_UNAVAILABLE)).await;
            return Err(Error::ClockNotSet);
        };
        let accepted = with_timeout(
            self.handshake_timeout,
            io::accept_authenticated(
                &mut *socket,
                &self.options,
                &self.auth,
                now,
                read,
                write,
                scratch,
            ),
        )
        .await
        .map_err(|_| Error::HandshakeTimeout)??;
        let session = match accepted {
            Authenticated::Verified(session) => session,
            Authenticated::AwaitingFirstMessage { upgraded, scratch } => {
                self.first_message(upgraded, scratch).await?
            }
        };
        let deadline = self.auth.deadline(&session.token);
        let mut connection =
            Connection::new(session, deadline, self.clock).with_close_timeout(self.close_timeout);
        let handled = handler.handle(&mut connection).await;
        // Also after a handler error: the peer is owed a close frame unless one was sent.
        let closed = connection.close(CloseCode::NORMAL, "").await;
        handled.and(closed)
    }

    /// First-message authentication under its timeout; closes 1008 `auth_timeout` when
    /// no message came.
    async fn first_message<'b, 's, S: io::Read + io::Write>(
        &self,
        upgraded: Upgraded<'b, 'a, S>,
        scratch: &'s mut [u8],
    ) -> Result<Session<'b, 'a, 's, S>, Error<S::Error>> {
        let Upgraded {
            mut socket,
            protocol,
        } = upgraded;
        let now = self.clock.unix_time()?;
        let verified = with_timeout(
            self.first_message_timeout,
            socket.authenticate_first_message(&self.auth, now, scratch),
        )
        .await;
        match verified {
            Ok(token) => Ok(Session {
                socket,
                protocol,
                token: token?,
            }),
            Err(_) => {
                // The timeout is the result: a peer that does not take the close changes
                // nothing.
                let _ = with_timeout(
                    self.close_timeout,
                    socket.close(CloseCode::POLICY_VIOLATION, AUTH_TIMEOUT),
                )
                .await;
                Err(Error::FirstMessageTimeout)
            }
        }
    }
}
