use core::convert::Infallible;

use core::future::Future;
use core::pin::Pin;
use core::sync::atomic::{AtomicBool, Ordering};

use embassy_executor::Executor;
use embassy_time::{Duration, Instant};
use tollgate::auth::Authenticator;
use tollgate::base64url;
use tollgate::io::{ErrorType, Message, Read, Session, WebSocket, Write};
use tollgate::jwt::alg::hs256::Hs256Secret;
use tollgate::jwt::{Key, Validation};
use tollgate::ws::close::CloseCode;
use tollgate::ws::conn::{Config, Connection as WsConnection, State};

use super::Connection;
use crate::clock::Clock;
use crate::error::Error;

extern crate std;
use std::borrow::ToOwned;
use std::boxed::Box;
use std::string::String;
use std::vec::Vec;
use std::{format, vec};

/// Runs `test` to the end on an embassy executor of its own: the timers of the
/// connection need one.
fn run(test: impl Future<Output = ()> + 'static) {
    #[embassy_executor::task(pool_size = 8)]
    async fn drive(test: Pin<Box<dyn Future<Output = ()>>>, done: &'static AtomicBool) {
        test.await;
        done.store(true, Ordering::SeqCst);
    }
    let done: &'static AtomicBool = Box::leak(Box::new(AtomicBool::new(false)));
    let executor: &'static mut Executor = Box::leak(Box::new(Executor::new()));
    executor.run_until(
        |spawner| spawner.spawn(drive(Box::pin(test), done).unwrap()),
        || done.load(Ordering::SeqCst),
    );
}

const SECRET: &[u8] = b"connection unit tests, a 32+ byte secret";
const NOW: u64 = 1_700_000_000;

/// Input given up front, then silence (a read that never completes); output recorded.
struct Pipe {
    input: Vec<u8>,
    output: Vec<u8>,
}

impl ErrorType for Pipe {
    type Error = Infallible;
}

impl Read for Pipe {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
        if self.input.is_empty() {
            core::future::pending::<()>().await;
        }
        let n = buf.len().min(self.input.len());
        buf[..n].copy_from_slice(&self.input[..n]);
        self.input.drain(..n);
        Ok(n)
    }
}

impl Write for Pipe {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
        self.output.extend_from_slice(buf);
        Ok(buf.len())
    }

    async fn flush(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
}

fn b64(bytes: &[u8]) -> String {
    let mut out = vec![0; bytes.len() * 4 / 3 + 4];
    base64url::encode(bytes, &mut out).unwrap().to_owned()
}

