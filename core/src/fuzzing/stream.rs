//! The connection state machines fed byte streams the way the driver feeds them.

use sha2::{Digest, Sha256};

use super::{Bytes, FuzzRng};
use crate::ws::close::CloseCode;
use crate::ws::conn::{
    Config, Connection, Event, MaskKeys, Message, MessageKind, Reassembler, State,
};
use crate::ws::error::{ProtocolError, SendError};
use crate::ws::frame::{MAX_CONTROL_FRAME_LEN, MAX_HEADER_LEN};

/// Longest stream examined; longer inputs are cut.
const MAX_STREAM: usize = 8192;

/// Largest read buffer (and so `whole_frame_limit + MAX_HEADER_LEN`) tried.
const MAX_READ_BUF: usize = MAX_STREAM + MAX_HEADER_LEN;

/// Frame and message limits tried, so that 1009 is reachable.
const LIMITS: [u64; 4] = [16 << 20, 1000, 64, 0];

/// A read buffer driven as `io` drives it: append what was read, hand the unconsumed
/// window to `handle_input` until it needs more, compact.
struct Reader {
    buf: [u8; MAX_READ_BUF],
    cap: usize,
    start: usize,
    end: usize,
}

impl Reader {
    fn new(cap: usize) -> Self {
        Self {
            buf: [0; MAX_READ_BUF],
            cap: cap.clamp(MAX_CONTROL_FRAME_LEN, MAX_READ_BUF),
            start: 0,
            end: 0,
        }
    }

    /// Reads `bytes` in as many pieces as the buffer needs, handing every event over.
    fn feed<K: MaskKeys>(
        &mut self,
        conn: &mut Connection<K>,
        mut bytes: &[u8],
        on_event: &mut impl FnMut(&mut Connection<K>, Event<'_>),
    ) -> Result<(), ProtocolError> {
        loop {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            let room = self.cap - self.end;
            let (now, later) = bytes.split_at(room.min(bytes.len()));
            if let Some(dst) = self.buf.get_mut(self.end..self.end + now.len()) {
                dst.copy_from_slice(now);
            }
            self.end += now.len();
            bytes = later;
            self.drain(conn, on_event)?;
            if bytes.is_empty() {
                return Ok(());
            }
            assert!(
                self.start > 0 || self.end < self.cap,
                "a full read buffer of {} bytes made no progress",
                self.cap
            );
        }
    }

    fn drain<K: MaskKeys>(
        &mut self,
        conn: &mut Connection<K>,
        on_event: &mut impl FnMut(&mut Connection<K>, Event<'_>),
    ) -> Result<(), ProtocolError> {
        // Every round consumes a byte or stops, so this bound is never reached.
        for _ in 0..=self.cap + 1 {
            let window = self.buf.get_mut(self.start..self.end).unwrap_or_default();
            let len = window.len();
            let input = match conn.handle_input(window) {
                Ok(input) => input,
                Err(error) => {
                    check_failure(conn, error);
                    return Err(error);
                }
            };
            assert!(input.consumed <= len, "consumed more than given");
            self.start += input.consumed;
            match input.event {
                Some(event) => {
                    assert!(input.consumed > 0, "an event consumes its frame");
                    on_event(conn, event);
                }
                None if input.consumed == 0 => return Ok(()),
                None => {}
            }
        }
        panic!("handle_input kept going without consuming");
    }
}

/// Every receive error closes with 1002, 1007 or 1009, and stays.
fn check_failure<K: MaskKeys>(conn: &mut Connection<K>, error: ProtocolError) {
    let code = error.close_code().as_u16();
    assert!(
        matches!(code, 1002 | 1007 | 1009),
        "{error:?} closes with {code}"
    );
    assert_eq!(conn.state(), State::Failed(error));
    let mut again = [0x81, 0x80, 0, 0, 0, 0];
    assert_eq!(
        conn.handle_input(&mut again),
        Err(error),
        "errors are sticky"
    );
}

/// What a peer saw, reduced to a digest: whole messages (however they were chunked),
/// control frames, and the bytes owed back.
struct Transcript {
    hash: Sha256,
    message: Option<(MessageKind, Sha256, u64)>,
}

impl Transcript {
    fn new() -> Self {
        Self {
            hash: Sha256::new(),
            message: None,
        }
    }

    fn record(&mut self, tag: u8, bytes: &[u8]) {
        self.hash.update([tag]);
        self.hash.update((bytes.len() as u64).to_le_bytes());
        self.hash.update(bytes);
    }

    fn whole(&mut self, kind: MessageKind, bytes: &[u8]) {
        self.record(kind_tag(kind), &Sha256::digest(bytes));
    }

    /// Records an event, joining chunks itself (the other side uses a `Reassembler`).
    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::Text(text) => self.whole(MessageKind::Text, text.as_bytes()),
            Event::Binary(bytes) => self.whole(MessageKind::Binary, bytes),
            Event::Chunk(chunk) => {
                let (kind, mut hash, len) = match self.message.take() {
                    Some(open) if !chunk.first => open,
                    _ => (chunk.kind, Sha256::new(), 0),
                };
                assert_eq!(kind, chunk.kind, "a message keeps its kind");
                hash.update(chunk.data);
                let len = len + chunk.data.len() as u64;
                if chunk.last {
                    self.record(kind_tag(kind), &hash.finalize());
                } else {
                    self.message = Some((kind, hash, len));
                }
            }
            other => self.control(other),
        }
    }

