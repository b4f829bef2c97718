//! An echo server for the Autobahn TestSuite's `fuzzingclient` (no authentication):
//! every text and binary message comes back, fragmented messages reassembled. It runs
//! the core driver (`tollgate::io`) over tokio TCP through `embedded-io-adapters`.
//!
//! ```text
//! cargo run --release -p tollgate-tokio --example autobahn-server -- 127.0.0.1:9001
//! ```
//! Prints `listening on ws://ADDR` once bound (port 0 picks a free port).

mod common;

use std::net::SocketAddr;

use embedded_io_adapters::tokio_1::FromTokio;
use tokio::net::{TcpListener, TcpStream};
use tollgate::io::{self, ServerOptions};
use tollgate::ws::handshake::ServerConfig;

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
        tokio::spawn(serve(stream));
    }
}

/// One connection: upgrade, echo, close. Failures end the connection and nothing else.
async fn serve(stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let mut stream = FromTokio::new(stream);
    let options = ServerOptions::new(ServerConfig::new()).with_connection(common::config());
    let mut read_buf = vec![0; common::READ_BUFFER_LEN];
    let mut write_buf = vec![0; common::WRITE_BUFFER_LEN];
    match io::accept(&mut stream, &options, &mut read_buf, &mut write_buf).await {
        Ok(upgraded) => {
            let mut socket = upgraded.socket;
            if let Err(e) = common::echo(&mut socket, None, |_| true).await {
                eprintln!("connection: {e}");
            }
        }
        Err(e) => eprintln!("handshake: {e}"),
    }
    common::linger(stream.inner_mut()).await;
}
