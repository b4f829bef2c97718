//! Fuzzing entry points (compiled only with `--cfg fuzzing`, as `cargo fuzz` does).
//!
//! Each function takes the raw fuzzer input and panics only when an invariant of the
//! crate is broken: a parser that panics, two implementations that disagree, a stream
//! decoded differently when it arrives in pieces, an error without its close code. The
//! targets under `fuzz/` are one call each, so the logic is reviewed, linted and kept
//! compiling with the crate (`RUSTFLAGS="--cfg fuzzing" cargo check -p tollgate`).
//!
//! Inputs that need parameters (a chunking, a buffer size, a time) take them from the
//! first bytes with [`Bytes`]; the remainder is the data under test, so seeds are mostly
//! plain tokens, requests and frames behind a few parameter bytes.
#![allow(
    clippy::panic,
    reason = "a fuzz target reports a broken invariant by panicking"
)]

mod jwt;
mod keys;
mod stream;
mod ws;

pub use jwt::{TestKeys, base64url, jwt_parse, jwt_verify};
pub use keys::keys;
pub use stream::{conn_client, conn_server, frames_chunked};
pub use ws::{handshake_request, handshake_response, unmask, utf8};

/// A cursor over fuzzer input that yields parameters and never fails: past the end it
/// yields zeros and empty slices.
#[derive(Debug, Clone, Copy)]
pub struct Bytes<'a> {
    rest: &'a [u8],
}

impl<'a> Bytes<'a> {
    /// A cursor at the start of `data`.
    #[must_use]
    pub const fn new(data: &'a [u8]) -> Self {
        Self { rest: data }
    }

    /// The next byte, or 0.
    pub fn byte(&mut self) -> u8 {
        match self.rest.split_first() {
            Some((&b, rest)) => {
                self.rest = rest;
                b
            }
            None => 0,
        }
    }

    /// The next two bytes, little-endian.
    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.byte(), self.byte()])
    }

    /// The next four bytes, little-endian.
    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.byte(), self.byte(), self.byte(), self.byte()])
    }

    /// The next `n` bytes (fewer at the end).
    pub fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.rest.split_at(n.min(self.rest.len()));
        self.rest = rest;
        head
    }

    /// Whether the input is used up.
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// Everything not yet taken.
    #[must_use]
    pub const fn rest(self) -> &'a [u8] {
        self.rest
    }
}

/// A deterministic generator for client masking keys (the fuzzer must reproduce runs).
#[derive(Debug, Clone, Copy)]
pub struct FuzzRng(pub u64);

impl rand_core::TryRng for FuzzRng {
    type Error = core::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        self.try_next_u64().map(|v| (v >> 32) as u32)
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        // SplitMix64.
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Ok(z ^ (z >> 31))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for chunk in dst.chunks_mut(8) {
            let word = self.try_next_u64()?.to_le_bytes();
            chunk.iter_mut().zip(word).for_each(|(dst, src)| *dst = src);
        }
        Ok(())
    }
}

impl rand_core::TryCryptoRng for FuzzRng {}
