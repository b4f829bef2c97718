//! The connection task: the core's sans-IO [`Connection`] driven over a tokio stream,
//! with the timers, queues and policies of the server around it.
//!
//! One task owns the stream and the state machine. It parses (and reads) the next message
//! only when the application asks for it, having taken the previous one (backpressure
//! reaches the client through TCP), and otherwise waits on whichever comes first: bytes
//! from the client, a command on the outgoing queue, the token's expiry, the ping timer,
//! an overflowed queue, shutdown. Parsing on demand keeps the order a sequential peer
//! sees: what the application sent in answer to a message goes out before the close
//! that a protocol error further on in the input causes.
//! A write is bounded by the write timeout: a client that stops reading cannot hold the
//! task forever.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{Notify, mpsc, watch};
use tokio::time::{Instant, MissedTickBehavior, sleep_until, timeout, timeout_at};
use tokio_util::sync::CancellationToken;
use tollgate::auth::message::{MAX_REPLY_LEN, write_authenticated, write_unauthorized};
use tollgate::auth::{AuthError, AuthMessageKind, parse_auth_message};
use tollgate::ws::close::CloseCode;
use tollgate::ws::conn::{Config, Connection, Event, MessageKind};
use tollgate::ws::error::ProtocolError;
use tollgate::ws::frame::{MAX_CONTROL_FRAME_LEN, MAX_HEADER_LEN};

use super::config::ServerConfig;
use super::limits::TokenBucket;
use super::socket::{EndSlot, Error};
use crate::handle::{Command, Identity, Message, Overflow};

/// Frames up to this size arrive whole; larger ones are streamed into the message
/// buffer, so the read buffer never grows with the message size limit.
const READ_CHUNK: usize = 16 * 1024;

/// How long we wait for the client's close frame after sending ours.
const CLOSE_WAIT: Duration = Duration::from_secs(3);

/// Payloads up to this size are copied after their header into one write.
const COALESCE: usize = 16 * 1024;

/// The stable reasons the server closes with.
pub(crate) mod reason {
    /// The outgoing queue overflowed.
    pub(crate) const SLOW_CONSUMER: &str = "slow_consumer";
    /// The message rate limit was exceeded.
    pub(crate) const RATE_LIMITED: &str = "rate_limited";
    /// The server is shutting down.
    pub(crate) const SHUTDOWN: &str = "server_shutdown";
    /// The server failed (a verifier that did not answer in time).
    pub(crate) const INTERNAL_ERROR: &str = "internal_error";
    /// A connection cap was reached.
    pub(crate) const TOO_MANY_CONNECTIONS: &str = "too_many_connections";
}

/// How the connection ended.
#[derive(Debug)]
pub(crate) enum End {
    /// A close handshake (either side started it).
    Clean,
    /// The server closed by policy.
    Policy(u16, &'static str),
    Protocol(ProtocolError),
    Timeout,
    Io(io::Error),
}

impl End {
    fn into_error(self) -> Option<Error> {
        match self {
            Self::Clean => None,
            Self::Policy(code, reason) => Some(Error::Closed { code, reason }),
            Self::Protocol(error) => Some(Error::Protocol(error)),
            Self::Timeout => Some(Error::Timeout),
            Self::Io(error) => Some(Error::Io(error)),
        }
    }
}

/// Something the client sent, owned.
enum Incoming {
    Message(Message),
    Ping,
    Pong,
    Close,
}

/// The application's demand for messages: how many it had taken when it last found none
/// waiting, and a wake-up for the connection task.
#[derive(Debug, Default)]
pub(crate) struct Demand {
    asked: AtomicU64,
    notify: Notify,
}

impl Demand {
    /// The application, having taken `taken` messages, waits for the next one. Whatever
    /// it queued before is on the outgoing queue by then.
    pub(crate) fn ask(&self, taken: u64) {
        self.asked.store(taken, Ordering::Release);
        self.notify.notify_one();
    }

