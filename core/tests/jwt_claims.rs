//! Registered and custom claims of verified tokens.
#![cfg(feature = "hs256")]

use serde::Deserialize;
use tollgate::base64url;
use tollgate::jwt::alg::hs256::Hs256Secret;
use tollgate::jwt::{self, JwtError, Key, Validation};

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
const NOW: u64 = 1_700_000_000;

fn b64(bytes: &[u8]) -> String {
    let mut out = vec![0u8; base64url::encoded_len(bytes.len()).unwrap()];
    base64url::encode(bytes, &mut out).unwrap().to_owned()
}

fn sign(payload: &str) -> String {
    let secret = Hs256Secret::new(SECRET).unwrap();
    let input = format!(
        "{}.{}",
        b64(br#"{"alg":"HS256","typ":"JWT"}"#),
        b64(payload.as_bytes())
    );
    format!("{input}.{}", b64(&secret.sign(input.as_bytes())))
}

fn key() -> Key {
    Key::Hs256(Hs256Secret::new(SECRET).unwrap())
}

const PAYLOAD: &str = r#"{
    "iss": "https://issuer.example",
    "sub": "user-42",
    "aud": ["chat", "api"],
    "exp": 1700000600.25,
    "iat": 1699999990,
    "jti": "id\u002d1",
    "name": "Jos\u00e9 \"JJ\" Smith",
    "level": 7,
    "ratio": 0.5,
    "admin": false,
    "org": {"id": 3, "slug": "acme", "tags": ["a", "b"]}
}"#;

#[derive(Debug, Deserialize, PartialEq)]
struct Org<'a> {
    id: u32,
    slug: &'a str,
    tags: Vec<&'a str>,
}

#[derive(Debug, Deserialize, PartialEq)]
struct MyClaims<'a> {
    sub: &'a str,
    exp: f64,
    name: String,
    level: u8,
    ratio: f32,
    admin: bool,
    org: Org<'a>,
    missing: Option<u32>,
}

#[test]
fn registered_claims_are_borrowed_and_unescaped_on_demand() {
    let token = sign(PAYLOAD);
    let rules = Validation::new()
        .issuers(&["https://issuer.example"])
        .audiences(&["api"])
        .max_age(60);
    let mut scratch = vec![0u8; token.len()];
    let verified = jwt::verify(token.as_bytes(), &key(), &rules, NOW, &mut scratch).unwrap();
    let claims = verified.registered();
    assert_eq!(claims.sub().unwrap().as_str(), Some("user-42"));
    assert_eq!(
        claims.iss().unwrap().as_str(),
        Some("https://issuer.example")
    );
    let jti = claims.jti().unwrap();
    assert_eq!(jti.as_str(), None, "has an escape");
    assert!(jti == "id-1");
    let mut buf = [0u8; 16];
    assert_eq!(jti.unescape_into(&mut buf).unwrap(), "id-1");
    assert_eq!(claims.aud().unwrap().iter().count(), 2);
    let exp = claims.exp().unwrap();
    assert_eq!(
        (exp.floor(), exp.ceil(), exp.is_fractional()),
        (1_700_000_600, 1_700_000_601, true)
    );
}

#[test]
fn custom_claims_deserialize_from_the_scratch_buffer() {
    let token = sign(PAYLOAD);
    let rules = Validation::new().audiences(&["chat"]);
    let mut scratch = vec![0u8; token.len()];
    let verified = jwt::verify(token.as_bytes(), &key(), &rules, NOW, &mut scratch).unwrap();
    let mut escapes = [0u8; 64];
    let claims: MyClaims<'_> = verified.claims(&mut escapes).unwrap();
    assert_eq!(
        claims,
        MyClaims {
            sub: "user-42",
            exp: 1_700_000_600.25,
            name: "José \"JJ\" Smith".to_owned(),
            level: 7,
            ratio: 0.5,
            admin: false,
            org: Org {
                id: 3,
                slug: "acme",
                tags: vec!["a", "b"],
            },
            missing: None,
        }
    );
}

#[test]
fn custom_claims_shape_errors_are_invalid_claims() {
    let token = sign(PAYLOAD);
    let rules = Validation::new().audiences(&["chat"]);
    let mut scratch = vec![0u8; token.len()];
    let verified = jwt::verify(token.as_bytes(), &key(), &rules, NOW, &mut scratch).unwrap();

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct WrongType {
        level: String,
    }
    assert_eq!(
        verified.claims::<WrongType>(&mut [0u8; 64]).unwrap_err(),
        JwtError::InvalidClaims
    );

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct NeedsAbsent {
        absent: u32,
    }
    assert_eq!(
        verified.claims::<NeedsAbsent>(&mut [0u8; 64]).unwrap_err(),
        JwtError::InvalidClaims
    );

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Named {
        name: String,
    }
    // The escaped `name` needs 17 bytes of unescape buffer.
    assert_eq!(
        verified.claims::<Named>(&mut [0u8; 8]).unwrap_err(),
        JwtError::InvalidClaims
    );
    assert!(verified.claims::<Named>(&mut [0u8; 17]).is_ok());
}
