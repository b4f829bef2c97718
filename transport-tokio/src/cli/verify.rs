//! `tollgate verify`: verify a token with the core and print the verdict as one JSON object.

use std::ffi::OsString;
use std::io::Read;
use std::sync::Arc;

use base64ct::{Base64UrlUnpadded, Encoding};
use clap::Args;
use serde_json::{Value, json};
use tollgate::jwt::alg::hs256::Hs256Secret;
use tollgate::jwt::claims::Claim;
use tollgate::jwt::error::{JwtError, KeyError};
use tollgate::jwt::header::Header;
use tollgate::jwt::jwk::Jwk;
use tollgate::jwt::jwks::JwkSet;
use tollgate::jwt::key::Key;
use tollgate::jwt::token::{KeySource, verify, verify_jws};
use tollgate::jwt::validate::Validation;

use crate::TokenVerifier;
use crate::jwks::{
    self, JwksConfig, JwksVerifier, KeysVerifier, RemoteJwks, RemoteKeySet, discover,
};

use super::keys::{VerifyingKeyArgs, os_bytes, read_key_file, read_secret_env, read_secret_file};
use super::{EXIT_INVALID, Outcome, UsageError, now_or};

/// Tokens read from stdin longer than this are cut off here and rejected by the core as too large.
const MAX_STDIN_TOKEN: u64 = 1 << 20;