fn token(exp: u64) -> String {
    let claims = format!(r#"{{"sub":"alice","exp":{exp}}}"#);
    let input = format!("{}.{}", b64(br#"{"alg":"HS256"}"#), b64(claims.as_bytes()));
    let signature = Hs256Secret::new(SECRET).unwrap().sign(input.as_bytes());
    format!("{input}.{}", b64(&signature))
}

/// A masked (zero key) client frame.
fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![0x80 | opcode, 0x80 | payload.len() as u8, 0, 0, 0, 0];
    frame.extend_from_slice(payload);
    frame
}

struct Memory {
    read: [u8; 256],
    write: [u8; 256],
    scratch: [u8; 256],
    token: String,
}

impl Memory {
    fn new(exp: u64) -> Self {
        Self {
            read: [0; 256],
            write: [0; 256],
            scratch: [0; 256],
            token: token(exp),
        }
    }

    /// A connection over `input`, whose token's deadline is `exp` (leeway 0).
    fn connection<'a>(&'a mut self, input: Vec<u8>, clock: &'a Clock) -> Connection<'a, Pipe> {
        let key = Key::Hs256(Hs256Secret::new(SECRET).unwrap());
        let auth = Authenticator::new(key, Validation::new().leeway(0));
        let token = auth.verify(&self.token, NOW, &mut self.scratch).unwrap();
        let deadline = auth.deadline(&token);
        let pipe = Pipe {
            input,
            output: Vec::new(),
        };
        let config = Config::DEFAULT.with_read_buffer_len(self.read.len());
        let socket = WebSocket::new(
            pipe,
            WsConnection::server(config),
            &mut self.read,
            0,
            &mut self.write,
        )
        .unwrap();
        let session = Session {
            socket,
            protocol: None,
            token,
        };
        Connection::new(session, deadline, clock)
    }
}

/// The clock reads `NOW` at this instant.
fn clock_at_now() -> Clock {
    let clock = Clock::new();
    clock.set_unix_time_ms_at(NOW * 1000, Instant::now());
    clock
}

/// The unmasked server close frame with `code` and `reason`.
fn server_close(code: u16, reason: &str) -> Vec<u8> {
    let mut frame = vec![0x88, 2 + reason.len() as u8];
    frame.extend_from_slice(&code.to_be_bytes());
    frame.extend_from_slice(reason.as_bytes());
    frame
}

#[test]
fn messages_before_the_deadline_pass_through() {
    run(async {
        let clock = clock_at_now();
        let mut memory = Memory::new(NOW + 3600);
        let mut connection = memory.connection(client_frame(0x1, b"hi"), &clock);
        assert_eq!(connection.deadline(), Some(NOW + 3600));
        assert!(!connection.is_expired());
        let received = connection.recv().await;
        assert_eq!(received, Ok(Message::Text("hi")));
        connection.send_text("ho").await.unwrap();
        assert_eq!(connection.into_inner().output, [0x81, 2, b'h', b'o']);
    });
}

#[test]
fn recv_returns_expired_at_the_deadline_and_close_sends_1008_expired() {
    run(async {
        let clock = Clock::new();
        // The token's deadline (`exp`, leeway 0) is 200 ms away.
        let exp = NOW + 1;
        clock.set_unix_time_ms_at(exp * 1000 - 200, Instant::now());
        let mut memory = Memory::new(exp);
        let mut connection = memory.connection(Vec::new(), &clock);
        let started = Instant::now();
        assert_eq!(connection.recv().await.unwrap_err(), Error::Expired);
        assert!(started.elapsed() >= Duration::from_millis(150));
        assert!(connection.is_expired());
        let mut connection = connection.with_close_timeout(Duration::from_millis(10));
        connection.close(CloseCode::NORMAL, "").await.unwrap();
        assert_eq!(connection.state(), State::Closing);
        assert_eq!(
            connection.into_inner().output,
            server_close(1008, "expired")
        );
    });
}

#[test]
fn expired_connection_refuses_to_send() {
    run(async {
        // Verified at `NOW`, a second before `exp`; the clock now reads `exp`.
        let clock = Clock::new();
        clock.set_unix_time_ms_at((NOW + 1) * 1000, Instant::now());
        let mut memory = Memory::new(NOW + 1);
        let mut connection = memory.connection(Vec::new(), &clock);
        assert!(connection.is_expired());
        assert_eq!(connection.send_text("late").await, Err(Error::Expired));
        assert_eq!(connection.send_binary(b"late").await, Err(Error::Expired));
        assert_eq!(connection.send_ping(b"").await, Err(Error::Expired));
        assert!(matches!(connection.recv().await, Err(Error::Expired)));
        assert!(connection.into_inner().output.is_empty());
    });
}

#[test]
fn close_before_the_deadline_uses_the_given_code() {
    run(async {
        let clock = clock_at_now();
        let mut memory = Memory::new(NOW + 3600);
        let input = server_close(1000, "");
        let mut connection = memory.connection(client_frame(0x8, &input[2..]), &clock);
        connection
            .close(CloseCode::GOING_AWAY, "bye")
            .await
            .unwrap();
        assert_eq!(connection.state(), State::Closed);
        assert_eq!(connection.into_inner().output, server_close(1001, "bye"));
    });
}

#[test]
fn close_after_the_peer_closed_sends_nothing_more() {
    run(async {
        let clock = clock_at_now();
        let mut memory = Memory::new(NOW + 3600);
        let mut connection = memory.connection(client_frame(0x8, &1000_u16.to_be_bytes()), &clock);
        assert!(matches!(connection.recv().await, Ok(Message::Close(_))));
        connection.close(CloseCode::NORMAL, "").await.unwrap();
        // Only the echo of the peer's close.
        assert_eq!(connection.into_inner().output, server_close(1000, ""));
    });
}

#[test]
fn a_clock_that_was_never_set_counts_the_deadline_as_passed() {
    run(async {
        let set = clock_at_now();
        let unset = Clock::new();
        let mut memory = Memory::new(NOW + 3600);
        // Verified while the clock was readable, then handed a clock that cannot vouch.
        let connection = memory.connection(Vec::new(), &set);
        assert!(!connection.is_expired());
        let mut memory = Memory::new(NOW + 3600);
        let connection = memory.connection(Vec::new(), &unset);
        assert!(connection.is_expired());
    });
}