    /// Whether the application waits for a message after the `delivered` handed over.
    fn wants_after(&self, delivered: u64) -> bool {
        self.asked.load(Ordering::Acquire) == delivered
    }
}

/// What the connection task needs besides the stream.
pub(crate) struct Wiring {
    pub(crate) outgoing: mpsc::Receiver<Command>,
    pub(crate) incoming: mpsc::Sender<Message>,
    pub(crate) demand: Arc<Demand>,
    pub(crate) overflow: Arc<Overflow>,
    pub(crate) identity: watch::Sender<Identity>,
    pub(crate) shutdown: CancellationToken,
    pub(crate) end: EndSlot,
}

pub(crate) struct Driver<S> {
    stream: S,
    conn: Connection,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    message: Vec<u8>,
    out: Vec<u8>,
    config: Arc<ServerConfig>,
    last_seen: Instant,
    bucket: Option<TokenBucket>,
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> Driver<S> {
    /// A driver for an upgraded stream; `pipelined` are bytes that followed the request.
    pub(crate) fn new(stream: S, config: Arc<ServerConfig>, pipelined: &[u8]) -> Self {
        let buf_len = (READ_CHUNK + MAX_HEADER_LEN)
            .max(pipelined.len())
            .max(MAX_CONTROL_FRAME_LEN);
        let mut buf = vec![0; buf_len];
        buf.get_mut(..pipelined.len())
            .unwrap_or_default()
            .copy_from_slice(pipelined);
        let limit = config.max_message_size as u64;
        let conn_config = Config::DEFAULT
            .with_read_buffer_len(buf_len)
            .with_max_frame_size(limit)
            .with_max_message_size(limit);
        Self {
            stream,
            conn: Connection::server(conn_config),
            buf,
            start: 0,
            end: pipelined.len(),
            message: Vec::new(),
            out: Vec::with_capacity(MAX_CONTROL_FRAME_LEN),
            bucket: config.rate_limit.map(TokenBucket::new),
            config,
            last_seen: Instant::now(),
        }
    }

    /// The first message of a connection in first-message mode: its token, or the end
    /// (the `unauthorized` reply and close are sent by [`refuse`](Self::refuse)).
    pub(crate) async fn first_message(&mut self) -> Result<String, Result<AuthError, End>> {
        let deadline = Instant::now() + self.config.first_message_timeout;
        loop {
            match self.next_event() {
                Err(error) => return Err(Err(self.fail(error).await)),
                Ok(Some(Incoming::Message(Message::Text(text)))) => {
                    return match parse_auth_message(text.as_bytes()) {
                        Ok(auth) if auth.kind == AuthMessageKind::Authenticate => {
                            Ok(auth.token.to_owned())
                        }
                        Ok(_) => Err(Ok(AuthError::InvalidAuthMessage)),
                        Err(error) => Err(Ok(error)),
                    };
                }
                Ok(Some(Incoming::Message(Message::Binary(_)))) => {
                    return Err(Ok(AuthError::InvalidAuthMessage));
                }
                Ok(Some(Incoming::Ping)) => {
                    self.flush_control().await.map_err(Err)?;
                }
                Ok(Some(Incoming::Pong)) => {}
                Ok(Some(Incoming::Close)) => return Err(Err(self.finish_close().await)),
                Ok(None) => match timeout_at(deadline, self.read_more()).await {
                    Err(_) => return Err(Ok(AuthError::MissingToken)),
                    Ok(Err(end)) => return Err(Err(end)),
                    Ok(Ok(())) => {}
                },
            }
        }
    }

    /// Answers a refused first message with `{"type":"unauthorized",…}` and close 1008.
    pub(crate) async fn refuse(&mut self, error: AuthError) -> End {
        let mut reply = [0_u8; MAX_REPLY_LEN];
        if let Ok(len) = write_unauthorized(error, &mut reply) {
            let text = reply.get(..len).unwrap_or_default();
            if let Err(end) = self.send_frame(MessageKind::Text, text).await {
                return end;
            }
        }
        self.close(error.close_code().as_u16(), error.code()).await
    }

    /// Sends `{"type":"authenticated"}`.
    pub(crate) async fn acknowledge(&mut self) -> Result<(), End> {
        let mut reply = [0_u8; 32];
        let len = write_authenticated(&mut reply).unwrap_or(0);
        self.send_frame(MessageKind::Text, reply.get(..len).unwrap_or_default())
            .await
    }

    /// Runs the connection until it ends; leaves the reason in the end slot.
    pub(crate) async fn run(mut self, mut wiring: Wiring) {
        let end = self.serve(&mut wiring).await;
        tracing::debug!(?end, "connection ended");
        *wiring.end.lock().unwrap_or_else(PoisonError::into_inner) = end.into_error();
    }

    async fn serve(&mut self, wiring: &mut Wiring) -> End {
        let mut deadline = expiry(&wiring.identity.borrow(), self.leeway());
        let ping_every = self.config.ping_interval;
        let mut ping = tokio::time::interval(ping_every.unwrap_or(Duration::from_secs(3600)));
        ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
        ping.reset();
        let mut pending: Option<Message> = None;
        let mut delivered: u64 = 0;
        loop {
            let mut wanted = pending.is_none() && wiring.demand.wants_after(delivered);
            if wanted {
                // The answers to earlier messages go out before anything parsed next
                // can fail the connection (and stop all sending).
                if let Err(end) = self.send_queued(&mut wiring.outgoing).await {
                    return end;
                }
                match self.pump(wiring, &mut deadline).await {
                    Ok(message) => pending = message,
                    Err(end) => return end,
                }
                wanted = pending.is_none();
            }
            if let Err(end) = self.make_room() {
                return end;
            }
            let expires = deadline.unwrap_or_else(far_future);
            tokio::select! {
                () = wiring.shutdown.cancelled() => {
                    return self.policy_close(CloseCode::GOING_AWAY.as_u16(), reason::SHUTDOWN).await;
                }
                () = wiring.overflow.raised() => {
                    return self.policy_close(1008, reason::SLOW_CONSUMER).await;
                }
                () = sleep_until(expires), if deadline.is_some() => {
                    return self.policy_close(1008, AuthError::EXPIRED.code()).await;
                }
                command = wiring.outgoing.recv() => match command {
                    Some(Command::Send(message)) => {
                        if let Err(end) = self.send_message(&message).await {
                            return end;
                        }
                    }
                    Some(Command::Close { code, reason }) => return self.app_close(code, &reason).await,
                    None => return self.close(1000, "").await,
                },
                permit = wiring.incoming.reserve(), if pending.is_some() => match permit {
                    Ok(permit) => {
                        if let Some(message) = pending.take() {
                            permit.send(message);
                            delivered += 1;
                        }
                    }
                    Err(_) => return self.finish_queue(&mut wiring.outgoing).await,
                },
                () = wiring.incoming.closed(), if pending.is_none() => {
                    return self.finish_queue(&mut wiring.outgoing).await;
                }
                // Checked again at the top of the loop: a wake-up may be older than the
                // last message handed over.
                () = wiring.demand.notify.notified(), if pending.is_none() && !wanted => {}
                read = self.stream.read(self.buf.get_mut(self.end..).unwrap_or_default()), if wanted => {
                    match read {
                        Ok(0) => return End::Io(io::ErrorKind::UnexpectedEof.into()),
                        Ok(n) => {
                            self.end += n;
                            self.last_seen = Instant::now();
                        }
                        Err(error) => return End::Io(error),
                    }
                }
                _ = ping.tick(), if ping_every.is_some() => {
                    if !wanted {
                        // Not reading because the application is behind: the client's
                        // silence proves nothing.
                        self.last_seen = Instant::now();
                    }
                    if let Err(end) = self.heartbeat(ping_every.unwrap_or_default()).await {
                        return end;
                    }
                }
            }
        }
    }

    /// The application dropped its socket: send what it queued before, then close
    /// (1000, or the close it queued).
    async fn finish_queue(&mut self, outgoing: &mut mpsc::Receiver<Command>) -> End {
        match self.send_queued(outgoing).await {
            Ok(()) => self.close(1000, "").await,
            Err(end) => end,
        }
    }

    /// Sends what the application has queued so far; a queued close ends the connection.
    async fn send_queued(&mut self, outgoing: &mut mpsc::Receiver<Command>) -> Result<(), End> {
        while let Ok(command) = outgoing.try_recv() {
            match command {
                Command::Send(message) => self.send_message(&message).await?,
                Command::Close { code, reason } => return Err(self.app_close(code, &reason).await),
            }
        }
        Ok(())
    }

    fn leeway(&self) -> u64 {
        self.config.verifier.leeway_secs()
    }

    /// Processes buffered input until a message for the application or the need for
    /// more bytes; control frames, refreshes and the rate limit are handled here.
    async fn pump(
        &mut self,
        wiring: &Wiring,
        deadline: &mut Option<Instant>,
    ) -> Result<Option<Message>, End> {
        loop {
            let event = match self.next_event() {
                Ok(Some(event)) => event,
                Ok(None) => return Ok(None),
                Err(error) => return Err(self.fail(error).await),
            };
            match event {
                Incoming::Ping => self.flush_control().await?,
                Incoming::Pong => {}
                Incoming::Close => return Err(self.finish_close().await),
                Incoming::Message(message) => {
                    if let Some(bucket) = &mut self.bucket
                        && !bucket.take()
                    {
                        return Err(self.policy_close(1008, reason::RATE_LIMITED).await);
                    }
                    let refresh = message
                        .as_text()
                        .and_then(|text| parse_auth_message(text.as_bytes()).ok())
                        .map(|auth| auth.token.to_owned());
                    match refresh {
                        Some(token) => *deadline = Some(self.refresh(wiring, &token).await?),
                        None => return Ok(Some(message)),
                    }
                }
            }
        }
    }

    /// Verifies an in-band refresh for the same subject; returns the new deadline.
    async fn refresh(&mut self, wiring: &Wiring, token: &str) -> Result<Instant, End> {
        let current = wiring.identity.borrow().sub_arc();
        let verify = self.config.verifier.verify(token, unix_now());
        let identity = match timeout(self.config.handshake_timeout, verify).await {
            Ok(Ok(identity)) if current.is_some() && identity.sub_arc() == current => identity,
            Ok(Ok(_)) => return Err(self.refuse(AuthError::SubjectMismatch).await),
            Ok(Err(error)) => return Err(self.refuse(error).await),
            Err(_) => {
                tracing::warn!("token verification timed out");
                return Err(self.policy_close(1011, reason::INTERNAL_ERROR).await);
            }
        };
        tracing::debug!(exp = identity.exp(), "token refreshed");
        let next = expiry(&identity, self.leeway());
        wiring.identity.send_replace(identity);
        self.acknowledge().await?;
        Ok(next.unwrap_or_else(far_future))
    }

    /// One step of the state machine over the buffered bytes.
    fn next_event(&mut self) -> Result<Option<Incoming>, ProtocolError> {
        loop {
            let input = self.buf.get_mut(self.start..self.end).unwrap_or_default();
            let step = self.conn.handle_input(input)?;
            let consumed = step.consumed;
            let event = match step.event {
                None => None,
                Some(Event::Text(text)) => Some(Incoming::Message(Message::text(text))),
                Some(Event::Binary(data)) => Some(Incoming::Message(Message::Binary(
                    Bytes::copy_from_slice(data),
                ))),
                Some(Event::Chunk(chunk)) => {
                    if chunk.first {
                        self.message.clear();
                    }
                    self.message.extend_from_slice(chunk.data);
                    chunk.last.then(|| {
                        let whole = std::mem::take(&mut self.message);
                        Incoming::Message(match chunk.kind {
                            // The connection validated the whole message before `last`.
                            MessageKind::Text => {
                                Message::text(String::from_utf8(whole).unwrap_or_default())
                            }
                            MessageKind::Binary => Message::Binary(whole.into()),
                        })
                    })
                }
                Some(Event::Ping(_)) => Some(Incoming::Ping),
                Some(Event::Pong(_)) => Some(Incoming::Pong),
                Some(Event::Close(_)) => Some(Incoming::Close),
            };
            self.start += consumed;
            if self.start == self.end {
                self.start = 0;
                self.end = 0;
            }
            if event.is_some() || consumed == 0 {
                return Ok(event);
            }
        }
    }

    /// Makes room in the read buffer for the next read.
    fn make_room(&mut self) -> Result<(), End> {
        if self.end < self.buf.len() {
            return Ok(());
        }
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            return Ok(());
        }
        // The state machine consumes any full buffer (frames larger than it are
        // streamed); should that ever fail, drop the connection rather than spin.
        Err(End::Io(io::Error::other("read buffer full")))
    }

