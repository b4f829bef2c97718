//! Chunking invariance: whatever sizes the reads come in, and whatever the read buffer's
//! size, a server connection reports the same messages, control frames and error for the
//! same byte stream. Streams are random mixes of valid and invalid frames.

use tollgate::ws::conn::{Config, Connection, Event, Message, MessageKind, Reassembler};
use tollgate::ws::error::ProtocolError;
use tollgate::ws::frame::{FrameHeader, OpCode};
use tollgate::ws::mask::apply_mask;

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

#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Message(MessageKind, Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(Option<u16>, String),
    Error(ProtocolError),
}

fn push_frame(wire: &mut Vec<u8>, rng: &mut XorShift, b0: u8, payload: &[u8]) {
    let key = (rng.next() as u32).to_ne_bytes();
    let masked = rng.below(400) != 0;
    let mut header = FrameHeader {
        fin: b0 & 0x80 != 0,
        opcode: OpCode::from_bits(b0).unwrap_or(OpCode::Binary),
        mask: masked.then_some(key),
        payload_len: payload.len() as u64,
    };
    let mut head = [0u8; 14];
    let n = header.encode(&mut head).unwrap();
    // Re-insert reserved bits and opcodes the header type cannot represent.
    head[0] = b0;
    wire.extend_from_slice(&head[..n]);
    let start = wire.len();
    wire.extend_from_slice(payload);
    if let Some(key) = header.mask.take() {
        apply_mask(key, 0, &mut wire[start..]);
    }
}

fn random_stream(rng: &mut XorShift) -> Vec<u8> {
    const TEXT: [&str; 6] = ["a", "µ", "€", "𝄞", "Hello ", "κόσμε"];
    let mut wire = Vec::new();
    // The open fragmented message, so that most streams follow §5.4 for a while.
    let mut open: Option<u8> = None;
    for _ in 0..rng.below(40) {
        let len = if rng.below(6) == 0 {
            rng.below(3000)
        } else {
            rng.below(40)
        };
        let fin = if rng.below(3) == 0 { 0 } else { 0x80 };
        let kind = open.unwrap_or(if rng.below(2) == 0 { 0x1 } else { 0x2 });
        // Rarely break the continuation rules on purpose.
        let opcode = match (open, rng.below(30)) {
            (Some(_), 0) | (None, 1..) => kind,
            _ => 0x0,
        };
        match rng.below(60) {
            0..=39 => {
                let bytes = if kind == 0x1 {
                    let mut s = String::new();
                    while s.len() < len {
                        s.push_str(TEXT[rng.below(TEXT.len())]);
                    }
                    let mut bytes = s.into_bytes();
                    if rng.below(40) == 0 && !bytes.is_empty() {
                        let at = rng.below(bytes.len());
                        bytes[at] = 0xFF;
                    }
                    bytes
                } else {
                    (0..len).map(|_| rng.next() as u8).collect()
                };
                push_frame(&mut wire, rng, fin | opcode, &bytes);
                open = if fin == 0 { Some(kind) } else { None };
            }
            40..=54 => {
                let bytes: Vec<u8> = (0..len.min(125)).map(|_| rng.next() as u8).collect();
                let opcode = if rng.below(2) == 0 { 0x9 } else { 0xA };
                push_frame(&mut wire, rng, 0x80 | opcode, &bytes);
            }
            55 => {
                let code: u16 = [1000, 1001, 1004, 3000, 4999, 5000][rng.below(6)];
                let mut body = code.to_be_bytes().to_vec();
                body.extend_from_slice(b"bye");
                push_frame(&mut wire, rng, 0x88, &body);
            }
            56 => push_frame(&mut wire, rng, 0xC2, b"rsv"),
            57 => push_frame(&mut wire, rng, 0x83, b"op"),
            58 => push_frame(&mut wire, rng, 0x89, &[0; 126]),
            _ => push_frame(&mut wire, rng, 0x08, b""),
        }
    }
    wire
}

/// Drives a server connection like an async driver: a fixed read buffer, compaction,
/// reads of random sizes.
fn drive(wire: &[u8], buffer_len: usize, rng: &mut XorShift) -> Vec<Outcome> {
    let config = Config::DEFAULT
        .with_read_buffer_len(buffer_len)
        .with_max_message_size(20_000);
    let mut conn = Connection::server(config);
    let mut buf = vec![0u8; buffer_len];
    let (mut start, mut end, mut read) = (0, 0, 0);
    let mut message_buf = vec![0u8; 20_000];
    let mut reassembler = Reassembler::new(&mut message_buf);
    let mut out = Vec::new();
    loop {
        let input = match conn.handle_input(&mut buf[start..end]) {
            Ok(input) => input,
            Err(e) => {
                out.push(Outcome::Error(e));
                return out;
            }
        };
        let consumed = input.consumed;
        let event = input.event;
        if let Some(message) = event.and_then(|e| reassembler.push(e).unwrap()) {
            out.push(match message {
                Message::Text(t) => Outcome::Message(MessageKind::Text, t.into()),
                Message::Binary(b) => Outcome::Message(MessageKind::Binary, b.into()),
            });
        }
        match event {
            Some(Event::Text(_) | Event::Binary(_) | Event::Chunk(_)) => {}
            Some(Event::Ping(p)) => out.push(Outcome::Ping(p.into())),
            Some(Event::Pong(p)) => out.push(Outcome::Pong(p.into())),
            Some(Event::Close(c)) => {
                out.push(Outcome::Close(c.code.map(u16::from), c.reason.into()));
                return out;
            }
            None => {
                start += consumed;
                if read == wire.len() {
                    return out;
                }
                if start > 0 {
                    buf.copy_within(start..end, 0);
                    end -= start;
                    start = 0;
                }
                assert!(
                    end < buf.len(),
                    "a full read buffer must always make progress"
                );
                let n = 1 + rng.below((buf.len() - end).min(wire.len() - read));
                buf[end..end + n].copy_from_slice(&wire[read..read + n]);
                end += n;
                read += n;
                continue;
            }
        }
        start += consumed;
    }
}

#[test]
fn outcome_does_not_depend_on_read_sizes_or_buffer_size() {
    let mut rng = XorShift(0x2545_F491_4F6C_DD1D);
    for _ in 0..300 {
        let wire = random_stream(&mut rng);
        let reference = drive(&wire, 70_000, &mut XorShift(1));
        for buffer_len in [131, 300, 4096] {
            let seed = rng.next() | 1;
            let outcome = drive(&wire, buffer_len, &mut XorShift(seed));
            assert_eq!(outcome, reference, "buffer {buffer_len} seed {seed}");
        }
    }
}

#[test]
fn random_garbage_never_panics_and_is_chunking_invariant() {
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    for _ in 0..500 {
        let len = rng.below(400);
        let mut wire: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        // Bias towards headers that pass the first checks: masked, no RSV, known opcode.
        if let [b0, b1, ..] = wire.as_mut_slice() {
            *b0 &= 0x8F;
            *b1 |= 0x80;
        }
        let reference = drive(&wire, 70_000, &mut XorShift(3));
        let seed = rng.next() | 1;
        assert_eq!(
            drive(&wire, 131, &mut XorShift(seed)),
            reference,
            "seed {seed}"
        );
    }
}
