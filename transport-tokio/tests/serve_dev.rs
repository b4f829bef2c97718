//! `tollgate serve` end to end: the real binary on 127.0.0.1 (port 0, address read from its
//! banner), plain HTTP for `/healthz`, `/` and `/login`, and a minimal RFC 6455 client over
//! std sockets for `/ws` (the client side is not under test, so it stays small here).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Every wait in these tests is bounded by this.
const TIMEOUT: Duration = Duration::from_secs(15);

const SECRET_ENV: &[(&str, &str)] = &[("SERVE_TEST_SECRET", "serve-test-secret-0123456789abcdef")];

/// A running `tollgate serve`, killed on drop.
struct Serve {
    child: Child,
    addr: String,
    /// The token printed in development mode.
    token: Option<String>,
    _stdout: BufReader<ChildStdout>,
}

impl Serve {
    fn start(args: &[&str]) -> Self {
        Self::start_with(args, &[])
    }

    fn start_with(args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tollgate"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(args)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut addr = None;
        let mut token = None;
        let dev = !args.iter().any(|a| a.starts_with("--secret"));
        let mut line = String::new();
        while stdout.read_line(&mut line).unwrap() > 0 {
            if let Some(rest) = line.split("listening on http://").nth(1) {
                addr = Some(rest.trim().to_owned());
            }
            if let Some(rest) = line.split("1 h): ").nth(1) {
                token = Some(rest.trim().to_owned());
            }
            if addr.is_some() && (!dev || token.is_some()) {
                break;
            }
            line.clear();
        }
        Self {
            child,
            addr: addr.expect("no banner"),
            token,
            _stdout: stdout,
        }
    }

    fn http(&self, request: &str) -> (u16, String) {
        let mut stream = TcpStream::connect(&self.addr).unwrap();
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let status = response[9..12].parse().unwrap();
        let body = response
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        (status, body)
    }

