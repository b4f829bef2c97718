//! Compact JWS verification and JWT validation.

pub mod alg;
pub mod claims;
pub mod error;
pub mod header;
pub mod json;
pub mod jwk;
pub mod jwks;
pub mod key;
pub mod token;
pub mod validate;
