//! `tollgate verify --jwks-url`/`--oidc-issuer` end to end, the verifier `tollgate serve`
//! builds from its key options, and tokens from Node `jose` verified with the keys it
//! exported, served as a JWK Set by a real HTTP provider on 127.0.0.1.

mod common;

use serde_json::{Value, json};
use tollgate::jwt::JwtError;
use tollgate_tokio::TokenVerifier;
use tollgate_tokio::jwks::{JwksVerifier, Rules};

use common::peers::{jose, node_with};
use common::provider::{
    DISCOVERY, JWKS, Provider, claims, ec_key, jwks, jwt_error, quick, rsa_2048,
};
use common::{now, run, tollgate};

// ---------------------------------------------------------------------------------------
// The CLI.

fn verify_cli(args: &[&str], token: &str) -> common::Run {
    let mut argv = vec!["verify"];
    argv.extend_from_slice(args);
    argv.push(token);
    run(&mut tollgate(&argv), b"")
}

#[test]
fn cli_verify_with_a_jwks_url() {
    let provider = Provider::start();
    let (ec, rsa) = (ec_key("ec-1"), rsa_2048("rsa-1"));
    provider.serve(JWKS, &jwks(&[&ec, &rsa]), None);
    let url = provider.url(JWKS);
    for key in [&ec, &rsa] {
        let verdict = verify_cli(&["--jwks-url", &url], &key.token(&claims())).valid();
        assert_eq!(verdict["kid"], key.jwk["kid"]);
        assert_eq!(verdict["claims"]["sub"], "alice");
    }
    verify_cli(&["--jwks-url", &url], &ec_key("other").token(&claims())).invalid("unknown_key");
    let expired = json!({"exp": now() - 3600});
    verify_cli(&["--jwks-url", &url], &ec.token(&expired)).invalid("expired");

    provider.set_down(true);
    let down = verify_cli(&["--jwks-url", &url], &ec.token(&claims()));
    down.usage_error();
    assert!(down.stderr.contains("HTTP 503"), "{down:?}");
    let insecure = verify_cli(
        &["--jwks-url", "http://example.com/jwks"],
        &ec.token(&claims()),
    );
    insecure.usage_error();
    assert!(insecure.stderr.contains("https://"), "{insecure:?}");
    // Only one key option at a time.
    let both = verify_cli(&["--jwks-url", &url, "--jwks", "x.json"], "t");
    assert_eq!(both.code, 2);
}

#[test]
fn cli_verify_with_an_oidc_issuer_checks_iss() {
    let provider = Provider::start();
    let key = ec_key("ec-1");
    let issuer = provider.base();
    provider.serve(JWKS, &jwks(&[&key]), None);
    provider.serve(
        DISCOVERY,
        &json!({"issuer": issuer, "jwks_uri": provider.url(JWKS)}),
        None,
    );
    let ok = json!({"iss": issuer, "exp": now() + 60});
    verify_cli(&["--oidc-issuer", &issuer], &key.token(&ok)).valid();
    let other = json!({"iss": "https://elsewhere.example", "exp": now() + 60});
    verify_cli(&["--oidc-issuer", &issuer], &key.token(&other)).invalid("invalid_issuer");
    // --iss, when given, is what iss is checked against.
    verify_cli(
        &[
            "--oidc-issuer",
            &issuer,
            "--iss",
            "https://elsewhere.example",
        ],
        &key.token(&other),
    )
    .valid();
    let mismatch = verify_cli(
        &["--oidc-issuer", &provider.url("/nowhere")],
        &key.token(&ok),
    );
    mismatch.usage_error();
}

// ---------------------------------------------------------------------------------------
// Node `jose`: tokens signed by it, with the keys it exports as JWKs, served as a JWKS.

/// Whether Node and `jose` are installed; missing is a failure under `CI=true`.
fn jose_available() -> bool {
    node_with(&["jose"], "jose interop")
}

