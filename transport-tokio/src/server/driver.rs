//! The connection task: the core's sans-IO [`Connection`] driven over a tokio stream,
//! with the timers, queues and policies of the server around it.
//!
//! One task owns the stream and the state machine. It hands the application every
//! message already buffered (up to the incoming queue's room; a full queue stops the
//! reading, so backpressure reaches the client through TCP), then waits on whichever
//! comes first: bytes from the client, a command on the outgoing queue (gathered into
//! one write with whatever else is queued), the token's expiry, the ping timer, an
//! overflowed queue, shutdown. A protocol error found behind messages the application
//! has not answered yet waits for those answers (see `Demand`), so a peer sees them
//! before the close, in the order it sent.
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
use tollgate::ws::frame::{FrameHeader, MAX_CONTROL_FRAME_LEN, MAX_HEADER_LEN, OpCode};

use super::config::ServerConfig;
use super::inline::truncate;
use super::limits::TokenBucket;
use super::socket::{EndSlot, Error};
use crate::handle::{Command, Identity, Message, Overflow};

/// Frames up to this size arrive whole; larger ones are streamed into the message
/// buffer, so the read buffer never grows with the message size limit.
const READ_CHUNK: usize = 64 * 1024;

/// How long we wait for the client's close frame after sending ours.
const CLOSE_WAIT: Duration = Duration::from_secs(3);

/// Payloads up to this size are copied after their header into one write.
const COALESCE: usize = 16 * 1024;

/// Queued messages are gathered into one write up to about this many bytes.
const WRITE_BATCH: usize = 64 * 1024;

