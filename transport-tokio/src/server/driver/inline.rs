//! The connection task with an [`InlineHandler`]: every buffered message is answered in
//! place, the answers of one read go out in one write, and the task waits on the
//! stream, one timer (expiry or ping, whichever is first) and shutdown. No queue, no
//! second task; an idle connection keeps only this future and its identity.

use std::panic::AssertUnwindSafe;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;
use tollgate::auth::{AuthError, parse_auth_message};
use tollgate::ws::close::CloseCode;
use tollgate::ws::conn::{Event, MessageKind};
use tollgate::ws::error::ProtocolError;
use tollgate::ws::frame::MAX_CONTROL_FRAME_LEN;

use super::{Driver, End, WRITE_BATCH, expiry, far_future, reason};
use crate::handle::{ConnectionId, Identity};
use crate::server::inline::{CloseRequest, InlineHandler, MessageRef, Reply};

/// Why [`Driver::answer_buffered`] stopped.
enum Answered {
    /// Every buffered byte was consumed.
    Drained,
    /// The answers reached the write batch size: send them, then go on.
    Batch,
    /// The handler asked for a close.
    Closing,
    /// The client's close frame.
    CloseReceived,
    /// An in-band refresh with this token.
    Refresh(Box<str>),
    /// The message rate limit was exceeded.
    RateLimited,
    /// The client broke the protocol.
    Failed(ProtocolError),
}

