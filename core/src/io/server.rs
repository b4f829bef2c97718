//! The server side of the handshake: read the upgrade request, authenticate, answer.

use core::convert::Infallible;

use httparse::Status;

use super::{Error, Read, WebSocket, Write, read_more, write_all};
use crate::auth::{AuthError, AuthMode, Authenticator};
use crate::jwt::{Key, KeyResolver, VerifiedToken};
use crate::ws::conn::{Config, Connection, NoRng};
use crate::ws::handshake::{
    EMPTY_HEADER, HandshakeError, Rejection, Request, ServerConfig, extract_token,
};

/// Header lines accepted in an upgrade request (browsers send about 15).
const MAX_REQUEST_HEADERS: usize = 32;

/// How a refused token is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Refusal {
    /// With the HTTP refusal: 401 and `WWW-Authenticate: Bearer error="invalid_token",
    /// error_description="<code>"` (RFC 6750), 400 for conflicting tokens. Page
    /// JavaScript cannot read it: browsers report close code 1006.
    Http,
    /// Complete the upgrade, then close with 1008 and the stable code (`expired`,
    /// `invalid_signature`, …) as reason, which browsers do report. Only token failures
    /// are answered this way; a malformed upgrade request still gets its HTTP status.
    CloseAfterUpgrade,
}

/// What [`accept`] and [`accept_authenticated`] need besides the stream and buffers.
#[derive(Debug, Clone, Copy)]
pub struct ServerOptions<'a> {
    handshake: ServerConfig<'a>,
    connection: Config,
    refusal: Refusal,
}

impl<'a> ServerOptions<'a> {
    /// The handshake rules, [`Config::DEFAULT`] frame and message limits with frames
    /// delivered whole up to what the read buffer holds, and [`Refusal::Http`].
    #[must_use]
    pub const fn new(handshake: ServerConfig<'a>) -> Self {
        Self {
            handshake,
            connection: Config::DEFAULT.with_read_buffer_len(usize::MAX),
            refusal: Refusal::Http,
        }
    }

    /// Frame and message limits of the connection. `whole_frame_limit` is lowered to
    /// what the read buffer holds (`usize::MAX` means exactly that).
    #[must_use]
    pub const fn with_connection(mut self, config: Config) -> Self {
        self.connection = config;
        self
    }

    /// How refused tokens are answered.
    #[must_use]
    pub const fn with_refusal(mut self, refusal: Refusal) -> Self {
        self.refusal = refusal;
        self
    }

    /// The handshake rules.
    #[must_use]
    pub const fn handshake(&self) -> &ServerConfig<'a> {
        &self.handshake
    }

    /// The connection limits.
    #[must_use]
    pub const fn connection(&self) -> &Config {
        &self.connection
    }

    /// How refused tokens are answered.
    #[must_use]
    pub const fn refusal(&self) -> Refusal {
        self.refusal
    }
}

/// A completed upgrade: the connection and the negotiated subprotocol (never the token).
#[derive(Debug)]
pub struct Upgraded<'b, 'p, S, K = NoRng> {
    /// The connection; frames that arrived with the handshake are already buffered.
    pub socket: WebSocket<'b, S, K>,
    /// The subprotocol answered (an application protocol, or the token marker).
    pub protocol: Option<&'p str>,
}

/// An authenticated connection: the socket, the subprotocol and the verified token,
/// whose header and claims borrow the caller's scratch buffer (`'s`).
#[derive(Debug)]
pub struct Session<'b, 'p, 's, S> {
    /// The connection.
    pub socket: WebSocket<'b, S>,
    /// The subprotocol answered.
    pub protocol: Option<&'p str>,
    /// The verified token: identity (`registered().sub()`), custom claims
    /// ([`VerifiedToken::claims`]), expiry ([`Authenticator::deadline`]).
    pub token: VerifiedToken<'s>,
}

/// The outcome of [`accept_authenticated`].
// Short-lived, and there is no heap to box the verified token into.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Authenticated<'b, 'p, 's, S> {
    /// The upgrade request carried a valid token.
    Verified(Session<'b, 'p, 's, S>),
    /// [`AuthMode::FirstMessage`] and no token in the request: the connection is
    /// upgraded and the first message must authenticate ([`finish`](Self::finish)).
    /// The scratch buffer is handed back for that.
    AwaitingFirstMessage {
        /// The upgraded connection.
        upgraded: Upgraded<'b, 'p, S>,
        /// The caller's scratch buffer, untouched.
        scratch: &'s mut [u8],
    },
}

