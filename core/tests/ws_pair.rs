//! A quinn-style in-memory `Pair`: a client and a server `Connection` stepped against
//! each other through two byte pipes with random chunking, driven only through the public
//! API the way an async driver would (fixed read buffer, compaction, `poll_transmit`).

use std::collections::VecDeque;

use tollgate::ws::close::CloseCode;
use tollgate::ws::conn::{Config, Connection, Event, MaskKeys, MessageKind, State};
use tollgate::ws::frame::MAX_CONTROL_FRAME_LEN;

/// xorshift64: deterministic chunking and payloads, and the client's mask keys.
#[derive(Clone)]
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

impl rand_core::TryRng for XorShift {
    type Error = core::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok(self.next() as u32)
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        Ok(self.next())
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        dst.iter_mut().for_each(|b| *b = self.next() as u8);
        Ok(())
    }
}

impl rand_core::TryCryptoRng for XorShift {}

/// One endpoint: a connection, its read buffer and what it has received.
struct Side<K> {
    conn: Connection<K>,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Bytes in flight towards this side.
    inbox: VecDeque<u8>,
    partial: Option<(MessageKind, Vec<u8>)>,
    messages: Vec<(MessageKind, Vec<u8>)>,
    pings: Vec<Vec<u8>>,
    pongs: Vec<Vec<u8>>,
    closes: Vec<Option<u16>>,
}

impl<K: MaskKeys> Side<K> {
    fn new(conn: Connection<K>, buffer_len: usize) -> Self {
        Self {
            conn,
            buf: vec![0; buffer_len],
            start: 0,
            end: 0,
            inbox: VecDeque::new(),
            partial: None,
            messages: Vec::new(),
            pings: Vec::new(),
            pongs: Vec::new(),
            closes: Vec::new(),
        }
    }

    /// Moves a random number of in-flight bytes into the read buffer and handles them;
    /// returns what the connection owes the peer.
    fn step(&mut self, rng: &mut XorShift) -> Vec<u8> {
        if self.end == self.buf.len() && self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        let room = (self.buf.len() - self.end).min(self.inbox.len());
        if room > 0 {
            let n = 1 + rng.below(room);
            for (dst, src) in self.buf[self.end..self.end + n]
                .iter_mut()
                .zip(self.inbox.drain(..n))
            {
                *dst = src;
            }
            self.end += n;
        }
        loop {
            let input = self
                .conn
                .handle_input(&mut self.buf[self.start..self.end])
                .expect("peer follows the protocol");
            let consumed = input.consumed;
            let Some(event) = input.event else {
                self.start += consumed;
                assert!(
                    !(self.start == 0 && self.end == self.buf.len()),
                    "a full read buffer must always make progress"
                );
                break;
            };
            match event {
                Event::Text(t) => self
                    .messages
                    .push((MessageKind::Text, t.as_bytes().to_vec())),
                Event::Binary(b) => self.messages.push((MessageKind::Binary, b.to_vec())),
                Event::Chunk(c) => {
                    if c.first {
                        assert!(self.partial.is_none());
                        self.partial = Some((c.kind, Vec::new()));
                    }
                    let (kind, data) = self.partial.as_mut().expect("first chunk seen");
                    assert_eq!(*kind, c.kind);
                    data.extend_from_slice(c.data);
                    if c.last {
                        self.messages.push(self.partial.take().expect("open"));
                    }
                }
                Event::Ping(p) => self.pings.push(p.to_vec()),
                Event::Pong(p) => self.pongs.push(p.to_vec()),
                Event::Close(c) => self.closes.push(c.code.map(CloseCode::as_u16)),
            }
            self.start += consumed;
        }
        let mut owed = Vec::new();
        let mut out = [0u8; MAX_CONTROL_FRAME_LEN];
        loop {
            let n = self.conn.poll_transmit(&mut out);
            if n == 0 {
                break;
            }
            owed.extend_from_slice(&out[..n]);
        }
        owed
    }

    /// Sends a message, fragmented at random points (text split inside code points too).
    fn send(&mut self, kind: MessageKind, payload: &[u8], rng: &mut XorShift) -> Vec<u8> {
        let mut out = vec![0u8; payload.len() + 14 * (payload.len() + 1)];
        let mut at = 0;
        if rng.below(3) == 0 {
            return {
                let n = self.conn.encode_message(kind, payload, &mut out).unwrap();
                out.truncate(n);
                out
            };
        }
        let mut rest = payload;
        loop {
            let take = if rest.is_empty() {
                0
            } else {
                rng.below(rest.len() + 1)
            };
            let (piece, tail) = rest.split_at(take);
            let fin = tail.is_empty() && rng.below(2) == 0;
            at += self
                .conn
                .encode_fragment(kind, piece, fin, &mut out[at..])
                .unwrap();
            rest = tail;
            if fin {
                break;
            }
        }
        out.truncate(at);
        out
    }
}