mod inline;

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
    /// Received bytes; `start..` are not consumed yet. Its allocation is given back while
    /// the connection waits with nothing buffered (see [`poll_fill`](Self::poll_fill)).
    buf: Vec<u8>,
    start: usize,
    /// The read buffer's size when allocated.
    buf_len: usize,
    message: Vec<u8>,
    out: Vec<u8>,
    config: Arc<ServerConfig>,
    last_seen: Instant,
    bucket: Option<TokenBucket>,
    /// Sending the answers owed before a deferred protocol-error close (see
    /// [`fail_in_order`](Self::fail_in_order)).
    answering: bool,
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> Driver<S> {
    /// A driver for an upgraded stream; `pipelined` are bytes that followed the request.
    pub(crate) fn new(stream: S, config: Arc<ServerConfig>, pipelined: &[u8]) -> Self {
        let buf_len = (READ_CHUNK + MAX_HEADER_LEN)
            .max(pipelined.len())
            .max(MAX_CONTROL_FRAME_LEN);
        let limit = config.max_message_size as u64;
        let conn_config = Config::DEFAULT
            .with_read_buffer_len(buf_len)
            .with_max_frame_size(limit)
            .with_max_message_size(limit);
        Self {
            stream,
            conn: Connection::server(conn_config),
            buf: pipelined.to_vec(),
            start: 0,
            buf_len,
            message: Vec::new(),
            out: Vec::new(),
            bucket: config.rate_limit.map(TokenBucket::new),
            config,
            last_seen: Instant::now(),
            answering: false,
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

    /// The future that runs the connection until it ends and leaves the reason in the
    /// end slot. Not an `async fn`, whose arguments (the driver) would be kept twice in
    /// the future every connection holds (see `run_inline`).
    #[allow(
        clippy::manual_async_fn,
        reason = "an async fn would store the driver twice"
    )]
    pub(crate) fn run(mut self, mut wiring: Wiring) -> impl Future<Output = ()> + Send + 'static
    where
        S: 'static,
    {
        async move {
            let end = self.serve(&mut wiring).await;
            tracing::debug!(?end, "connection ended");
            *wiring.end.lock().unwrap_or_else(PoisonError::into_inner) = end.into_error();
        }
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
            // Hand the application every message already buffered before waiting.
            while pending.is_none() {
                match self.pump(wiring, &mut deadline, delivered).await {
                    Ok(None) => break,
                    Ok(Some(message)) => match wiring.incoming.try_send(message) {
                        Ok(()) => delivered += 1,
                        Err(mpsc::error::TrySendError::Full(message)) => pending = Some(message),
                        Err(mpsc::error::TrySendError::Closed(_)) => {
                            return self.finish_queue(&mut wiring.outgoing).await;
                        }
                    },
                    Err(end) => return end,
                }
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
                        match self.send_queued(message, &mut wiring.outgoing).await {
                            Ok(None) => {}
                            Ok(Some((code, reason))) => return self.app_close(code, &reason).await,
                            Err(end) => return end,
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
                read = std::future::poll_fn(|cx| self.poll_fill(cx)), if pending.is_none() => {
                    match read {
                        Ok(()) => self.last_seen = Instant::now(),
                        Err(end) => return end,
                    }
                }
                _ = ping.tick(), if ping_every.is_some() => {
                    if pending.is_some() {
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
        match self.send_all_queued(outgoing).await {
            Ok(()) => self.close(1000, "").await,
            Err(end) => end,
        }
    }

    /// Sends what the application has queued so far; a queued close ends the connection.
    async fn send_all_queued(&mut self, outgoing: &mut mpsc::Receiver<Command>) -> Result<(), End> {
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
        wiring: &mut Wiring,
        deadline: &mut Option<Instant>,
        delivered: u64,
    ) -> Result<Option<Message>, End> {
        loop {
            let event = match self.next_event() {
                Ok(Some(event)) => event,
                Ok(None) => return Ok(None),
                Err(error) if wiring.demand.wants_after(delivered) => {
                    return Err(self.fail(error).await);
                }
                // Rare, and large: kept off the connection future.
                Err(error) => {
                    return Err(Box::pin(self.fail_in_order(wiring, error, delivered)).await);
                }
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
                        // Rare, and large (verification, replies, closing): kept off the
                        // connection future.
                        Some(token) => {
                            *deadline = Some(Box::pin(self.refresh(wiring, &token)).await?)
                        }
                        None => return Ok(Some(message)),
                    }
                }
            }
        }
    }

    /// Verifies an in-band refresh for the same subject; returns the new deadline.
    async fn refresh(&mut self, wiring: &Wiring, token: &str) -> Result<Instant, End> {
        let current = wiring.identity.borrow().sub_arc();
        let (identity, next) = self.refreshed(current, token).await?;
        wiring.identity.send_replace(identity);
        Ok(next)
    }

    /// Verifies an in-band refresh whose `sub` must be `current`, and acknowledges it;
    /// returns the new identity and deadline.
    async fn refreshed(
        &mut self,
        current: Option<Arc<str>>,
        token: &str,
    ) -> Result<(Identity, Instant), End> {
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
        self.acknowledge().await?;
        Ok((identity, next.unwrap_or_else(far_future)))
    }

    /// One step of the state machine over the buffered bytes.
    fn next_event(&mut self) -> Result<Option<Incoming>, ProtocolError> {
        loop {
            let input = self.buf.get_mut(self.start..).unwrap_or_default();
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
            if self.start >= self.buf.len() {
                self.start = 0;
                self.buf.clear();
            }
            if event.is_some() || consumed == 0 {
                return Ok(event);
            }
        }
    }

    /// Makes room in the read buffer for the next read, allocating it if it was given
    /// back.
    fn make_room(&mut self) -> Result<(), End> {
        if self.buf.len() < self.buf.capacity() {
            return Ok(());
        }
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        if self.buf.len() >= self.buf_len {
            // The state machine consumes any full buffer (frames larger than it are
            // streamed); should that ever fail, drop the connection rather than spin.
            return Err(End::Io(io::Error::other("read buffer full")));
        }
        self.buf.reserve_exact(self.buf_len - self.buf.len());
        Ok(())
    }

    /// One read into the read buffer. An idle connection (nothing buffered, nothing
    /// arriving) gives its read and write buffers back while it waits: thousands of
    /// idle connections then cost no buffer memory, and a busy one keeps them.
    fn poll_fill(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), End>> {
        use std::task::Poll;
        if let Err(end) = self.make_room() {
            return Poll::Ready(Err(end));
        }
        match tokio_util::io::poll_read_buf(std::pin::Pin::new(&mut self.stream), cx, &mut self.buf)
        {
            Poll::Ready(Ok(0)) => Poll::Ready(Err(End::Io(io::ErrorKind::UnexpectedEof.into()))),
            Poll::Ready(Ok(_)) => Poll::Ready(Ok(())),
            Poll::Ready(Err(error)) => Poll::Ready(Err(End::Io(error))),
            Poll::Pending => {
                if self.buf.is_empty() {
                    self.buf = Vec::new();
                    self.out = Vec::new();
                }
                Poll::Pending
            }
        }
    }

    /// Reads more bytes (outside the main loop: first message, closing).
    async fn read_more(&mut self) -> Result<(), End> {
        std::future::poll_fn(|cx| self.poll_fill(cx)).await?;
        self.last_seen = Instant::now();
        Ok(())
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
        self.append_frame(kind, payload).await?;
        self.write_pending().await
    }

    /// Sends `first` and the messages queued behind it, gathered into few writes; a
    /// close queued among them ends the batch and is returned.
    async fn send_queued(
        &mut self,
        first: Message,
        outgoing: &mut mpsc::Receiver<Command>,
    ) -> Result<Option<(u16, Arc<str>)>, End> {
        self.out.clear();
        let mut next = Some(first);
        let mut budget = self.config.outgoing_queue;
        while let Some(message) = next.take() {
            let (kind, payload) = match &message {
                Message::Text(text) => (MessageKind::Text, text.as_bytes()),
                Message::Binary(data) => (MessageKind::Binary, &data[..]),
            };
            self.append_frame(kind, payload).await?;
            if self.out.len() >= WRITE_BATCH {
                self.write_pending().await?;
            }
            budget = budget.saturating_sub(1);
            if budget == 0 {
                break;
            }
            match outgoing.try_recv() {
                Ok(Command::Send(message)) => next = Some(message),
                Ok(Command::Close { code, reason }) => {
                    self.write_pending().await?;
                    return Ok(Some((code, reason)));
                }
                Err(_) => {}
            }
        }
        self.write_pending().await?;
        Ok(None)
    }

    /// Appends one frame to the output; a payload too large to copy is written at once,
    /// after what was gathered before it.
    async fn append_frame(&mut self, kind: MessageKind, payload: &[u8]) -> Result<(), End> {
        let at = self.out.len();
        self.out.resize(at + MAX_HEADER_LEN, 0);
        let header_out = self.out.get_mut(at..).unwrap_or_default();
        let header = if self.answering {
            unmasked_header(kind, payload.len() as u64, header_out)
        } else {
            self.conn
                .encode_frame_header(kind, true, payload.len() as u64, header_out)
                .ok()
                .map(|(len, _)| len)
        };
        let Some(header_len) = header else {
            // Closing or closed: nothing more is sent.
            self.out.truncate(at);
            return Ok(());
        };
        self.out.truncate(at + header_len);
        if payload.len() <= COALESCE {
            self.out.extend_from_slice(payload);
            return Ok(());
        }
        self.write_pending().await?;
        self.write(payload).await
    }

    /// Writes the gathered output, if any, and empties it.
    async fn write_pending(&mut self) -> Result<(), End> {
        if self.out.is_empty() {
            return Ok(());
        }
        self.write_out().await?;
        self.out.clear();
        Ok(())
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
    ///
    /// The closing steps live on the heap: boxed, they do not widen the future of every
    /// connection (and of every task that may close one) by their own size.
    pub(crate) async fn close(&mut self, code: u16, reason: &str) -> End {
        Box::pin(self.close_in_place(code, reason)).await
    }

    async fn close_in_place(&mut self, code: u16, reason: &str) -> End {
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

    /// A protocol error found further on in the input than messages the application has
    /// not answered yet. A peer that sends one message at a time sees the answers first
    /// and the close after (Autobahn 3.2, 4.1.3, 5.15, …): so wait, at most
    /// [`CLOSE_WAIT`], until the application has taken every message handed over and asks
    /// for the next, send what it queued meanwhile, then fail.
    async fn fail_in_order(
        &mut self,
        wiring: &mut Wiring,
        error: ProtocolError,
        delivered: u64,
    ) -> End {
        // The state machine refuses to send once it has failed; these answers belong to
        // messages received before the error, so their frames are encoded directly.
        self.answering = true;
        let answer = async {
            while !wiring.demand.wants_after(delivered) && !wiring.incoming.is_closed() {
                tokio::select! {
                    () = wiring.demand.notify.notified() => {}
                    command = wiring.outgoing.recv() => match command {
                        Some(Command::Send(message)) => self.send_message(&message).await?,
                        Some(Command::Close { .. }) | None => return Ok(()),
                    },
                }
            }
            while let Ok(Command::Send(message)) = wiring.outgoing.try_recv() {
                self.send_message(&message).await?;
            }
            Ok::<(), End>(())
        };
        let answered = timeout(CLOSE_WAIT, answer).await;
        self.answering = false;
        if let Ok(Err(end)) = answered {
            return end;
        }
        self.fail(error).await
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
        Box::pin(self.shutdown_in_place()).await
    }

    async fn shutdown_in_place(&mut self) -> End {
        if let Ok(Ok(())) = timeout(self.config.write_timeout, self.stream.shutdown()).await {
            let drain = async {
                let mut sink = vec![0_u8; 4096];
                while let Ok(1..) = self.stream.read(&mut sink).await {}
            };
            let _ = timeout(CLOSE_WAIT, drain).await;
        }
        End::Clean
    }
}

/// The header of a whole server-to-client data frame (never masked), written into `out`;
/// `None` when `out` is too short.
fn unmasked_header(kind: MessageKind, payload_len: u64, out: &mut [u8]) -> Option<usize> {
    let opcode = match kind {
        MessageKind::Text => OpCode::Text,
        MessageKind::Binary => OpCode::Binary,
    };
    let header = FrameHeader {
        fin: true,
        opcode,
        mask: None,
        payload_len,
    };
    header.encode(out).ok()
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
