extern crate std;

use std::string::String;

use super::message::{MAX_REPLY_LEN, write_authenticated, write_unauthorized};
use super::*;
use crate::ws::handshake::Challenge;
#[cfg(feature = "hs256")]
use {
    crate::base64url,
    crate::jwt::Key,
    crate::jwt::alg::hs256::Hs256Secret,
    crate::ws::handshake::token::TokenSource,
    crate::ws::handshake::{EMPTY_HEADER, ServerConfig, Status},
    std::{format, vec},
};

#[cfg(feature = "hs256")]
const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
#[cfg(feature = "hs256")]
const NOW: u64 = 1_700_000_000;

#[cfg(feature = "hs256")]
fn key() -> Key {
    Key::Hs256(Hs256Secret::new(SECRET).unwrap())
}

#[cfg(feature = "hs256")]
fn b64(bytes: &[u8]) -> String {
    let mut out = vec![0u8; base64url::encoded_len(bytes.len()).unwrap()];
    String::from(base64url::encode(bytes, &mut out).unwrap())
}

#[cfg(feature = "hs256")]
fn token(claims: &str) -> String {
    let input = format!("{}.{}", b64(br#"{"alg":"HS256"}"#), b64(claims.as_bytes()));
    let Key::Hs256(secret) = key() else {
        unreachable!()
    };
    format!("{input}.{}", b64(&secret.sign(input.as_bytes())))
}

#[cfg(feature = "hs256")]
fn request_with(header: &str) -> String {
    format!(
        "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{header}\r\n"
    )
}

#[cfg(feature = "hs256")]
fn authenticate(auth: &Authenticator<'_, Key>, request: &str) -> Result<u64, AuthError> {
    let mut headers = [EMPTY_HEADER; 16];
    let Ok(Status::Complete(request)) =
        ServerConfig::new().parse_request(request.as_bytes(), &mut headers)
    else {
        panic!("request must parse");
    };
    let mut decode = [0u8; 512];
    let mut scratch = [0u8; 512];
    auth.authenticate(&request, NOW, &mut decode, &mut scratch)
        .map(|verified| verified.registered().exp().unwrap().floor() as u64)
}

#[cfg(feature = "hs256")]
#[test]
fn bearer_token_is_verified() {
    let auth = Authenticator::new(key(), Validation::new());
    let bearer = format!(
        "Authorization: Bearer {}\r\n",
        token(r#"{"sub":"a","exp":1700000600}"#)
    );
    assert_eq!(
        authenticate(&auth, &request_with(&bearer)),
        Ok(1_700_000_600)
    );
}

#[cfg(feature = "hs256")]
#[test]
fn missing_token_is_missing_token() {
    let auth = Authenticator::new(key(), Validation::new());
    assert_eq!(
        authenticate(&auth, &request_with("")),
        Err(AuthError::MissingToken)
    );
}

#[cfg(feature = "hs256")]
#[test]
fn only_configured_sources_are_read() {
    let sources = [TokenSource::Cookie { name: "jwt" }];
    let auth = Authenticator::new(key(), Validation::new()).with_token_sources(&sources);
    let good = token(r#"{"exp":1700000600}"#);
    let bearer = format!("Authorization: Bearer {good}\r\n");
    assert_eq!(
        authenticate(&auth, &request_with(&bearer)),
        Err(AuthError::MissingToken)
    );
    let cookie = format!("Cookie: a=b; jwt={good}\r\n");
    assert!(authenticate(&auth, &request_with(&cookie)).is_ok());
}

#[cfg(feature = "hs256")]
#[test]
fn expired_token_is_a_jwt_error() {
    let auth = Authenticator::new(key(), Validation::new().leeway(0));
    let bearer = format!(
        "Authorization: Bearer {}\r\n",
        token(r#"{"exp":1699999999}"#)
    );
    assert_eq!(
        authenticate(&auth, &request_with(&bearer)),
        Err(AuthError::Jwt(JwtError::Expired))
    );
}

#[cfg(feature = "hs256")]
#[test]
fn conflicting_tokens_are_refused() {
    let auth = Authenticator::new(key(), Validation::new());
    let a = token(r#"{"sub":"a","exp":1700000600}"#);
    let b = token(r#"{"sub":"b","exp":1700000600}"#);
    let text = request_with(&format!("Authorization: Bearer {a}\r\n")).replacen(
        "GET /ws ",
        &format!("GET /ws?token={b} "),
        1,
    );
    assert_eq!(
        authenticate(&auth, &text),
        Err(AuthError::ConflictingTokens)
    );
}

#[test]
fn rejection_maps_missing_to_plain_bearer_and_jwt_errors_to_invalid_token() {
    let missing = AuthError::MissingToken.rejection();
    assert_eq!(missing.status(), 401);
    assert_eq!(missing.challenge(), Some(Challenge::Bearer));
    let expired = AuthError::Jwt(JwtError::Expired).rejection();
    assert_eq!(expired.status(), 401);
    assert_eq!(
        expired.challenge(),
        Some(Challenge::InvalidToken("expired"))
    );
    let conflicting = AuthError::ConflictingTokens.rejection();
    assert_eq!(conflicting.status(), 400);
    assert_eq!(
        conflicting.challenge(),
        Some(Challenge::InvalidRequest("conflicting_tokens"))
    );
    let mut out = [0u8; 512];
    let len = AuthError::Jwt(JwtError::InvalidSignature)
        .rejection()
        .write(&mut out)
        .unwrap();
    let text = core::str::from_utf8(&out[..len]).unwrap();
    assert!(text.starts_with("HTTP/1.1 401 Unauthorized\r\n"));
    assert!(text.contains(
        "WWW-Authenticate: Bearer error=\"invalid_token\", error_description=\"invalid_signature\"\r\n"
    ));
}

#[test]
fn unavailable_keys_answer_503_and_close_1013_not_invalid_token() {
    let error = AuthError::Jwt(JwtError::KeysUnavailable);
    assert_eq!(error.code(), "keys_unavailable");
    let rejection = error.rejection();
    assert_eq!((rejection.status(), rejection.challenge()), (503, None));
    let mut out = [0u8; 512];
    let len = rejection.write(&mut out).unwrap();
    let text = core::str::from_utf8(&out[..len]).unwrap();
    assert!(text.starts_with("HTTP/1.1 503 Service Unavailable\r\n"));
    assert!(!text.contains("WWW-Authenticate"));
    assert!(text.contains("\r\nRetry-After: 5\r\n"));
    assert!(text.ends_with("\r\n\r\nkeys_unavailable\n"));
    assert_eq!(error.close_code(), CloseCode::TRY_AGAIN_LATER);
}

#[test]
fn every_auth_error_closes_with_1008_and_its_code() {
    let errors = [
        AuthError::MissingToken,
        AuthError::MalformedToken,
        AuthError::TokenTooLarge,
        AuthError::ConflictingTokens,
        AuthError::Jwt(JwtError::Expired),
        AuthError::SubjectMismatch,
        AuthError::InvalidAuthMessage,
    ];
    for error in errors {
        assert_eq!(error.close_code(), CloseCode::POLICY_VIOLATION);
        assert!(error.code().len() <= crate::ws::close::MAX_CLOSE_REASON_LEN);
        assert!(
            error
                .code()
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'_')
        );
        let mut out = [0u8; 512];
        assert!(error.rejection().write(&mut out).is_ok(), "{error:?}");
    }
    assert_eq!(AuthError::EXPIRED.code(), "expired");
}

#[test]
fn handshake_token_errors_convert_one_to_one() {
    assert_eq!(
        AuthError::from(HandshakeError::MissingToken),
        AuthError::MissingToken
    );
    assert_eq!(
        AuthError::from(HandshakeError::MalformedToken),
        AuthError::MalformedToken
    );
    assert_eq!(
        AuthError::from(HandshakeError::TokenTooLarge),
        AuthError::TokenTooLarge
    );
    assert_eq!(
        AuthError::from(HandshakeError::ConflictingTokens),
        AuthError::ConflictingTokens
    );
    for error in [
        AuthError::MissingToken,
        AuthError::MalformedToken,
        AuthError::TokenTooLarge,
        AuthError::ConflictingTokens,
    ] {
        let handshake = match error {
            AuthError::MissingToken => HandshakeError::MissingToken,
            AuthError::MalformedToken => HandshakeError::MalformedToken,
            AuthError::TokenTooLarge => HandshakeError::TokenTooLarge,
            _ => HandshakeError::ConflictingTokens,
        };
        assert_eq!(error.code(), handshake.code());
        assert_eq!(error.rejection(), Rejection::from_error(handshake));
    }
}

#[test]
fn deadline_is_exp_plus_leeway() {
    let claims = Claims::parse(br#"{"exp":1700000600}"#).unwrap();
    assert_eq!(expiry_deadline(&claims, 60), Some(1_700_000_660));
    let fractional = Claims::parse(br#"{"exp":1700000600.5}"#).unwrap();
    assert_eq!(expiry_deadline(&fractional, 0), Some(1_700_000_601));
    let negative = Claims::parse(br#"{"exp":-100}"#).unwrap();
    assert_eq!(expiry_deadline(&negative, 10), Some(0));
    assert_eq!(expiry_deadline(&Claims::parse(b"{}").unwrap(), 60), None);
}

#[cfg(feature = "hs256")]
#[test]
fn deadline_agrees_with_verification() {
    let auth = Authenticator::new(key(), Validation::new().leeway(5));
    let text = token(r#"{"exp":1700000600}"#);
    let mut scratch = [0u8; 256];
    let verified = auth.verify(&text, NOW, &mut scratch).unwrap();
    let deadline = auth.deadline(&verified).unwrap();
    let mut scratch = [0u8; 256];
    assert!(auth.verify(&text, deadline - 1, &mut scratch).is_ok());
    let mut scratch = [0u8; 256];
    assert_eq!(
        auth.verify(&text, deadline, &mut scratch).unwrap_err(),
        AuthError::Jwt(JwtError::Expired)
    );
}

#[test]
fn refresh_requires_the_same_subject() {
    let alice = Claims::parse(br#"{"sub":"alice"}"#).unwrap();
    let alice_escaped = Claims::parse(br#"{"sub":"\u0061lice"}"#).unwrap();
    let bob = Claims::parse(br#"{"sub":"bob"}"#).unwrap();
    let nobody = Claims::parse(b"{}").unwrap();
    assert_eq!(check_refresh(&alice, &alice_escaped), Ok(()));
    assert_eq!(check_refresh(&alice, &bob), Err(AuthError::SubjectMismatch));
    assert_eq!(
        check_refresh(&alice, &nobody),
        Err(AuthError::SubjectMismatch)
    );
    assert_eq!(
        check_refresh(&nobody, &nobody),
        Err(AuthError::SubjectMismatch)
    );
}

#[cfg(feature = "hs256")]
#[test]
fn verify_refresh_checks_signature_then_subject() {
    let auth = Authenticator::new(key(), Validation::new());
    let current = Claims::parse(br#"{"sub":"alice"}"#).unwrap();
    let mut scratch = [0u8; 256];
    let same = token(r#"{"sub":"alice","exp":1700000900}"#);
    assert!(
        auth.verify_refresh(&current, &same, NOW, &mut scratch)
            .is_ok()
    );
    let other = token(r#"{"sub":"mallory","exp":1700000900}"#);
    assert_eq!(
        auth.verify_refresh(&current, &other, NOW, &mut scratch)
            .unwrap_err(),
        AuthError::SubjectMismatch
    );
    let forged = format!("{}x", &same[..same.len() - 1]);
    assert!(matches!(
        auth.verify_refresh(&current, &forged, NOW, &mut scratch),
        Err(AuthError::Jwt(_))
    ));
}

#[test]
fn auth_message_parses_type_and_token() {
    let message = parse_auth_message(br#"{"type":"authenticate","token":"a.b.c"}"#).unwrap();
    assert_eq!(message.kind, AuthMessageKind::Authenticate);
    assert_eq!(message.token, "a.b.c");
    let refresh = parse_auth_message(br#" {"token":"x.y.z","type":"refresh","extra":[1]} "#);
    assert_eq!(refresh.unwrap().kind, AuthMessageKind::Refresh);
}

#[test]
fn auth_message_refuses_other_shapes() {
    for text in [
        &b"not json"[..],
        br#"{"type":"authenticate"}"#,
        br#"{"token":"a.b.c"}"#,
        br#"{"type":"login","token":"a.b.c"}"#,
        br#"{"type":"authenticate","token":42}"#,
        br#"{"type":"authenticate","token":"a.b.c","token":"d.e.f"}"#,
        br#"{"type":"authenticate","token":"a.b.c"} trailing"#,
        br#"["authenticate","a.b.c"]"#,
    ] {
        assert_eq!(
            parse_auth_message(text),
            Err(AuthError::InvalidAuthMessage),
            "{}",
            String::from_utf8_lossy(text)
        );
    }
    for text in [
        &br#"{"type":"authenticate","token":""}"#[..],
        br#"{"type":"authenticate","token":"a.b\u002ec"}"#,
    ] {
        assert_eq!(parse_auth_message(text), Err(AuthError::MalformedToken));
    }
}

#[test]
fn replies_are_the_documented_json() {
    let mut out = [0u8; MAX_REPLY_LEN];
    let len = write_authenticated(&mut out).unwrap();
    assert_eq!(&out[..len], br#"{"type":"authenticated"}"#);
    let len = write_unauthorized(AuthError::Jwt(JwtError::Expired), &mut out).unwrap();
    assert_eq!(
        &out[..len],
        br#"{"type":"unauthorized","code":"expired","message":"token has expired"}"#
    );
    assert!(write_authenticated(&mut out[..23]).is_err());
}
