//! A client for the Autobahn TestSuite's `fuzzingserver`: asks for the number of cases,
//! runs each one echoing every message back, then asks for the reports. It runs the
//! core client handshake and driver (`tollgate::io::connect`) over tokio TCP.
//!
//! ```text
//! cargo run --release -p tollgate-tokio --example autobahn-client -- ws://127.0.0.1:9001 [AGENT]
//! ```

mod common;

use std::time::Duration;

use embedded_io_adapters::tokio_1::FromTokio;
use getrandom::SysRng;
use getrandom::rand_core::UnwrapErr;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tollgate::io;
use tollgate::ws::handshake::ClientRequest;

/// Every case gets this long; Autobahn's slowest (9.x) take a few seconds.
const CASE_TIMEOUT: Duration = Duration::from_secs(60);

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "ws://127.0.0.1:9001".into());
    let agent = std::env::args().nth(2).unwrap_or_else(|| "tollgate".into());
    let host = url
        .strip_prefix("ws://")
        .map(|rest| rest.trim_end_matches('/'))
        .filter(|host| !host.is_empty() && !host.contains('/'))
        .ok_or_else(|| format!("expected ws://HOST:PORT, got {url}"))?;

    let mut count = None;
    run(host, "/getCaseCount", |text| {
        count = text.parse::<u32>().ok();
        false
    })
    .await?;
    let count = count.ok_or("no case count")?;
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
async fn run(
    host: &str,
    path: &str,
    on_text: impl FnMut(&str) -> bool,
) -> Result<(), Box<dyn std::error::Error>> {
    let stream = TcpStream::connect(host).await?;
    stream.set_nodelay(true)?;
    let mut stream = FromTokio::new(stream);
    let mut read_buf = vec![0; common::READ_BUFFER_LEN];
    let mut write_buf = vec![0; common::WRITE_BUFFER_LEN];
    let request = ClientRequest::new(host, path);
    let rng = UnwrapErr(SysRng);
    let upgraded = io::connect(
        &mut stream,
        &request,
        common::config(),
        rng,
        &mut read_buf,
        &mut write_buf,
    )
    .await?;
    common::echo(&mut { upgraded.socket }, None, on_text).await?;
    // §7.1.1: the server closes the TCP connection first; wait for it, briefly.
    let stream = stream.inner_mut();
    let mut sink = [0; 4096];
    let drain = async {
        while stream.read(&mut sink).await? != 0 {}
        Ok::<_, std::io::Error>(())
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), drain).await;
    Ok(())
}
