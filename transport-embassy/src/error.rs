//! The adapter's errors: the core driver's, plus what only a device has (TCP accept and
//! connect, timers, a wall clock that may not be set yet).

use core::fmt;

use embassy_net::tcp::{AcceptError, ConnectError};

/// The wall clock was never set, so no token can be checked against the time.
///
/// Verification needs Unix time for `exp` and `nbf`; rather than accept tokens without
/// that check, a server refuses connections until [`Clock::set_unix_time`] is called.
///
/// [`Clock::set_unix_time`]: crate::Clock::set_unix_time
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ClockNotSet;

impl fmt::Display for ClockNotSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the wall clock was never set")
    }
}

impl core::error::Error for ClockNotSet {}

/// What ended or refused a connection, generic over the stream's error `E` (the TCP
/// socket's by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Error<E = embassy_net::tcp::Error> {
    /// The core driver failed: the stream, the handshake (its refusal was written), the
    /// token (its 401 or close 1008 was written), the WebSocket protocol (its close frame
    /// was written) or a buffer.
    WebSocket(tollgate::io::Error<E>),
    /// Listening for a TCP connection failed.
    Accept(AcceptError),
    /// Opening a TCP connection failed.
    Connect(ConnectError),
    /// The wall clock was never set: the server answered 503 without reading the request.
    ClockNotSet,
    /// The upgrade request (or, for a client, the server's answer) did not complete in
    /// time. For a server this includes writing its answer: a refusal whose
    /// acknowledgement never comes (the peer vanished) ends here too.
    HandshakeTimeout,
    /// No authentication message arrived in time after a token-less upgrade; the
    /// connection was closed with 1008 `auth_timeout`.
    FirstMessageTimeout,
    /// The connection's token expired. The close 1008 `expired` is sent by
    /// [`Connection::close`](crate::Connection::close), which the [`Server`](crate::Server)
    /// calls when the handler returns.
    Expired,
}

impl<E> Error<E> {
    /// Whether the token was refused (at the upgrade or in the first message).
    #[must_use]
    pub const fn is_refused(&self) -> bool {
        matches!(self, Self::WebSocket(tollgate::io::Error::Auth(_)))
    }
}

impl<E> From<tollgate::io::Error<E>> for Error<E> {
    fn from(error: tollgate::io::Error<E>) -> Self {
        Self::WebSocket(error)
    }
}

impl<E> From<ClockNotSet> for Error<E> {
    fn from(_: ClockNotSet) -> Self {
        Self::ClockNotSet
    }
}

impl<E: fmt::Debug> fmt::Display for Error<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::WebSocket(error) => fmt::Display::fmt(error, f),
            Self::Accept(error) => write!(f, "TCP accept failed: {error:?}"),
            Self::Connect(error) => write!(f, "TCP connect failed: {error:?}"),
            Self::ClockNotSet => fmt::Display::fmt(&ClockNotSet, f),
            Self::HandshakeTimeout => f.write_str("the WebSocket handshake timed out"),
            Self::FirstMessageTimeout => f.write_str("no authentication message in time"),
            Self::Expired => f.write_str("the connection's token expired"),
        }
    }
}

impl<E: fmt::Debug> core::error::Error for Error<E> {}
