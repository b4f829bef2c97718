//! An authenticated connection whose token expiry is enforced with `embassy-time`.

use embassy_futures::select::{Either, select};
use embassy_time::{Duration, Instant, Timer, with_timeout};
use tollgate::auth::AuthError;
use tollgate::io::{Message, Read, Sender, Session, WebSocket, Write};
use tollgate::jwt::VerifiedToken;
use tollgate::ws::close::CloseCode;
use tollgate::ws::conn::{NoRng, State};

use crate::clock::Clock;
use crate::error::Error;

/// How long [`Connection::close`] waits for the peer's close frame by default.
pub const DEFAULT_CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// A server connection whose token was verified: receive, send, close, until the token
/// expires.
///
/// Every call first checks the token's expiry deadline (`exp` plus the leeway, read
/// through the [`Clock`]), and [`recv`](Self::recv) races it while waiting. Once it has
/// passed, calls return [`Error::Expired`] and [`close`](Self::close) sends 1008 `expired`
/// whatever code it is given. Only the wait for a message races the deadline: a send is
/// never cut in half.
///
/// The message returned by `recv` borrows the read buffer, so sending an answer that
/// quotes it needs [`recv_split`](Self::recv_split).
pub struct Connection<'a, S> {
    socket: WebSocket<'a, S>,
    protocol: Option<&'a str>,
    token: VerifiedToken<'a>,
    /// Unix second from which the connection is expired.
    deadline: Option<u64>,
    clock: &'a Clock,
    close_timeout: Duration,
    expired: bool,
}

/// The connection state, not the buffers or the token.
impl<S> core::fmt::Debug for Connection<'_, S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Connection")
            .field("state", &self.socket.state())
            .field("protocol", &self.protocol)
            .field("deadline", &self.deadline)
            .field("expired", &self.expired)
            .finish_non_exhaustive()
    }
}

impl<'a, S: Read + Write> Connection<'a, S> {
    /// Wraps an authenticated session (from [`tollgate::io::accept_authenticated`]) that
    /// must be closed at the Unix second `deadline`
    /// ([`Authenticator::deadline`](tollgate::auth::Authenticator::deadline); `None`
    /// when the token has no `exp`), reading the time from `clock`.
    #[must_use]
    pub fn new(session: Session<'a, 'a, 'a, S>, deadline: Option<u64>, clock: &'a Clock) -> Self {
        Self {
            socket: session.socket,
            protocol: session.protocol,
            token: session.token,
            deadline,
            clock,
            close_timeout: DEFAULT_CLOSE_TIMEOUT,
            expired: false,
        }
    }

    /// How long [`close`](Self::close) waits for the peer's close frame
    /// ([`DEFAULT_CLOSE_TIMEOUT`] unless set).
    #[must_use]
    pub const fn with_close_timeout(mut self, timeout: Duration) -> Self {
        self.close_timeout = timeout;
        self
    }

