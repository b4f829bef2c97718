//! Why a key set could not be fetched or discovered.

use std::fmt;

use tollgate::jwt::KeyError;

/// Why fetching a JWK Set or an OpenID Connect discovery document failed.
///
/// These are operator-facing (logs, the CLI's stderr). Clients are only ever told
/// `keys_unavailable` or `unknown_key`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum JwksError {
    /// The URL does not parse, or is neither `https://` nor `http://` to a loopback host.
    InvalidUrl(String),
    /// The HTTP client could not be built (TLS setup).
    Client(String),
    /// Connecting, sending or reading failed (DNS, TLS, reset, …).
    Transport(String),
    /// No complete answer within [`JwksConfig::timeout`](super::JwksConfig::timeout).
    Timeout,
    /// The server answered with a status other than 200.
    Status(u16),
    /// The body is larger than [`JwksConfig::max_document_bytes`](super::JwksConfig::max_document_bytes).
    TooLarge,
    /// The body is not a JWK Set the core accepts.
    Document(KeyError),
    /// The set publishes a symmetric (`oct`) key: a published shared secret is a leaked
    /// one, so the whole document is refused.
    SymmetricKey,
    /// The set holds no key usable for signature verification.
    NoUsableKey {
        /// How many entries were skipped (encryption keys, RSA below 2048 bits, other
        /// algorithms, invalid material).
        skipped: usize,
    },
    /// The discovery document is not JSON with string `issuer` and `jwks_uri` members.
    Discovery(String),
    /// The discovery document names another issuer than the configured one
    /// (OpenID Connect Discovery §4.3: they must be identical).
    IssuerMismatch {
        /// The configured issuer.
        expected: String,
        /// The discovery document's `issuer`.
        found: String,
    },
}

impl JwksError {
    /// A stable `snake_case` code for logs and scripts.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::InvalidUrl(_) => "invalid_url",
            Self::Client(_) => "client",
            Self::Transport(_) => "transport",
            Self::Timeout => "timeout",
            Self::Status(_) => "http_status",
            Self::TooLarge => "too_large",
            Self::Document(_) => "invalid_document",
            Self::SymmetricKey => "symmetric_key",
            Self::NoUsableKey { .. } => "no_usable_key",
            Self::Discovery(_) => "invalid_discovery",
            Self::IssuerMismatch { .. } => "issuer_mismatch",
        }
    }
}

impl fmt::Display for JwksError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidUrl(why) => write!(f, "invalid URL: {why}"),
            Self::Client(why) => write!(f, "cannot build the HTTP client: {why}"),
            Self::Transport(why) => write!(f, "request failed: {why}"),
            Self::Timeout => f.write_str("request timed out"),
            Self::Status(status) => write!(f, "server answered HTTP {status}"),
            Self::TooLarge => f.write_str("document is too large"),
            Self::Document(error) => {
                write!(f, "not a usable JWK Set: {error} ({})", error.code())
            }
            Self::SymmetricKey => {
                f.write_str("the JWK Set publishes a symmetric (oct) key; refused whole")
            }
            Self::NoUsableKey { skipped } => write!(
                f,
                "the JWK Set holds no signature verification key ({skipped} skipped)"
            ),
            Self::Discovery(why) => write!(f, "invalid OpenID configuration: {why}"),
            Self::IssuerMismatch { expected, found } => write!(
                f,
                "OpenID configuration names issuer {found:?}, expected {expected:?}"
            ),
        }
    }
}

impl std::error::Error for JwksError {}

impl From<reqwest::Error> for JwksError {
    fn from(error: reqwest::Error) -> Self {
        if error.is_timeout() {
            return Self::Timeout;
        }
        // The source chain says what actually failed (connection refused, TLS, …).
        let mut text = error.to_string();
        let mut source = std::error::Error::source(&error);
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        Self::Transport(text)
    }
}
