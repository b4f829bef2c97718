//! A client for the Autobahn TestSuite's `fuzzingserver`: asks for the number of cases,
//! runs each one echoing every message back, then asks for the reports.
//!
//! ```text
//! cargo run --release -p tollgate-tokio --example autobahn-client -- ws://127.0.0.1:9001 [AGENT]
//! ```

mod common;

use std::time::Duration;

use embedded_io_adapters::tokio_1::FromTokio;
use getrandom::SysRng;
use getrandom::rand_core::UnwrapErr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tollgate::ws::conn::Connection;
use tollgate::ws::handshake::{ClientRequest, EMPTY_HEADER, Status};

/// Every case gets this long; Autobahn's slowest (9.x) take a few seconds.
const CASE_TIMEOUT: Duration = Duration::from_secs(60);

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "ws://127.0.0.1:9001".into());
    let agent = std::env::args().nth(2).unwrap_or_else(|| "tollgate".into());
    let host = url
        .strip_prefix("ws://")
        .map(|rest| rest.trim_end_matches('/'))
        .filter(|host| !host.is_empty() && !host.contains('/'))
        .ok_or_else(|| invalid(format!("expected ws://HOST:PORT, got {url}")))?;

    let mut count = None;
    run(host, "/getCaseCount", |text| {
        count = text.parse::<u32>().ok();
        false
    })
    .await?;
    let count = count.ok_or_else(|| invalid("no case count".into()))?;
    println!("{count} cases");
    for case in 1..=count {
        let path = format!("/runCase?case={case}&agent={agent}");
        match tokio::time::timeout(CASE_TIMEOUT, run(host, &path, |_| true)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("case {case}: {e}"),
            Err(_) => eprintln!("case {case}: timed out"),
        }
    }
    run(host, &format!("/updateReports?agent={agent}"), |_| false).await?;
    println!("reports updated");
    Ok(())
}

/// One WebSocket connection to `path`, echoing the messages `on_text` lets through.
async fn run(host: &str, path: &str, on_text: impl FnMut(&str) -> bool) -> std::io::Result<()> {
    let mut stream = TcpStream::connect(host).await?;
    stream.set_nodelay(true)?;
    let mut rng = UnwrapErr(SysRng);
    let mut request = [0; 1024];
    let (len, handshake) = ClientRequest::new(host, path)
        .write(&mut rng, &mut request)
        .map_err(std::io::Error::other)?;
    stream.write_all(&request[..len]).await?;

    let mut head = vec![0; ClientRequest::DEFAULT_MAX_RESPONSE_BYTES];
    let mut len = 0;
    let leftover = loop {
        let n = stream.read(&mut head[len..]).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        len += n;
        let mut headers = [EMPTY_HEADER; 32];
        match handshake.parse_response(&head[..len], &mut headers) {
            Ok(Status::Partial) => {}
            Ok(Status::Complete(accepted)) => break head[accepted.head_len()..len].to_vec(),
            Err(e) => return Err(std::io::Error::other(e)),
        }
    };

    let mut io = FromTokio::new(stream);
    let mut conn = Connection::client(common::config(), rng);
    let mut input = common::ReadBuf::new(&leftover);
    common::echo(&mut io, &mut conn, &mut input, on_text).await?;
    // §7.1.1: the server closes the TCP connection first; wait for it, briefly.
    let mut stream = io.into_inner();
    let mut sink = [0; 4096];
    let drain = async {
        while stream.read(&mut sink).await? != 0 {}
        Ok::<_, std::io::Error>(())
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), drain).await;
    Ok(())
}

fn invalid(message: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidInput, message)
}