    fn control(&mut self, event: Event<'_>) {
        match event {
            Event::Ping(p) => self.record(3, p),
            Event::Pong(p) => self.record(4, p),
            Event::Close(close) => {
                let code = close.code.map_or(0, CloseCode::as_u16);
                self.record(5, &code.to_le_bytes());
                self.record(6, close.reason.as_bytes());
            }
            _ => {}
        }
    }

    fn finish(self) -> [u8; 32] {
        self.hash.finalize().into()
    }
}

const fn kind_tag(kind: MessageKind) -> u8 {
    match kind {
        MessageKind::Text => 1,
        MessageKind::Binary => 2,
    }
}

/// Drains `poll_transmit` completely into the transcript.
fn drain_transmit<K: MaskKeys>(conn: &mut Connection<K>, transcript: &mut Transcript) {
    let mut out = [0u8; 2 * MAX_CONTROL_FRAME_LEN];
    let n = conn.poll_transmit(&mut out);
    assert!(!conn.wants_transmit(), "two control frames fit 262 bytes");
    // Streamed chunks are extra events in small buffers: only replies count.
    if n > 0 {
        transcript.record(7, out.get(..n).unwrap_or_default());
    }
}

/// A server connection reads the same client stream in input-chosen pieces through an
/// input-chosen buffer, and in one piece through a buffer that holds it all: same
/// messages, same control frames and replies, same error.
///
/// Layout: buffer size (2 bytes), limits (1), count of piece sizes (1), the sizes (1
/// byte each), then the stream.
pub fn frames_chunked(data: &[u8]) {
    let mut input = Bytes::new(data);
    let cap = MAX_CONTROL_FRAME_LEN + usize::from(input.u16()) % 1024;
    let limits = input.byte();
    let count = usize::from(input.byte() % 16);
    let sizes = input.take(count);
    let stream = input.rest();
    let stream = stream.get(..MAX_STREAM).unwrap_or(stream);
    let limit = |shift: u8| {
        LIMITS
            .get(usize::from(limits >> shift & 3))
            .copied()
            .unwrap_or(0)
    };
    let config = Config::DEFAULT
        .with_max_frame_size(limit(0))
        .with_max_message_size(limit(2));

    // In pieces, messages joined by a Reassembler.
    let mut conn = Connection::server(config.with_read_buffer_len(cap));
    let mut reader = Reader::new(cap);
    let mut pieces = Transcript::new();
    let mut joined = [0u8; MAX_STREAM];
    let mut reassembler = Reassembler::new(&mut joined);
    let mut sizes = sizes.iter().cycle();
    let mut rest = stream;
    let mut verdict_in_pieces = Ok(());
    while !rest.is_empty() {
        let size = sizes.next().map_or(rest.len(), |&s| usize::from(s).max(1));
        let (piece, later) = rest.split_at(size.min(rest.len()));
        rest = later;
        let result = reader.feed(&mut conn, piece, &mut |conn, event| {
            match reassembler.push(event) {
                Ok(Some(Message::Text(text))) => pieces.whole(MessageKind::Text, text.as_bytes()),
                Ok(Some(Message::Binary(bytes))) => pieces.whole(MessageKind::Binary, bytes),
                Ok(None) => pieces.control(event),
                Err(_) => panic!("a message longer than the whole stream"),
            }
            drain_transmit(conn, &mut pieces);
        });
        if let Err(error) = result {
            verdict_in_pieces = Err(error);
            break;
        }
    }
    drain_transmit(&mut conn, &mut pieces);

    // In one piece.
    let mut whole_conn = Connection::server(config.with_read_buffer_len(MAX_READ_BUF));
    let mut whole_reader = Reader::new(MAX_READ_BUF);
    let mut whole = Transcript::new();
    let verdict_whole = whole_reader.feed(&mut whole_conn, stream, &mut |conn, event| {
        whole.event(event);
        drain_transmit(conn, &mut whole);
    });
    drain_transmit(&mut whole_conn, &mut whole);

    assert_eq!(
        verdict_in_pieces, verdict_whole,
        "same verdict in pieces of {cap}"
    );
    assert_eq!(conn.state(), whole_conn.state());
    assert!(
        pieces.finish() == whole.finish(),
        "same events in pieces of {cap}"
    );
}

