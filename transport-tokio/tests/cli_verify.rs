//! `tollgate token` and `tollgate verify` as a user runs them: exit codes, JSON output,
//! every key option and key format, token input from the argument and from stdin.

mod common;

use base64ct::{Base64UrlUnpadded, Encoding};
use common::{
    Run, SECRET_ENV, decode_segment, keys, run, segments, tamper, tg, tollgate, with_secret,
};

/// A fixed clock, so expiry is decided by `--now` alone.
const T0: u64 = 1_700_000_000;

fn t0() -> String {
    T0.to_string()
}

/// Mints a token with `tollgate token` at `T0` (lifetime 600 s unless `extra` says otherwise).
fn mint(key_option: &str, key: &str, alg: &str, extra: &[&str]) -> String {
    let now = t0();
    let mut args = vec!["token", key_option, key, "--alg", alg, "--now", &now];
    if !extra.iter().any(|a| a.starts_with("--exp")) {
        args.extend_from_slice(&["--exp", "600"]);
    }
    args.extend_from_slice(extra);
    tg(&args).token()
}

fn hs_token(extra: &[&str]) -> String {
    mint("--secret-file", &keys().path("hs.secret"), "HS256", extra)
}

fn es_token(extra: &[&str]) -> String {
    mint("--key", &keys().path("ec.pk8.pem"), "ES256", extra)
}

fn rs_token(extra: &[&str]) -> String {
    mint("--key", &keys().path("rsa.pk8.pem"), "RS256", extra)
}

/// `tollgate verify KEY_OPTION KEY --now T0+1 EXTRA... TOKEN`.
fn verify(key_option: &str, key: &str, extra: &[&str], token: &str) -> Run {
    let now = (T0 + 1).to_string();
    let mut args = vec!["verify", key_option, key, "--now", &now];
    args.extend_from_slice(extra);
    args.push(token);
    run(&mut with_secret(&args), b"")
}

fn verify_hs(extra: &[&str], token: &str) -> Run {
    verify("--secret-file", &keys().path("hs.secret"), extra, token)
}

#[test]
fn hs256_token_verifies_with_secret_env_and_secret_file() {
    let token = hs_token(&[
        "--sub", "alice", "--iss", "me", "--aud", "chat", "--kid", "k7",
    ]);
    for run in [
        verify("--secret-env", SECRET_ENV, &["--aud", "chat"], &token),
        verify_hs(&["--aud", "chat", "--iss", "me"], &token),
    ] {
        let json = run.valid();
        assert_eq!(json["alg"], "HS256");
        assert_eq!(json["kid"], "k7");
        assert_eq!(
            json["header"],
            serde_json::json!({"alg": "HS256", "typ": "JWT", "kid": "k7"})
        );
        assert_eq!(
            json["claims"],
            serde_json::json!({"iss": "me", "sub": "alice", "aud": "chat", "iat": T0, "exp": T0 + 600})
        );
        let keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ["valid", "alg", "kid", "header", "claims"]);
    }
}

#[test]
fn kid_is_null_when_absent() {
    assert_eq!(
        verify_hs(&[], &hs_token(&[])).valid()["kid"],
        serde_json::Value::Null
    );
}

#[test]
fn es256_verifies_with_every_public_key_format() {
    let k = keys();
    let token = es_token(&["--kid", "ec-1"]);
    for (option, file) in [
        ("--key", "ec.pub.pem"),
        ("--key", "ec.pub.der"),
        ("--jwk", "ec.jwk.json"),
        ("--jwks", "jwks.json"),
    ] {
        let json = verify(option, &k.path(file), &[], &token).valid();
        assert_eq!(json["alg"], "ES256", "{option} {file}");
    }
}

