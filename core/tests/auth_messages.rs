//! First-message replies are valid JSON for every error, and messages written by a
//! JSON library parse.

use tollgate::auth::message::{MAX_REPLY_LEN, write_authenticated, write_unauthorized};
use tollgate::auth::{AuthError, AuthMessageKind, parse_auth_message};
use tollgate::jwt::JwtError;

const JWT_ERRORS: [JwtError; 19] = [
    JwtError::Malformed,
    JwtError::UnsupportedAlgorithm,
    JwtError::AlgorithmMismatch,
    JwtError::InvalidSignature,
    JwtError::Expired,
    JwtError::NotYetValid,
    JwtError::IssuedInFuture,
    JwtError::TooOld,
    JwtError::InvalidIssuer,
    JwtError::InvalidAudience,
    JwtError::MissingClaim,
    JwtError::InvalidClaim,
    JwtError::InvalidType,
    JwtError::UnsupportedCriticalHeader,
    JwtError::TokenTooLarge,
    JwtError::UnknownKey,
    JwtError::BufferTooSmall,
    JwtError::InvalidClaims,
    JwtError::KeysUnavailable,
];

const OTHER_ERRORS: [AuthError; 6] = [
    AuthError::MissingToken,
    AuthError::MalformedToken,
    AuthError::TokenTooLarge,
    AuthError::ConflictingTokens,
    AuthError::SubjectMismatch,
    AuthError::InvalidAuthMessage,
];

fn all_errors() -> impl Iterator<Item = AuthError> {
    JWT_ERRORS
        .map(AuthError::Jwt)
        .into_iter()
        .chain(OTHER_ERRORS)
}

#[test]
fn every_unauthorized_reply_fits_and_is_valid_json() {
    for error in all_errors() {
        let mut out = [0u8; MAX_REPLY_LEN];
        let len = write_unauthorized(error, &mut out).unwrap();
        let value: serde_json::Value = serde_json::from_slice(&out[..len]).unwrap();
        assert_eq!(value["type"], "unauthorized");
        assert_eq!(value["code"], error.code());
        assert_eq!(value["message"], error.message());
        assert_eq!(value.as_object().unwrap().len(), 3);
    }
}

#[test]
fn unauthorized_reply_refuses_a_short_buffer() {
    let mut out = [0u8; 40];
    assert!(write_unauthorized(AuthError::Jwt(JwtError::Expired), &mut out).is_err());
}

#[test]
fn authenticated_reply_is_valid_json() {
    let mut out = [0u8; 64];
    let len = write_authenticated(&mut out).unwrap();
    let value: serde_json::Value = serde_json::from_slice(&out[..len]).unwrap();
    assert_eq!(value, serde_json::json!({"type": "authenticated"}));
}

#[test]
fn messages_written_by_a_json_library_parse() {
    let token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnbmF0dXJl";
    for (kind, expected) in [
        ("authenticate", AuthMessageKind::Authenticate),
        ("refresh", AuthMessageKind::Refresh),
    ] {
        let text = serde_json::json!({"type": kind, "token": token, "extra": {"n": [1, 2]}});
        let bytes = serde_json::to_vec_pretty(&text).unwrap();
        let message = parse_auth_message(&bytes).unwrap();
        assert_eq!(message.kind, expected);
        assert_eq!(message.token, token);
    }
}

#[test]
fn auth_error_codes_are_unique_except_the_shared_token_codes() {
    // Extraction and verification name the same failures alike on purpose.
    assert_eq!(
        AuthError::MalformedToken.code(),
        AuthError::Jwt(JwtError::Malformed).code()
    );
    assert_eq!(
        AuthError::TokenTooLarge.code(),
        AuthError::Jwt(JwtError::TokenTooLarge).code()
    );
    let errors: Vec<AuthError> = all_errors()
        .filter(|e| !matches!(e, AuthError::MalformedToken | AuthError::TokenTooLarge))
        .collect();
    for (i, a) in errors.iter().enumerate() {
        for b in &errors[i + 1..] {
            assert_ne!(a.code(), b.code(), "{a:?} {b:?}");
        }
    }
}
