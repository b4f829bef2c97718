//! The key options from `TOLLGATE_*` environment variables (shared by `tollgate verify` and
//! `tollgate serve`): each variable alone selects its key, and a key from the environment
//! together with another one on the command line is refused, never silently picked.

mod common;

use std::process::Command;

use serde_json::json;

use common::provider::{DISCOVERY, JWKS, Provider, claims, ec_key, jwks};
use common::{Run, SECRET_ENV, keys, run, tg, tollgate, with_secret};

/// `tollgate verify TOKEN` with only `vars` choosing the key.
fn verify_env(vars: &[(&str, &str)], token: &str) -> Run {
    let mut command = with_secret(&["verify", token]);
    command.envs(vars.iter().copied());
    run(&mut command, b"")
}

/// A token for `alice` naming `kid` (the keys in `jwks.json` are `ec-1` and `rsa-1`).
fn mint(key_option: &str, key: &str, alg: &str, kid: &str) -> String {
    tg(&[
        "token", key_option, key, "--alg", alg, "--sub", "alice", "--kid", kid,
    ])
    .token()
}

#[test]
fn each_key_variable_selects_its_key() {
    let keys = keys();
    let hs = mint("--secret-file", &keys.path("hs.secret"), "HS256", "hs-1");
    let es = mint("--key", &keys.path("ec.pk8.pem"), "ES256", "ec-1");
    let rs = mint("--key", &keys.path("rsa.pk8.pem"), "RS256", "rsa-1");
    let cases = [
        ("TOLLGATE_SECRET_ENV", SECRET_ENV.to_owned(), &hs),
        ("TOLLGATE_SECRET_FILE", keys.path("hs.secret"), &hs),
        ("TOLLGATE_KEY", keys.path("ec.pub.pem"), &es),
        ("TOLLGATE_KEY", keys.path("rsa.pub.der"), &rs),
        ("TOLLGATE_JWK", keys.path("rsa.jwk.json"), &rs),
        ("TOLLGATE_JWKS", keys.path("jwks.json"), &es),
    ];
    for (var, value, token) in cases {
        let verdict = verify_env(&[(var, &value)], token).valid();
        assert_eq!(verdict["claims"]["sub"], "alice", "{var}");
        // The variable is what decides: another key refuses the same token.
        let other = mint("--secret-file", &keys.path("hs2.secret"), "HS256", "hs-1");
        let refused = verify_env(&[(var, &value)], &other);
        assert_eq!(refused.code, 1, "{var}: {refused:?}");
    }
}

#[test]
fn jwks_url_and_oidc_issuer_variables_fetch_the_keys() {
    let provider = Provider::start();
    let key = ec_key("ec-1");
    let issuer = provider.base();
    provider.serve(JWKS, &jwks(&[&key]), None);
    provider.serve(
        DISCOVERY,
        &json!({"issuer": issuer, "jwks_uri": provider.url(JWKS)}),
        None,
    );
    let url = provider.url(JWKS);
    verify_env(&[("TOLLGATE_JWKS_URL", &url)], &key.token(&claims())).valid();
    let from_issuer = json!({"sub": "alice", "iss": issuer, "exp": common::now() + 60});
    verify_env(
        &[("TOLLGATE_OIDC_ISSUER", &issuer)],
        &key.token(&from_issuer),
    )
    .valid();
    let elsewhere =
        json!({"sub": "alice", "iss": "https://elsewhere.example", "exp": common::now() + 60});
    verify_env(&[("TOLLGATE_OIDC_ISSUER", &issuer)], &key.token(&elsewhere))
        .invalid("invalid_issuer");
}

#[test]
fn a_key_variable_and_another_key_option_are_refused_together() {
    let keys = keys();
    let token = mint("--secret-file", &keys.path("hs.secret"), "HS256", "hs-1");
    let mut command = tollgate(&["verify", "--secret-file", &keys.path("hs.secret"), &token]);
    command.env("TOLLGATE_JWKS", keys.path("jwks.json"));
    let both = run(&mut command, b"");
    both.usage_error();
    assert!(both.stderr.contains("cannot be used with"), "{both:?}");
    // Two variables likewise.
    verify_env(
        &[
            ("TOLLGATE_SECRET_FILE", &keys.path("hs.secret")),
            ("TOLLGATE_KEY", &keys.path("ec.pub.pem")),
        ],
        &token,
    )
    .usage_error();
}

#[test]
fn no_key_anywhere_is_still_a_usage_error() {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tollgate"));
    command.args(["verify", "x.y.z"]);
    run(&mut command, b"").usage_error();
}

#[test]
fn a_short_secret_verifies_with_a_warning_and_a_long_one_without() {
    let short = "short-secret-17by";
    let long = "a-secret-of-exactly-32-bytes-abc";
    for (secret, warned) in [(short, true), (long, false)] {
        let mut mint = tollgate(&[
            "token",
            "--secret-env",
            "TOLLGATE_TEST_KEY",
            "--alg",
            "HS256",
            "--sub",
            "alice",
        ]);
        mint.env("TOLLGATE_TEST_KEY", secret);
        let minted = run(&mut mint, b"");
        let mut verify = tollgate(&[
            "verify",
            "--secret-env",
            "TOLLGATE_TEST_KEY",
            &minted.token(),
        ]);
        verify.env("TOLLGATE_TEST_KEY", secret);
        let verdict = run(&mut verify, b"");
        verdict.valid();
        assert_eq!(
            verdict
                .stderr
                .contains("warning: the HS256 secret is 17 bytes"),
            warned,
            "{secret}: {verdict:?}"
        );
        assert_eq!(minted.stderr.contains("warning:"), warned, "{minted:?}");
    }
}