#[test]
fn rs256_verifies_with_every_public_key_format() {
    let k = keys();
    let token = rs_token(&["--kid", "rsa-1"]);
    for (option, file) in [
        ("--key", "rsa.pub.pem"),
        ("--key", "rsa.pub.pkcs1.pem"),
        ("--key", "rsa.pub.der"),
        ("--jwk", "rsa.jwk.json"),
        ("--jwks", "jwks.json"),
    ] {
        let json = verify(option, &k.path(file), &[], &token).valid();
        assert_eq!(json["alg"], "RS256", "{option} {file}");
    }
}

#[test]
fn hs256_verifies_with_an_oct_jwk() {
    verify(
        "--jwk",
        &keys().path("hs.jwk.json"),
        &[],
        &hs_token(&["--kid", "hs-1"]),
    )
    .valid();
}

#[test]
fn token_signs_with_every_private_key_format() {
    let k = keys();
    for (file, alg, public) in [
        ("ec.pk8.pem", "ES256", "ec.pub.pem"),
        ("ec.sec1.pem", "ES256", "ec.pub.pem"),
        ("rsa.pk8.pem", "RS256", "rsa.pub.pem"),
        ("rsa.pkcs1.pem", "RS256", "rsa.pub.pem"),
    ] {
        let token = mint("--key", &k.path(file), alg, &[]);
        assert_eq!(
            verify("--key", &k.path(public), &[], &token).valid()["alg"],
            alg,
            "{file}"
        );
    }
}

#[test]
fn token_with_secret_env() {
    let now = t0();
    let args = [
        "token",
        "--secret-env",
        SECRET_ENV,
        "--alg",
        "HS256",
        "--now",
        &now,
    ];
    let token = run(&mut with_secret(&args), b"").token();
    verify_hs(&[], &token).valid();
}

#[test]
fn jwks_chooses_the_key_by_kid() {
    let jwks = keys().path("jwks.json");
    // ec2's key is not in the set; ec3's is, under kid ec-3.
    let token = mint(
        "--key",
        &keys().path("ec3.pk8.pem"),
        "ES256",
        &["--kid", "ec-3"],
    );
    verify("--jwks", &jwks, &[], &token).valid();
    // Signed by ec3 but naming ec-1: the ec-1 key is chosen and the signature fails.
    let token = mint(
        "--key",
        &keys().path("ec3.pk8.pem"),
        "ES256",
        &["--kid", "ec-1"],
    );
    verify("--jwks", &jwks, &[], &token).invalid("invalid_signature");
    let token = mint(
        "--key",
        &keys().path("ec.pk8.pem"),
        "ES256",
        &["--kid", "nope"],
    );
    verify("--jwks", &jwks, &[], &token).invalid("unknown_key");
}

#[test]
fn tampered_token_is_invalid_signature() {
    let k = keys();
    verify_hs(&[], &tamper(&hs_token(&[]))).invalid("invalid_signature");
    verify("--key", &k.path("ec.pub.pem"), &[], &tamper(&es_token(&[])))
        .invalid("invalid_signature");
    verify(
        "--key",
        &k.path("rsa.pub.pem"),
        &[],
        &tamper(&rs_token(&[])),
    )
    .invalid("invalid_signature");
}

#[test]
fn wrong_key_is_invalid_signature() {
    let k = keys();
    verify("--secret-file", &k.path("hs2.secret"), &[], &hs_token(&[]))
        .invalid("invalid_signature");
    verify("--key", &k.path("ec2.pub.pem"), &[], &es_token(&[])).invalid("invalid_signature");
    verify("--key", &k.path("rsa2.pub.pem"), &[], &rs_token(&[])).invalid("invalid_signature");
}

#[test]
fn key_decides_the_algorithm() {
    let k = keys();
    verify("--key", &k.path("rsa.pub.pem"), &[], &es_token(&[])).invalid("algorithm_mismatch");
    verify_hs(&[], &rs_token(&[])).invalid("algorithm_mismatch");
    // The classic confusion: an HS256 token "signed" with the RSA public key's PEM bytes.
    let forged = mint("--secret-file", &k.path("rsa.pub.pem"), "HS256", &[]);
    verify("--key", &k.path("rsa.pub.pem"), &[], &forged).invalid("algorithm_mismatch");
}

