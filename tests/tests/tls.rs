//! `wss://` with a certificate generated at test time (`rcgen`): Python `websockets` and
//! Node `ws` trust it as their only CA, authenticate over TLS and exchange messages; a
//! refused token is refused over TLS just the same.

use serde_json::json;
use tollgate_tests::{run_all, start, token, verifier};
use tollgate_tokio::server::{Server, ServerConfig, TlsConfig};

#[tokio::test]
async fn clients_trusting_a_generated_certificate_authenticate_over_tls() {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert_pem = certified.cert.pem();
    let key_pem = certified.signing_key.serialize_pem();
    let ca = std::env::temp_dir().join(format!("tollgate-tests-{}-ca.pem", std::process::id()));
    std::fs::write(&ca, &cert_pem).unwrap();

    let tls = TlsConfig::from_pem(cert_pem.as_bytes(), key_pem.as_bytes()).unwrap();
    let server = Server::bind("127.0.0.1:0", ServerConfig::new(verifier()))
        .await
        .unwrap()
        .with_tls(tls);
    let running = start(server);
    let url = format!("wss://localhost:{}/ws", running.addr.port());

    let spec = json!({
        "url": url, "token": token("tess", 60), "via": "header", "ca": ca,
        "steps": [{"send": "whoami"}, {"recv": 1}, {"send_size": 100000}, {"recv": 1}],
    });
    let outs = run_all(&spec).await;
    let refused = json!({"url": url, "token": token("tess", -60), "via": "query", "ca": ca});
    let refusals = run_all(&refused).await;
    std::fs::remove_file(&ca).ok();
    for (peer, out) in outs {
        assert_eq!(out["status"], 101, "{peer:?}: {out}");
        let got = out["received"].as_array().unwrap();
        assert!(
            got[0].as_str().unwrap().starts_with("tess "),
            "{peer:?}: {out}"
        );
        assert_eq!(got[1].as_str().unwrap().len(), 100_000, "{peer:?}");
        assert_eq!(out["close"]["code"], 1000, "{peer:?}: {out}");
    }
    for (peer, out) in refusals {
        assert_eq!(out["status"], 401, "{peer:?}: {out}");
    }
}

#[tokio::test]
async fn a_client_that_does_not_trust_the_certificate_cannot_connect() {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let tls = TlsConfig::from_pem(
        certified.cert.pem().as_bytes(),
        certified.signing_key.serialize_pem().as_bytes(),
    )
    .unwrap();
    let server = Server::bind("127.0.0.1:0", ServerConfig::new(verifier()))
        .await
        .unwrap()
        .with_tls(tls);
    let running = start(server);
    let url = format!("wss://localhost:{}/ws", running.addr.port());
    let spec = json!({"url": url, "token": token("tess", 60), "via": "header"});
    for (peer, out) in run_all(&spec).await {
        assert_ne!(out["status"], 101, "{peer:?}: {out}");
        assert_eq!(running.app.sessions.connection_count(), 0);
    }
}
