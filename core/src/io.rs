//! The async driver over `embedded-io-async` streams.