    fn get(&self, path: &str) -> (u16, String) {
        self.http(&format!(
            "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        ))
    }

    fn login(&self, username: &str, role: &str) -> String {
        let body = format!(r#"{{"username":"{username}","role":"{role}"}}"#);
        let (status, body) = self.http(&format!(
            "POST /login HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ));
        assert_eq!(status, 200, "{body}");
        let value: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(value["expires_in"], 300);
        value["token"].as_str().unwrap().to_owned()
    }

    fn connect(&self, token: &str) -> Result<Ws, u16> {
        Ws::connect(&self.addr, token)
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A frame as read: opcode and payload.
struct Frame {
    opcode: u8,
    payload: Vec<u8>,
}

/// A minimal WebSocket client: unfragmented frames, masked with a fixed key.
struct Ws {
    stream: TcpStream,
}

impl Ws {
    fn connect(addr: &str, token: &str) -> Result<Self, u16> {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        write!(
            stream,
            "GET /ws?token={token} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        .unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            stream.read_exact(&mut byte).unwrap();
            head.push(byte[0]);
        }
        let status: u16 = std::str::from_utf8(&head[9..12]).unwrap().parse().unwrap();
        if status == 101 {
            Ok(Self { stream })
        } else {
            Err(status)
        }
    }

    fn send_text(&mut self, text: &str) {
        let mask = [1u8, 2, 3, 4];
        let payload = text.as_bytes();
        let mut frame = vec![0x81];
        if payload.len() < 126 {
            frame.push(0x80 | payload.len() as u8);
        } else {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        }
        frame.extend_from_slice(&mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.stream.write_all(&frame).unwrap();
    }

    fn read_frame(&mut self) -> Frame {
        let mut head = [0u8; 2];
        self.stream.read_exact(&mut head).unwrap();
        let len = match head[1] & 0x7f {
            126 => {
                let mut ext = [0u8; 2];
                self.stream.read_exact(&mut ext).unwrap();
                u64::from(u16::from_be_bytes(ext))
            }
            127 => {
                let mut ext = [0u8; 8];
                self.stream.read_exact(&mut ext).unwrap();
                u64::from_be_bytes(ext)
            }
            n => u64::from(n),
        };
        let mut payload = vec![0u8; usize::try_from(len).unwrap()];
        self.stream.read_exact(&mut payload).unwrap();
        Frame {
            opcode: head[0] & 0x0f,
            payload,
        }
    }

    /// Reads until a text message of `event` arrives; returns its data.
    fn expect_event(&mut self, event: &str, accept: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + TIMEOUT;
        while Instant::now() < deadline {
            let frame = self.read_frame();
            assert_eq!(
                frame.opcode, 1,
                "expected text, got opcode {}",
                frame.opcode
            );
            let value: Value = serde_json::from_slice(&frame.payload).unwrap();
            if value["event"] == event && accept(&value["data"]) {
                return value["data"].clone();
            }
        }
        panic!("no {event} event");
    }

    /// Reads until a close frame; returns its code and reason.
    fn expect_close(&mut self) -> (u16, String) {
        loop {
            let frame = self.read_frame();
            if frame.opcode == 8 {
                let code = u16::from_be_bytes([frame.payload[0], frame.payload[1]]);
                let reason = String::from_utf8(frame.payload[2..].to_vec()).unwrap();
                return (code, reason);
            }
        }
    }
}

fn online_has(users: &[&str]) -> impl Fn(&Value) -> bool {
    move |data| {
        let online = data["online"].as_array().unwrap();
        users.iter().all(|u| online.iter().any(|o| o == u))
    }
}

#[test]
fn dev_mode_prints_a_token_that_connects() {
    let serve = Serve::start(&[]);
    let token = serve.token.clone().expect("dev token printed");
    let mut ws = serve.connect(&token).unwrap();
    ws.expect_event("presence", online_has(&["dev"]));
}

#[test]
fn healthz_and_demo_page_are_served() {
    let serve = Serve::start(&[]);
    assert_eq!(serve.get("/healthz"), (200, "ok".to_owned()));
    let (status, page) = serve.get("/");
    assert_eq!(status, 200);
    assert!(page.contains("tollgate demo"));
}

#[test]
fn login_tokens_let_two_clients_chat() {
    let serve = Serve::start(&[]);
    let mut alice = serve.connect(&serve.login("alice", "user")).unwrap();
    alice.expect_event("presence", online_has(&["alice"]));
    let mut bob = serve.connect(&serve.login("bob", "user")).unwrap();
    bob.expect_event("presence", online_has(&["alice", "bob"]));
    alice.expect_event("presence", online_has(&["alice", "bob"]));
    alice.send_text(r#"{"event":"chat","data":"hello bob"}"#);
    let data = bob.expect_event("chat", |_| true);
    assert_eq!(data["from"], "alice");
    assert_eq!(data["text"], "hello bob");
}

#[test]
fn admin_kick_closes_the_user_with_kicked() {
    let serve = Serve::start(&[]);
    let mut mallory = serve.connect(&serve.login("mallory", "user")).unwrap();
    mallory.expect_event("presence", online_has(&["mallory"]));
    let mut admin = serve.connect(&serve.login("root", "admin")).unwrap();
    admin.expect_event("presence", online_has(&["root", "mallory"]));
    admin.send_text(r#"{"event":"kick","data":"mallory"}"#);
    assert_eq!(mallory.expect_close(), (1008, "kicked".to_owned()));
}

#[test]
fn user_kick_is_forbidden() {
    let serve = Serve::start(&[]);
    let mut eve = serve.connect(&serve.login("eve", "user")).unwrap();
    eve.send_text(r#"{"event":"kick","data":"dev","id":1}"#);
    let data = eve.expect_event("error", |_| true);
    assert_eq!(data["code"], "forbidden");
}

const FORGED: &str = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4IiwiZXhwIjo5OTk5OTk5OTk5fQ.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

#[test]
fn dev_mode_refuses_a_bad_token_with_close_1008_and_its_code() {
    let serve = Serve::start(&[]);
    let Ok(mut ws) = serve.connect(FORGED) else {
        panic!("development mode answers 101 so that the demo page can read the reason");
    };
    assert_eq!(ws.expect_close(), (1008, "invalid_signature".to_owned()));
}

#[test]
fn bad_token_is_refused_with_401_outside_development_mode() {
    let serve = Serve::start_with(&["--secret-env", "SERVE_TEST_SECRET"], SECRET_ENV);
    assert_eq!(serve.connect(FORGED).err(), Some(401));
}

#[test]
fn login_token_secs_sets_the_lifetime_of_login_tokens() {
    let serve = Serve::start(&["--login-token-secs", "7"]);
    let (status, body) = serve.http(
        "POST /login HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 18\r\n\r\n{\"username\":\"eve\"}",
    );
    assert_eq!(status, 200, "{body}");
    let value: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(value["expires_in"], 7);
}

#[test]
fn login_is_absent_outside_development_mode() {
    let serve = Serve::start_with(&["--secret-env", "SERVE_TEST_SECRET"], SECRET_ENV);
    assert!(serve.token.is_none());
    let (status, _) = serve.http(
        "POST /login HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}",
    );
    assert_eq!(status, 404);
}

#[test]
fn echo_mode_echoes_every_message() {
    let serve = Serve::start(&["--echo"]);
    let mut ws = serve.connect(serve.token.as_deref().unwrap()).unwrap();
    let long = "x".repeat(1000);
    for text in [
        "hello",
        r#"{"event":"chat","data":"not routed"}"#,
        long.as_str(),
    ] {
        ws.send_text(text);
        let frame = ws.read_frame();
        assert_eq!(frame.opcode, 1);
        assert_eq!(frame.payload, text.as_bytes());
    }
}

#[test]
fn sigterm_closes_clients_with_1001_and_exits_0() {
    let serve = Serve::start(&[]);
    let mut ws = serve.connect(serve.token.as_deref().unwrap()).unwrap();
    ws.expect_event("presence", online_has(&["dev"]));
    terminate_expecting_1001(serve, &mut ws);
}

#[test]
fn sigterm_closes_echo_clients_with_1001_and_exits_0() {
    let serve = Serve::start(&["--echo"]);
    let mut ws = serve.connect(serve.token.as_deref().unwrap()).unwrap();
    ws.send_text("before the end");
    assert_eq!(ws.read_frame().payload, b"before the end");
    terminate_expecting_1001(serve, &mut ws);
}

/// Sends SIGTERM to `serve`: `ws` gets close 1001, and the process exits 0.
fn terminate_expecting_1001(mut serve: Serve, ws: &mut Ws) {
    let status = Command::new("kill")
        .args(["-TERM", &serve.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(ws.expect_close().0, 1001);
    let deadline = Instant::now() + TIMEOUT;
    let exit = loop {
        if let Some(exit) = serve.child.try_wait().unwrap() {
            break exit;
        }
        assert!(Instant::now() < deadline, "still running after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(exit.code(), Some(0));
}