#[test]
fn jose_tokens_verify_against_a_jwks_url() {
    if !jose_available() {
        return;
    }
    let keys = common::keys();
    let provider = Provider::start();
    let mut published = Vec::new();
    let mut tokens = Vec::new();
    let issuer = "https://issuer.example";
    for (alg, name, kid) in [("ES256", "ec", "jose-ec"), ("RS256", "rsa", "jose-rsa")] {
        let jwk = jose(&["jwk", &keys.path(&format!("{name}.pub.pem")), kid, alg]);
        published.push(serde_json::from_str::<Value>(&jwk).unwrap());
        let claims = json!({"iss": issuer, "sub": "from-jose", "exp": now() + 600}).to_string();
        let header = json!({"kid": kid}).to_string();
        let token = jose(&[
            "sign",
            "jose",
            alg,
            &keys.path(&format!("{name}.pk8.pem")),
            &claims,
            &header,
        ]);
        tokens.push((alg, kid, token));
    }
    provider.serve(JWKS, &json!({"keys": published}), Some("max-age=300"));
    let url = provider.url(JWKS);
    for (alg, kid, token) in &tokens {
        let verdict = verify_cli(&["--jwks-url", &url, "--iss", issuer], token).valid();
        assert_eq!(
            (verdict["alg"].as_str(), verdict["kid"].as_str()),
            (Some(*alg), Some(*kid))
        );
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let verifier = JwksVerifier::from_url(&url, Rules::new().issuer(issuer), quick(1000))
            .await
            .unwrap();
        for (alg, kid, token) in &tokens {
            let identity = verifier.verify(token, now()).await.unwrap();
            assert_eq!(
                (identity.alg(), identity.kid(), identity.sub()),
                (*alg, Some(*kid), Some("from-jose"))
            );
        }
    });
    assert_eq!(provider.hits(JWKS), 1 + tokens.len());
}

/// The key options of `tollgate verify ARGS t`.
fn key_args(args: &[&str]) -> tollgate_tokio::cli::VerifyingKeyArgs {
    use clap::Parser;
    let argv = [&["tollgate", "verify"], args, &["t"]].concat();
    match tollgate_tokio::cli::Cli::try_parse_from(argv)
        .unwrap()
        .command
    {
        tollgate_tokio::cli::Command::Verify(verify) => verify.key,
        _ => unreachable!(),
    }
}

#[tokio::test]
async fn the_serve_verifier_comes_from_the_key_options() {
    let provider = Provider::start();
    let key = ec_key("ec-1");
    let issuer = provider.base();
    provider.serve(JWKS, &jwks(&[&key]), None);
    provider.serve(
        DISCOVERY,
        &json!({"issuer": issuer, "jwks_uri": provider.url(JWKS)}),
        None,
    );
    let token = key.token(&json!({"iss": issuer, "exp": now() + 60}));
    let config = quick(1000);
    for options in [
        ["--jwks-url", &provider.url(JWKS)],
        ["--oidc-issuer", &issuer],
    ] {
        let verifier =
            tollgate_tokio::cli::token_verifier(&key_args(&options), Rules::new(), config.clone())
                .await
                .unwrap();
        assert_eq!(
            verifier.verify(&token, now()).await.unwrap().kid(),
            Some("ec-1")
        );
    }
    // The discovered issuer is pinned.
    let verifier = tollgate_tokio::cli::token_verifier(
        &key_args(&["--oidc-issuer", &issuer]),
        Rules::new(),
        config.clone(),
    )
    .await
    .unwrap();
    let other = key.token(&json!({"iss": "https://other.example", "exp": now() + 60}));
    assert_eq!(
        jwt_error(verifier.verify(&other, now()).await),
        JwtError::InvalidIssuer
    );
    // Fixed keys: a JWK file.
    let path = std::env::temp_dir().join(format!("tollgate-jwks-{}.json", std::process::id()));
    std::fs::write(&path, key.jwk.to_string()).unwrap();
    let verifier = tollgate_tokio::cli::token_verifier(
        &key_args(&["--jwk", path.to_str().unwrap()]),
        Rules::new(),
        config.clone(),
    )
    .await
    .unwrap();
    std::fs::remove_file(&path).unwrap();
    assert!(verifier.verify(&token, now()).await.is_ok());
    // A provider that is down is a start-up error naming the URL.
    provider.set_down(true);
    let error = tollgate_tokio::cli::token_verifier(
        &key_args(&["--jwks-url", &provider.url(JWKS)]),
        Rules::new(),
        config,
    )
    .await
    .err()
    .unwrap();
    assert!(error.to_string().contains(&provider.url(JWKS)), "{error}");
}