/// What woke the waiting connection.
enum Wake {
    Read(Result<(), End>),
    Timer,
    Shutdown,
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> Driver<S> {
    /// The future that runs the connection with `handler` until it ends.
    ///
    /// A plain function returning an `async move` block, not an `async fn`: an async
    /// function's arguments are kept twice in its future (once as arguments, once as
    /// the locals they are moved into), and this future is what every idle connection
    /// costs.
    #[allow(
        clippy::manual_async_fn,
        reason = "an async fn would store the driver twice"
    )]
    pub(crate) fn run_inline<H: InlineHandler>(
        mut self,
        handler: H,
        (id, mut identity): (ConnectionId, Identity),
        shutdown: CancellationToken,
        permits: impl Send + 'static,
    ) -> impl Future<Output = ()> + Send + 'static
    where
        S: 'static,
    {
        async move {
            // Held for the connection's life: its places under the connection caps.
            let _permits = permits;
            let mut state = H::State::default();
            let mut close = None;
            let reply = &mut Reply::new((id, &identity), &mut self.conn, &mut self.out, &mut close);
            if panicked(|| handler.on_open(&mut state, reply)) {
                close = Some(internal_error());
            }
            let end = self
                .serve_inline(&handler, &mut state, (id, &mut identity), &shutdown, close)
                .await;
            let _ = panicked(|| handler.on_close(&mut state, &identity));
            tracing::debug!(?end, "connection ended");
        }
    }

    async fn serve_inline<H: InlineHandler + ?Sized>(
        &mut self,
        handler: &H,
        state: &mut H::State,
        (id, identity): (ConnectionId, &mut Identity),
        shutdown: &CancellationToken,
        mut close: Option<CloseRequest>,
    ) -> End {
        let mut expires = expiry(identity, self.leeway());
        let ping_every = self.config.ping_interval;
        let mut next_ping = ping_every.map(|every| Instant::now() + every);
        loop {
            let answered = if close.is_some() {
                Answered::Closing
            } else {
                // One unwind guard per batch, not per message: it keeps the handler
                // inlined into the loop.
                let whom = (id, &*identity);
                let batch = || self.answer_buffered(handler, state, whom, &mut close);
                match std::panic::catch_unwind(AssertUnwindSafe(batch)) {
                    Ok(answered) => answered,
                    Err(_) => {
                        tracing::error!("inline handler panicked");
                        close = Some(internal_error());
                        Answered::Closing
                    }
                }
            };
            // Answers go out before whatever ends the connection: a peer sees them, then
            // the close, in the order it sent.
            if let Err(end) = self.write_pending().await {
                return end;
            }
            match answered {
                Answered::Drained => {}
                Answered::Batch => continue,
                Answered::Closing => {
                    let request = close.take().unwrap_or(CloseRequest {
                        code: 1000,
                        reason: "".into(),
                    });
                    return self.app_close(request.code, &request.reason).await;
                }
                Answered::CloseReceived => return self.finish_close().await,
                Answered::RateLimited => {
                    return self.policy_close(1008, reason::RATE_LIMITED).await;
                }
                Answered::Failed(error) => return self.fail(error).await,
                Answered::Refresh(token) => {
                    // Rare, and large (verification, replies, closing): kept off the
                    // connection future.
                    let refreshed = Box::pin(self.refreshed(identity.sub_arc(), &token)).await;
                    match refreshed {
                        Ok((fresh, next)) => {
                            *identity = fresh;
                            expires = Some(next);
                        }
                        Err(end) => return end,
                    }
                    continue;
                }
            }
            let timer = match (expires, next_ping) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            // The timer before the read: a client that always has more to send still
            // meets its token's expiry and the ping.
            let wake = tokio::select! {
                biased;
                () = shutdown.cancelled() => Wake::Shutdown,
                () = sleep_until(timer.unwrap_or_else(far_future)), if timer.is_some() => Wake::Timer,
                read = std::future::poll_fn(|cx| self.poll_fill(cx)) => Wake::Read(read),
            };
            match wake {
                Wake::Shutdown => {
                    let code = CloseCode::GOING_AWAY.as_u16();
                    return self.policy_close(code, reason::SHUTDOWN).await;
                }
                Wake::Read(Ok(())) => self.last_seen = Instant::now(),
                Wake::Read(Err(end)) => return end,
                Wake::Timer => {
                    let now = Instant::now();
                    if expires.is_some_and(|at| at <= now) {
                        return self.policy_close(1008, AuthError::EXPIRED.code()).await;
                    }
                    if let (Some(at), Some(every)) = (next_ping, ping_every)
                        && at <= now
                    {
                        next_ping = Some(now + every);
                        if let Err(end) = self.heartbeat(every).await {
                            return end;
                        }
                    }
                }
            }
        }
    }

    /// Runs the state machine over the buffered bytes, calling `handler` for each data
    /// message and gathering the answers (and pongs) in the write buffer, until the
    /// input runs out or something needs the connection's attention.
    fn answer_buffered<H: InlineHandler + ?Sized>(
        &mut self,
        handler: &H,
        state: &mut H::State,
        whom: (ConnectionId, &Identity),
        close: &mut Option<CloseRequest>,
    ) -> Answered {
        loop {
            if close.is_some() {
                return Answered::Closing;
            }
            if self.out.len() >= WRITE_BATCH {
                return Answered::Batch;
            }
            let Self {
                conn,
                buf,
                start,
                message,
                out,
                bucket,
                ..
            } = self;
            let input = buf.get_mut(*start..).unwrap_or_default();
            let step = match conn.handle_input(input) {
                Ok(step) => step,
                Err(error) => return Answered::Failed(error),
            };
            let consumed = step.consumed;
            let mut stop = None;
            let mut assembled = false;
            let data = match step.event {
                None => None,
                Some(Event::Text(text)) => Some(MessageRef::Text(text)),
                Some(Event::Binary(data)) => Some(MessageRef::Binary(data)),
                Some(Event::Chunk(chunk)) => {
                    if chunk.first {
                        message.clear();
                    }
                    message.extend_from_slice(chunk.data);
                    assembled = chunk.last;
                    match (chunk.last, chunk.kind) {
                        (false, _) => None,
                        // The connection validated the whole message before `last`.
                        (true, MessageKind::Text) => {
                            std::str::from_utf8(message).ok().map(MessageRef::Text)
                        }
                        (true, MessageKind::Binary) => Some(MessageRef::Binary(message)),
                    }
                }
                Some(Event::Ping(_)) => {
                    let at = out.len();
                    out.resize(at + 2 * MAX_CONTROL_FRAME_LEN, 0);
                    let len = conn.poll_transmit(out.get_mut(at..).unwrap_or_default());
                    out.truncate(at + len);
                    None
                }
                Some(Event::Pong(_)) => None,
                Some(Event::Close(_)) => {
                    stop = Some(Answered::CloseReceived);
                    None
                }
            };
            let had_event = data.is_some() || stop.is_some();
            if let Some(data) = data {
                if let Some(bucket) = bucket
                    && !bucket.take()
                {
                    stop = Some(Answered::RateLimited);
                } else if let MessageRef::Text(text) = data
                    && let Ok(auth) = parse_auth_message(text.as_bytes())
                {
                    stop = Some(Answered::Refresh(auth.token.into()));
                } else {
                    handler.on_message(state, &mut Reply::new(whom, conn, out, close), data);
                }
            }
            if assembled {
                // A streamed message was answered: its buffer (up to the size limit) is
                // not kept for the connection's life.
                *message = Vec::new();
            }
            *start += consumed;
            if *start >= buf.len() {
                *start = 0;
                buf.clear();
            }
            if let Some(stop) = stop {
                return stop;
            }
            if consumed == 0 && !had_event {
                return Answered::Drained;
            }
        }
    }
}

