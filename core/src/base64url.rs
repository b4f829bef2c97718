//! Strict base64url (RFC 4648 §5): no padding, no whitespace, canonical only
//! (non-zero trailing bits are rejected).
