//! `tollgate token`: mint a signed JWT for development and tests.

use base64ct::{Base64UrlUnpadded, Encoding};
use clap::Args;
use serde_json::{Map, Value};
use tollgate::jwt::key::Algorithm;

use super::keys::{SigningKey, SigningKeyArgs};
use super::{Outcome, UsageError, now_or};

/// Options of `tollgate token`.
#[derive(Debug, Clone, Args)]
#[command(after_help = "\
Examples:
  SECRET=s3cret tollgate token --secret-env SECRET --alg HS256 --sub alice --aud chat
  tollgate token --key ec-private.pem --alg ES256 --kid k1 --exp=-120   # already expired
  tollgate token --key rsa.pem --alg RS256 --claim admin=true --claim 'roles=[\"a\",\"b\"]'

Claims are written in this order: iss, sub, aud, iat, exp, then --claim pairs; a --claim
for a registered name (exp, nbf, aud, ...) replaces the value set by the other options.
Exit status: 0 token printed on stdout; 2 usage or key error (message on stderr).")]
pub struct TokenArgs {
    #[command(flatten)]
    /// The signing key.
    pub key: SigningKeyArgs,
    /// Signature algorithm: HS256, ES256 or RS256 (must match the key).
    #[arg(long, value_name = "ALG", value_parser = parse_algorithm)]
    pub alg: Algorithm,
    /// Subject (`sub` claim).
    #[arg(long, value_name = "S")]
    pub sub: Option<String>,
    /// Issuer (`iss` claim).
    #[arg(long, value_name = "ISS")]
    pub iss: Option<String>,
    /// Audience (`aud` claim); repeat for an array of audiences.
    #[arg(long, value_name = "AUD")]
    pub aud: Vec<String>,
    /// Lifetime in seconds from now (`exp` = now + SECS); negative for an expired token.
    #[arg(
        long,
        value_name = "SECS",
        default_value_t = 3600,
        allow_negative_numbers = true
    )]
    pub exp: i64,
    /// Key id (`kid` header member).
    #[arg(long, value_name = "KID")]
    pub kid: Option<String>,
    /// Header `typ` member.
    #[arg(long, value_name = "TYP", default_value = "JWT")]
    pub typ: String,
    /// Extra claim; V is parsed as JSON when it parses (numbers, true, arrays, objects, "quoted"), else taken as a plain string.
    #[arg(long = "claim", value_name = "K=V")]
    pub claims: Vec<String>,
    /// Unix time used for `iat` and as the base of `exp` [default: system clock].
    #[arg(long, value_name = "UNIX")]
    pub now: Option<u64>,
}

/// Parses an algorithm name for clap.
///
/// # Errors
/// The message listing the supported names.
pub fn parse_algorithm(name: &str) -> Result<Algorithm, String> {
    Algorithm::from_name(name).map_err(|_| "expected HS256, ES256 or RS256".to_owned())
}

/// Parses one `--claim K=V`: V as JSON when it parses, otherwise as a plain string.
///
/// # Errors
/// A [`UsageError`] when there is no `=` or the name is empty.
pub fn parse_claim(pair: &str) -> Result<(String, Value), UsageError> {
    let (name, raw) = pair
        .split_once('=')
        .ok_or_else(|| UsageError(format!("--claim {pair:?}: expected NAME=VALUE")))?;
    if name.is_empty() {
        return Err(UsageError(format!("--claim {pair:?}: empty claim name")));
    }
    let value = serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_owned()));
    Ok((name.to_owned(), value))
}

/// Builds the claims object of the token.
///
/// # Errors
/// A [`UsageError`] for a bad `--claim` or an `exp` outside the Unix range.
pub fn build_claims(args: &TokenArgs, now: u64) -> Result<Map<String, Value>, UsageError> {
    let mut claims = Map::new();
    if let Some(iss) = &args.iss {
        claims.insert("iss".into(), iss.as_str().into());
    }
    if let Some(sub) = &args.sub {
        claims.insert("sub".into(), sub.as_str().into());
    }
    match args.aud.as_slice() {
        [] => {}
        [one] => {
            claims.insert("aud".into(), one.as_str().into());
        }
        many => {
            claims.insert("aud".into(), many.into());
        }
    }
    let exp = i64::try_from(now)
        .ok()
        .and_then(|now| now.checked_add(args.exp))
        .filter(|exp| *exp >= 0)
        .ok_or_else(|| UsageError(format!("--exp {}: expiry out of range", args.exp)))?;
    claims.insert("iat".into(), now.into());
    claims.insert("exp".into(), exp.into());
    for pair in &args.claims {
        let (name, value) = parse_claim(pair)?;
        claims.insert(name, value);
    }
    Ok(claims)
}

/// Signs a compact JWS over the given header and payload objects.
///
/// # Errors
/// A [`UsageError`] when serialization or signing fails.
pub fn sign_compact(
    key: &SigningKey,
    header: &Map<String, Value>,
    payload: &Map<String, Value>,
) -> Result<String, UsageError> {
    let header = serde_json::to_vec(header).map_err(|e| UsageError::context("header", e))?;
    let payload = serde_json::to_vec(payload).map_err(|e| UsageError::context("claims", e))?;
    let mut token = Base64UrlUnpadded::encode_string(&header);
    token.push('.');
    token.push_str(&Base64UrlUnpadded::encode_string(&payload));
    let signature = key.sign(token.as_bytes())?;
    token.push('.');
    token.push_str(&Base64UrlUnpadded::encode_string(&signature));
    Ok(token)
}

