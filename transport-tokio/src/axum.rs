//! axum integration (feature `axum`): authenticated WebSockets inside an axum app, with
//! the same behaviour as [`Server`](crate::server::Server).
//!
//! [`WebSocketUpgrade`] is an extractor. It reads the upgrade request's head, runs the
//! [`Acceptor`]'s checks on it (token sources, verification, origins, connection caps,
//! the refusal mode: 401 + `WWW-Authenticate`, or 101 then close 1008), and on success
//! lets the handler answer 101 with [`WebSocketUpgrade::on_upgrade`]. The upgraded
//! connection is an [`AuthenticatedSocket`], driven by the same connection task
//! (first-message authentication, expiry and in-band refresh, limits, pings, shutdown)
//! and counted by the same [`Acceptor`]. The acceptor comes from the router's state
//! (`Acceptor: FromRef<S>`).
//!
//! ```no_run
//! use axum::{Router, response::Response, routing::get};
//! use futures_util::StreamExt;
//! use tollgate::jwt::{Key, alg::hs256::Hs256Secret};
//! use tollgate_tokio::axum::WebSocketUpgrade;
//! use tollgate_tokio::server::{Acceptor, ServerConfig, StaticVerifier};
//!
//! async fn ws(upgrade: WebSocketUpgrade) -> Response {
//!     upgrade.on_upgrade(|mut socket| async move {
//!         while let Some(Ok(message)) = socket.next().await {
//!             if socket.send(message).await.is_err() {
//!                 break;
//!             }
//!         }
//!     })
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let key = Key::Hs256(Hs256Secret::new(b"0123456789abcdef0123456789abcdef")?);
//!     let acceptor = Acceptor::new(ServerConfig::new(StaticVerifier::new(key)));
//!     let app = Router::new().route("/ws", get(ws)).with_state(acceptor);
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//!     axum::serve(listener, app).await?;
//!     Ok(())
//! }
//! ```

use std::fmt;
use std::future::Future;

use ::axum::body::Body;
use ::axum::extract::{FromRef, FromRequestParts};
use ::axum::http::request::Parts;
use ::axum::http::{Response, StatusCode, Version};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tracing::Instrument;

use crate::server::accept::{Decision, Upgraded};
use crate::server::{Acceptor, AuthenticatedSocket, InlineHandler};

/// Header lines copied from tollgate's HTTP answers into axum's.
const MAX_RESPONSE_HEADERS: usize = 16;

/// An authenticated upgrade request, ready to be answered with
/// [`on_upgrade`](Self::on_upgrade). Extracting it refuses requests that tollgate
/// refuses, with the same answers (see the [module docs](self)).
pub struct WebSocketUpgrade {
    acceptor: Acceptor,
    response: Vec<u8>,
    next: Box<Upgraded>,
    on_upgrade: OnUpgrade,
}

impl fmt::Debug for WebSocketUpgrade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocketUpgrade").finish_non_exhaustive()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for WebSocketUpgrade
where
    Acceptor: FromRef<S>,
{
    /// tollgate's answer (400, 401, 403, 426, 503, …), or 426 for a request that cannot
    /// be upgraded (HTTP/2).
    type Rejection = Response<Body>;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if parts.version != Version::HTTP_11 {
            return Err(status(StatusCode::UPGRADE_REQUIRED));
        }
        let Some(on_upgrade) = parts.extensions.remove::<OnUpgrade>() else {
            return Err(status(StatusCode::UPGRADE_REQUIRED));
        };
        let acceptor = Acceptor::from_ref(state);
        match acceptor.decide(&request_head(parts)).await {
            Decision::Refuse { response } => Err(to_response(&response)),
            Decision::Upgrade { response, next } => Ok(Self {
                acceptor,
                response,
                next,
                on_upgrade,
            }),
        }
    }
}