/// A server connection fed an arbitrary client stream, interleaved with input-chosen
/// sends; whatever it sends must be accepted by a client peer.
pub fn conn_server(data: &[u8]) {
    let mut input = Bytes::new(data);
    let cap = MAX_CONTROL_FRAME_LEN + usize::from(input.u16()) % 1024;
    let config = Config::DEFAULT
        .with_max_message_size(
            LIMITS
                .get(usize::from(input.byte() & 3))
                .copied()
                .unwrap_or(0),
        )
        .with_read_buffer_len(cap);
    let conn = Connection::server(config);
    let peer = Connection::client(
        Config::DEFAULT.with_read_buffer_len(MAX_READ_BUF),
        FuzzRng(1),
    );
    exchange(conn, cap, peer, input);
}

/// A client connection fed an arbitrary server stream, interleaved with input-chosen
/// sends; whatever it sends must be accepted by a server peer.
pub fn conn_client(data: &[u8]) {
    let mut input = Bytes::new(data);
    let cap = MAX_CONTROL_FRAME_LEN + usize::from(input.u16()) % 1024;
    let seed = u64::from(input.byte());
    let config = Config::DEFAULT
        .with_max_message_size(
            LIMITS
                .get(usize::from(input.byte() & 3))
                .copied()
                .unwrap_or(0),
        )
        .with_read_buffer_len(cap);
    let conn = Connection::client(config, FuzzRng(seed));
    let peer = Connection::server(Config::DEFAULT.with_read_buffer_len(MAX_READ_BUF));
    exchange(conn, cap, peer, input);
}

/// The connection under test and its peer, with what was sent and what the peer got.
struct Link<A: MaskKeys, B: MaskKeys> {
    conn: Connection<A>,
    peer: Connection<B>,
    peer_reader: Reader,
    sent: Transcript,
    received: Transcript,
}

impl<A: MaskKeys, B: MaskKeys> Link<A, B> {
    /// Hands bytes we wrote to the peer, which must accept them.
    fn transmit(&mut self, bytes: &[u8]) {
        let received = &mut self.received;
        let result = self
            .peer_reader
            .feed(&mut self.peer, bytes, &mut |_, event| {
                if !matches!(event, Event::Pong(_) | Event::Close(_)) {
                    received.event(event);
                }
            });
        assert_eq!(result, Ok(()), "the peer refused what we sent");
    }

    /// Checks a send's outcome and passes its bytes on.
    fn sent(&mut self, result: Result<usize, SendError>, out: &[u8], was_open: bool) -> bool {
        match result {
            Ok(n) => {
                assert!(was_open, "sent after the close");
                self.transmit(out.get(..n).unwrap_or_default());
                true
            }
            Err(SendError::Closed) => {
                assert!(!was_open, "refused while open");
                false
            }
            Err(_) => false,
        }
    }
}

/// Longest payload of one send.
const MAX_SEND: usize = 300;

