//! The upgrade when a framework (axum) owns the HTTP exchange: the same decision as
//! `Acceptor::upgrade`, answered with bytes, and what follows the 101 on the upgraded
//! stream.

use std::io;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::timeout;
use tollgate::auth::{AuthError, AuthMode};
use tollgate::io::Refusal;
use tollgate::ws::close::CloseCode;
use tollgate::ws::handshake::{
    EMPTY_HEADER, HandshakeError, Rejection, Request, Status, extract_token,
};
use tracing::Instrument;

use super::{
    AcceptError, Accepted, Acceptor, MAX_REQUEST_HEADERS, RuleLists, SERVICE_UNAVAILABLE, Upgrade,
};
use crate::handle::ConnectionId;
use crate::server::driver::{Driver, reason, unix_now};
use crate::server::limits::GlobalPermit;
use crate::server::socket::AuthenticatedSocket;

/// The answer to an upgrade request whose HTTP exchange a framework owns (the `axum`
/// integration): the HTTP answer's bytes, and what follows a 101.
pub(crate) enum Decision {
    /// Not upgraded: answer with `response` (400, 401, 403, 503, …); the reason was
    /// logged.
    Refuse { response: Vec<u8> },
    /// Answer with the 101 `response`, then give the upgraded stream to
    /// [`Acceptor::run_upgraded`].
    Upgrade {
        response: Vec<u8>,
        next: Box<Upgraded>,
    },
}

/// What [`Acceptor::run_upgraded`] does with an upgraded stream.
pub(crate) struct Upgraded {
    id: ConnectionId,
    span: tracing::Span,
    next: Next,
}

enum Next {
    /// Refused after the upgrade: close with this code and reason.
    Close {
        code: u16,
        reason: &'static str,
        error: AcceptError,
    },
    /// Authenticated, or first-message authentication to come.
    Serve {
        upgrade: Upgrade,
        global: GlobalPermit,
    },
}

impl Acceptor {
    /// [`upgrade`](Self::upgrade) for a request head already read by a framework: the
    /// same checks, token sources, verification, caps and refusal mode, answered with
    /// bytes instead of writes. Verification is bounded by the handshake timeout.
    pub(crate) async fn decide(&self, head: &[u8]) -> Decision {
        let id = ConnectionId::next();
        let span = tracing::info_span!("ws", conn = id.get(), sub = tracing::field::Empty);
        let next = self.decide_in_span(head).instrument(span.clone()).await;
        match next {
            Ok((response, next)) => Decision::Upgrade {
                response,
                next: Box::new(Upgraded { id, span, next }),
            },
            Err((response, error)) => {
                span.in_scope(|| tracing::debug!(%error, "connection refused"));
                Decision::Refuse { response }
            }
        }
    }

