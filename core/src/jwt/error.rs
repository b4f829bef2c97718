//! Errors of JWT verification and key parsing.

use core::fmt;

/// Why a token was rejected.
///
/// Every variant has a stable `snake_case` [`code`](JwtError::code) that may be shown to
/// clients; [`Display`](fmt::Display) gives a short human sentence. Signature failures are
/// deliberately opaque ([`JwtError::InvalidSignature`]); claim failures are precise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum JwtError {
    /// The token is not a well-formed compact JWS: segment count, base64url, JSON,
    /// duplicate members, invalid UTF-8, trailing data.
    Malformed,
    /// The header names an algorithm tollgate does not implement (including `none`).
    UnsupportedAlgorithm,
    /// The header's `alg` differs from the algorithm of the key that was chosen.
    AlgorithmMismatch,
    /// The signature does not verify (opaque on purpose).
    InvalidSignature,
    /// `exp` (plus leeway) is in the past.
    Expired,
    /// `nbf` (minus leeway) is in the future.
    NotYetValid,
    /// `iat` is in the future beyond the leeway.
    IssuedInFuture,
    /// `iat` is older than the configured maximum age.
    TooOld,
    /// `iss` is missing from the accepted issuers.
    InvalidIssuer,
    /// No audience in `aud` matches a configured audience.
    InvalidAudience,
    /// A required claim is absent.
    MissingClaim,
    /// A registered claim has the wrong JSON type (for example a string `exp`).
    InvalidClaim,
    /// The header `typ` is not accepted (or is required and absent).
    InvalidType,
    /// The header `crit` lists an extension tollgate does not implement, or is empty.
    UnsupportedCriticalHeader,
    /// The token is longer than the configured maximum; nothing was decoded.
    TokenTooLarge,
    /// No key in the key set matches the token's `kid`/`alg`.
    UnknownKey,
    /// A caller-provided scratch buffer is too small for the decoded token.
    BufferTooSmall,
    /// The payload could not be deserialized into the caller's claims type.
    InvalidClaims,
    /// The verification keys cannot be consulted right now (a remote key set could not
    /// be fetched and no usable copy is cached). Not the token's fault: the client may
    /// retry later with the same token.
    KeysUnavailable,
}

impl JwtError {
    /// The stable `snake_case` code, safe to send to clients.
    #[must_use]
    pub const fn code(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::UnsupportedAlgorithm => "unsupported_algorithm",
            Self::AlgorithmMismatch => "algorithm_mismatch",
            Self::InvalidSignature => "invalid_signature",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::IssuedInFuture => "issued_in_future",
            Self::TooOld => "too_old",
            Self::InvalidIssuer => "invalid_issuer",
            Self::InvalidAudience => "invalid_audience",
            Self::MissingClaim => "missing_claim",
            Self::InvalidClaim => "invalid_claim",
            Self::InvalidType => "invalid_type",
            Self::UnsupportedCriticalHeader => "unsupported_critical_header",
            Self::TokenTooLarge => "token_too_large",
            Self::UnknownKey => "unknown_key",
            Self::BufferTooSmall => "buffer_too_small",
            Self::InvalidClaims => "invalid_claims",
            Self::KeysUnavailable => "keys_unavailable",
        }
    }

    /// A short human-readable description (no internal details).
    #[must_use]
    pub const fn message(self) -> &'static str {
        match self {
            Self::Malformed => "token is not a well-formed compact JWS",
            Self::UnsupportedAlgorithm => "token algorithm is not supported",
            Self::AlgorithmMismatch => "token algorithm does not match the key",
            Self::InvalidSignature => "token signature is invalid",
            Self::Expired => "token has expired",
            Self::NotYetValid => "token is not valid yet",
            Self::IssuedInFuture => "token was issued in the future",
            Self::TooOld => "token is too old",
            Self::InvalidIssuer => "token issuer is not accepted",
            Self::InvalidAudience => "token audience is not accepted",
            Self::MissingClaim => "a required claim is missing",
            Self::InvalidClaim => "a registered claim has an invalid type",
            Self::InvalidType => "token type is not accepted",
            Self::UnsupportedCriticalHeader => "token has an unsupported critical header",
            Self::TokenTooLarge => "token is too large",
            Self::UnknownKey => "no key matches the token",
            Self::BufferTooSmall => "scratch buffer too small for the token",
            Self::InvalidClaims => "claims do not match the expected shape",
            Self::KeysUnavailable => "verification keys are unavailable, try again later",
        }
    }
}

impl fmt::Display for JwtError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl core::error::Error for JwtError {}

/// Why a key could not be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum KeyError {
    /// The key material is not valid PEM, DER, or JWK.
    Malformed,
    /// The key type or curve is not supported (for example P-384, Ed25519, or a private key where a public key is expected).
    UnsupportedKeyType,
    /// The RSA modulus is below 2048 bits or above 4096 bits, or the exponent is unusable.
    UnsupportedKeySize,
    /// The EC point is not on the curve, or an RSA modulus is even.
    InvalidKey,
    /// The JWK's `use` or `key_ops` does not allow signature verification.
    UsageNotAllowed,
    /// The JWK's `alg` names an algorithm the key type cannot do.
    AlgorithmMismatch,
    /// The bytes look like a public key (PEM, DER, or JWK) and may not be used as an HMAC secret.
    SecretLooksLikePublicKey,
    /// An HMAC secret is empty.
    EmptySecret,
    /// A fixed-capacity key set is full.
    CapacityExceeded,
    /// A caller-provided scratch buffer is too small.
    BufferTooSmall,
}

impl KeyError {
    /// The stable `snake_case` code.
    #[must_use]
    pub const fn code(self) -> &'static str {
        match self {
            Self::Malformed => "malformed_key",
            Self::UnsupportedKeyType => "unsupported_key_type",
            Self::UnsupportedKeySize => "unsupported_key_size",
            Self::InvalidKey => "invalid_key",
            Self::UsageNotAllowed => "key_usage_not_allowed",
            Self::AlgorithmMismatch => "key_algorithm_mismatch",
            Self::SecretLooksLikePublicKey => "secret_looks_like_public_key",
            Self::EmptySecret => "empty_secret",
            Self::CapacityExceeded => "capacity_exceeded",
            Self::BufferTooSmall => "buffer_too_small",
        }
    }
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Malformed => "key is not valid PEM, DER or JWK",
            Self::UnsupportedKeyType => "key type is not supported",
            Self::UnsupportedKeySize => "key size is not supported (RSA needs 2048 to 4096 bits)",
            Self::InvalidKey => "key is invalid",
            Self::UsageNotAllowed => "key usage does not allow signature verification",
            Self::AlgorithmMismatch => "key algorithm does not match the key type",
            Self::SecretLooksLikePublicKey => "an HMAC secret may not be a public key",
            Self::EmptySecret => "an HMAC secret may not be empty",
            Self::CapacityExceeded => "key set is full",
            Self::BufferTooSmall => "scratch buffer too small",
        })
    }
}

impl core::error::Error for KeyError {}
