//! End-to-end benchmarks over loopback: `tollgate serve --echo` (the real binary) against a
//! tokio-tungstenite and a fastwebsockets echo server built into this benchmark, all driven
//! by one load generator.
//!
//! - `echo_32B/*`, `echo_16KiB/*`: N connections each pipelining M binary messages and
//!   reading every echo back (checked byte for byte); throughput in messages.
//! - `setup/*`: connections per second, each one TCP connect + upgrade (+ token
//!   verification for tollgate, HS256 or ES256) + the 101 answer, then a reset.
//! - `echo_*/loopback-ceiling`: not a WebSocket server but the bound on what any server
//!   can reach here: after the upgrade it writes back, for every whole frame read, the
//!   echo the load generator expects, precomputed (no parsing, unmasking or encoding), so
//!   only the kernel's and the load generator's costs remain.
//! - memory: the server's resident set (`VmRSS`) before and after opening 10,000 idle
//!   (authenticated) connections, per connection; 500 under `--test`.
//!
//! The servers are separate processes on a multi-thread tokio runtime each: tollgate is
//! built with `cargo build --release` (or taken from `TOLLGATE_BIN`), the peers are this
//! executable started again with `TOLLGATE_E2E_PEER` set. Every child dies with the
//! benchmark: it is killed on drop (also while unwinding a panic), and the peers exit
//! when their stdin, held by the benchmark, closes.

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, Throughput};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::runtime::Runtime;
use tollgate_benches::{
    AUDIENCE, ES256_PRIVATE_PEM, ES256_PUBLIC_PEM, HS256_SECRET, ISSUER, claims_json,
    masked_stream, now,
};

/// Set in a child started by the benchmark: the peer echo server it should become.
const PEER_ENV: &str = "TOLLGATE_E2E_PEER";
/// Connections of the echo benchmarks.
const ECHO_CONNECTIONS: usize = 50;
/// Idle connections of the memory measurement (full run, `--test`).
const IDLE_CONNECTIONS: (usize, usize) = (10_000, 500);
/// Connections opened at once while filling the memory measurement.
const OPEN_CONCURRENCY: usize = 64;
/// Client tasks of the set-up benchmark.
const SETUP_CONCURRENCY: u64 = 16;

fn main() {
    if let Ok(role) = std::env::var(PEER_ENV) {
        peer::run(&role);
        return;
    }
    let quick = std::env::args().any(|arg| arg == "--test");
    let files = raise_open_files();
    let runtime = Runtime::new().expect("tokio runtime");
    let servers = Servers::start();
    let mut criterion = Criterion::default().configure_from_args();

    echo(&mut criterion, &runtime, &servers, "echo_32B", 32, 1000);
    echo(
        &mut criterion,
        &runtime,
        &servers,
        "echo_16KiB",
        16 * 1024,
        100,
    );
    setup(&mut criterion, &runtime, &servers);
    let idle = if quick {
        IDLE_CONNECTIONS.1
    } else {
        IDLE_CONNECTIONS.0
    };
    // Each idle connection takes a descriptor here and one in the server.
    let idle = idle.min(
        usize::try_from(files)
            .unwrap_or(usize::MAX)
            .saturating_sub(100),
    );
    memory(&runtime, &servers, idle);
    criterion.final_summary();
}

/// Raises the soft open-file limit to the hard one (children inherit it); returns it.
fn raise_open_files() -> u64 {
    rlimit::increase_nofile_limit(u64::MAX).expect("setrlimit(RLIMIT_NOFILE)")
}

/// A server child process; killed when dropped.
struct Server {
    name: &'static str,
    addr: SocketAddr,
    /// Request target of the upgrade (with the token for tollgate).
    target: String,
    child: Child,
    /// Held so that a peer sees end-of-file on its stdin when the benchmark goes away.
    _stdin: Option<ChildStdin>,
}