    /// Reads more bytes (outside the main loop: first message, closing).
    async fn read_more(&mut self) -> Result<(), End> {
        self.make_room()?;
        let free = self.buf.get_mut(self.end..).unwrap_or_default();
        match self.stream.read(free).await {
            Ok(0) => Err(End::Io(io::ErrorKind::UnexpectedEof.into())),
            Ok(n) => {
                self.end += n;
                self.last_seen = Instant::now();
                Ok(())
            }
            Err(error) => Err(End::Io(error)),
        }
    }

    async fn heartbeat(&mut self, interval: Duration) -> Result<(), End> {
        if self.last_seen.elapsed() >= interval + self.config.peer_timeout {
            tracing::debug!("peer timed out");
            return Err(End::Timeout);
        }
        self.out.clear();
        self.out.resize(MAX_CONTROL_FRAME_LEN, 0);
        let len = self.conn.encode_ping(&[], &mut self.out).unwrap_or(0);
        self.out.truncate(len);
        self.write_out().await
    }

    async fn send_message(&mut self, message: &Message) -> Result<(), End> {
        match message {
            Message::Text(text) => self.send_frame(MessageKind::Text, text.as_bytes()).await,
            Message::Binary(data) => self.send_frame(MessageKind::Binary, data).await,
        }
    }

