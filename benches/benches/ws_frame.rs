//! Server-side decoding of masked client frames from memory: tollgate vs tungstenite vs fastwebsockets.
//!
//! Every implementation gets its own copy of the same bytes, made outside the timed part (unmasking is in
//! place); the timed part is the decoder: headers, unmasking, UTF-8/limits, message delivery.

use std::hint::black_box;
use std::io::{self, Cursor, Read, Write};
use std::pin::Pin;
use std::task::{Context, Poll};

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use tollgate_benches::masked_stream;

/// A blocking in-memory stream: reads the prepared frames, discards writes.
struct MemIo(Cursor<Vec<u8>>);

impl Read for MemIo {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl Write for MemIo {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The same for tokio's async traits.
struct AsyncMemIo {
    data: Vec<u8>,
    pos: usize,
}

impl tokio::io::AsyncRead for AsyncMemIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let rest = &self.data[self.pos..];
        let n = rest.len().min(buf.remaining());
        buf.put_slice(&rest[..n]);
        self.pos += n;
        Poll::Ready(Ok(()))
    }
}

impl tokio::io::AsyncWrite for AsyncMemIo {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// tollgate: the sans-IO server connection over a copy of the input (unmasking is in place, so every
/// implementation starts from a fresh copy of the same bytes).
fn tollgate_decode(mut buf: Vec<u8>, frames: usize) -> usize {
    use tollgate::ws::conn::{Config, Connection, Event};
    let config = Config::DEFAULT
        .with_max_frame_size(64 << 20)
        .with_max_message_size(64 << 20)
        .with_read_buffer_len(buf.len() + 14);
    let mut conn = Connection::server(config);
    let mut start = 0;
    let mut total = 0;
    let mut seen = 0;
    while seen < frames {
        let input = conn
            .handle_input(&mut buf[start..])
            .expect("tollgate decodes the fixture");
        start += input.consumed;
        match input.event {
            Some(Event::Binary(data)) => total += data.len(),
            Some(Event::Text(text)) => total += text.len(),
            _ => panic!("the fixture holds whole binary frames only"),
        }
        seen += 1;
    }
    total
}

fn tungstenite_decode(input: Vec<u8>, frames: usize) -> usize {
    use tungstenite::protocol::{Role, WebSocket, WebSocketConfig};
    let config = WebSocketConfig::default()
        .max_message_size(Some(64 << 20))
        .max_frame_size(Some(64 << 20));
    let mut ws = WebSocket::from_raw_socket(MemIo(Cursor::new(input)), Role::Server, Some(config));
    let mut total = 0;
    for _ in 0..frames {
        let msg = ws.read().expect("tungstenite decodes the fixture");
        total += msg.len();
    }
    total
}

fn fastwebsockets_decode(rt: &tokio::runtime::Runtime, input: Vec<u8>, frames: usize) -> usize {
    use fastwebsockets::{Role, WebSocket};
    rt.block_on(async {
        let mut ws = WebSocket::after_handshake(
            AsyncMemIo {
                data: input.to_vec(),
                pos: 0,
            },
            Role::Server,
        );
        ws.set_max_message_size(64 << 20);
        ws.set_auto_close(false);
        ws.set_auto_pong(false);
        let mut total = 0;
        for _ in 0..frames {
            let frame = ws
                .read_frame()
                .await
                .expect("fastwebsockets decodes the fixture");
            total += frame.payload.len();
        }
        total
    })
}

fn bench_frames(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    for (name, count, size) in [
        ("small_1000x32B", 1000, 32),
        ("binary_16KiB", 1, 16 << 10),
        ("binary_1MiB", 1, 1 << 20),
    ] {
        let input = masked_stream(count, size);
        let mut group = c.benchmark_group("ws_frame");
        group.throughput(Throughput::Bytes((count * size) as u64));
        let expected = count * size;
        assert_eq!(tollgate_decode(input.clone(), count), expected);
        assert_eq!(tungstenite_decode(input.clone(), count), expected);
        assert_eq!(fastwebsockets_decode(&rt, input.clone(), count), expected);
        group.bench_function(BenchmarkId::new(name, "tollgate"), |b| {
            b.iter_batched(
                || input.clone(),
                |buf| black_box(tollgate_decode(buf, count)),
                BatchSize::LargeInput,
            )
        });
        group.bench_function(BenchmarkId::new(name, "tungstenite"), |b| {
            b.iter_batched(
                || input.clone(),
                |buf| black_box(tungstenite_decode(buf, count)),
                BatchSize::LargeInput,
            )
        });
        group.bench_function(BenchmarkId::new(name, "fastwebsockets"), |b| {
            b.iter_batched(
                || input.clone(),
                |buf| black_box(fastwebsockets_decode(&rt, buf, count)),
                BatchSize::LargeInput,
            )
        });
        group.finish();
    }
}

fn bench_handshake(c: &mut Criterion) {
    let mut group = c.benchmark_group("ws_handshake");
    let key = "dGhlIHNhbXBsZSBub25jZQ==";
    group.bench_function(BenchmarkId::new("accept", "tollgate"), |b| {
        b.iter(|| {
            black_box(tollgate::ws::handshake::accept_key(black_box(
                key.as_bytes(),
            )))
        })
    });
    group.bench_function(BenchmarkId::new("accept", "tungstenite"), |b| {
        b.iter(|| {
            black_box(tungstenite::handshake::derive_accept_key(black_box(
                key.as_bytes(),
            )))
        })
    });
    group.finish();
}

criterion_group!(benches, bench_frames, bench_handshake);
criterion_main!(benches);
