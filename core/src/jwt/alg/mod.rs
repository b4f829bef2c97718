//! Signature algorithms. The key decides the algorithm: each key type verifies only
//! its own algorithm, and `none` is unrepresentable.

#[cfg(feature = "es256")]
pub mod es256;
#[cfg(feature = "hs256")]
pub mod hs256;
#[cfg(feature = "rs256")]
pub mod rs256;