    async fn send_frame(&mut self, kind: MessageKind, payload: &[u8]) -> Result<(), End> {
        self.out.clear();
        self.out.resize(MAX_HEADER_LEN, 0);
        let header = self
            .conn
            .encode_frame_header(kind, true, payload.len() as u64, &mut self.out);
        let Ok((header_len, _)) = header else {
            // Closing or closed: nothing more is sent.
            return Ok(());
        };
        self.out.truncate(header_len);
        if payload.len() <= COALESCE {
            self.out.extend_from_slice(payload);
            return self.write_out().await;
        }
        self.write_out().await?;
        self.write(payload).await
    }

    async fn write_out(&mut self) -> Result<(), End> {
        let out = std::mem::take(&mut self.out);
        let written = self.write(&out).await;
        self.out = out;
        written
    }

    async fn write(&mut self, bytes: &[u8]) -> Result<(), End> {
        let write = async {
            self.stream.write_all(bytes).await?;
            self.stream.flush().await
        };
        match timeout(self.config.write_timeout, write).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(End::Io(error)),
            Err(_) => {
                tracing::debug!("write timed out");
                Err(End::Timeout)
            }
        }
    }

    /// Writes the pong or close frame the state machine owes.
    async fn flush_control(&mut self) -> Result<(), End> {
        loop {
            self.out.clear();
            self.out.resize(2 * MAX_CONTROL_FRAME_LEN, 0);
            let len = self.conn.poll_transmit(&mut self.out);
            if len == 0 {
                return Ok(());
            }
            self.out.truncate(len);
            self.write_out().await?;
        }
    }