impl<'b, 'p, 's, S: Read + Write> Authenticated<'b, 'p, 's, S> {
    /// The session, authenticating with the first message if that is still owed
    /// ([`WebSocket::authenticate_first_message`] at `now`). Wrap it in the
    /// first-message timeout.
    ///
    /// # Errors
    /// As [`WebSocket::authenticate_first_message`].
    pub async fn finish<K: KeyResolver>(
        self,
        auth: &Authenticator<'_, K>,
        now: u64,
    ) -> Result<Session<'b, 'p, 's, S>, Error<S::Error>> {
        match self {
            Self::Verified(session) => Ok(session),
            Self::AwaitingFirstMessage {
                upgraded:
                    Upgraded {
                        mut socket,
                        protocol,
                    },
                scratch,
            } => {
                let token = socket
                    .authenticate_first_message(auth, now, scratch)
                    .await?;
                Ok(Session {
                    socket,
                    protocol,
                    token,
                })
            }
        }
    }
}

/// Accepts a WebSocket upgrade without authentication.
///
/// Reads the request into `read_buf` (a head longer than it, or than the configured
/// maximum, is refused with 431), validates it, writes the 101 or the refusal from
/// `write_buf`, and returns the connection with any bytes that followed the head.
///
/// A `write_buf` of [`Rejection::MAX_LEN`] bytes holds every refusal; a refusal that
/// does not fit is not sent (the error is returned all the same).
///
/// # Errors
/// [`Error::Handshake`] when the request was refused (the refusal was written);
/// [`Error::BufferTooSmall`] for buffers below the minimum or a 101 that does not fit
/// `write_buf`; [`Error::InvalidHeader`] for a subprotocol that is not an HTTP token;
/// [`Error::Eof`] and [`Error::Io`] from the stream.
pub async fn accept<'b, 'p, S: Read + Write>(
    stream: S,
    options: &ServerOptions<'p>,
    read_buf: &'b mut [u8],
    write_buf: &'b mut [u8],
) -> Result<Upgraded<'b, 'p, S>, Error<S::Error>> {
    let mut scratch: &mut [u8] = &mut [];
    let gate: Option<(&Authenticator<'_, Key>, u64)> = None;
    let (upgraded, _) = handshake(
        stream,
        options,
        &options.handshake,
        gate,
        read_buf,
        write_buf,
        &mut scratch,
    )
    .await?;
    Ok(upgraded)
}

/// Accepts a WebSocket upgrade whose token `auth` verifies at `now` (Unix seconds).
///
/// As [`accept`], with the token taken from `auth`'s sources (which also decide the
/// marker subprotocol answered) and verified into `scratch` (the token's length
/// suffices; the percent-decoded query token is decoded in `write_buf`). A refused
/// token is answered per [`ServerOptions::with_refusal`]. In [`AuthMode::FirstMessage`]
/// a request without token is upgraded and left to [`Authenticated::finish`].
///
/// # Errors
/// [`Error::Auth`] when the token was refused (the 401/400, or the 101 and close 1008,
/// was written; after a close the peer's close was awaited); as [`accept`].
pub async fn accept_authenticated<'b, 'p, 's, S: Read + Write, K: KeyResolver>(
    stream: S,
    options: &ServerOptions<'p>,
    auth: &Authenticator<'p, K>,
    now: u64,
    read_buf: &'b mut [u8],
    write_buf: &'b mut [u8],
    scratch: &'s mut [u8],
) -> Result<Authenticated<'b, 'p, 's, S>, Error<S::Error>> {
    let config = options.handshake.with_token_sources(auth.token_sources());
    let mut scratch = scratch;
    let (upgraded, token) = handshake(
        stream,
        options,
        &config,
        Some((auth, now)),
        read_buf,
        write_buf,
        &mut scratch,
    )
    .await?;
    Ok(match token {
        Some(token) => Authenticated::Verified(Session {
            socket: upgraded.socket,
            protocol: upgraded.protocol,
            token,
        }),
        None => Authenticated::AwaitingFirstMessage { upgraded, scratch },
    })
}

/// The common path; `gate` is the authenticator and time, `None` to let everyone in.
/// `scratch` is taken out of its slot only when a token is verified.
async fn handshake<'b, 'p, 's, S: Read + Write, K: KeyResolver>(
    mut stream: S,
    options: &ServerOptions<'_>,
    config: &ServerConfig<'p>,
    gate: Option<(&Authenticator<'_, K>, u64)>,
    read_buf: &'b mut [u8],
    write_buf: &'b mut [u8],
    scratch: &mut &'s mut [u8],
) -> Result<(Upgraded<'b, 'p, S>, Option<VerifiedToken<'s>>), Error<S::Error>> {
    if write_buf.len() < crate::ws::frame::MAX_CONTROL_FRAME_LEN {
        return Err(Error::BufferTooSmall);
    }
    let end = match read_request(&mut stream, config, read_buf).await {
        Ok(end) => end,
        Err(Error::Handshake(error)) => {
            let answer = Rejection::from_error(error).write(write_buf)?;
            write_all(&mut stream, write_buf.get(..answer).unwrap_or_default()).await?;
            return Err(Error::Handshake(error));
        }
        Err(other) => return Err(other),
    };
    let request = read_buf.get(..end).unwrap_or_default();
    let answer = answer(config, options.refusal, gate, request, write_buf, scratch);
    let (response_len, head_len, protocol, outcome) = match answer {
        Answer::Refuse {
            response_len,
            error,
        } => {
            write_all(
                &mut stream,
                write_buf.get(..response_len).unwrap_or_default(),
            )
            .await?;
            return Err(Error::widen(error));
        }
        Answer::Upgrade {
            response_len,
            head_len,
            protocol,
            outcome,
        } => (response_len, head_len, protocol, outcome),
    };
    write_all(
        &mut stream,
        write_buf.get(..response_len).unwrap_or_default(),
    )
    .await?;
    let config = WebSocket::<S>::fit_config(options.connection, read_buf.len());
    let socket = WebSocket::new(stream, Connection::server(config), read_buf, end, write_buf)
        .map_err(|_| Error::BufferTooSmall)?
        .skip(head_len);
    let mut upgraded = Upgraded { socket, protocol };
    match outcome {
        Ok(token) => Ok((upgraded, token)),
        Err(error) => {
            // The refusal is the result: failing to deliver the close changes nothing.
            let _ = upgraded.socket.close_with(error).await;
            Err(Error::Auth(error))
        }
    }
}