#[test]
fn alg_none_is_unsupported() {
    let [_, payload, _] = segments(&hs_token(&[]));
    let header = Base64UrlUnpadded::encode_string(br#"{"alg":"none","typ":"JWT"}"#);
    let token = format!("{header}.{payload}.");
    verify_hs(&[], &token).invalid("unsupported_algorithm");
}

#[test]
fn now_drives_expiry_with_the_default_leeway_of_60s() {
    let token = hs_token(&[]);
    let secret = keys().path("hs.secret");
    let at = |now: u64, extra: &[&str]| {
        let now = now.to_string();
        let mut args = vec!["verify", "--secret-file", &secret, "--now", &now];
        args.extend_from_slice(extra);
        args.push(&token);
        tg(&args)
    };
    at(T0 + 600 + 59, &[]).valid();
    at(T0 + 600 + 60, &[]).invalid("expired");
    at(T0 + 599, &["--leeway", "0"]).valid();
    at(T0 + 600, &["--leeway", "0"]).invalid("expired");
    at(T0 + 700, &["--leeway", "200"]).valid();
}

#[test]
fn negative_exp_makes_an_expired_token() {
    let token = tg(&[
        "token",
        "--secret-file",
        &keys().path("hs.secret"),
        "--alg",
        "HS256",
        "--exp=-120",
    ])
    .token();
    let json = decode_segment(&segments(&token)[1]);
    assert_eq!(
        json["exp"].as_u64().unwrap() + 120,
        json["iat"].as_u64().unwrap()
    );
    // Without --now, the system clock: expired beyond the 60 s leeway.
    tg(&["verify", "--secret-file", &keys().path("hs.secret"), &token]).invalid("expired");
}

#[test]
fn default_clock_accepts_a_fresh_token() {
    let token = tg(&[
        "token",
        "--secret-file",
        &keys().path("hs.secret"),
        "--alg",
        "HS256",
    ])
    .token();
    let json = decode_segment(&segments(&token)[1]);
    let iat = json["iat"].as_u64().unwrap();
    assert!(iat.abs_diff(common::now()) < 60);
    assert_eq!(json["exp"].as_u64().unwrap(), iat + 3600);
    tg(&["verify", "--secret-file", &keys().path("hs.secret"), &token]).valid();
}

#[test]
fn nbf_in_the_future_is_not_yet_valid() {
    let nbf = format!("nbf={}", T0 + 300);
    verify_hs(&[], &hs_token(&["--claim", &nbf])).invalid("not_yet_valid");
}

#[test]
fn issuer_audience_type_and_required_claims() {
    let token = hs_token(&[
        "--iss",
        "me",
        "--aud",
        "chat",
        "--sub",
        "s",
        "--claim",
        "role=admin",
    ]);
    verify_hs(&["--aud", "chat", "--iss", "me", "--iss", "other"], &token).valid();
    verify_hs(&["--aud", "chat", "--iss", "other"], &token).invalid("invalid_issuer");
    verify_hs(&["--aud", "mail"], &token).invalid("invalid_audience");
    verify_hs(&["--aud", "mail", "--aud", "chat"], &token).valid();
    // A token with `aud` is refused when no audience is configured (RFC 7519 §4.1.3).
    verify_hs(&[], &token).invalid("invalid_audience");
    verify_hs(&["--aud", "chat", "--typ", "JWT"], &token).valid();
    verify_hs(&["--aud", "chat", "--typ", "at+jwt"], &token).invalid("invalid_type");
    verify_hs(
        &["--aud", "chat", "--require", "sub", "--require", "role"],
        &token,
    )
    .valid();
    verify_hs(&["--aud", "chat", "--require", "jti"], &token).invalid("missing_claim");
    verify_hs(&["--aud", "chat", "--require", "tenant"], &token).invalid("missing_claim");
}

#[test]
fn string_exp_is_an_invalid_claim() {
    verify_hs(&[], &hs_token(&["--claim", "exp=\"soon\""])).invalid("invalid_claim");
}

#[test]
fn token_from_stdin_drops_exactly_one_final_newline() {
    let token = hs_token(&[]);
    let secret = keys().path("hs.secret");
    let now = (T0 + 1).to_string();
    let args = ["verify", "--secret-file", &secret, "--now", &now, "-"];
    for input in [format!("{token}\n"), format!("{token}\r\n"), token.clone()] {
        run(&mut tollgate(&args), input.as_bytes()).valid();
    }
    for input in [
        format!("{token}\n\n"),
        format!("{token} \n"),
        format!("\n{token}"),
        format!("{token}\r"),
    ] {
        run(&mut tollgate(&args), input.as_bytes()).invalid("malformed");
    }
    run(&mut tollgate(&args), b"").invalid("malformed");
}

#[test]
fn token_argument_is_taken_byte_for_byte() {
    let token = hs_token(&[]);
    for arg in [
        format!("{token}\n"),
        format!(" {token}"),
        format!("{token} "),
        String::new(),
    ] {
        verify_hs(&[], &arg).invalid("malformed");
    }
}

#[test]
fn jws_checks_only_the_signature_and_prints_the_payload() {
    let token = hs_token(&["--exp=-1000", "--kid", "k"]);
    let [_, payload, _] = segments(&token);
    let run = tg(&[
        "verify",
        "--secret-file",
        &keys().path("hs.secret"),
        "--jws",
        &token,
    ]);
    let json = run.valid();
    assert_eq!(json["alg"], "HS256");
    assert_eq!(json["kid"], "k");
    assert_eq!(json["payload"], payload.as_str());
    assert_eq!(json["header"]["typ"], "JWT");
    assert!(json.get("claims").is_none());
    tg(&[
        "verify",
        "--secret-file",
        &keys().path("hs.secret"),
        "--jws",
        &tamper(&token),
    ])
    .invalid("invalid_signature");
}

#[test]
fn jws_accepts_a_non_json_payload() {
    let header = Base64UrlUnpadded::encode_string(br#"{"alg":"HS256"}"#);
    let payload = Base64UrlUnpadded::encode_string(b"hello, not JSON");
    let input = format!("{header}.{payload}");
    let tag = {
        use hmac::{KeyInit, Mac};
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&keys().secret()).unwrap();
        mac.update(input.as_bytes());
        mac.finalize().into_bytes()
    };
    let token = format!("{input}.{}", Base64UrlUnpadded::encode_string(&tag));
    let json = tg(&[
        "verify",
        "--secret-file",
        &keys().path("hs.secret"),
        "--jws",
        &token,
    ])
    .valid();
    assert_eq!(json["payload"], payload.as_str());
    verify_hs(&[], &token).invalid("malformed");
}

#[test]
fn jws_conflicts_with_claim_options() {
    tg(&[
        "verify",
        "--secret-file",
        &keys().path("hs.secret"),
        "--jws",
        "--aud",
        "x",
        "t",
    ])
    .usage_error();
}

#[test]
fn bad_key_files_are_usage_errors() {
    let k = keys();
    let token = es_token(&[]);
    let garbage = k.dir.join("garbage.pem");
    std::fs::write(
        &garbage,
        "-----BEGIN PUBLIC KEY-----\nnot base64!\n-----END PUBLIC KEY-----\n",
    )
    .unwrap();
    let garbage = garbage.to_str().unwrap();
    for (option, file) in [
        ("--key", garbage),
        ("--key", k.path("ec.pk8.pem").as_str()),
        ("--key", k.path("missing.pem").as_str()),
        ("--jwk", garbage),
        ("--jwk", k.path("jwks.json").as_str()),
        ("--jwks", k.path("ec.jwk.json").as_str()),
        ("--secret-file", k.path("missing.secret").as_str()),
        ("--secret-file", k.path("rsa.pub.pem").as_str()),
    ] {
        let run = tg(&["verify", option, file, &token]);
        run.usage_error();
        assert!(run.stderr.contains("error"), "{option} {file}: {run:?}");
    }
}

#[test]
fn secret_env_unset_or_empty_is_a_usage_error() {
    tg(&[
        "verify",
        "--secret-env",
        "TOLLGATE_TEST_UNSET_VARIABLE",
        "x.y.z",
    ])
    .usage_error();
    let mut command = tollgate(&["verify", "--secret-env", "TOLLGATE_EMPTY", "x.y.z"]);
    run(command.env("TOLLGATE_EMPTY", ""), b"").usage_error();
}

#[test]
fn key_options_are_required_and_exclusive() {
    let k = keys();
    tg(&["verify", "x.y.z"]).usage_error();
    tg(&[
        "verify",
        "--key",
        &k.path("ec.pub.pem"),
        "--jwk",
        &k.path("ec.jwk.json"),
        "x.y.z",
    ])
    .usage_error();
    tg(&["verify", "--key", &k.path("ec.pub.pem")]).usage_error();
    tg(&["token", "--alg", "HS256"]).usage_error();
    tg(&["frobnicate"]).usage_error();
    tg(&[]).usage_error();
}

#[test]
fn token_key_must_match_alg() {
    let k = keys();
    tg(&["token", "--key", &k.path("ec.pk8.pem"), "--alg", "RS256"]).usage_error();
    tg(&["token", "--key", &k.path("rsa.pk8.pem"), "--alg", "ES256"]).usage_error();
    tg(&[
        "token",
        "--secret-file",
        &k.path("hs.secret"),
        "--alg",
        "ES256",
    ])
    .usage_error();
    tg(&["token", "--key", &k.path("ec.pub.pem"), "--alg", "ES256"]).usage_error();
    tg(&[
        "token",
        "--secret-file",
        &k.path("hs.secret"),
        "--alg",
        "none",
    ])
    .usage_error();
    tg(&[
        "token",
        "--secret-file",
        &k.path("hs.secret"),
        "--alg",
        "HS256",
        "--claim",
        "oops",
    ])
    .usage_error();
}

#[test]
fn token_claims_and_header() {
    let token = hs_token(&[
        "--claim",
        "n=42",
        "--claim",
        "tags=[\"a\",1]",
        "--claim",
        "s=plain",
        "--aud",
        "a",
        "--aud",
        "b",
    ]);
    let [header, payload, _] = segments(&token);
    assert_eq!(
        decode_segment(&header),
        serde_json::json!({"alg": "HS256", "typ": "JWT"})
    );
    let claims = decode_segment(&payload);
    assert_eq!(claims["n"], 42);
    assert_eq!(claims["tags"], serde_json::json!(["a", 1]));
    assert_eq!(claims["s"], "plain");
    assert_eq!(claims["aud"], serde_json::json!(["a", "b"]));
    assert_eq!(claims["iat"], T0);
}

#[test]
fn help_describes_both_commands() {
    let run = tg(&["--help"]);
    assert_eq!(run.code, 0);
    assert!(
        run.stdout.contains("token") && run.stdout.contains("verify"),
        "{run:?}"
    );
    for command in ["token", "verify"] {
        let run = tg(&[command, "--help"]);
        assert_eq!(run.code, 0, "{run:?}");
        assert!(
            run.stdout.contains("--secret-env") && run.stdout.contains("--key"),
            "{run:?}"
        );
    }
    let verify_help = tg(&["verify", "--help"]).stdout;
    for needle in ["--jwks", "--jws", "--now", "--leeway", "invalid_signature"] {
        assert!(
            verify_help.contains(needle),
            "{needle} missing from verify --help"
        );
    }
}
