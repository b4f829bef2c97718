//! `wss://`: a certificate generated at test time, the server with `TlsConfig`, and a
//! rustls client running the core's client handshake.
#![cfg(feature = "tls")]

mod server_support;

use std::sync::Arc;

use server_support::*;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::{self, RootCertStore};
use tollgate::ws::handshake::ClientRequest;
use tollgate_tokio::server::{Server, TlsConfig};

/// A self-signed certificate for `localhost`: (certificate PEM, key PEM, DER).
fn certificate() -> (String, String, rustls_pki_types::CertificateDer<'static>) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    (
        certified.cert.pem(),
        certified.signing_key.serialize_pem(),
        certified.cert.der().clone(),
    )
}

fn connector(root: rustls_pki_types::CertificateDer<'static>) -> TlsConnector {
    let mut roots = RootCertStore::empty();
    roots.add(root).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    TlsConnector::from(Arc::new(config))
}

#[tokio::test]
async fn wss_round_trip_with_a_generated_certificate() {
    let (cert, key, der) = certificate();
    let dir = std::env::temp_dir().join(format!("tollgate-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_path, cert).unwrap();
    std::fs::write(&key_path, key).unwrap();
    let tls = TlsConfig::from_pem_files(&cert_path, &key_path).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();

    let server = Server::bind("127.0.0.1:0", config())
        .await
        .unwrap()
        .with_tls(tls);
    let addr = server.local_addr();
    let shutdown = server.shutdown_handle();
    tokio::spawn(server.serve(echo));

    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let stream = tokio::time::timeout(STEP, connector(der).connect(name, tcp))
        .await
        .unwrap()
        .unwrap();
    let token = token("alice", 60);
    let request = ClientRequest::new("localhost", "/ws").with_bearer(&token);
    let mut client = tokio::time::timeout(STEP, connect_on(stream, &request))
        .await
        .unwrap()
        .unwrap();
    round_trip(&mut client, "over tls").await;
    client.send_binary(&[1, 2, 3]).await.unwrap();
    assert_eq!(next(&mut client).await, Got::Binary(vec![1, 2, 3]));
    shutdown.shutdown();
    assert_eq!(
        next(&mut client).await,
        Got::Close(1001, "server_shutdown".into())
    );
}

#[tokio::test]
async fn plain_tcp_client_gets_nothing_from_a_tls_server() {
    let (cert, key, _) = certificate();
    let tls = TlsConfig::from_pem(cert.as_bytes(), key.as_bytes()).unwrap();
    let server = Server::bind("127.0.0.1:0", config())
        .await
        .unwrap()
        .with_tls(tls);
    let addr = server.local_addr();
    tokio::spawn(server.serve(echo));
    let answer = raw_exchange(addr, &upgrade_request("/ws", "")).await;
    assert!(!answer.starts_with("HTTP/1.1 101"), "{answer}");
}

#[test]
fn pem_without_a_certificate_is_refused() {
    let (_, key, _) = certificate();
    let error = TlsConfig::from_pem(b"", key.as_bytes()).unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidData);
}