    async fn decide_in_span(&self, head: &[u8]) -> Result<(Vec<u8>, Next), (Vec<u8>, AcceptError)> {
        let unavailable = || SERVICE_UNAVAILABLE.to_vec();
        if self.shutdown.is_shutdown() {
            return Err((unavailable(), AcceptError::Shutdown));
        }
        let config = &self.config;
        // hyper has read the request head and enforced its size.
        let lists = RuleLists::new(config);
        let rules = lists.rules();
        let sources = &lists.sources;
        let mut headers = [EMPTY_HEADER; MAX_REQUEST_HEADERS];
        let request = match rules.parse_request(head, &mut headers) {
            Ok(Status::Complete(request)) => request,
            Ok(Status::Partial) => {
                let error = HandshakeError::Malformed;
                return Err((
                    rejection(Rejection::from_error(error)),
                    AcceptError::Handshake(error),
                ));
            }
            Err(error) => {
                return Err((
                    rejection(Rejection::from_error(error)),
                    AcceptError::Handshake(error),
                ));
            }
        };
        let accept = accept_bytes(&request, rules.select_protocol(&request))
            .map_err(|error| (unavailable(), error))?;
        let refuse =
            |code: u16, reason: &'static str, error: AcceptError, http: Vec<u8>| match config
                .refusal
            {
                Refusal::Http => Err((http, error)),
                _ => Ok((
                    accept.clone(),
                    Next::Close {
                        code,
                        reason,
                        error,
                    },
                )),
            };
        let too_many = || {
            let code = CloseCode::TRY_AGAIN_LATER.as_u16();
            refuse(
                code,
                reason::TOO_MANY_CONNECTIONS,
                AcceptError::TooManyConnections,
                unavailable(),
            )
        };
        let refuse_auth = |error: AuthError| {
            let http = rejection(error.rejection());
            refuse(
                error.close_code().as_u16(),
                error.code(),
                AcceptError::Auth(error),
                http,
            )
        };
        let Some(global) = self.limits.try_global(config.max_connections) else {
            return too_many();
        };
        let mut decode = vec![0_u8; head.len()];
        let identity = match extract_token(&request, sources, &mut decode) {
            Err(HandshakeError::MissingToken) if config.mode == AuthMode::FirstMessage => None,
            Err(error) => return refuse_auth(AuthError::from(error)),
            Ok(token) => {
                let verify = config.verifier.verify(token.as_str(), unix_now());
                match timeout(config.handshake_timeout, verify).await {
                    Ok(Ok(identity)) => Some(identity),
                    Ok(Err(error)) => return refuse_auth(error),
                    Err(_) => return Err((unavailable(), AcceptError::Timeout)),
                }
            }
        };
        let user = match &identity {
            Some(identity) => match self.user_permit(identity) {
                Ok(user) => user,
                Err(()) => return too_many(),
            },
            None => None,
        };
        let upgrade = Upgrade {
            identity,
            protocol: rules.select_protocol(&request).map(str::to_owned),
            pipelined: Vec::new(),
            user,
        };
        Ok((accept, Next::Serve { upgrade, global }))
    }

    /// Runs what follows the 101 of a [`Decision::Upgrade`] on the upgraded stream: the
    /// close of a refusal, or first-message authentication and the connection task.
    ///
    /// # Errors
    /// As [`accept_stream`](Self::accept_stream).
    pub(crate) async fn run_upgraded<S>(
        &self,
        stream: S,
        pipelined: &[u8],
        upgraded: Box<Upgraded>,
    ) -> Result<AuthenticatedSocket, AcceptError>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let accepted = self
            .authenticate_upgraded(stream, pipelined, upgraded)
            .await?;
        Ok(self.start(accepted))
    }

    /// What [`run_upgraded`](Self::run_upgraded) does before starting the connection
    /// task.
    pub(crate) async fn authenticate_upgraded<S>(
        &self,
        stream: S,
        pipelined: &[u8],
        upgraded: Box<Upgraded>,
    ) -> Result<Accepted<S>, AcceptError>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let Upgraded { id, span, next } = *upgraded;
        let work = async {
            let mut driver = Driver::new(stream, Arc::clone(&self.config), pipelined);
            match next {
                Next::Close {
                    code,
                    reason,
                    error,
                } => {
                    driver.close(code, reason).await;
                    Err(error)
                }
                Next::Serve { upgrade, global } => {
                    let (identity, user) = match upgrade.identity {
                        Some(identity) => (identity, upgrade.user),
                        None => self.first_message(&mut driver).await?,
                    };
                    if let Some(sub) = identity.sub() {
                        span.record("sub", sub);
                    }
                    tracing::info!(alg = identity.alg(), "authenticated");
                    Ok((driver, identity, upgrade.protocol, (global, user)))
                }
            }
        };
        let result = work.instrument(span.clone()).await;
        match result {
            Ok((driver, identity, protocol, permits)) => Ok(Accepted {
                driver,
                id,
                identity,
                protocol,
                permits,
                span,
            }),
            Err(error) => {
                span.in_scope(|| tracing::debug!(%error, "connection refused"));
                Err(error)
            }
        }
    }
}

fn rejection(rejection: Rejection) -> Vec<u8> {
    let mut out = [0_u8; Rejection::MAX_LEN];
    let len = rejection.write(&mut out).unwrap_or(0);
    out.get(..len).unwrap_or_default().to_vec()
}

fn accept_bytes(request: &Request<'_, '_>, protocol: Option<&str>) -> Result<Vec<u8>, AcceptError> {
    let mut out = [0_u8; 512];
    let len = request
        .write_accept(protocol, &[], &mut out)
        .map_err(|error| AcceptError::Io(io::Error::other(error.to_string())))?;
    Ok(out.get(..len).unwrap_or_default().to_vec())
}