    /// The verified token: subject (`registered().sub()`), custom claims, expiry.
    #[must_use]
    pub const fn token(&self) -> &VerifiedToken<'a> {
        &self.token
    }

    /// The subprotocol answered in the upgrade, if any.
    #[must_use]
    pub const fn protocol(&self) -> Option<&'a str> {
        self.protocol
    }

    /// The Unix second from which the connection is expired (`exp` plus the leeway);
    /// `None` for a token without `exp`.
    #[must_use]
    pub const fn deadline(&self) -> Option<u64> {
        self.deadline
    }

    /// Whether the token has expired.
    #[must_use]
    pub fn is_expired(&self) -> bool {
        self.expired || self.expiry_instant().is_some_and(|at| Instant::now() >= at)
    }

    /// Where the close handshake stands.
    #[must_use]
    pub const fn state(&self) -> State {
        self.socket.state()
    }

    /// The WebSocket itself, for what this type does not offer (streaming receives,
    /// fragments). Calls on it do not check the expiry.
    pub const fn websocket(&mut self) -> &mut WebSocket<'a, S> {
        &mut self.socket
    }

    /// Receives the next whole message or control frame (pongs and close echoes are
    /// written on the way), or [`Error::Expired`] when the token expires first.
    ///
    /// # Errors
    /// [`Error::Expired`] once the deadline has passed (then call
    /// [`close`](Self::close)); [`Error::WebSocket`] as
    /// [`WebSocket::recv`](tollgate::io::WebSocket::recv).
    pub async fn recv(&mut self) -> Result<Message<'_>, Error<S::Error>> {
        let Some(at) = self.check_expiry()? else {
            return Ok(self.socket.recv().await?);
        };
        // A receive cut short by the deadline loses nothing (the core keeps what it read).
        match select(self.socket.recv(), Timer::at(at)).await {
            Either::First(received) => Ok(received?),
            Either::Second(()) => {
                self.expired = true;
                Err(Error::Expired)
            }
        }
    }

    /// [`recv`](Self::recv), with the sending side to answer while the message still
    /// borrows the read buffer (an echo without a copy). Sends through the [`Sender`] do
    /// not check the expiry.
    ///
    /// # Errors
    /// As [`recv`](Self::recv).
    pub async fn recv_split(
        &mut self,
    ) -> Result<(Message<'_>, Sender<'_, S, NoRng>), Error<S::Error>> {
        let Some(at) = self.check_expiry()? else {
            return Ok(self.socket.recv_split().await?);
        };
        match select(self.socket.recv_split(), Timer::at(at)).await {
            Either::First(received) => Ok(received?),
            Either::Second(()) => {
                self.expired = true;
                Err(Error::Expired)
            }
        }
    }

    /// Sends a text message.
    ///
    /// # Errors
    /// [`Error::Expired`] once the deadline has passed; [`Error::WebSocket`] as
    /// [`Sender::send_text`].
    pub async fn send_text(&mut self, text: &str) -> Result<(), Error<S::Error>> {
        self.check_expiry()?;
        Ok(self.socket.send_text(text).await?)
    }

    /// Sends a binary message.
    ///
    /// # Errors
    /// As [`send_text`](Self::send_text).
    pub async fn send_binary(&mut self, data: &[u8]) -> Result<(), Error<S::Error>> {
        self.check_expiry()?;
        Ok(self.socket.send_binary(data).await?)
    }

    /// Sends a ping (at most 125 bytes of payload).
    ///
    /// # Errors
    /// As [`send_text`](Self::send_text).
    pub async fn send_ping(&mut self, payload: &[u8]) -> Result<(), Error<S::Error>> {
        self.check_expiry()?;
        Ok(self.socket.send_ping(payload).await?)
    }

    /// Closes with `code` and `reason`, or with 1008 `expired` once the token has
    /// expired, then waits for the peer's close frame for at most the close timeout.
    /// Does nothing when the close handshake is already done or under way, or the
    /// connection failed (its close frame was sent then).
    ///
    /// # Errors
    /// [`Error::WebSocket`] as [`WebSocket::close`](tollgate::io::WebSocket::close).
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error<S::Error>> {
        if self.socket.state() != State::Open {
            return Ok(());
        }
        let (code, reason) = if self.is_expired() {
            self.expired = true;
            (AuthError::EXPIRED.close_code(), AuthError::EXPIRED.code())
        } else {
            (code, reason)
        };
        // A peer that never answers the close only delays the end of the transport.
        match with_timeout(self.close_timeout, self.socket.close(code, reason)).await {
            Ok(closed) => Ok(closed?),
            Err(_) => Ok(()),
        }
    }

    /// The stream, dropping the connection state (after [`close`](Self::close)).
    pub fn into_inner(self) -> S {
        self.socket.into_inner()
    }

    /// The instant of the expiry deadline. A clock that was never set cannot vouch for
    /// the token (a connection built by hand may have been verified with another time
    /// source), so the deadline is then taken as passed.
    fn expiry_instant(&self) -> Option<Instant> {
        let deadline = self.deadline?;
        Some(self.clock.instant_at(deadline).unwrap_or(Instant::MIN))
    }

    /// [`Error::Expired`] once the deadline has passed, else the deadline to race.
    fn check_expiry(&mut self) -> Result<Option<Instant>, Error<S::Error>> {
        if self.is_expired() {
            self.expired = true;
            return Err(Error::Expired);
        }
        Ok(self.expiry_instant())
    }
}

#[cfg(test)]
mod tests;
