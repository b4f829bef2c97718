//! In-memory duplex streams implementing `embedded-io-async`, with random chunking, and
//! a single-threaded executor that runs two futures against each other and fails fast
//! on a deadlock.

#![allow(dead_code)]

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::convert::Infallible;
use std::future::{Future, poll_fn};
use std::pin::pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

#[cfg(feature = "hs256")]
use tollgate::base64url;
#[cfg(feature = "hs256")]
use tollgate::jwt::Key;
#[cfg(feature = "hs256")]
use tollgate::jwt::alg::hs256::Hs256Secret;

pub const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
pub const NOW: u64 = 1_700_000_000;

/// xorshift64: chunk sizes, payloads and the client's mask keys.
#[derive(Clone, Debug)]
pub struct XorShift(pub u64);

impl XorShift {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

impl rand_core::TryRng for XorShift {
    type Error = Infallible;
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

thread_local! {
    /// Bytes moved through any pipe: the executor's measure of progress.
    static MOVED: Cell<u64> = const { Cell::new(0) };
}

#[derive(Default)]
struct Pipe {
    bytes: VecDeque<u8>,
    closed: bool,
}

/// One end of an in-memory duplex: reads and writes move a random number of bytes
/// (at least one, at most `max_chunk`).
pub struct End {
    rx: Rc<RefCell<Pipe>>,
    tx: Rc<RefCell<Pipe>>,
    rng: XorShift,
    max_chunk: usize,
}

/// Two connected ends.
pub fn duplex(seed: u64, max_chunk: usize) -> (End, End) {
    let a = Rc::new(RefCell::new(Pipe::default()));
    let b = Rc::new(RefCell::new(Pipe::default()));
    (
        End {
            rx: a.clone(),
            tx: b.clone(),
            rng: XorShift(seed | 1),
            max_chunk,
        },
        End {
            rx: b,
            tx: a,
            rng: XorShift((seed ^ 0x9e37_79b9_7f4a_7c15) | 1),
            max_chunk,
        },
    )
}

impl std::fmt::Debug for End {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("End")
    }
}

impl End {
    /// Ends the sending direction, as a TCP FIN.
    pub fn shutdown(&mut self) {
        self.tx.borrow_mut().closed = true;
        MOVED.with(|m| m.set(m.get() + 1));
    }

    /// Everything received until the peer shuts down or drops its end.
    pub async fn read_to_end(&mut self) -> Vec<u8> {
        let mut all = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = embedded_io_async::Read::read(self, &mut buf).await.unwrap();
            if n == 0 {
                return all;
            }
            all.extend_from_slice(&buf[..n]);
        }
    }

    /// Reads until `needle` has arrived; returns everything read.
    pub async fn read_until(&mut self, needle: &[u8]) -> Vec<u8> {
        let mut all = Vec::new();
        let mut byte = [0u8; 1];
        while !all.ends_with(needle) {
            let n = embedded_io_async::Read::read(self, &mut byte)
                .await
                .unwrap();
            assert_eq!(n, 1, "stream ended before {needle:?}");
            all.push(byte[0]);
        }
        all
    }

    pub async fn write_raw(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let n = embedded_io_async::Write::write(self, bytes).await.unwrap();
            bytes = &bytes[n..];
        }
    }
}

impl Drop for End {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl embedded_io_async::ErrorType for End {
    type Error = Infallible;
}

impl embedded_io_async::Read for End {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
        poll_fn(|_| {
            let mut rx = self.rx.borrow_mut();
            if rx.bytes.is_empty() {
                return if rx.closed {
                    Poll::Ready(Ok(0))
                } else {
                    Poll::Pending
                };
            }
            let most = buf.len().min(rx.bytes.len()).min(self.max_chunk);
            let n = 1 + self.rng.below(most);
            for (slot, byte) in buf.iter_mut().zip(rx.bytes.drain(..n)) {
                *slot = byte;
            }
            MOVED.with(|m| m.set(m.get() + n as u64));
            Poll::Ready(Ok(n))
        })
        .await
    }
}

impl embedded_io_async::Write for End {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
        if buf.is_empty() {
            return Ok(0);
        }
        let n = 1 + self.rng.below(buf.len().min(self.max_chunk));
        self.tx.borrow_mut().bytes.extend(&buf[..n]);
        MOVED.with(|m| m.set(m.get() + n as u64));
        Ok(n)
    }

    async fn flush(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
}

/// Runs two futures to completion on this thread; panics when both wait and no byte
/// moved (a deadlock).
pub fn join<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
    let mut a = pin!(a);
    let mut b = pin!(b);
    let mut cx = Context::from_waker(Waker::noop());
    let (mut out_a, mut out_b) = (None, None);
    loop {
        let before = MOVED.with(Cell::get);
        let mut finished = false;
        if out_a.is_none()
            && let Poll::Ready(value) = a.as_mut().poll(&mut cx)
        {
            out_a = Some(value);
            finished = true;
        }
        if out_b.is_none()
            && let Poll::Ready(value) = b.as_mut().poll(&mut cx)
        {
            out_b = Some(value);
            finished = true;
        }
        if let (Some(_), Some(_)) = (&out_a, &out_b) {
            return (out_a.unwrap(), out_b.unwrap());
        }
        assert!(
            finished || MOVED.with(Cell::get) != before,
            "deadlock: both sides wait for bytes that never come"
        );
    }
}

/// Runs one future to completion; panics if it waits forever.
pub fn block_on<F: Future>(future: F) -> F::Output {
    join(future, async {}).0
}

#[cfg(feature = "hs256")]
pub fn key() -> Key {
    Key::Hs256(Hs256Secret::new(SECRET).unwrap())
}

#[cfg(feature = "hs256")]
pub fn b64(bytes: &[u8]) -> String {
    let mut out = vec![0u8; base64url::encoded_len(bytes.len()).unwrap()];
    base64url::encode(bytes, &mut out).unwrap().to_owned()
}

#[cfg(feature = "hs256")]
/// An HS256 token over `claims`, signed with `secret`.
pub fn token_signed(claims: &str, secret: &[u8]) -> String {
    let input = format!(
        "{}.{}",
        b64(br#"{"alg":"HS256","typ":"JWT"}"#),
        b64(claims.as_bytes())
    );
    let secret = Hs256Secret::new(secret).unwrap();
    format!("{input}.{}", b64(&secret.sign(input.as_bytes())))
}

#[cfg(feature = "hs256")]
/// An HS256 token over `claims`, signed with [`SECRET`].
pub fn token(claims: &str) -> String {
    token_signed(claims, SECRET)
}
