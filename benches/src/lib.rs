//! Shared fixtures for the benchmarks: keys, a realistic claims payload, masked frames.
//!
//! Every benchmark feeds our code and the peer crates the same bytes in the same run.

/// The current Unix time: peers read the system clock, so the fixtures are minted relative to it.
#[must_use]
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
/// The issuer every fixture token carries.
pub const ISSUER: &str = "https://auth.example.com/";
/// The audience every fixture token carries.
pub const AUDIENCE: &str = "chat-api";
/// The HS256 secret of the fixtures.
pub const HS256_SECRET: &[u8] = b"a-32-byte-long-benchmark-secret!";
/// The ES256 signing key (PKCS#8 PEM).
pub const ES256_PRIVATE_PEM: &str = include_str!("../fixtures/es256-private.pem");
/// The ES256 verification key (SPKI PEM).
pub const ES256_PUBLIC_PEM: &str = include_str!("../fixtures/es256-public.pem");
/// The RS256 signing key, 2048 bits (PKCS#8 PEM).
pub const RS256_PRIVATE_PEM: &str = include_str!("../fixtures/rs256-private.pem");
/// The RS256 verification key (SPKI PEM).
pub const RS256_PUBLIC_PEM: &str = include_str!("../fixtures/rs256-public.pem");

/// A realistic ~300-byte claims set: registered claims plus a few application claims.
#[must_use]
pub fn claims_json(now: u64) -> String {
    format!(
        concat!(
            r#"{{"iss":"{iss}","sub":"user-8c1f9e2a-4b7d-4f0e-9a3c-2d5e6f7a8b9c","aud":"{aud}","#,
            r#""exp":{exp},"nbf":{nbf},"iat":{iat},"jti":"b3f1c2d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d","#,
            r#""name":"Ada Lovelace","email":"ada@example.com","role":"moderator","#,
            r#""scope":"chat:read chat:write presence:read","tenant":"acme-eu-west-1","sid":"s-42"}}"#
        ),
        iss = ISSUER,
        aud = AUDIENCE,
        exp = now + 3600,
        nbf = now - 60,
        iat = now - 60,
    )
}

/// Masks `payload` with `key` starting at mask phase 0 (the reference byte loop).
pub fn mask_bytes(payload: &mut [u8], key: [u8; 4]) {
    for (i, b) in payload.iter_mut().enumerate() {
        *b ^= key[i % 4];
    }
}

/// Encodes one masked client→server frame (`FIN` set) with the given opcode.
#[must_use]
pub fn masked_frame(opcode: u8, payload: &[u8], key: [u8; 4]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 14);
    out.push(0x80 | opcode);
    let len = payload.len();
    if len < 126 {
        out.push(0x80 | len as u8);
    } else if len <= usize::from(u16::MAX) {
        out.push(0x80 | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0x80 | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    out.extend_from_slice(&key);
    let start = out.len();
    out.extend_from_slice(payload);
    mask_bytes(&mut out[start..], key);
    out
}

/// `count` masked binary frames of `size` bytes each, back to back, with varying mask keys.
#[must_use]
pub fn masked_stream(count: usize, size: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..count {
        let payload: Vec<u8> = (0..size).map(|j| (i + j) as u8).collect();
        let k = (i as u32).wrapping_mul(0x9E37_79B9).to_le_bytes();
        out.extend_from_slice(&masked_frame(0x2, &payload, k));
    }
    out
}