/// Runs a handler's callback and tells whether it panicked. A panic ends only this
/// connection: logged, then close 1011 `internal_error` after the replies written before
/// it, as for a failed socket handler.
fn panicked(callback: impl FnOnce()) -> bool {
    let panicked = std::panic::catch_unwind(AssertUnwindSafe(callback)).is_err();
    if panicked {
        tracing::error!("inline handler panicked");
    }
    panicked
}

fn internal_error() -> CloseRequest {
    CloseRequest {
        code: 1011,
        reason: reason::INTERNAL_ERROR.into(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tokio::net::{TcpListener, TcpStream};
    use tokio::sync::{mpsc, watch};
    use tokio_util::sync::CancellationToken;
    use tollgate::jwt::Key;
    use tollgate::jwt::alg::hs256::Hs256Secret;

    use super::super::Wiring;
    use super::Driver;
    use crate::server::{Echo, ServerConfig, StaticVerifier};
    use crate::{ConnectionId, Identity};

    /// A driver over a loopback connection, and the client end.
    async fn driver() -> (Driver<TcpStream>, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (tcp, _) = listener.accept().await.unwrap();
        let key = Key::Hs256(Hs256Secret::new(b"0123456789abcdef0123456789abcdef").unwrap());
        let config = Arc::new(ServerConfig::new(StaticVerifier::new(key)));
        (Driver::new(tcp, config, &[]), client)
    }

    fn identity() -> Identity {
        Identity::from_claims_json("HS256", None, r#"{"sub":"a"}"#).unwrap()
    }

    /// What an idle connection costs is mostly this future (the benchmark's memory target
    /// is 4 KiB per connection, all included): a change that makes it grow past the
    /// bound (an `async fn` taking the driver by value doubles it) fails here.
    #[tokio::test]
    async fn the_inline_connection_future_stays_small() {
        let (driver, _client) = driver().await;
        let driver_size = std::mem::size_of_val(&driver);
        let whom = (ConnectionId::next(), identity());
        let future = driver.run_inline(Echo, whom, CancellationToken::new(), ());
        let size = std::mem::size_of_val(&future);
        assert!(size <= 1400, "the connection future takes {size} bytes");
        assert!(
            size < 3 * driver_size,
            "{size} bytes for a {driver_size}-byte driver"
        );
    }

    /// The same for the task behind an `AuthenticatedSocket`.
    #[tokio::test]
    async fn the_socket_connection_future_holds_the_driver_once() {
        let (driver, _client) = driver().await;
        let driver_size = std::mem::size_of_val(&driver);
        let (_outgoing, outgoing) = mpsc::channel(4);
        let (incoming, _incoming) = mpsc::channel(4);
        let wiring = Wiring {
            outgoing,
            incoming,
            demand: Arc::default(),
            overflow: Arc::default(),
            identity: watch::channel(identity()).0,
            shutdown: CancellationToken::new(),
            end: Arc::default(),
        };
        let future = driver.run(wiring);
        let size = std::mem::size_of_val(&future);
        assert!(size <= 1800, "the connection future takes {size} bytes");
        assert!(
            size < 2 * driver_size + 800,
            "{size} bytes for a {driver_size}-byte driver"
        );
    }
}
