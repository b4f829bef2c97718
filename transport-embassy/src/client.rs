//! The client: a device opening an authenticated WebSocket to a server with its own
//! token.

use embassy_net::IpEndpoint;
use embassy_net::tcp::TcpSocket;
use embassy_time::{Duration, with_timeout};
use rand_core::CryptoRng;
use tollgate::io::{self, Upgraded, WebSocket};
use tollgate::ws::conn::Config;
use tollgate::ws::handshake::ClientRequest;

use crate::error::Error;

/// How long connecting (TCP and upgrade) may take by default.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A client connection over an embassy-net TCP socket, masking with keys from `R`.
pub type ClientSocket<'b, 't, R> = WebSocket<'b, &'b mut TcpSocket<'t>, R>;

/// How a device connects out: the upgrade request (host, path, and the token as
/// `Authorization: Bearer`, query parameter or subprotocol), the connection limits and
/// the timeout.
///
/// ```
/// use tollgate::ws::handshake::ClientRequest;
/// use tollgate_embassy::Client;
///
/// # fn main() {
/// let token = "eyJhbGciOiJIUzI1NiJ9.e30.signature";
/// let client = Client::new(ClientRequest::new("hub.local", "/telemetry").with_bearer(token));
/// # let _ = client;
/// # }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Client<'r> {
    request: ClientRequest<'r>,
    config: Config,
    timeout: Duration,
}

impl<'r> Client<'r> {
    /// Sends `request`; frames are delivered whole up to what the read buffer holds
    /// ([`Config::DEFAULT`] limits otherwise); [`DEFAULT_CONNECT_TIMEOUT`].
    #[must_use]
    pub const fn new(request: ClientRequest<'r>) -> Self {
        Self {
            request,
            config: Config::DEFAULT.with_read_buffer_len(usize::MAX),
            timeout: DEFAULT_CONNECT_TIMEOUT,
        }
    }

    /// Frame and message limits of the connection.
    #[must_use]
    pub const fn with_config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// How long the TCP connect and the upgrade may take together.
    #[must_use]
    pub const fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The upgrade request.
    #[must_use]
    pub const fn request(&self) -> &ClientRequest<'r> {
        &self.request
    }

    /// Connects `socket` to `remote` and upgrades: the request is written from
    /// `write_buf` with a key nonce from `rng`, the answer read into `read_buf`; the
    /// connection masks its frames with keys from `rng`.
    ///
    /// A server that refuses the token after the upgrade closes with 1008 and the stable
    /// code as reason: the first receive returns that close.
    ///
    /// # Errors
    /// [`Error::Connect`] from TCP; [`Error::HandshakeTimeout`]; [`Error::WebSocket`]
    /// as [`tollgate::io::connect`] (a refusal is
    /// [`ResponseError::Rejected`](tollgate::ws::handshake::ResponseError::Rejected)
    /// with the HTTP status and RFC 6750 `error_description`). After an error,
    /// [`close`](TcpSocket::close) (or [`abort`](TcpSocket::abort)) the socket and
    /// [`flush`](TcpSocket::flush) it before dropping it: a server that refused the
    /// upgrade waits for the acknowledgement of its answer.
    pub async fn connect<'b, 't, R: CryptoRng>(
        &self,
        socket: &'b mut TcpSocket<'t>,
        remote: impl Into<IpEndpoint>,
        rng: R,
        read_buf: &'b mut [u8],
        write_buf: &'b mut [u8],
    ) -> Result<Upgraded<'b, 'r, &'b mut TcpSocket<'t>, R>, Error> {
        let remote = remote.into();
        let connecting = async {
            socket.connect(remote).await.map_err(Error::Connect)?;
            Ok(io::connect(socket, &self.request, self.config, rng, read_buf, write_buf).await?)
        };
        with_timeout(self.timeout, connecting)
            .await
            .map_err(|_| Error::HandshakeTimeout)?
    }
}
