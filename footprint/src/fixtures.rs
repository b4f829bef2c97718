//! Keys and tokens, generated once with the `tollgate` binary (tokens are data here;
//! their signatures are what the firmware checks):
//!
//! ```text
//! C="--now 1800000000 --exp 3600 --iss tollgate-footprint --aud device --sub sensor-17 --kid fw1"
//! FOOTPRINT_SECRET='footprint-hs256-secret-0123456789abcdef' \
//!   tollgate token --secret-env FOOTPRINT_SECRET --alg HS256 $C
//! tollgate token --key benches/fixtures/es256-private.pem --alg ES256 $C
//! tollgate token --key benches/fixtures/rs256-private.pem --alg RS256 $C   # 2048-bit key
//! ```

/// Verification time: ten minutes after the tokens were issued, fifty before they expire.
pub const NOW: u64 = 1_800_000_600;
/// The tokens' `iss`.
pub const ISSUER: &str = "tollgate-footprint";
/// The tokens' `aud`.
pub const AUDIENCE: &str = "device";
/// The tokens' `sub`, checked after verification.
pub const SUBJECT: &str = "sensor-17";
/// Room for the longest token (the RS256 one, about 560 bytes).
pub const MAX_TOKEN_LEN: usize = 1024;

/// The HS256 shared secret.
pub const HS256_SECRET: &[u8] = b"footprint-hs256-secret-0123456789abcdef";
/// The P-256 public key (SPKI PEM) matching `benches/fixtures/es256-private.pem`.
pub const ES256_PUBLIC_PEM: &[u8] = include_bytes!("../../benches/fixtures/es256-public.pem");
/// The RSA-2048 public key (SPKI PEM) matching `benches/fixtures/rs256-private.pem`.
pub const RS256_PUBLIC_PEM: &[u8] = include_bytes!("../../benches/fixtures/rs256-public.pem");

/// HS256 token.
pub const HS256_TOKEN: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6ImZ3MSJ9.eyJpc3MiOiJ0b2xsZ2F0ZS1mb290cHJpbnQiLCJzdWIiOiJzZW5zb3ItMTciLCJhdWQiOiJkZXZpY2UiLCJpYXQiOjE4MDAwMDAwMDAsImV4cCI6MTgwMDAwMzYwMH0.cCoGG7hyuwhtQq2rrazg-_7aHfLka2n7tIeqGlAQzD4";
/// ES256 token.
pub const ES256_TOKEN: &str = "eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6ImZ3MSJ9.eyJpc3MiOiJ0b2xsZ2F0ZS1mb290cHJpbnQiLCJzdWIiOiJzZW5zb3ItMTciLCJhdWQiOiJkZXZpY2UiLCJpYXQiOjE4MDAwMDAwMDAsImV4cCI6MTgwMDAwMzYwMH0.u2tv3ikOlwPizru5CVvbDttoMkSNacbMCw6yo4USZl1LHFwVz9rw-bgBPFRJt9Yxfp0PPpB3TmZdogR4ZCIitw";
/// RS256 token (2048-bit key).
pub const RS256_TOKEN: &str = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6ImZ3MSJ9.eyJpc3MiOiJ0b2xsZ2F0ZS1mb290cHJpbnQiLCJzdWIiOiJzZW5zb3ItMTciLCJhdWQiOiJkZXZpY2UiLCJpYXQiOjE4MDAwMDAwMDAsImV4cCI6MTgwMDAwMzYwMH0.fCmQw4TQFDwmvepfW6ANY33Kw2OBqPaHPuaEOb4spuxC6zSOnp1au6QUtetC4j6RQfFEHb5hiI-SkSNvjGAD7if86hwzJYV673iKUF8vWdVYPuun8B6o_VhIA4MIOey4QmAz1fRcE_sDiUXDVSBCQZMV5rnQC6RZwYFsKSTuGF2MOJBZCO8JQ6YuGsGKAudO2wEGPNqGMRkF7hibJVvA6cM22wN9nReQARUIk89ASi_60a-4msqY8JmyqXmo62fdSYRU_ejak3X2Foc5tTZxEx41BNtjpmSmkvrBKAJpsgqPDb88Ty_N2Jp_BBlwSkm2-pgKsAh2KsXHnD9smYcjZQ";

/// The client's `Sec-WebSocket-Key` nonce: RFC 6455 §1.3's example ("the sample nonce").
pub const WS_NONCE: [u8; 16] = *b"the sample nonce";
/// Its `Sec-WebSocket-Accept`, from RFC 6455 §1.3.
pub const WS_ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
