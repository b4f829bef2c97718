//! An echo server for the Autobahn TestSuite's `fuzzingclient` (no authentication):
//! every text and binary message comes back as it arrived, fragmented messages
//! reassembled.
//!
//! ```text
//! cargo run --release -p tollgate-tokio --example autobahn-server -- 127.0.0.1:9001
//! ```

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use embedded_io_adapters::tokio_1::FromTokio;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tollgate::ws::conn::Connection;
use tollgate::ws::handshake::{EMPTY_HEADER, Rejection, ServerConfig, Status};

/// The longest request head accepted.
const MAX_HEAD: usize = 8192;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr: SocketAddr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9001".into())
        .parse()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let listener = TcpListener::bind(addr).await?;
    println!("listening on ws://{}", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        tokio::spawn(async move {
            if let Err(e) = serve(stream).await {
                eprintln!("connection: {e}");
            }
        });
    }
}

async fn serve(mut stream: TcpStream) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let server = ServerConfig::new().with_max_request_bytes(MAX_HEAD);
    let mut head = vec![0; MAX_HEAD];
    let mut len = 0;
    let leftover = loop {
        let n = stream.read(&mut head[len..]).await?;
        if n == 0 {
            return Ok(());
        }
        len += n;
        let mut headers = [EMPTY_HEADER; 32];
        let mut response = [0; Rejection::MAX_LEN];
        let (reply, leftover) = match server.parse_request(&head[..len], &mut headers) {
            Ok(Status::Partial) => continue,
            Ok(Status::Complete(request)) => {
                let n = request
                    .write_accept(None, &[], &mut response)
                    .map_err(std::io::Error::other)?;
                (n, Some(head[request.head_len()..len].to_vec()))
            }
            Err(error) => {
                let n = Rejection::from(error)
                    .write(&mut response)
                    .map_err(std::io::Error::other)?;
                (n, None)
            }
        };
        stream.write_all(&response[..reply]).await?;
        match leftover {
            Some(leftover) => break leftover,
            None => return linger(stream).await,
        }
    };
    let mut io = FromTokio::new(stream);
    let mut conn = Connection::server(common::config());
    let mut input = common::ReadBuf::new(&leftover);
    common::echo(&mut io, &mut conn, &mut input, |_| true).await?;
    linger(io.into_inner()).await
}

/// Closes our side, then drains what the peer still sends for a moment: closing a socket
/// with unread input resets the connection, and the peer may then lose our close frame.
async fn linger(mut stream: TcpStream) -> std::io::Result<()> {
    stream.shutdown().await?;
    let mut sink = [0; 4096];
    let drain = async {
        while stream.read(&mut sink).await? != 0 {}
        Ok::<_, std::io::Error>(())
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), drain).await;
    Ok(())
}
