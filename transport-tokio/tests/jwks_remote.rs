//! Remote JWK Sets against a real HTTP provider on 127.0.0.1 that the tests rotate, slow
//! down and take down: rotation without restart, the unknown-`kid` storm, staleness,
//! `max-age`, keys a remote set may not contribute, OpenID Connect discovery, and an
//! application resolver. The CLI side is in `jwks_cli.rs`.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tollgate::auth::AuthError;
use tollgate::jwt::alg::hs256::Hs256Secret;
use tollgate::jwt::{JwtError, Key};
use tollgate_tokio::TokenVerifier;
use tollgate_tokio::cli::SigningKey;
use tollgate_tokio::jwks::{
    JwksConfig, JwksError, JwksVerifier, KeyRequest, RemoteJwks, ResolverVerifier, Rules, discover,
    resolver_fn,
};

use common::now;
use common::provider::{
    DISCOVERY, JWKS, Provider, b64, claims, ec_key, jwks, jwt_error, quick, rsa_2048, rsa_key,
    sign_with,
};

// ---------------------------------------------------------------------------------------
// Rotation, storms, staleness, max-age.

#[tokio::test]
async fn tokens_signed_with_a_rotated_key_verify_without_restart() {
    let provider = Provider::start();
    let (old, new) = (ec_key("2026-01"), ec_key("2026-02"));
    provider.serve(JWKS, &jwks(&[&old]), Some("max-age=3600"));
    let verifier = JwksVerifier::from_url(&provider.url(JWKS), Rules::new(), quick(200))
        .await
        .unwrap();
    let identity = verifier.verify(&old.token(&claims()), now()).await.unwrap();
    assert_eq!(
        (identity.sub(), identity.kid()),
        (Some("alice"), Some("2026-01"))
    );

    // The provider rotates; the cached set still says max-age=3600.
    provider.serve(JWKS, &jwks(&[&new]), Some("max-age=3600"));
    tokio::time::sleep(Duration::from_millis(250)).await;
    let identity = verifier.verify(&new.token(&claims()), now()).await.unwrap();
    assert_eq!(identity.kid(), Some("2026-02"));
    assert_eq!(provider.hits(JWKS), 2);
    // The retired key is gone from the new set.
    tokio::time::sleep(Duration::from_millis(250)).await;
    let retired = verifier.verify(&old.token(&claims()), now()).await;
    assert_eq!(jwt_error(retired), JwtError::UnknownKey);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_kid_storm_costs_at_most_one_fetch_per_cooldown() {
    let provider = Provider::start();
    let known = ec_key("known");
    provider.serve(JWKS, &jwks(&[&known]), Some("max-age=3600"));
    let cooldown = Duration::from_millis(300);
    let started = Instant::now();
    let verifier = Arc::new(
        JwksVerifier::from_url(&provider.url(JWKS), Rules::new(), quick(300))
            .await
            .unwrap(),
    );
    let stranger = ec_key("stranger");
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..200 {
        let verifier = Arc::clone(&verifier);
        let token = stranger.token(&claims());
        tasks.spawn(async move {
            if i % 20 == 0 {
                tokio::time::sleep(Duration::from_millis(u64::try_from(i).unwrap() * 5)).await;
            }
            verifier.verify(&token, now()).await
        });
    }
    while let Some(result) = tasks.join_next().await {
        assert_eq!(jwt_error(result.unwrap()), JwtError::UnknownKey);
    }
    let elapsed = started.elapsed();
    let allowed = 1 + usize::try_from(elapsed.as_millis() / cooldown.as_millis()).unwrap();
    let hits = provider.hits(JWKS);
    assert!(
        (1..=allowed).contains(&hits),
        "{hits} fetches in {elapsed:?}, at most {allowed} allowed"
    );
    // The known key still works throughout.
    assert!(
        verifier
            .verify(&known.token(&claims()), now())
            .await
            .is_ok()
    );
}

/// Waits up to two seconds for `condition` (background work on a busy machine).
async fn eventually(what: &str, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(2);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn cached_keys_outlive_an_outage_until_the_staleness_limit() {
    let provider = Provider::start();
    let key = ec_key("k");
    provider.serve(JWKS, &jwks(&[&key]), Some("max-age=0"));
    let config = JwksConfig {
        min_ttl: Duration::from_millis(300),
        max_ttl: Duration::from_millis(300),
        max_staleness: Duration::from_millis(1500),
        cooldown: Duration::from_millis(100),
        ..JwksConfig::default()
    };
    let source = RemoteJwks::new(&provider.url(JWKS), config).unwrap();
    source.refresh().await.unwrap();
    let fetched = Instant::now();
    let verifier = JwksVerifier::new(source.clone(), Rules::new());
    let token = key.token(&claims());
    assert!(verifier.verify(&token, now()).await.is_ok());

    provider.set_down(true);
    // Past the freshness (300 ms), within the staleness (300 + 1500 ms): still served,
    // and a background fetch is tried (and fails).
    tokio::time::sleep_until((fetched + Duration::from_millis(500)).into()).await;
    assert!(verifier.verify(&token, now()).await.is_ok());
    eventually("the failed background fetch", || {
        source.last_error() == Some(JwksError::Status(503))
    })
    .await;
    assert!(
        fetched.elapsed() < Duration::from_millis(1700),
        "machine too slow"
    );
    assert!(verifier.verify(&token, now()).await.is_ok());
    // Past 1800 ms: refused, with the stable code.
    tokio::time::sleep_until((fetched + Duration::from_millis(1900)).into()).await;
    let error = verifier.verify(&token, now()).await.unwrap_err();
    assert_eq!(error, AuthError::Jwt(JwtError::KeysUnavailable));
    assert_eq!(error.code(), "keys_unavailable");
    assert_eq!(error.rejection().status(), 503);

    // The provider comes back: the next token past the cooldown fetches again.
    provider.set_down(false);
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(verifier.verify(&token, now()).await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_age_is_honoured_within_the_configured_bounds() {
    let provider = Provider::start();
    let key = ec_key("k");
    let config = JwksConfig {
        min_ttl: Duration::from_secs(1),
        max_ttl: Duration::from_secs(3),
        cooldown: Duration::ZERO,
        ..JwksConfig::default()
    };
    // max-age, a time at which the set must still be fresh, one at which it must not.
    let cases = [
        ("/two-seconds", "max-age=2", 1000, 2300),
        ("/an-hour", "public, max-age=3600", 2000, 3300),
        ("/zero", "no-cache", 300, 1300),
    ];
    let checks = cases.map(|(path, cache, quiet, due)| {
        provider.serve(path, &jwks(&[&key]), Some(cache));
        let source = RemoteJwks::new(&provider.url(path), config.clone()).unwrap();
        let provider = provider.clone();
        async move {
            source.refresh().await.unwrap();
            let start = Instant::now();
            tokio::time::sleep_until((start + Duration::from_millis(quiet)).into()).await;
            source.keys().await.unwrap();
            tokio::time::sleep(Duration::from_millis(100)).await;
            assert_eq!(
                provider.hits(path),
                1,
                "{cache}: refetched before {quiet} ms"
            );
            tokio::time::sleep_until((start + Duration::from_millis(due)).into()).await;
            source.keys().await.unwrap();
            eventually(cache, || provider.hits(path) == 2).await;
        }
    });
    let [a, b, c] = checks;
    tokio::join!(a, b, c);
}

#[tokio::test]
async fn the_background_refresher_fetches_before_expiry_without_traffic() {
    let provider = Provider::start();
    let key = ec_key("k");
    provider.serve(JWKS, &jwks(&[&key]), Some("max-age=4"));
    let config = JwksConfig {
        min_ttl: Duration::from_millis(400),
        cooldown: Duration::from_millis(100),
        ..JwksConfig::default()
    };
    let source = RemoteJwks::connect(&provider.url(JWKS), config)
        .await
        .unwrap();
    let fetched = Instant::now();
    // Three quarters of 4 s: the refresh is due at 3 s, before the set expires at 4 s.
    tokio::time::sleep(Duration::from_millis(2000)).await;
    assert_eq!(provider.hits(JWKS), 1, "refreshed too early");
    eventually("the background refresh", || provider.hits(JWKS) == 2).await;
    assert!(
        fetched.elapsed() < Duration::from_millis(4000),
        "refreshed only after expiry"
    );
    drop(source);
}

#[tokio::test]
async fn a_slow_provider_times_out() {
    let provider = Provider::start();
    provider.serve(JWKS, &jwks(&[&ec_key("k")]), None);
    provider.set_delay(Duration::from_secs(2));
    let config = JwksConfig {
        timeout: Duration::from_millis(300),
        ..JwksConfig::default()
    };
    let started = Instant::now();
    let source = RemoteJwks::new(&provider.url(JWKS), config).unwrap();
    assert_eq!(source.refresh().await.unwrap_err(), JwksError::Timeout);
    assert!(started.elapsed() < Duration::from_millis(1500));
    assert_eq!(source.keys().await.unwrap_err(), JwtError::KeysUnavailable);
}

// ---------------------------------------------------------------------------------------
// What a remote set may not contribute.

#[tokio::test]
async fn encryption_keys_and_small_rsa_keys_are_never_used() {
    let provider = Provider::start();
    let good = ec_key("good");
    let mut enc = ec_key("enc");
    enc.jwk["use"] = "enc".into();
    enc.jwk.as_object_mut().unwrap().remove("alg");
    let mut no_verify = ec_key("wrap");
    no_verify.jwk.as_object_mut().unwrap().remove("use");
    no_verify.jwk["key_ops"] = json!(["wrapKey"]);
    let mut rng = getrandom::rand_core::UnwrapErr(getrandom::SysRng);
    let small = rsa_key("small", &rsa::RsaPrivateKey::new(&mut rng, 1024).unwrap());
    provider.serve(JWKS, &jwks(&[&enc, &small, &no_verify, &good]), None);

    let verifier = JwksVerifier::from_url(&provider.url(JWKS), Rules::new(), quick(60_000))
        .await
        .unwrap();
    let set = verifier.source().keys().await.unwrap();
    assert_eq!((set.len(), set.skipped()), (1, 3));
    for refused in [&enc, &small, &no_verify] {
        let result = verifier.verify(&refused.token(&claims()), now()).await;
        assert_eq!(
            jwt_error(result),
            JwtError::UnknownKey,
            "{}",
            refused.jwk["kid"]
        );
    }
    assert!(verifier.verify(&good.token(&claims()), now()).await.is_ok());
}

#[tokio::test]
async fn a_published_symmetric_key_refuses_the_whole_document() {
    let provider = Provider::start();
    let secret = [0x5A_u8; 32];
    let oct = json!({"kty": "oct", "k": b64(&secret), "kid": "shared", "alg": "HS256"});
    let good = ec_key("good");
    let source = RemoteJwks::new(&provider.url(JWKS), quick(60_000)).unwrap();
    for document in [
        json!({"keys": [oct.clone()]}),
        json!({"keys": [oct, good.jwk.clone()]}),
    ] {
        provider.serve(JWKS, &document, None);
        let error = source.refresh().await.unwrap_err();
        assert!(
            matches!(error, JwksError::SymmetricKey | JwksError::Document(_)),
            "{error:?}"
        );
    }
    let verifier = JwksVerifier::new(source, Rules::new());
    let forged = sign_with(
        &SigningKey::Hs256(secret.to_vec()),
        &json!({"alg": "HS256", "kid": "shared"}),
        &claims(),
    );
    let result = verifier.verify(&forged, now()).await;
    assert_eq!(jwt_error(result), JwtError::KeysUnavailable);
}

// ---------------------------------------------------------------------------------------
// OpenID Connect discovery.

#[tokio::test]
async fn oidc_discovery_finds_the_jwks_and_pins_the_issuer() {
    let provider = Provider::start();
    let key = rsa_2048("rsa-1");
    let issuer = provider.base();
    provider.serve(JWKS, &jwks(&[&key]), None);
    provider.serve(
        DISCOVERY,
        &json!({"issuer": issuer, "jwks_uri": provider.url(JWKS), "id_token_signing_alg_values_supported": ["RS256"]}),
        None,
    );
    let verifier =
        JwksVerifier::from_oidc_issuer(&issuer, Rules::new().audience("chat"), quick(1000))
            .await
            .unwrap();
    assert_eq!(verifier.rules().issuers(), std::slice::from_ref(&issuer));
    let ok = json!({"iss": issuer, "aud": "chat", "sub": "bob", "exp": now() + 60});
    let identity = verifier.verify(&key.token(&ok), now()).await.unwrap();
    assert_eq!((identity.alg(), identity.sub()), ("RS256", Some("bob")));
    let elsewhere = json!({"iss": "https://evil.example", "aud": "chat", "exp": now() + 60});
    let result = verifier.verify(&key.token(&elsewhere), now()).await;
    assert_eq!(jwt_error(result), JwtError::InvalidIssuer);
}

#[tokio::test]
async fn oidc_discovery_refuses_a_configuration_for_another_issuer() {
    let provider = Provider::start();
    provider.serve(JWKS, &jwks(&[&ec_key("k")]), None);
    provider.serve(
        &format!("/tenant{DISCOVERY}"),
        &json!({"issuer": provider.url("/evil"), "jwks_uri": provider.url(JWKS)}),
        None,
    );
    let issuer = provider.url("/tenant");
    let error = discover(&issuer, &JwksConfig::default()).await.unwrap_err();
    assert_eq!(
        error,
        JwksError::IssuerMismatch {
            expected: issuer.clone(),
            found: provider.url("/evil")
        }
    );
    // A trailing slash is part of the issuer: it must match exactly too.
    let error = discover(&format!("{issuer}/"), &JwksConfig::default())
        .await
        .unwrap_err();
    assert!(
        matches!(error, JwksError::IssuerMismatch { .. }),
        "{error:?}"
    );
    assert!(
        JwksVerifier::from_oidc_issuer(&issuer, Rules::new(), JwksConfig::default())
            .await
            .is_err()
    );
    assert_eq!(provider.hits(JWKS), 0);
}

// ---------------------------------------------------------------------------------------
// An application resolver: a secret per tenant.

#[tokio::test]
async fn an_async_resolver_picks_a_secret_per_tenant() {
    let secrets: HashMap<&'static str, [u8; 32]> =
        HashMap::from([("acme", [0xAC; 32]), ("globex", [0x61; 32])]);
    let lookups = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = Arc::clone(&lookups);
    let resolver = resolver_fn(move |request: KeyRequest| {
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let secret = request
            .claim("tenant")
            .and_then(Value::as_str)
            .and_then(|tenant| secrets.get(tenant).copied());
        async move {
            tokio::task::yield_now().await; // a database would be here
            let secret = secret.ok_or(JwtError::UnknownKey)?;
            Ok(Key::Hs256(
                Hs256Secret::new(&secret).map_err(|_| JwtError::UnknownKey)?,
            ))
        }
    });
    let verifier = ResolverVerifier::new(resolver, Rules::new());
    let hs = |secret: &[u8], tenant: &str| {
        sign_with(
            &SigningKey::Hs256(secret.to_vec()),
            &json!({"alg": "HS256"}),
            &json!({"tenant": tenant, "sub": "u1", "exp": now() + 60}),
        )
    };
    let identity = verifier
        .verify(&hs(&[0xAC; 32], "acme"), now())
        .await
        .unwrap();
    assert_eq!(identity.claim("tenant"), Some(&json!("acme")));
    // Signed with acme's secret, claiming globex: globex's secret refuses it.
    let result = verifier.verify(&hs(&[0xAC; 32], "globex"), now()).await;
    assert_eq!(jwt_error(result), JwtError::InvalidSignature);
    let result = verifier.verify(&hs(&[0xAC; 32], "initech"), now()).await;
    assert_eq!(jwt_error(result), JwtError::UnknownKey);
    // The key decides the algorithm: an ES256-labelled token meets an HMAC key.
    let es = ec_key("x");
    let labelled = sign_with(
        &es.signer,
        &json!({"alg": "ES256"}),
        &json!({"tenant": "acme", "exp": now() + 60}),
    );
    assert_eq!(
        jwt_error(verifier.verify(&labelled, now()).await),
        JwtError::AlgorithmMismatch
    );
    // Malformed tokens never reach the resolver.
    assert_eq!(
        jwt_error(verifier.verify("a.b", now()).await),
        JwtError::Malformed
    );
    assert_eq!(lookups.load(std::sync::atomic::Ordering::Relaxed), 4);
}