    /// A close asked for by the application: any valid code, otherwise 1000.
    async fn app_close(&mut self, code: u16, reason: &str) -> End {
        let code = if CloseCode::new(code).is_valid_on_wire() {
            code
        } else {
            1000
        };
        let reason = truncate(reason, tollgate::ws::close::MAX_CLOSE_REASON_LEN);
        self.close(code, reason).await
    }

    async fn policy_close(&mut self, code: u16, reason: &'static str) -> End {
        tracing::debug!(code, reason, "closing");
        match self.close(code, reason).await {
            End::Clean => End::Policy(code, reason),
            other => other,
        }
    }

    /// Sends our close frame, waits briefly for the client's, then shuts the stream.
    pub(crate) async fn close(&mut self, code: u16, reason: &str) -> End {
        if self.conn.close(CloseCode::new(code), reason).is_err() {
            return self.shutdown().await;
        }
        if let Err(end) = self.flush_control().await {
            return end;
        }
        let wait = async {
            loop {
                match self.next_event() {
                    Ok(Some(Incoming::Close)) | Err(_) => return,
                    Ok(Some(_)) => {}
                    Ok(None) => {
                        if self.read_more().await.is_err() {
                            return;
                        }
                    }
                }
            }
        };
        let _ = timeout(CLOSE_WAIT, wait).await;
        self.shutdown().await
    }

    /// The client's close arrived: echo it and shut the stream.
    async fn finish_close(&mut self) -> End {
        if let Err(end) = self.flush_control().await {
            return end;
        }
        self.shutdown().await
    }

    /// A protocol error: the close frame with its code is queued; send it and end.
    async fn fail(&mut self, error: ProtocolError) -> End {
        tracing::debug!(%error, "protocol error");
        let _ = self.flush_control().await;
        let _ = self.shutdown().await;
        End::Protocol(error)
    }

    /// Ends our side, then drains what the client still sends for a moment: closing a
    /// socket with unread input resets the connection, and the client could lose our
    /// close frame.
    async fn shutdown(&mut self) -> End {
        if let Ok(Ok(())) = timeout(self.config.write_timeout, self.stream.shutdown()).await {
            let drain = async {
                let mut sink = [0_u8; 4096];
                while let Ok(1..) = self.stream.read(&mut sink).await {}
            };
            let _ = timeout(CLOSE_WAIT, drain).await;
        }
        End::Clean
    }
}

/// The instant at which `identity`'s token stops verifying: `exp + leeway`.
pub(crate) fn expiry(identity: &Identity, leeway: u64) -> Option<Instant> {
    let deadline = identity.exp()?.saturating_add(leeway);
    let at = UNIX_EPOCH.checked_add(Duration::from_secs(deadline))?;
    let left = at.duration_since(SystemTime::now()).unwrap_or_default();
    Instant::now().checked_add(left)
}

/// The current Unix time in seconds.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400 * 365)
}

/// `text` cut to at most `max` bytes at a character boundary.
fn truncate(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.get(..end).unwrap_or_default()
}