impl Drop for Server {
    /// SIGTERM first (a graceful exit), SIGKILL after a moment.
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Starts `command`, waits for its `listening on ADDR` line.
    fn spawn(name: &'static str, mut command: Command, target: String) -> Self {
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = command.spawn().expect("start a server process");
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let addr = loop {
            let line = lines
                .next()
                .expect("the server exits before listening")
                .expect("server stdout");
            if let Some((_, rest)) = line.split_once("listening on ") {
                let rest = rest.trim().trim_start_matches("http://");
                break rest.parse().expect("server address");
            }
        };
        // Drain whatever else it prints so it never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Self {
            name,
            addr,
            target,
            child,
            _stdin: stdin,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// The servers under test.
struct Servers {
    /// tollgate with an HS256 key: the echo, set-up and memory benchmarks.
    tollgate: Server,
    /// tollgate with an ES256 key: the set-up benchmark.
    tollgate_es256: Server,
    tungstenite: Server,
    fastwebsockets: Server,
    /// The echo benchmarks' reference: no WebSocket work at all.
    ceiling: Server,
}

impl Servers {
    fn start() -> Self {
        let binary = tollgate_binary();
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("e2e");
        std::fs::create_dir_all(&dir).expect("key directory");
        let secret = dir.join("hs256.secret");
        std::fs::write(&secret, HS256_SECRET).expect("write the secret");
        let public = dir.join("es256-public.pem");
        std::fs::write(&public, ES256_PUBLIC_PEM).expect("write the public key");

        let hs256 = mint(Algorithm::HS256, &EncodingKey::from_secret(HS256_SECRET));
        let es256_key = EncodingKey::from_ec_pem(ES256_PRIVATE_PEM.as_bytes()).expect("es256 key");
        let es256 = mint(Algorithm::ES256, &es256_key);
        Self {
            tollgate: Server::spawn(
                "tollgate",
                tollgate_command(&binary, "--secret-file", &secret),
                format!("/ws?token={hs256}"),
            ),
            tollgate_es256: Server::spawn(
                "tollgate",
                tollgate_command(&binary, "--key", &public),
                format!("/ws?token={es256}"),
            ),
            tungstenite: Server::spawn(
                "tokio-tungstenite",
                peer_command("tungstenite"),
                "/".into(),
            ),
            fastwebsockets: Server::spawn(
                "fastwebsockets",
                peer_command("fastwebsockets"),
                "/".into(),
            ),
            ceiling: Server::spawn("loopback-ceiling", peer_command("ceiling"), "/".into()),
        }
    }

    fn echo_servers(&self) -> [&Server; 4] {
        [
            &self.tollgate,
            &self.tungstenite,
            &self.fastwebsockets,
            &self.ceiling,
        ]
    }

    fn websocket_servers(&self) -> [&Server; 3] {
        [&self.tollgate, &self.tungstenite, &self.fastwebsockets]
    }
}

/// The release `tollgate` binary: `TOLLGATE_BIN`, or built now by cargo.
fn tollgate_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("TOLLGATE_BIN") {
        return path.into();
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let status = Command::new(cargo)
        .current_dir(root)
        .args([
            "build",
            "--release",
            "--quiet",
            "-p",
            "tollgate-tokio",
            "--bin",
        ])
        .arg("tollgate")
        .status()
        .expect("run cargo build");
    assert!(
        status.success(),
        "cargo build of the tollgate binary failed"
    );
    // This benchmark runs as <target>/release/deps/e2e-<hash>.
    let exe = std::env::current_exe().expect("benchmark path");
    let release = exe.parent().and_then(Path::parent).expect("target/release");
    release.join("tollgate")
}

fn tollgate_command(binary: &Path, key_option: &str, key: &Path) -> Command {
    let mut command = Command::new(binary);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("TOLLGATE_") {
            command.env_remove(name);
        }
    }
    command
        .args(["serve", "--echo", "--listen", "127.0.0.1:0", key_option])
        .arg(key)
        .args(["--iss", ISSUER, "--aud", AUDIENCE])
        // Per-connection log lines at `info` would be the only logging of the three.
        .env("RUST_LOG", "warn");
    command
}

fn peer_command(role: &str) -> Command {
    let mut command = Command::new(std::env::current_exe().expect("benchmark path"));
    command.env(PEER_ENV, role);
    command
}

fn mint(alg: Algorithm, key: &EncodingKey) -> String {
    let claims: serde_json::Value =
        serde_json::from_str(&claims_json(now())).expect("fixture claims");
    encode(&Header::new(alg), &claims, key).expect("jsonwebtoken signs the fixture")
}

/// Opens a WebSocket connection as a client: TCP connect, upgrade, the 101 answer.
async fn open(addr: SocketAddr, target: &str) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.set_nodelay(true).expect("TCP_NODELAY");
    let request = format!(
        "GET {target} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .await
        .expect("send upgrade");
    let mut head = Vec::with_capacity(512);
    let mut chunk = [0_u8; 512];
    while !head.ends_with(b"\r\n\r\n") {
        let n = stream.read(&mut chunk).await.expect("read the answer");
        assert!(n > 0, "server closed during the upgrade");
        head.extend_from_slice(&chunk[..n]);
        // The echo servers send nothing after the 101 until spoken to.
        assert!(head.len() < 4096, "oversized upgrade answer");
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "upgrade refused: {}",
        String::from_utf8_lossy(&head)
    );
    stream
}

/// Opens `count` connections, `OPEN_CONCURRENCY` at a time.
async fn open_many(server: &Server, count: usize) -> Vec<TcpStream> {
    let mut streams = Vec::with_capacity(count);
    let mut tasks = tokio::task::JoinSet::new();
    let target: Arc<str> = server.target.as_str().into();
    for i in 0..count {
        if i >= OPEN_CONCURRENCY {
            streams.push(tasks.join_next().await.expect("task").expect("open"));
        }
        let target = Arc::clone(&target);
        let addr = server.addr;
        tasks.spawn(async move { open(addr, &target).await });
    }
    while let Some(stream) = tasks.join_next().await {
        streams.push(stream.expect("open"));
    }
    streams
}

/// What the server should send back for `frames`: the same payloads, unmasked.
fn expected_echo(frames: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(frames.len());
    let mut rest = frames;
    while let [first, second, tail @ ..] = rest {
        let (len, tail) = match second & 0x7f {
            126 => (
                usize::from(u16::from_be_bytes([tail[0], tail[1]])),
                &tail[2..],
            ),
            127 => unreachable!("no frame over 64 KiB here"),
            len => (usize::from(len), tail),
        };
        let (key, tail) = tail.split_at(4);
        let (payload, tail) = tail.split_at(len);
        out.push(*first);
        out.push(second & 0x7f);
        if len >= 126 {
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        rest = tail;
    }
    out
}

/// Writes every frame while reading and checking every echo.
async fn exchange(mut stream: TcpStream, frames: Arc<Vec<u8>>, echo: Arc<Vec<u8>>) -> TcpStream {
    let (mut reader, mut writer) = stream.split();
    let write = async { writer.write_all(&frames).await.expect("send frames") };
    let read = async {
        let mut buf = vec![0_u8; 64 * 1024];
        let mut got = 0;
        while got < echo.len() {
            let n = reader.read(&mut buf).await.expect("read echoes");
            assert!(n > 0, "server closed before echoing everything");
            assert!(buf[..n] == echo[got..got + n], "wrong echo");
            got += n;
        }
    };
    tokio::join!(write, read);
    stream
}

fn echo(
    c: &mut Criterion,
    runtime: &Runtime,
    servers: &Servers,
    group: &str,
    size: usize,
    messages: usize,
) {
    let frames = Arc::new(masked_stream(messages, size));
    let echo = Arc::new(expected_echo(&frames));
    let mut group = c.benchmark_group(group);
    group
        .throughput(Throughput::Elements((ECHO_CONNECTIONS * messages) as u64))
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    for server in servers.echo_servers() {
        let mut streams = runtime.block_on(open_many(server, ECHO_CONNECTIONS));
        group.bench_function(server.name, |b| {
            b.iter_custom(|iters| {
                runtime.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        let mut tasks = tokio::task::JoinSet::new();
                        for stream in streams.drain(..) {
                            tasks.spawn(exchange(stream, Arc::clone(&frames), Arc::clone(&echo)));
                        }
                        while let Some(stream) = tasks.join_next().await {
                            streams.push(stream.expect("exchange"));
                        }
                    }
                    start.elapsed()
                })
            });
        });
        runtime.block_on(async { reset(streams) });
    }
    group.finish();
}

