//! Hostile and malformed tokens through the public API, with HS256.
#![cfg(feature = "hs256")]

use tollgate::base64url;
use tollgate::jwt::alg::hs256::Hs256Secret;
use tollgate::jwt::{self, JwkSet, JwtError, Key, KeyError, Validation};

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
const NOW: u64 = 1_700_000_000;
const CLAIMS: &str = r#"{"sub":"alice","exp":1700000600}"#;

fn secret() -> Hs256Secret {
    Hs256Secret::new(SECRET).unwrap()
}

fn key() -> Key {
    Key::Hs256(secret())
}

fn b64(bytes: &[u8]) -> String {
    let mut out = vec![0u8; base64url::encoded_len(bytes.len()).unwrap()];
    base64url::encode(bytes, &mut out).unwrap().to_owned()
}

/// Signs raw header and payload bytes (exactly as given) with [`SECRET`].
fn sign_raw(header: &[u8], payload: &[u8]) -> String {
    let input = format!("{}.{}", b64(header), b64(payload));
    format!("{input}.{}", b64(&secret().sign(input.as_bytes())))
}

fn sign(header: &str, payload: &str) -> String {
    sign_raw(header.as_bytes(), payload.as_bytes())
}

fn good() -> String {
    sign(r#"{"alg":"HS256","typ":"JWT"}"#, CLAIMS)
}

fn check_with(token: &str, rules: &Validation<'_>) -> Result<(), JwtError> {
    let mut scratch = vec![0u8; token.len()];
    jwt::verify(token.as_bytes(), &key(), rules, NOW, &mut scratch).map(|_| ())
}

fn check(token: &str) -> Result<(), JwtError> {
    check_with(token, &Validation::new())
}

#[test]
fn well_formed_token_verifies() {
    assert_eq!(check(&good()), Ok(()));
}

#[test]
fn alg_none_in_any_spelling_rejected() {
    for alg in ["none", "None", "NONE", "nOnE"] {
        let header = format!(r#"{{"alg":"{alg}"}}"#);
        let unsigned = format!("{}.{}.", b64(header.as_bytes()), b64(CLAIMS.as_bytes()));
        assert_eq!(
            check(&unsigned),
            Err(JwtError::UnsupportedAlgorithm),
            "{alg}"
        );
        assert_eq!(
            check(&sign(&header, CLAIMS)),
            Err(JwtError::UnsupportedAlgorithm),
            "{alg}"
        );
    }
}

#[test]
fn header_alg_must_match_the_key() {
    for alg in ["RS256", "ES256"] {
        let token = sign(&format!(r#"{{"alg":"{alg}"}}"#), CLAIMS);
        assert_eq!(check(&token), Err(JwtError::AlgorithmMismatch), "{alg}");
    }
}

#[test]
fn public_key_refused_as_hmac_secret() {
    let pem = b"-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----\n";
    assert_eq!(
        Hs256Secret::new(pem).unwrap_err(),
        KeyError::SecretLooksLikePublicKey
    );
    let jwk = br#"{"kty":"RSA","n":"AQAB","e":"AQAB"}"#;
    assert_eq!(
        Hs256Secret::new(jwk).unwrap_err(),
        KeyError::SecretLooksLikePublicKey
    );
}

#[test]
fn segment_count_must_be_three() {
    let token = good();
    let parts: Vec<&str> = token.split('.').collect();
    for bad in [
        String::new(),
        parts[0].to_owned(),
        format!("{}.{}", parts[0], parts[1]),
        format!("{token}.{}", parts[2]),
        format!("{token}."),
        format!(".{token}"),
    ] {
        assert_eq!(check(&bad), Err(JwtError::Malformed), "{bad}");
    }
}

#[test]
fn padding_rejected_in_every_segment() {
    // Payload and signature lengths chosen so that standard base64 would pad them.
    let token = sign(r#"{"alg":"HS256"}"#, r#"{"exp":1700000600}"#);
    let parts: Vec<&str> = token.split('.').collect();
    for i in 0..3 {
        let mut padded: Vec<String> = parts.iter().map(|p| (*p).to_owned()).collect();
        padded[i].push('=');
        assert_eq!(
            check(&padded.join(".")),
            Err(JwtError::Malformed),
            "segment {i}"
        );
    }
}

#[test]
fn non_canonical_base64_rejected_in_every_segment() {
    // Each segment has a length ≡ 2 or 3 (mod 4), so its last character has spare bits.
    let token = sign(r#"{"alg": "HS256"}"#, r#"{"exp": 1700000600}"#);
    let parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    for i in 0..3 {
        assert_ne!(parts[i].len() % 4, 0, "segment {i} has no spare bits");
        let mut altered = parts.clone();
        let last = altered[i].pop().unwrap();
        let value = base64url_value(last);
        let spare = if altered[i].len() % 4 == 1 {
            0x0F
        } else {
            0x03
        };
        altered[i].push(base64url_char(value | spare));
        assert_eq!(
            check(&altered.join(".")),
            Err(JwtError::Malformed),
            "segment {i}"
        );
    }
}

fn base64url_value(c: char) -> u8 {
    const ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    ALPHABET.find(c).unwrap() as u8
}

fn base64url_char(v: u8) -> char {
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".as_bytes()[v as usize]
        as char
}

#[test]
fn standard_alphabet_and_whitespace_rejected() {
    let token = good();
    for bad in [
        format!(" {token}"),
        format!("{token} "),
        format!("{token}\n"),
        token.replacen('.', ". ", 1),
        token.replacen('.', "\n.", 1),
        format!("{}+", &token[..token.len() - 1]),
        format!("{}/", &token[..token.len() - 1]),
    ] {
        assert_eq!(check(&bad), Err(JwtError::Malformed), "{bad:?}");
    }
}

#[test]
fn trailing_data_after_json_rejected() {
    let bad_header = sign(r#"{"alg":"HS256"} x"#, CLAIMS);
    assert_eq!(check(&bad_header), Err(JwtError::Malformed));
    let bad_payload = sign(r#"{"alg":"HS256"}"#, &format!("{CLAIMS}{{}}"));
    assert_eq!(check(&bad_payload), Err(JwtError::Malformed));
    // Trailing JSON whitespace is fine (RFC 8259).
    assert_eq!(check(&sign("{\"alg\":\"HS256\"}\r\n", CLAIMS)), Ok(()));
}

#[test]
fn duplicate_members_rejected() {
    let dup_alg = sign(r#"{"alg":"HS256","alg":"HS256"}"#, CLAIMS);
    assert_eq!(check(&dup_alg), Err(JwtError::Malformed));
    let dup_exp = sign(r#"{"alg":"HS256"}"#, r#"{"exp":1700000600,"exp":1}"#);
    assert_eq!(check(&dup_exp), Err(JwtError::Malformed));
    let escaped = sign(r#"{"alg":"HS256"}"#, r#"{"exp":1700000600,"\u0065xp":1}"#);
    assert_eq!(check(&escaped), Err(JwtError::Malformed));
    let nested = sign(
        r#"{"alg":"HS256"}"#,
        r#"{"exp":1700000600,"o":{"a":1,"a":2}}"#,
    );
    assert_eq!(check(&nested), Err(JwtError::Malformed));
}

#[test]
fn byte_order_mark_rejected() {
    let header = sign("\u{feff}{\"alg\":\"HS256\"}", CLAIMS);
    assert_eq!(check(&header), Err(JwtError::Malformed));
    let payload = sign(r#"{"alg":"HS256"}"#, &format!("\u{feff}{CLAIMS}"));
    assert_eq!(check(&payload), Err(JwtError::Malformed));
}

#[test]
fn invalid_utf8_rejected() {
    let header = sign_raw(b"{\"alg\":\"HS256\",\"kid\":\"\xff\"}", CLAIMS.as_bytes());
    assert_eq!(check(&header), Err(JwtError::Malformed));
    let payload = sign_raw(
        br#"{"alg":"HS256"}"#,
        b"{\"exp\":1700000600,\"n\":\"\xc0\xaf\"}",
    );
    assert_eq!(check(&payload), Err(JwtError::Malformed));
    let surrogate = sign(r#"{"alg":"HS256"}"#, r#"{"exp":1700000600,"n":"\udead"}"#);
    assert_eq!(check(&surrogate), Err(JwtError::Malformed));
}

#[test]
fn header_and_payload_must_be_objects() {
    for header in ["[]", "\"HS256\"", "null", ""] {
        assert_eq!(
            check(&sign(header, CLAIMS)),
            Err(JwtError::Malformed),
            "{header}"
        );
    }
    for payload in ["[]", "1700000600", "", "foo"] {
        assert_eq!(
            check(&sign(r#"{"alg":"HS256"}"#, payload)),
            Err(JwtError::Malformed),
            "{payload}"
        );
    }
}

#[test]
fn oversized_token_refused_before_any_work() {
    let rules = Validation::new().max_token_len(100);
    assert_eq!(
        check_with(&"!".repeat(101), &rules),
        Err(JwtError::TokenTooLarge)
    );
    let huge = "!".repeat(jwt::validate::DEFAULT_MAX_TOKEN_LEN + 1);
    assert_eq!(check(&huge), Err(JwtError::TokenTooLarge));
    let big_claims = format!(r#"{{"exp":1700000600,"pad":"{}"}}"#, "x".repeat(7000));
    let token = sign(r#"{"alg":"HS256"}"#, &big_claims);
    assert!(token.len() > jwt::validate::DEFAULT_MAX_TOKEN_LEN);
    assert_eq!(check(&token), Err(JwtError::TokenTooLarge));
    let roomy = Validation::new().max_token_len(16 * 1024);
    assert_eq!(check_with(&token, &roomy), Ok(()));
}

#[test]
fn crit_variants_rejected() {
    for (header, expected) in [
        (
            r#"{"alg":"HS256","crit":["exp"]}"#,
            JwtError::UnsupportedCriticalHeader,
        ),
        (
            r#"{"alg":"HS256","crit":["b64"],"b64":false}"#,
            JwtError::UnsupportedCriticalHeader,
        ),
        (
            r#"{"alg":"HS256","crit":[]}"#,
            JwtError::UnsupportedCriticalHeader,
        ),
        (r#"{"alg":"HS256","crit":"exp"}"#, JwtError::Malformed),
        (r#"{"alg":"HS256","crit":{}}"#, JwtError::Malformed),
    ] {
        assert_eq!(check(&sign(header, CLAIMS)), Err(expected), "{header}");
    }
}

#[test]
fn typ_variants() {
    for typ in [
        "JWT",
        "jwt",
        "application/jwt",
        "APPLICATION/JWT",
        "at+jwt",
        "application/at+JWT",
    ] {
        let token = sign(&format!(r#"{{"alg":"HS256","typ":"{typ}"}}"#), CLAIMS);
        assert_eq!(check(&token), Ok(()), "{typ}");
    }
    for typ in [
        "JWS",
        "JOSE",
        "text/jwt",
        "application/json",
        "",
        "dpop+jwt",
    ] {
        let token = sign(&format!(r#"{{"alg":"HS256","typ":"{typ}"}}"#), CLAIMS);
        assert_eq!(check(&token), Err(JwtError::InvalidType), "{typ}");
    }
    let untyped = sign(r#"{"alg":"HS256"}"#, CLAIMS);
    assert_eq!(check(&untyped), Ok(()));
    assert_eq!(
        check_with(&untyped, &Validation::new().require_type(true)),
        Err(JwtError::InvalidType)
    );
    let dpop = sign(r#"{"alg":"HS256","typ":"dpop+jwt"}"#, CLAIMS);
    assert_eq!(
        check_with(&dpop, &Validation::new().accepted_types(&["dpop+jwt"])),
        Ok(())
    );
}

#[test]
fn signature_tampering_rejected() {
    let token = good();
    let (input, sig) = token.rsplit_once('.').unwrap();
    let mut flipped = sig.as_bytes().to_vec();
    flipped[0] = if flipped[0] == b'A' { b'B' } else { b'A' };
    let flipped = format!("{input}.{}", String::from_utf8(flipped).unwrap());
    assert_eq!(check(&flipped), Err(JwtError::InvalidSignature));
    assert_eq!(check(&format!("{input}.")), Err(JwtError::InvalidSignature));
    assert_eq!(
        check(&format!("{input}.{}", &sig[..40])),
        Err(JwtError::InvalidSignature)
    );
    let long = format!("{input}.{}", "A".repeat(700));
    assert_eq!(check(&long), Err(JwtError::InvalidSignature));
    let other_payload = sign(
        r#"{"alg":"HS256"}"#,
        r#"{"sub":"mallory","exp":1700000600}"#,
    );
    let (_, other_sig) = other_payload.rsplit_once('.').unwrap();
    assert_eq!(
        check(&format!("{input}.{other_sig}")),
        Err(JwtError::InvalidSignature)
    );
}

#[test]
fn embedded_keys_in_the_header_are_ignored() {
    // An attacker-supplied jwk/jku must never be used: the configured key decides.
    let attacker = Hs256Secret::new(b"attacker-secret-attacker-secret!").unwrap();
    let header = r#"{"alg":"HS256","jwk":{"kty":"oct","k":"YXR0YWNrZXItc2VjcmV0LWF0dGFja2VyLXNlY3JldCE"},"jku":"https://evil"}"#;
    let input = format!("{}.{}", b64(header.as_bytes()), b64(CLAIMS.as_bytes()));
    let token = format!("{input}.{}", b64(&attacker.sign(input.as_bytes())));
    assert_eq!(check(&token), Err(JwtError::InvalidSignature));
}

#[test]
fn scratch_too_small_reported() {
    let token = good();
    let mut scratch = [0u8; 8];
    let result = jwt::verify(
        token.as_bytes(),
        &key(),
        &Validation::new(),
        NOW,
        &mut scratch,
    );
    assert_eq!(result.unwrap_err(), JwtError::BufferTooSmall);
}

#[test]
fn key_set_selects_by_kid() {
    let set = JwkSet::<4>::from_json(
        br#"{"keys":[
            {"kty":"oct","kid":"old","k":"b2xkLXNlY3JldC1vbGQtc2VjcmV0LW9sZC1zZWNyZXQh"},
            {"kty":"oct","kid":"new","k":"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY"}
        ]}"#,
    )
    .unwrap();
    let verify = |token: &str| {
        let mut scratch = vec![0u8; token.len()];
        jwt::verify(
            token.as_bytes(),
            &set,
            &Validation::new(),
            NOW,
            &mut scratch,
        )
        .map(|_| ())
    };
    assert_eq!(
        verify(&sign(r#"{"alg":"HS256","kid":"new"}"#, CLAIMS)),
        Ok(())
    );
    assert_eq!(
        verify(&sign(r#"{"alg":"HS256","kid":"old"}"#, CLAIMS)),
        Err(JwtError::InvalidSignature)
    );
    assert_eq!(
        verify(&sign(r#"{"alg":"HS256","kid":"nope"}"#, CLAIMS)),
        Err(JwtError::UnknownKey)
    );
    assert_eq!(
        verify(&sign(r#"{"alg":"HS256"}"#, CLAIMS)),
        Err(JwtError::UnknownKey)
    );
}

fn claims_error(payload: &str, rules: &Validation<'_>) -> Result<(), JwtError> {
    check_with(&sign(r#"{"alg":"HS256"}"#, payload), rules)
}

#[test]
fn every_claim_failure_code() {
    let default = Validation::new();
    let cases: [(&str, Validation<'_>, JwtError); 10] = [
        (r#"{"exp":1699999000}"#, default, JwtError::Expired),
        (
            r#"{"exp":1700000600,"nbf":1700001000}"#,
            default,
            JwtError::NotYetValid,
        ),
        (
            r#"{"exp":1700000600,"iat":1700001000}"#,
            default,
            JwtError::IssuedInFuture,
        ),
        (
            r#"{"exp":1700000600,"iat":1690000000}"#,
            default.max_age(3600),
            JwtError::TooOld,
        ),
        (
            r#"{"exp":1700000600,"iss":"eve"}"#,
            default.issuers(&["joe"]),
            JwtError::InvalidIssuer,
        ),
        (
            r#"{"exp":1700000600,"aud":"web"}"#,
            default.audiences(&["api"]),
            JwtError::InvalidAudience,
        ),
        (r#"{"sub":"x"}"#, default, JwtError::MissingClaim),
        (r#"{"exp":"1700000600"}"#, default, JwtError::InvalidClaim),
        (
            r#"{"exp":1700000600,"aud":["api",7]}"#,
            default.audiences(&["api"]),
            JwtError::InvalidClaim,
        ),
        (
            r#"{"exp":1700000600}"#,
            default.audiences(&["api"]),
            JwtError::MissingClaim,
        ),
    ];
    for (payload, rules, expected) in cases {
        assert_eq!(claims_error(payload, &rules), Err(expected), "{payload}");
    }
}

#[test]
fn jws_layer_returns_non_json_payload() {
    let token = sign(r#"{"alg":"HS256"}"#, "not json at all");
    let mut scratch = vec![0u8; token.len()];
    let jws = jwt::verify_jws(token.as_bytes(), &key(), &Validation::new(), &mut scratch).unwrap();
    assert_eq!(jws.payload(), b"not json at all");
    assert_eq!(check(&token), Err(JwtError::Malformed));
}

#[test]
fn rfc7515_appendix_a1_hs256_example() {
    let token = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9\
        .eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ\
        .dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let jwk = jwt::Jwk::parse(
        br#"{"kty":"oct","k":"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"}"#,
    )
    .unwrap();
    let mut scratch = [0u8; 256];
    let jws = jwt::verify_jws(token.as_bytes(), &jwk, &Validation::new(), &mut scratch).unwrap();
    assert_eq!(
        jws.payload(),
        b"{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n \"http://example.com/is_root\":true}"
    );
    let rules = Validation::new().issuers(&["joe"]).leeway(0);
    let verified =
        jwt::verify(token.as_bytes(), &jwk, &rules, 1_300_819_379, &mut scratch).unwrap();
    assert_eq!(verified.header().typ().unwrap().as_str(), Some("JWT"));
    assert_eq!(verified.registered().exp().unwrap().floor(), 1_300_819_380);
    assert_eq!(
        jwt::verify(token.as_bytes(), &jwk, &rules, 1_300_819_380, &mut scratch).unwrap_err(),
        JwtError::Expired
    );
}
