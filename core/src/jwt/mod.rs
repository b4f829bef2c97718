//! Compact JWS verification and JWT validation (HS256, ES256, RS256), without a heap.
//!
//! Two layers, both public:
//! - [`verify_jws`]: the compact serialization (exactly three segments, strict
//!   base64url), the header, key selection and the signature over the byte-exact
//!   signing input (RFC 7515 §5.2). Returns the payload bytes.
//! - [`verify`]: the above, then the payload as JSON claims checked against a
//!   [`Validation`] at time `now` (Unix seconds, supplied by the caller).
//!
//! Guarantees:
//! - **The key decides the algorithm.** A [`KeySource`] picks the key (one [`Key`], a
//!   [`Jwk`] or a [`JwkSet`]), or more generally a [`KeyResolver`], which may also look
//!   at the unverified claims (a secret per user); the header's `alg` must equal that
//!   key's algorithm, or the token is refused with [`JwtError::AlgorithmMismatch`].
//!   `none` cannot be named.
//! - **Limits before work.** Tokens longer than the configured maximum (8 KiB by
//!   default) are refused before anything is decoded.
//! - **Strict parsing.** The header and payload must each be one JSON object: no
//!   duplicate members, no invalid UTF-8 or lone surrogates, no BOM, no trailing data,
//!   bounded nesting ([`json`]). `crit` is refused since no extension is implemented.
//! - **Borrowed results.** Decoded header and payload live in a caller-provided scratch
//!   buffer (`token.len()` bytes always suffice); registered claims are returned as
//!   [`JsonStr`](json::JsonStr) views into it, and custom claims deserialize from it with
//!   `serde` ([`VerifiedToken::claims`]).
//!
//! # Example
//!
//! ```
//! # #[cfg(feature = "hs256")]
//! # fn main() -> Result<(), Box<dyn core::error::Error>> {
//! use tollgate::jwt::{self, alg::hs256::Hs256Secret, Key, Validation};
//!
//! // RFC 7515 Appendix A.1: an HS256 JWT and its 64-byte key.
//! let token = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9\
//!     .eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ\
//!     .dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
//! let mut secret = [0u8; 64];
//! let secret = tollgate::base64url::decode(
//!     b"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow",
//!     &mut secret,
//! )?;
//! let key = Key::Hs256(Hs256Secret::new(secret)?);
//!
//! let rules = Validation::new().issuers(&["joe"]);
//! let now = 1_300_819_000; // the example token expires at 1300819380
//! let mut scratch = [0u8; 256];
//! let verified = jwt::verify(token.as_bytes(), &key, &rules, now, &mut scratch)?;
//! assert!(verified.registered().iss().is_some_and(|iss| iss == "joe"));
//!
//! // The same token an hour after it expired:
//! let late = jwt::verify(token.as_bytes(), &key, &rules, now + 3600, &mut scratch);
//! assert_eq!(late.unwrap_err(), jwt::JwtError::Expired);
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "hs256"))]
//! # fn main() {}
//! ```

pub mod alg;
pub mod claims;
pub mod error;
pub mod header;
pub mod json;
pub mod jwk;
pub mod jwks;
pub mod key;
pub mod resolve;
pub mod token;
pub mod validate;

pub use claims::{Claim, ClaimSet, Claims};
pub use error::{JwtError, KeyError};
pub use header::Header;
pub use jwk::Jwk;
pub use jwks::JwkSet;
pub use key::{Algorithm, Key};
pub use resolve::{KeyResolver, UnverifiedToken, decode_unverified};
pub use token::{KeySource, VerifiedJws, VerifiedToken, verify, verify_jws};
pub use validate::Validation;