/// Drops connections with a reset: no TIME_WAIT left behind on either side.
fn reset(streams: Vec<TcpStream>) {
    for stream in streams {
        let _ = stream.set_zero_linger();
    }
}

fn setup(c: &mut Criterion, runtime: &Runtime, servers: &Servers) {
    let mut group = c.benchmark_group("setup");
    group
        .throughput(Throughput::Elements(1))
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    let cases = [
        ("hs256", &servers.tollgate),
        ("es256", &servers.tollgate_es256),
        ("tokio-tungstenite-noauth", &servers.tungstenite),
        ("fastwebsockets-noauth", &servers.fastwebsockets),
    ];
    for (name, server) in cases {
        let target: Arc<str> = server.target.as_str().into();
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                runtime.block_on(async {
                    let start = Instant::now();
                    let mut tasks = tokio::task::JoinSet::new();
                    for task in 0..SETUP_CONCURRENCY {
                        let share =
                            iters / SETUP_CONCURRENCY + u64::from(task < iters % SETUP_CONCURRENCY);
                        let target = Arc::clone(&target);
                        let addr = server.addr;
                        tasks.spawn(async move {
                            for _ in 0..share {
                                reset(vec![open(addr, &target).await]);
                            }
                        });
                    }
                    while let Some(done) = tasks.join_next().await {
                        done.expect("set-up task");
                    }
                    start.elapsed()
                })
            });
        });
    }
    group.finish();
}

