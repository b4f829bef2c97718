//! An echo server for the Autobahn TestSuite's `fuzzingclient` (no authentication):
//! every text and binary message comes back as it arrived, fragmented messages
//! reassembled.
//!
//! ```text
//! cargo run --release -p tollgate-tokio --example autobahn-server -- 127.0.0.1:9001
//! ```
//! Prints `listening on ws://ADDR` once bound (port 0 picks a free port).

mod common;

use std::net::SocketAddr;

use embedded_io_adapters::tokio_1::FromTokio;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tollgate::ws::conn::Connection;
use tollgate::ws::handshake::{EMPTY_HEADER, ServerConfig, Status};

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
    let server = ServerConfig::new().with_max_request_bytes(common::MAX_HEAD);
    let Some((head, len)) = common::read_request(&mut stream, &server).await? else {
        return Ok(());
    };
    let mut headers = [EMPTY_HEADER; common::MAX_HEADERS];
    let Ok(Status::Complete(request)) = server.parse_request(&head[..len], &mut headers) else {
        return Err(std::io::Error::other("request changed between parses"));
    };
    let mut response = [0; 256];
    let n = request
        .write_accept(None, &[], &mut response)
        .map_err(std::io::Error::other)?;
    stream.write_all(&response[..n]).await?;

    let mut io = FromTokio::new(stream);
    let mut conn = Connection::server(common::config());
    let mut input = common::ReadBuf::new(&head[request.head_len()..len]);
    common::echo(&mut io, &mut conn, &mut input, |_| true).await?;
    common::linger(io.inner_mut()).await
}