/// Runs `tollgate token`.
///
/// # Errors
/// A [`UsageError`] for an unusable key, a key that does not match `--alg`, or bad options.
pub fn run(args: &TokenArgs) -> Result<Outcome, UsageError> {
    let key = SigningKey::load(&args.key)?;
    if key.algorithm() != args.alg {
        return Err(UsageError(format!(
            "--alg {} does not match the key, which signs {}",
            args.alg.name(),
            key.algorithm().name()
        )));
    }
    let now = now_or(args.now)?;
    let mut header = Map::new();
    header.insert("alg".into(), args.alg.name().into());
    header.insert("typ".into(), args.typ.as_str().into());
    if let Some(kid) = &args.kid {
        header.insert("kid".into(), kid.as_str().into());
    }
    let claims = build_claims(args, now)?;
    Ok(Outcome {
        stdout: sign_compact(&key, &header, &claims)?,
        status: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn parse(args: &[&str]) -> TokenArgs {
        let mut argv = vec!["tollgate", "token"];
        argv.extend_from_slice(args);
        match crate::cli::Cli::try_parse_from(argv).unwrap().command {
            crate::cli::Command::Token(args) => args,
            _ => unreachable!(),
        }
    }

    #[test]
    fn claim_value_is_json_when_it_parses() {
        assert_eq!(parse_claim("n=42").unwrap().1, Value::from(42));
        assert_eq!(parse_claim("b=true").unwrap().1, Value::from(true));
        assert_eq!(
            parse_claim("a=[1,\"x\"]").unwrap().1,
            serde_json::json!([1, "x"])
        );
        assert_eq!(
            parse_claim("s=\"quoted\"").unwrap().1,
            Value::from("quoted")
        );
    }

    #[test]
    fn claim_value_is_a_string_otherwise() {
        assert_eq!(
            parse_claim("s=hello world").unwrap().1,
            Value::from("hello world")
        );
        assert_eq!(parse_claim("s=").unwrap().1, Value::from(""));
        assert_eq!(
            parse_claim("s=a=b").unwrap(),
            ("s".into(), Value::from("a=b"))
        );
    }

    #[test]
    fn claim_without_equals_or_name_is_a_usage_error() {
        assert!(parse_claim("novalue").is_err());
        assert!(parse_claim("=1").is_err());
    }

    #[test]
    fn exp_is_lifetime_from_now_and_may_be_negative() {
        let claims = build_claims(
            &parse(&["--secret-env", "X", "--alg", "HS256", "--exp=-120"]),
            1000,
        )
        .unwrap();
        assert_eq!(claims["iat"], Value::from(1000));
        assert_eq!(claims["exp"], Value::from(880));
        let claims = build_claims(
            &parse(&["--secret-env", "X", "--alg", "HS256", "--exp", "-5"]),
            1000,
        )
        .unwrap();
        assert_eq!(claims["exp"], Value::from(995));
    }

    #[test]
    fn exp_defaults_to_one_hour() {
        let claims = build_claims(&parse(&["--secret-env", "X", "--alg", "HS256"]), 1000).unwrap();
        assert_eq!(claims["exp"], Value::from(4600));
    }

    #[test]
    fn exp_before_epoch_is_a_usage_error() {
        let args = parse(&["--secret-env", "X", "--alg", "HS256", "--exp=-2000"]);
        assert!(build_claims(&args, 1000).is_err());
    }

    #[test]
    fn one_aud_is_a_string_and_several_an_array() {
        let one = build_claims(
            &parse(&["--secret-env", "X", "--alg", "HS256", "--aud", "a"]),
            0,
        )
        .unwrap();
        assert_eq!(one["aud"], Value::from("a"));
        let two = build_claims(
            &parse(&[
                "--secret-env",
                "X",
                "--alg",
                "HS256",
                "--aud",
                "a",
                "--aud",
                "b",
            ]),
            0,
        )
        .unwrap();
        assert_eq!(two["aud"], serde_json::json!(["a", "b"]));
    }

    #[test]
    fn claim_option_overrides_registered_claims() {
        let claims = build_claims(
            &parse(&[
                "--secret-env",
                "X",
                "--alg",
                "HS256",
                "--sub",
                "a",
                "--claim",
                "sub=b",
                "--claim",
                "exp=\"x\"",
            ]),
            0,
        )
        .unwrap();
        assert_eq!(claims["sub"], Value::from("b"));
        assert_eq!(claims["exp"], Value::from("x"));
    }

    #[test]
    fn unknown_algorithm_is_rejected_by_the_parser() {
        let argv = ["tollgate", "token", "--secret-env", "X", "--alg", "none"];
        assert!(crate::cli::Cli::try_parse_from(argv).is_err());
    }

    #[test]
    fn hs256_signature_matches_rfc7515_appendix_a1() {
        // RFC 7515 A.1: the signing input and key from the RFC give the RFC's signature.
        let key = Base64UrlUnpadded::decode_vec(
            "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow",
        )
        .unwrap();
        let input = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
        let sig = SigningKey::Hs256(key).sign(input.as_bytes()).unwrap();
        assert_eq!(
            Base64UrlUnpadded::encode_string(&sig),
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
        );
    }
}