/// `VmRSS` of a process, in KiB.
fn resident_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS line")
}

fn memory(runtime: &Runtime, servers: &Servers, count: usize) {
    println!("memory: resident set per idle connection ({count} connections, VmRSS)");
    for server in servers.websocket_servers() {
        let (before, after) = runtime.block_on(async {
            // Let the allocator and the runtime reach their steady state first.
            reset(open_many(server, 200).await);
            tokio::time::sleep(Duration::from_millis(500)).await;
            let before = resident_kib(server.pid());
            let streams = open_many(server, count).await;
            tokio::time::sleep(Duration::from_secs(1)).await;
            let after = resident_kib(server.pid());
            reset(streams);
            tokio::time::sleep(Duration::from_millis(500)).await;
            (before, after)
        });
        let per = after.saturating_sub(before) as f64 / count as f64;
        println!(
            "memory/{:<18} {per:>7.2} KiB per connection (VmRSS {before} KiB -> {after} KiB)",
            server.name
        );
    }
}

/// The peer echo servers, written as their documentation and examples write them, on a
/// multi-thread runtime (as `#[tokio::main]` and `tollgate serve` use).
mod peer {
    use futures_util::{StreamExt as _, TryStreamExt as _, future};
    use http_body_util::Empty;
    use hyper::body::{Bytes, Incoming};
    use hyper::server::conn::http1;
    use hyper::service::service_fn;
    use hyper::{Request, Response};
    use std::sync::Arc;

    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio::net::{TcpListener, TcpStream};