fn payload(rng: &mut XorShift, kind: MessageKind, max: usize) -> Vec<u8> {
    let len = rng.below(max + 1);
    match kind {
        MessageKind::Binary => (0..len).map(|_| rng.next() as u8).collect(),
        MessageKind::Text => {
            const PIECES: [&str; 5] = ["a", "µ", "€", "𝄞", "Hello "];
            let mut s = String::new();
            while s.len() < len {
                s.push_str(PIECES[rng.below(PIECES.len())]);
            }
            s.into_bytes()
        }
    }
}

/// Steps both sides until neither has bytes in flight.
fn settle<C: MaskKeys, S: MaskKeys>(
    client: &mut Side<C>,
    server: &mut Side<S>,
    rng: &mut XorShift,
) {
    let mut idle = 0;
    while idle < 4 {
        let before = (
            client.inbox.len(),
            server.inbox.len(),
            client.end - client.start,
            server.end - server.start,
        );
        let to_server = client.step(rng);
        server.inbox.extend(to_server);
        let to_client = server.step(rng);
        client.inbox.extend(to_client);
        let after = (
            client.inbox.len(),
            server.inbox.len(),
            client.end - client.start,
            server.end - server.start,
        );
        if before == after && client.inbox.is_empty() && server.inbox.is_empty() {
            idle += 1;
        } else {
            idle = 0;
        }
    }
}

fn run(seed: u64) {
    let mut rng = XorShift(seed);
    let buffer_len = [MAX_CONTROL_FRAME_LEN, 200, 1024, 70_000][rng.below(4)];
    let config = Config::DEFAULT.with_read_buffer_len(buffer_len);
    let mut client = Side::new(
        Connection::client(config, XorShift(seed ^ 0xDEAD_BEEF)),
        buffer_len,
    );
    let mut server = Side::new(Connection::server(config), buffer_len);

    let mut sent = Vec::new();
    for i in 0..12 {
        let kind = if rng.below(2) == 0 {
            MessageKind::Text
        } else {
            MessageKind::Binary
        };
        let max = if i % 5 == 0 { 20_000 } else { 300 };
        let data = payload(&mut rng, kind, max);
        let wire = client.send(kind, &data, &mut rng);
        server.inbox.extend(wire);
        sent.push((kind, data));
        if rng.below(3) == 0 {
            let mut out = [0u8; MAX_CONTROL_FRAME_LEN];
            let n = client.conn.encode_ping(&[i as u8; 3], &mut out).unwrap();
            server.inbox.extend(&out[..n]);
        }
        settle(&mut client, &mut server, &mut rng);
        // The server echoes every message it has completely received.
        for (kind, data) in std::mem::take(&mut server.messages) {
            let wire = server.send(kind, &data, &mut rng);
            client.inbox.extend(wire);
        }
    }
    settle(&mut client, &mut server, &mut rng);
    assert_eq!(client.messages, sent, "seed {seed}");
    // Pongs answer the latest ping at each transmit; every pong echoes some ping.
    for pong in &client.pongs {
        assert!(server.pings.contains(pong), "seed {seed}");
    }
    assert!(client.pongs.len() <= server.pings.len());
    assert!(
        server.pings.is_empty() == client.pongs.is_empty(),
        "seed {seed}"
    );

    client.conn.close(CloseCode::NORMAL, "done").unwrap();
    assert_eq!(client.conn.state(), State::Closing);
    let owed = client.step(&mut rng);
    server.inbox.extend(owed);
    settle(&mut client, &mut server, &mut rng);
    assert_eq!(server.closes, [Some(1000)], "seed {seed}");
    assert_eq!(client.closes, [Some(1000)], "seed {seed}");
    assert_eq!(server.conn.state(), State::Closed);
    assert_eq!(client.conn.state(), State::Closed);
    assert!(!server.conn.wants_transmit() && !client.conn.wants_transmit());
}

#[test]
fn pair_exchanges_messages_pings_and_a_clean_close_under_random_chunking() {
    for seed in 1..=60u64 {
        run(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    }
}
