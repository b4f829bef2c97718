//! Glue between the handshake and JWT verification.