/// Options of `tollgate verify`.
#[derive(Debug, Clone, Args)]
#[command(after_help = "\
Output (stdout, one JSON object):
  valid:    {\"valid\":true,\"alg\":\"ES256\",\"kid\":\"k1\"|null,\"header\":{..},\"claims\":{..}}
  --jws:    {\"valid\":true,\"alg\":..,\"kid\":..,\"header\":{..},\"payload\":\"<base64url>\"}
  invalid:  {\"valid\":false,\"error\":\"<code>\",\"message\":\"..\"}   (exit 1)
Codes: malformed, unsupported_algorithm, algorithm_mismatch, invalid_signature, expired,
not_yet_valid, issued_in_future, invalid_issuer, invalid_audience, missing_claim,
invalid_claim, invalid_type, unsupported_critical_header, token_too_large, unknown_key.
Usage and key errors (including a JWK Set that cannot be fetched): message on stderr,
nothing on stdout, exit 2.

Examples:
  tollgate verify --jwks jwks.json --iss https://issuer --aud chat \"$TOKEN\"
  tollgate verify --oidc-issuer https://login.example.com/ --aud chat \"$TOKEN\"
  printf '%s\\n' \"$TOKEN\" | tollgate verify --secret-env SECRET -")]
// `verify` needs a key; `serve` runs in development mode without one.
#[command(group = clap::ArgGroup::new("verifying_key").required(true).args(KEY_OPTIONS))]
pub struct VerifyArgs {
    #[command(flatten)]
    /// The verification key.
    pub key: VerifyingKeyArgs,
    /// Accepted issuer; repeat to accept several. Without it any `iss` (or none) is accepted.
    #[arg(long, value_name = "ISS")]
    pub iss: Vec<String>,
    /// Accepted audience; repeat to accept several. Without it tokens carrying `aud` are
    /// refused (RFC 7519 §4.1.3), as by jsonwebtoken and PyJWT.
    #[arg(long, value_name = "AUD")]
    pub aud: Vec<String>,
    /// Accepted header `typ` (then required); repeatable. Without it `typ` may be absent,
    /// and if present must be JWT or at+jwt (any value with --jws).
    #[arg(long, value_name = "TYP")]
    pub typ: Vec<String>,
    /// Claim that must be present besides exp (always required): sub, nbf, iat, jti, or any
    /// other name; repeatable.
    #[arg(long = "require", value_name = "CLAIM")]
    pub require: Vec<String>,
    /// Clock skew tolerated for exp, nbf and iat, in seconds [default: 60].
    #[arg(long, value_name = "SECS")]
    pub leeway: Option<u64>,
    /// Unix time to check exp, nbf and iat against [default: system clock].
    #[arg(long, value_name = "UNIX")]
    pub now: Option<u64>,
    /// Check only the JWS signature (no claim checks) and print the payload as base64url.
    #[arg(long, conflicts_with_all = ["iss", "aud", "require", "leeway", "now"])]
    pub jws: bool,
    /// The token, byte for byte, or `-` to read it from stdin (one final newline is dropped).
    #[arg(value_name = "TOKEN|-", allow_hyphen_values = true)]
    pub token: OsString,
}

/// Drops exactly one final `\n` or `\r\n`, nothing else.
#[must_use]
pub fn drop_final_newline(bytes: &[u8]) -> &[u8] {
    bytes
        .strip_suffix(b"\r\n")
        .or_else(|| bytes.strip_suffix(b"\n"))
        .unwrap_or(bytes)
}

/// The token bytes: the argument as given, or stdin without its final newline.
fn token_bytes(arg: &OsString) -> Result<Vec<u8>, UsageError> {
    if arg != "-" {
        return Ok(os_bytes(arg.clone()));
    }
    let mut input = Vec::new();
    std::io::stdin()
        .lock()
        .take(MAX_STDIN_TOKEN)
        .read_to_end(&mut input)
        .map_err(|e| UsageError::context("cannot read the token from stdin", e))?;
    let kept = drop_final_newline(&input).len();
    input.truncate(kept);
    Ok(input)
}

/// The JSON verdict for a rejected token.
fn rejection(code: &str, message: &str) -> Outcome {
    Outcome {
        stdout: json!({"valid": false, "error": code, "message": message}).to_string(),
        status: EXIT_INVALID,
    }
}

/// Parses a decoded JSON object (header or claims) for printing.
fn object(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap_or(Value::Null)
}

/// The verification keys selected by the key options.
#[derive(Debug)]
pub enum VerifyingKeys {
    /// An HMAC secret or a PEM/DER public key.
    One(Key),
    /// One JWK: refuses tokens naming another `kid` when it has one.
    Jwk(Jwk),
    /// A JWK Set: the key is chosen by the token's `kid` and `alg`.
    Set(Box<JwkSet<JWKS_CAPACITY>>),
    /// A JWK Set fetched from a URL (`--jwks-url`, or `--oidc-issuer` with the issuer it
    /// was discovered for).
    Remote {
        /// The fetched set.
        keys: Arc<RemoteKeySet>,
        /// The issuer `iss` must equal, after OpenID Connect discovery.
        issuer: Option<String>,
    },
}

/// Most usable keys read from a `--jwks` file.
pub const JWKS_CAPACITY: usize = 64;

impl KeySource for VerifyingKeys {
    fn select(&self, header: &Header<'_>) -> Result<&Key, JwtError> {
        match self {
            Self::One(key) => key.select(header),
            Self::Jwk(jwk) => jwk.select(header),
            Self::Set(set) => set.select(header),
            Self::Remote { keys, .. } => keys.select(header),
        }
    }
}

impl VerifyingKeys {
    /// Loads the key selected by the options.
    ///
    /// # Errors
    /// A [`UsageError`] naming the source when it cannot be read or holds no usable key
    /// (the core's [`KeyError`] code is included).
    pub fn load(args: &VerifyingKeyArgs) -> Result<Self, UsageError> {
        let key_error =
            |what: String, e: KeyError| UsageError(format!("{what}: {e} ({})", e.code()));
        if let Some(var) = &args.secret_env {
            let secret = read_secret_env(var)?;
            return Hs256Secret::new(&secret)
                .map(|s| Self::One(Key::Hs256(s)))
                .map_err(|e| key_error(format!("secret in {var}"), e));
        }
        if let Some(path) = &args.secret_file {
            let secret = read_secret_file(path)?;
            return Hs256Secret::new(&secret)
                .map(|s| Self::One(Key::Hs256(s)))
                .map_err(|e| key_error(path.display().to_string(), e));
        }
        if let Some(path) = &args.key {
            return Key::from_public_key(&read_key_file(path)?)
                .map(Self::One)
                .map_err(|e| key_error(path.display().to_string(), e));
        }
        if let Some(path) = &args.jwk {
            return Jwk::parse(&read_key_file(path)?)
                .map(Self::Jwk)
                .map_err(|e| key_error(path.display().to_string(), e));
        }
        if let Some(path) = &args.jwks {
            let set = JwkSet::from_json(&read_key_file(path)?)
                .map_err(|e| key_error(path.display().to_string(), e))?;
            if set.is_empty() {
                return Err(UsageError(format!(
                    "{}: no usable key in the JWK Set ({} skipped)",
                    path.display(),
                    set.skipped()
                )));
            }
            return Ok(Self::Set(Box::new(set)));
        }
        if args.is_remote() {
            return Self::fetch(args);
        }
        Err(UsageError("no verification key given".into()))
    }

    /// Fetches the `--jwks-url` set, or discovers the `--oidc-issuer`'s and fetches it,
    /// on a small current-thread runtime.
    fn fetch(args: &VerifyingKeyArgs) -> Result<Self, UsageError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| UsageError::context("cannot start the HTTP runtime", e))?;
        let config = JwksConfig::default();
        runtime.block_on(async {
            let (url, issuer) = match (&args.jwks_url, &args.oidc_issuer) {
                (Some(url), _) => (url.clone(), None),
                (None, Some(issuer)) => {
                    let discovery = discover(issuer, &config).await.map_err(|e| {
                        UsageError::context(format!("OpenID discovery for {issuer}"), e)
                    })?;
                    (discovery.jwks_uri, Some(discovery.issuer))
                }
                (None, None) => return Err(UsageError("no verification key given".into())),
            };
            let what = || format!("cannot fetch the JWK Set {url}");
            let source =
                RemoteJwks::new(&url, config).map_err(|e| UsageError::context(what(), e))?;
            source
                .refresh()
                .await
                .map_err(|e| UsageError::context(what(), e))?;
            let keys = source
                .keys()
                .await
                .map_err(|e| UsageError::context(what(), e))?;
            Ok(Self::Remote { keys, issuer })
        })
    }

    /// The issuer `iss` must equal when the keys were found by OpenID Connect discovery.
    #[must_use]
    pub fn discovered_issuer(&self) -> Option<&str> {
        match self {
            Self::Remote {
                issuer: Some(issuer),
                ..
            } => Some(issuer),
            _ => None,
        }
    }
}