fn exchange<A: MaskKeys, B: MaskKeys>(
    conn: Connection<A>,
    cap: usize,
    peer: Connection<B>,
    mut input: Bytes<'_>,
) {
    let mut reader = Reader::new(cap);
    let mut link = Link {
        conn,
        peer,
        peer_reader: Reader::new(MAX_READ_BUF),
        sent: Transcript::new(),
        received: Transcript::new(),
    };
    let mut failure: Option<ProtocolError> = None;
    let mut out = [0u8; MAX_SEND + MAX_HEADER_LEN];
    // Every round takes at least one byte of input.
    while !input.is_empty() {
        let op = input.byte();
        let kind = if op & 0x10 == 0 {
            MessageKind::Binary
        } else {
            MessageKind::Text
        };
        let fin = op & 0x20 == 0;
        let out_len = if op & 0x40 == 0 {
            out.len()
        } else {
            usize::from(input.byte())
        };
        let out = out.get_mut(..out_len).unwrap_or_default();
        let open = link.conn.state() == State::Open;
        match op % 8 {
            0 | 1 => {
                let len = usize::from(input.byte()) * if op & 0x80 == 0 { 1 } else { 16 };
                let bytes = input.take(len);
                let result = reader.feed(&mut link.conn, bytes, &mut |_, _| {});
                match (failure, result) {
                    (Some(first), result) => assert_eq!(result, Err(first), "sticky"),
                    (None, Err(error)) => failure = Some(error),
                    (None, Ok(())) => {}
                }
            }
            2 => {
                let payload = payload(&mut input, kind);
                let result = link.conn.encode_message(kind, payload, out);
                if link.sent(result, out, open) {
                    link.sent.whole(kind, payload);
                }
            }
            3 => {
                let payload = payload(&mut input, kind);
                let result = link.conn.encode_fragment(kind, payload, fin, out);
                if link.sent(result, out, open) {
                    link.sent.event(Event::Chunk(crate::ws::conn::Chunk {
                        kind,
                        data: payload,
                        first: link.sent.message.is_none(),
                        last: fin,
                    }));
                }
            }
            4 => {
                let payload = payload(&mut input, kind);
                let len = payload.len() as u64;
                if let Ok((n, mask)) = link.conn.encode_frame_header(kind, fin, len, out) {
                    assert!(open);
                    let mut body = [0u8; MAX_SEND];
                    let body = body.get_mut(..payload.len()).unwrap_or_default();
                    body.copy_from_slice(payload);
                    if let Some(mut mask) = mask {
                        let (a, b) = body.split_at_mut(body.len() / 2);
                        mask.apply(a);
                        mask.apply(b);
                    }
                    let header = out.get(..n).unwrap_or_default();
                    link.transmit(header);
                    link.transmit(body);
                    link.sent.event(Event::Chunk(crate::ws::conn::Chunk {
                        kind,
                        data: payload,
                        first: link.sent.message.is_none(),
                        last: fin,
                    }));
                }
            }
            5 => {
                let len = usize::from(input.byte() % 130);
                let payload = input.take(len);
                let ping = op & 0x80 == 0;
                let result = if ping {
                    link.conn.encode_ping(payload, out)
                } else {
                    link.conn.encode_pong(payload, out)
                };
                if payload.len() > 125 {
                    assert!(result.is_err());
                }
                if link.sent(result, out, open) && ping {
                    link.sent.control(Event::Ping(payload));
                }
            }
            6 => {
                let code = CloseCode::new(input.u16());
                let len = usize::from(input.byte() % 128);
                let reason = input.take(len);
                let reason = core::str::from_utf8(reason).unwrap_or("");
                let result = link.conn.close(code, reason);
                if result.is_ok() {
                    assert!(open && code.is_valid_on_wire() && reason.len() <= 123);
                    assert_eq!(link.conn.state(), State::Closing);
                }
            }
            _ => {
                let n = link.conn.poll_transmit(out);
                assert!(n <= out.len());
                link.transmit(out.get(..n).unwrap_or_default());
            }
        }
        if let Some(error) = failure {
            assert_eq!(link.conn.state(), State::Failed(error));
        }
    }
    // Whatever is still owed goes out too; the peer has seen every message we sent.
    let mut rest = [0u8; 2 * MAX_CONTROL_FRAME_LEN];
    let n = link.conn.poll_transmit(&mut rest);
    link.transmit(rest.get(..n).unwrap_or_default());
    assert!(!link.conn.wants_transmit());
    let (sent, received) = (link.sent.finish(), link.received.finish());
    assert!(sent == received, "the peer got what was sent");
}

/// A send payload: valid UTF-8 for text (the encoder trusts its caller there).
fn payload<'a>(input: &mut Bytes<'a>, kind: MessageKind) -> &'a [u8] {
    let len = usize::from(input.byte()) * 2 % MAX_SEND;
    let bytes = input.take(len);
    match (kind, core::str::from_utf8(bytes)) {
        (MessageKind::Text, Err(e)) => bytes.get(..e.valid_up_to()).unwrap_or_default(),
        _ => bytes,
    }
}
