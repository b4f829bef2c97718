//! The client side of the handshake: write the upgrade request, check the 101.

use httparse::Status;
use rand_core::CryptoRng;

use super::server::Upgraded;
use super::{Error, Read, WebSocket, Write, read_more, write_all};
use crate::ws::conn::{Config, Connection};
use crate::ws::frame::MAX_CONTROL_FRAME_LEN;
use crate::ws::handshake::{ClientHandshake, ClientRequest, EMPTY_HEADER, ResponseError};

/// Header lines accepted in the server's answer.
const MAX_RESPONSE_HEADERS: usize = 32;

/// Opens a WebSocket over a connected `stream`: writes `request` (its key nonce drawn
/// from `rng`) from `write_buf`, reads and checks the answer in `read_buf`, and returns
/// the connection, masking with keys from `rng`. Frames the server sent right after
/// its answer stay buffered.
///
/// `config` sets the frame and message limits; its `whole_frame_limit` is lowered to
/// what `read_buf` holds (`Config::DEFAULT.with_read_buffer_len(usize::MAX)` delivers
/// frames whole up to the buffer's size).
///
/// A server that refuses the token after the upgrade answers 101 and then closes
/// with 1008: the first [`WebSocket::recv`] returns that
/// [`Message::Close`](super::Message::Close) with the stable code as reason.
///
/// # Errors
/// [`Error::Response`] when the answer is not an acceptable 101
/// ([`ResponseError::Rejected`] carries the status and RFC 6750 `error_description`);
/// [`Error::InvalidHeader`] when a request field would break the HTTP framing;
/// [`Error::BufferTooSmall`] when the request does not fit `write_buf` or a buffer is
/// below the minimum; [`Error::Eof`] and [`Error::Io`] from the stream.
pub async fn connect<'b, 'r, S: Read + Write, R: CryptoRng>(
    mut stream: S,
    request: &ClientRequest<'r>,
    config: Config,
    mut rng: R,
    read_buf: &'b mut [u8],
    write_buf: &'b mut [u8],
) -> Result<Upgraded<'b, 'r, S, R>, Error<S::Error>> {
    if read_buf.len() < MAX_CONTROL_FRAME_LEN || write_buf.len() < MAX_CONTROL_FRAME_LEN {
        return Err(Error::BufferTooSmall);
    }
    let (len, handshake) = request.write(&mut rng, write_buf)?;
    write_all(&mut stream, write_buf.get(..len).unwrap_or_default()).await?;
    let mut end = 0;
    let (head_len, protocol) = loop {
        match read_more(&mut stream, read_buf, &mut end).await {
            Err(Error::BufferTooSmall) => {
                return Err(Error::Response(ResponseError::ResponseTooLarge));
            }
            other => other?,
        }
        let received = read_buf.get(..end).unwrap_or_default();
        if let Some(done) = check_response(&handshake, received).map_err(Error::Response)? {
            break done;
        }
    };
    let config = WebSocket::<S>::fit_config(config, read_buf.len());
    let socket = WebSocket::new(
        stream,
        Connection::client(config, rng),
        read_buf,
        end,
        write_buf,
    )
    .map_err(|_| Error::BufferTooSmall)?
    .skip(head_len);
    Ok(Upgraded { socket, protocol })
}

/// The head length and chosen protocol once `received` holds a complete, valid answer.
fn check_response<'r>(
    handshake: &ClientHandshake<'r>,
    received: &[u8],
) -> Result<Option<(usize, Option<&'r str>)>, ResponseError> {
    let mut headers = [EMPTY_HEADER; MAX_RESPONSE_HEADERS];
    Ok(match handshake.parse_response(received, &mut headers)? {
        Status::Complete(accepted) => Some((accepted.head_len(), accepted.protocol())),
        Status::Partial => None,
    })
}