impl WebSocketUpgrade {
    /// Answers 101 and, once the connection is upgraded, runs `callback` on the
    /// authenticated socket in a task tracked by the acceptor's
    /// [`ShutdownHandle`](crate::server::ShutdownHandle). With first-message
    /// authentication the callback runs after the client authenticated; a connection
    /// refused after the upgrade (close 1008) never reaches it.
    pub fn on_upgrade<F, Fut>(self, callback: F) -> Response<Body>
    where
        F: FnOnce(AuthenticatedSocket) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let Self {
            acceptor,
            response,
            next,
            on_upgrade,
        } = self;
        let shutdown = acceptor.shutdown_handle();
        let task = async move {
            let upgraded = match on_upgrade.await {
                Ok(upgraded) => upgraded,
                Err(error) => {
                    tracing::debug!(%error, "upgrade failed");
                    return;
                }
            };
            // A plain TCP connection (`axum::serve`) is driven directly, without hyper's
            // boxed I/O in between; the bytes hyper read past the request come along.
            // The accepting steps are boxed: the task keeps only the callback's size for
            // the connection's life.
            let accepted = match upgraded.downcast::<TokioIo<TcpStream>>() {
                Ok(parts) => {
                    let tcp = parts.io.into_inner();
                    Box::pin(acceptor.run_upgraded(tcp, &parts.read_buf, next)).await
                }
                Err(upgraded) => {
                    Box::pin(acceptor.run_upgraded(TokioIo::new(upgraded), &[], next)).await
                }
            };
            match accepted {
                Ok(socket) => {
                    let span = socket.span().clone();
                    callback(socket).instrument(span).await;
                }
                Err(error) => tracing::debug!(%error, "connection not accepted"),
            }
        };
        shutdown.tracker().spawn(task);
        to_response(&response)
    }
}

impl WebSocketUpgrade {
    /// Answers 101 and, once the connection is upgraded (and, with first-message
    /// authentication, authenticated), runs it with `handler` called inside the
    /// connection's own task: see [`InlineHandler`]. The task is tracked by the
    /// acceptor's [`ShutdownHandle`](crate::server::ShutdownHandle).
    pub fn on_upgrade_inline<H: InlineHandler>(self, handler: H) -> Response<Body> {
        let Self {
            acceptor,
            response,
            next,
            on_upgrade,
        } = self;
        let shutdown = acceptor.shutdown_handle();
        let task = async move {
            let upgraded = match on_upgrade.await {
                Ok(upgraded) => upgraded,
                Err(error) => {
                    tracing::debug!(%error, "upgrade failed");
                    return;
                }
            };
            // As in `on_upgrade`. This task ends once the connection's own starts.
            match upgraded.downcast::<TokioIo<TcpStream>>() {
                Ok(parts) => {
                    let tcp = parts.io.into_inner();
                    let accepted = acceptor
                        .authenticate_upgraded(tcp, &parts.read_buf, next)
                        .await;
                    if let Ok(accepted) = accepted {
                        acceptor.spawn_inline(accepted, handler);
                    }
                }
                Err(upgraded) => {
                    let stream = TokioIo::new(upgraded);
                    let accepted = acceptor.authenticate_upgraded(stream, &[], next).await;
                    if let Ok(accepted) = accepted {
                        acceptor.spawn_inline(accepted, handler);
                    }
                }
            }
        };
        shutdown.tracker().spawn(task);
        to_response(&response)
    }
}

/// The request head as it came on the wire (HTTP/1.1), for the core's parser.
fn request_head(parts: &Parts) -> Vec<u8> {
    let target = parts
        .uri
        .path_and_query()
        .map_or("/", |target| target.as_str());
    let mut head = format!("{} {target} HTTP/1.1\r\n", parts.method).into_bytes();
    for (name, value) in &parts.headers {
        head.extend_from_slice(name.as_str().as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value.as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"\r\n");
    head
}

/// tollgate's HTTP answer as an axum response (hyper frames the body itself).
fn to_response(bytes: &[u8]) -> Response<Body> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_RESPONSE_HEADERS];
    let mut parsed = httparse::Response::new(&mut headers);
    let Ok(httparse::Status::Complete(head_len)) = parsed.parse(bytes) else {
        return status(StatusCode::INTERNAL_SERVER_ERROR);
    };
    let mut builder = Response::builder().status(parsed.code.unwrap_or(500));
    for header in parsed.headers.iter() {
        if !header.name.eq_ignore_ascii_case("content-length") {
            builder = builder.header(header.name, header.value);
        }
    }
    let body = bytes.get(head_len..).unwrap_or_default().to_vec();
    builder
        .body(Body::from(body))
        .unwrap_or_else(|_| status(StatusCode::INTERNAL_SERVER_ERROR))
}

fn status(code: StatusCode) -> Response<Body> {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = code;
    response
}