/// Reads until the request head is complete; returns how many bytes were read.
async fn read_request<S: Read>(
    stream: &mut S,
    config: &ServerConfig<'_>,
    read_buf: &mut [u8],
) -> Result<usize, Error<S::Error>> {
    let mut end = 0;
    loop {
        match read_more(stream, read_buf, &mut end).await {
            Err(Error::BufferTooSmall) => {
                return Err(Error::Handshake(HandshakeError::RequestTooLarge));
            }
            other => other?,
        }
        let received = read_buf.get(..end).unwrap_or_default();
        if head_complete(config, received).map_err(Error::Handshake)? {
            return Ok(end);
        }
    }
}

/// Whether `received` starts with a complete request head (validated later).
fn head_complete(config: &ServerConfig<'_>, received: &[u8]) -> Result<bool, HandshakeError> {
    let mut headers = [EMPTY_HEADER; MAX_REQUEST_HEADERS];
    Ok(matches!(
        config.parse_request(received, &mut headers)?,
        Status::Complete(_)
    ))
}

/// Whether the request carries a token at all (it may still be malformed): without one,
/// first-message authentication follows and the scratch buffer stays with the caller.
fn has_token<K: KeyResolver>(
    auth: &Authenticator<'_, K>,
    request: &Request<'_, '_>,
    decode_buf: &mut [u8],
) -> bool {
    !matches!(
        extract_token(request, auth.token_sources(), decode_buf),
        Err(HandshakeError::MissingToken)
    )
}

/// The answer written into the write buffer, and what follows it.
// Lives for one function call on the stack; there is no heap to box the token into.
#[allow(clippy::large_enum_variant)]
enum Answer<'s, 'p> {
    /// A 101; then the connection (`Ok`, with the token if one was verified) or the
    /// close 1008 owed for a refused token (`Err`).
    Upgrade {
        response_len: usize,
        head_len: usize,
        protocol: Option<&'p str>,
        outcome: Result<Option<VerifiedToken<'s>>, AuthError>,
    },
    /// A refusal (possibly empty when it did not fit), then the error.
    Refuse {
        response_len: usize,
        error: Error<Infallible>,
    },
}

/// Parses the complete request, checks its token, and writes the answer into `out`.
fn answer<'s, 'p, K: KeyResolver>(
    config: &ServerConfig<'p>,
    refusal: Refusal,
    gate: Option<(&Authenticator<'_, K>, u64)>,
    request: &[u8],
    out: &mut [u8],
    scratch: &mut &'s mut [u8],
) -> Answer<'s, 'p> {
    let refuse = |error, response_len| Answer::Refuse {
        response_len,
        error,
    };
    let mut headers = [EMPTY_HEADER; MAX_REQUEST_HEADERS];
    let parsed = match config.parse_request(request, &mut headers) {
        Ok(Status::Complete(parsed)) => parsed,
        Ok(Status::Partial) => return refuse(Error::Handshake(HandshakeError::Malformed), 0),
        Err(error) => {
            let len = Rejection::from_error(error).write(out).unwrap_or(0);
            return refuse(Error::Handshake(error), len);
        }
    };
    let outcome = match gate {
        None => Ok(None),
        Some((auth, _))
            if auth.mode() == AuthMode::FirstMessage && !has_token(auth, &parsed, out) =>
        {
            Ok(None)
        }
        Some((auth, now)) => auth
            .authenticate(&parsed, now, out, core::mem::take(scratch))
            .map(Some),
    };
    if let Err(error) = outcome
        && refusal == Refusal::Http
    {
        let len = error.rejection().write(out).unwrap_or(0);
        return refuse(Error::Auth(error), len);
    }
    let protocol = config.select_protocol(&parsed);
    match parsed.write_accept(protocol, &[], out) {
        Ok(response_len) => Answer::Upgrade {
            response_len,
            head_len: parsed.head_len(),
            protocol,
            outcome,
        },
        Err(error) => refuse(Error::from(error), 0),
    }
}