/// The server's verifier for these key options: the fixed keys of `--secret-env`,
/// `--secret-file`, `--key`, `--jwk` or `--jwks`; the `--jwks-url` set, fetched now and
/// refreshed in the background; or the `--oidc-issuer`'s set, with `iss` pinned to the
/// issuer unless `rules` names issuers. Runs inside the server's runtime.
///
/// # Errors
/// A [`UsageError`] naming the key source when it cannot be read, discovered or fetched.
pub async fn token_verifier(
    args: &VerifyingKeyArgs,
    rules: jwks::Rules,
    config: JwksConfig,
) -> Result<Arc<dyn TokenVerifier>, UsageError> {
    if let Some(url) = &args.jwks_url {
        let verifier = JwksVerifier::from_url(url, rules, config)
            .await
            .map_err(|e| UsageError::context(format!("cannot fetch the JWK Set {url}"), e))?;
        return Ok(Arc::new(verifier));
    }
    if let Some(issuer) = &args.oidc_issuer {
        let discovery = discover(issuer, &config)
            .await
            .map_err(|e| UsageError::context(format!("OpenID discovery for {issuer}"), e))?;
        let source = RemoteJwks::connect(&discovery.jwks_uri, config)
            .await
            .map_err(|e| {
                UsageError::context(
                    format!("cannot fetch the JWK Set {}", discovery.jwks_uri),
                    e,
                )
            })?;
        let rules = if rules.issuers().is_empty() {
            rules.only_issuer(discovery.issuer)
        } else {
            rules
        };
        return Ok(Arc::new(JwksVerifier::new(source, rules)));
    }
    Ok(Arc::new(KeysVerifier::new(
        VerifyingKeys::load(args)?,
        rules,
    )))
}

/// The key options of [`VerifyingKeyArgs`], by argument id.
const KEY_OPTIONS: [&str; 7] = [
    "secret_env",
    "secret_file",
    "key",
    "jwk",
    "jwks",
    "jwks_url",
    "oidc_issuer",
];

/// The checks `--iss`, `--aud`, `--typ`, `--require` and `--leeway` ask for.
struct Rules<'a> {
    issuers: Vec<&'a str>,
    audiences: Vec<&'a str>,
    types: Vec<&'a str>,
    registered: Vec<Claim>,
    /// Required claims the core does not know by name, checked here on the decoded payload.
    other: Vec<&'a str>,
    leeway: Option<u64>,
}

impl<'a> Rules<'a> {
    fn new(args: &'a VerifyArgs) -> Self {
        let strs = |v: &'a [String]| v.iter().map(String::as_str).collect::<Vec<_>>();
        let (registered, other): (Vec<_>, Vec<_>) = args
            .require
            .iter()
            .map(|name| Claim::from_name(name).ok_or(name.as_str()))
            .partition(Result::is_ok);
        Self {
            issuers: strs(&args.iss),
            audiences: strs(&args.aud),
            types: strs(&args.typ),
            registered: registered.into_iter().flatten().collect(),
            other: other.into_iter().filter_map(Result::err).collect(),
            leeway: args.leeway,
        }
    }

    /// The core's rules: its defaults (exp required, 60 s leeway, tokens carrying `aud`
    /// refused unless an audience is configured) plus the options.
    fn validation(&self, jws_only: bool) -> Validation<'_> {
        let mut validation = Validation::new()
            .issuers(&self.issuers)
            .audiences(&self.audiences);
        if !self.types.is_empty() {
            validation = validation.accepted_types(&self.types).require_type(true);
        } else if jws_only {
            // A bare JWS need not be a JWT: any `typ` unless --typ says otherwise.
            validation = validation.accepted_types(&[]);
        }
        for claim in &self.registered {
            validation = validation.require(*claim);
        }
        if let Some(leeway) = self.leeway {
            validation = validation.leeway(leeway);
        }
        validation
    }
}