    pub fn run(role: &str) {
        // The benchmark holds our stdin: its end means the benchmark is gone.
        std::thread::spawn(|| {
            let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
            std::process::exit(0);
        });
        let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
        runtime.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            println!("listening on {}", listener.local_addr().expect("address"));
            match role {
                "tungstenite" => tungstenite(listener).await,
                "fastwebsockets" => fastwebsockets(listener).await,
                "ceiling" => ceiling(listener).await,
                other => panic!("unknown peer {other}"),
            }
        });
    }

    /// tokio-tungstenite's `examples/echo-server.rs`.
    async fn tungstenite(listener: TcpListener) {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let Ok(ws) = tokio_tungstenite::accept_async(stream).await else {
                    return;
                };
                let (write, read) = ws.split();
                let _ = read
                    .try_filter(|message| future::ready(message.is_text() || message.is_binary()))
                    .forward(write)
                    .await;
            });
        }
    }

    /// fastwebsockets' `examples/echo_server.rs`.
    async fn fastwebsockets(listener: TcpListener) {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let io = hyper_util::rt::TokioIo::new(stream);
                let _ = http1::Builder::new()
                    .serve_connection(io, service_fn(upgrade))
                    .with_upgrades()
                    .await;
            });
        }
    }

    async fn upgrade(
        mut request: Request<Incoming>,
    ) -> Result<Response<Empty<Bytes>>, fastwebsockets::WebSocketError> {
        let (response, upgraded) = fastwebsockets::upgrade::upgrade(&mut request)?;
        tokio::spawn(async move {
            let _ = tokio::task::unconstrained(echo(upgraded)).await;
        });
        Ok(response)
    }

    async fn echo(
        upgraded: fastwebsockets::upgrade::UpgradeFut,
    ) -> Result<(), fastwebsockets::WebSocketError> {
        let mut ws = fastwebsockets::FragmentCollector::new(upgraded.await?);
        loop {
            let frame = ws.read_frame().await?;
            match frame.opcode {
                fastwebsockets::OpCode::Close => break,
                fastwebsockets::OpCode::Text | fastwebsockets::OpCode::Binary => {
                    ws.write_frame(frame).await?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The loopback ceiling (see the module docs): precomputed echoes for both message
    /// sizes, chosen by the first frame's length.
    async fn ceiling(listener: TcpListener) {
        let echoes: Arc<[(usize, Vec<u8>); 2]> = Arc::new([32, 16 * 1024].map(|size| {
            let messages = if size == 32 { 1000 } else { 100 };
            (
                size,
                super::expected_echo(&super::masked_stream(messages, size)),
            )
        }));
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            tokio::spawn(ceiling_connection(stream, Arc::clone(&echoes)));
        }
    }

    async fn ceiling_connection(mut stream: TcpStream, echoes: Arc<[(usize, Vec<u8>); 2]>) {
        // The load generator's fixed key (RFC 6455's example) and its accept value.
        const ANSWER: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
            Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
        let mut buf = vec![0_u8; 64 * 1024];
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        if stream.write_all(ANSWER).await.is_err() {
            return;
        }
        let mut first = Vec::new();
        let (mut read, mut sent) = (0_usize, 0_usize);
        let mut echo: Option<(&[u8], usize, usize)> = None;
        loop {
            let n = match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            read += n;
            if echo.is_none() {
                first.extend_from_slice(&buf[..n.min(2)]);
                let Some(&len) = first.get(1) else { continue };
                let size = if len & 0x7f == 126 {
                    16 * 1024
                } else {
                    usize::from(len & 0x7f)
                };
                let Some((_, bytes)) = echoes.iter().find(|(s, _)| *s == size) else {
                    return;
                };
                let header = if size >= 126 { 4 } else { 2 };
                echo = Some((bytes, header + 4 + size, header + size));
            }
            let Some((bytes, frame_in, frame_out)) = echo else {
                continue;
            };
            let due = read / frame_in * frame_out;
            while sent < due {
                let at = sent % bytes.len();
                let end = bytes.len().min(at + (due - sent));
                if stream.write_all(&bytes[at..end]).await.is_err() {
                    return;
                }
                sent += end - at;
            }
        }
    }
}