/// Runs `tollgate verify`.
///
/// # Errors
/// A [`UsageError`] for unreadable or unusable keys and unreadable stdin; a rejected token
/// is not an error but an [`Outcome`] with status 1.
pub fn run(args: &VerifyArgs) -> Result<Outcome, UsageError> {
    let keys = VerifyingKeys::load(&args.key)?;
    let token = token_bytes(&args.token)?;
    let mut rules = Rules::new(args);
    if let Some(issuer) = keys.discovered_issuer()
        && rules.issuers.is_empty()
    {
        rules.issuers.push(issuer);
    }
    let validation = rules.validation(args.jws);
    let mut scratch = vec![0u8; token.len()];
    if args.jws {
        return Ok(match verify_jws(&token, &keys, &validation, &mut scratch) {
            Ok(jws) => verdict(
                jws.header(),
                "payload",
                Base64UrlUnpadded::encode_string(jws.payload()).into(),
            ),
            Err(e) => rejection(e.code(), e.message()),
        });
    }
    let now = now_or(args.now)?;
    let verified = match verify(&token, &keys, &validation, now, &mut scratch) {
        Ok(verified) => verified,
        Err(e) => return Ok(rejection(e.code(), e.message())),
    };
    let claims = object(verified.payload());
    if rules.other.iter().any(|name| claims.get(name).is_none()) {
        let missing = JwtError::MissingClaim;
        return Ok(rejection(missing.code(), missing.message()));
    }
    Ok(verdict(verified.header(), "claims", claims))
}

/// The JSON verdict for an accepted token: algorithm, key id, header, then `body_name`.
fn verdict(header: &Header<'_>, body_name: &str, body: Value) -> Outcome {
    let header_json = object(header.json().as_bytes());
    let kid = header_json.get("kid").cloned().unwrap_or(Value::Null);
    let mut out = serde_json::Map::new();
    out.insert("valid".into(), true.into());
    out.insert("alg".into(), header.algorithm().name().into());
    out.insert("kid".into(), kid);
    out.insert("header".into(), header_json);
    out.insert(body_name.into(), body);
    Outcome {
        stdout: Value::Object(out).to_string(),
        status: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn verify_args(extra: &[&str]) -> VerifyArgs {
        let mut argv = vec!["tollgate", "verify", "--secret-env", "S"];
        argv.extend_from_slice(extra);
        argv.push("t");
        match crate::cli::Cli::try_parse_from(argv).unwrap().command {
            crate::cli::Command::Verify(args) => args,
            _ => unreachable!(),
        }
    }

    #[test]
    fn required_claims_split_into_registered_and_other() {
        let args = verify_args(&[
            "--require",
            "sub",
            "--require",
            "tenant",
            "--require",
            "jti",
        ]);
        let rules = Rules::new(&args);
        assert_eq!(rules.registered, [Claim::Sub, Claim::Jti]);
        assert_eq!(rules.other, ["tenant"]);
    }

    #[test]
    fn options_reach_the_core_validation() {
        let args = verify_args(&["--iss", "a", "--iss", "b", "--aud", "x", "--leeway", "5"]);
        let rules = Rules::new(&args);
        assert_eq!(rules.issuers, ["a", "b"]);
        assert_eq!(rules.audiences, ["x"]);
        assert_eq!(rules.validation(false).leeway_secs(), 5);
        let defaults = verify_args(&[]);
        assert_eq!(
            Rules::new(&defaults).validation(false).leeway_secs(),
            tollgate::jwt::validate::DEFAULT_LEEWAY
        );
    }

    #[test]
    fn token_operand_may_start_with_a_hyphen() {
        assert_eq!(verify_args(&[]).token, "t");
        let argv = ["tollgate", "verify", "--secret-env", "S", "-"];
        assert!(crate::cli::Cli::try_parse_from(argv).is_ok());
        let argv = ["tollgate", "verify", "--secret-env", "S", "-x.y.z"];
        assert!(crate::cli::Cli::try_parse_from(argv).is_ok());
    }

    #[test]
    fn exactly_one_final_newline_is_dropped() {
        assert_eq!(drop_final_newline(b"abc\n"), b"abc");
        assert_eq!(drop_final_newline(b"abc\r\n"), b"abc");
        assert_eq!(drop_final_newline(b"abc\n\n"), b"abc\n");
        assert_eq!(drop_final_newline(b"abc\r\n\r\n"), b"abc\r\n");
        assert_eq!(drop_final_newline(b"abc"), b"abc");
        assert_eq!(drop_final_newline(b"abc\r"), b"abc\r");
        assert_eq!(drop_final_newline(b"abc \n"), b"abc ");
        assert_eq!(drop_final_newline(b""), b"");
    }
}
