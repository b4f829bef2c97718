//! Token parsing, verification and base64url.

use serde::Deserialize;

use super::Bytes;
use crate::base64url as b64;
use crate::jwt::json::{self, JsonStr, Value};
use crate::jwt::token::CompactParts;
use crate::jwt::{
    self as jwt_mod, Claim, ClaimSet, Claims, Header, Jwk, JwkSet, JwtError, Key, KeyResolver,
    KeySource, UnverifiedToken, Validation,
};

/// Longest token or JSON document examined; longer inputs are cut (libFuzzer's default
/// `-max_len` is 4096).
const MAX_INPUT: usize = 8192;

/// The HS256 secret of [`TestKeys`] (32 bytes, as RFC 7518 §3.2 asks).
pub const HS256_SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

/// RFC 7515 Appendix A.3's P-256 key and Appendix A.2's RSA key, as a JWK Set.
const ASYMMETRIC_SET: &[u8] = br#"{"keys":[
{"kty":"EC","crv":"P-256","kid":"es","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
{"kty":"RSA","kid":"rs","e":"AQAB","n":"ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ"}
]}"#;

/// [`HS256_SECRET`] as a JWK with `kid` `hs`.
const HS256_JWK: &[u8] =
    br#"{"kty":"oct","kid":"hs","k":"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY"}"#;

/// The fixed verification keys of [`jwt_verify`]; build them once per process.
#[derive(Debug)]
pub struct TestKeys {
    hs: crate::jwt::alg::hs256::Hs256Secret,
    hs_key: Key,
    hs_jwk: Jwk,
    es: Key,
    rs: Key,
    set: JwkSet<4>,
}

impl TestKeys {
    /// Parses the fixed keys.
    ///
    /// # Panics
    /// When the fixed keys do not parse (a bug in the key parsers).
    #[must_use]
    pub fn new() -> Self {
        let Ok(hs) = crate::jwt::alg::hs256::Hs256Secret::new(HS256_SECRET) else {
            panic!("the fixed HS256 secret is refused");
        };
        let Ok(set) = JwkSet::<4>::from_json(ASYMMETRIC_SET) else {
            panic!("the fixed JWK Set is refused");
        };
        let Ok(hs_jwk) = Jwk::parse(HS256_JWK) else {
            panic!("the fixed oct JWK is refused");
        };
        let (es, rs) = {
            let mut keys = set.iter().map(|jwk| jwk.key().clone());
            let (Some(es), Some(rs), None) = (keys.next(), keys.next(), keys.next()) else {
                panic!("the fixed JWK Set does not hold exactly its two keys");
            };
            (es, rs)
        };
        Self {
            hs_key: Key::Hs256(hs.clone()),
            hs,
            hs_jwk,
            es,
            rs,
            set,
        }
    }
}

impl Default for TestKeys {
    fn default() -> Self {
        Self::new()
    }
}

const ISSUERS: &[&str] = &["joe", "https://issuer.example"];
const AUDIENCES: &[&str] = &["api", "other"];

/// The rule sets tried; the input picks one per run.
const VALIDATIONS: [Validation<'static>; 4] = [
    Validation::new(),
    Validation::new()
        .required_claims(ClaimSet::EMPTY)
        .leeway(0)
        .accepted_types(&[]),
    Validation::new()
        .issuers(ISSUERS)
        .audiences(AUDIENCES)
        .require(Claim::Sub)
        .max_age(3600)
        .require_type(true)
        .leeway(5),
    Validation::new()
        .max_token_len(200)
        .leeway(u64::MAX)
        .max_age(u64::MAX),
];

/// Instants around the interesting dates: the epoch, the RFC 7515 examples' `exp`, today,
/// the end of time.
const NOW_BASES: [u64; 4] = [0, 1_300_819_380, 1_700_000_000, u64::MAX];

/// Headers of the tokens minted from fuzzer claims.
const MINT_HEADERS: [&[u8]; 3] = [
    br#"{"alg":"HS256","typ":"JWT"}"#,
    br#"{"alg":"HS256","kid":"hs"}"#,
    br#"{"typ":"at+JWT","alg":"HS256"}"#,
];

/// A custom-claims type for [`VerifiedToken::claims`](crate::jwt::VerifiedToken::claims).
#[derive(Deserialize)]
#[allow(dead_code, reason = "only deserialization is exercised")]
struct CustomClaims<'a> {
    sub: Option<&'a str>,
    scope: Option<&'a str>,
    exp: Option<i64>,
    admin: Option<bool>,
}

/// Full verification with every key kind, a rule set and a time picked by the input,
/// then a differential: a token minted with the HS256 secret from input claims verifies
/// exactly when the claims parse and pass the rules.
///
/// Layout: rule set and time base (1 byte), time offset (4 bytes), then the token (and
/// the claims to mint).
pub fn jwt_verify(keys: &TestKeys, data: &[u8]) {
    let mut input = Bytes::new(data);
    let mode = input.byte();
    let offset = i64::from(input.u32() as i32);
    let base = NOW_BASES
        .get(usize::from(mode >> 2 & 3))
        .copied()
        .unwrap_or(0);
    let now = base.wrapping_add_signed(offset);
    let rules = VALIDATIONS
        .get(usize::from(mode & 3))
        .copied()
        .unwrap_or_default();
    let token = input.rest();
    let token = token.get(..MAX_INPUT).unwrap_or(token);

    check_verify(token, &keys.hs_key, &rules, now);
    check_verify(token, &keys.hs_jwk, &rules, now);
    check_verify(token, &keys.es, &rules, now);
    check_verify(token, &keys.rs, &rules, now);
    check_verify(token, &keys.set, &rules, now);
    check_resolver(token, &keys.hs_key, &rules, now);
    mint_and_verify(keys, mode, token, &rules, now);
}

/// A resolver that reads the unverified claims: `key` for the subject `hs`, none else.
struct BySubject<'k>(&'k Key);

impl KeyResolver for BySubject<'_> {
    fn needs_claims(&self) -> bool {
        true
    }

    fn resolve(&self, token: &UnverifiedToken<'_>) -> Result<&Key, JwtError> {
        match token.claims().and_then(Claims::sub) {
            Some(sub) if sub == "hs" => Ok(self.0),
            _ => Err(JwtError::UnknownKey),
        }
    }
}

/// A claims-reading resolver accepts only what its key alone accepts, and only for the
/// subject it names.
fn check_resolver(token: &[u8], key: &Key, rules: &Validation<'_>, now: u64) {
    let mut buf = [0u8; MAX_INPUT];
    let Some(scratch) = buf.get_mut(..token.len()) else {
        return;
    };
    let subject = match jwt_mod::verify(token, &BySubject(key), rules, now, scratch) {
        Ok(verified) => verified.registered().sub().is_some_and(|sub| sub == "hs"),
        Err(error) => {
            assert_ne!(error, JwtError::BufferTooSmall, "token.len() bytes suffice");
            return;
        }
    };
    assert!(subject, "verified for another subject");
    let mut buf = [0u8; MAX_INPUT];
    let scratch = buf.get_mut(..token.len()).unwrap_or_default();
    assert!(jwt_mod::verify(token, key, rules, now, scratch).is_ok());
}

/// `verify` against `verify_jws`, the claim rules and a short scratch buffer.
fn check_verify<K: KeySource + ?Sized>(token: &[u8], keys: &K, rules: &Validation<'_>, now: u64) {
    let mut buf = [0u8; MAX_INPUT];
    let Some(scratch) = buf.get_mut(..token.len()) else {
        return;
    };
    let full = match jwt_mod::verify(token, keys, rules, now, scratch) {
        Ok(verified) => {
            let header = verified.header();
            assert!(rules.validate_header(header).is_ok());
            let key = keys.select(header);
            assert!(key.is_ok_and(|k| k.algorithm() == header.algorithm()));
            let claims = Claims::parse(verified.payload());
            assert!(claims.is_ok_and(|c| rules.validate_claims(&c, now).is_ok()));
            let mut escapes = [0u8; 256];
            let _ = verified.claims::<CustomClaims<'_>>(&mut escapes);
            Ok(())
        }
        Err(error) => Err(error),
    };
    assert_ne!(
        full,
        Err(JwtError::BufferTooSmall),
        "token.len() bytes suffice"
    );
    if token.len() > rules.max_token_len_bytes() {
        assert_eq!(full, Err(JwtError::TokenTooLarge));
    }
    match jwt_mod::verify_jws(token, keys, rules, scratch) {
        Err(error) => assert_eq!(full, Err(error), "verify fails as verify_jws did"),
        Ok(jws) => {
            let expected =
                Claims::parse(jws.payload()).and_then(|c| rules.validate_claims(&c, now));
            assert_eq!(full, expected, "verify is verify_jws and the claim rules");
        }
    }
    let short = scratch.get_mut(..token.len() / 2).unwrap_or_default();
    let partial = jwt_mod::verify(token, keys, rules, now, short).map(|_| ());
    assert!(
        partial == full || partial == Err(JwtError::BufferTooSmall),
        "a short scratch buffer only adds BufferTooSmall: {partial:?} vs {full:?}"
    );
}

/// Mints an HS256 token over `claims` and checks every verdict against the parts.
fn mint_and_verify(keys: &TestKeys, mode: u8, claims: &[u8], rules: &Validation<'_>, now: u64) {
    let claims = claims.get(..4096).unwrap_or(claims);
    let header = MINT_HEADERS
        .get(usize::from(mode >> 4) % MINT_HEADERS.len())
        .copied()
        .unwrap_or_default();
    let mut token = [0u8; MAX_INPUT];
    let Some(len) = mint(&keys.hs, header, claims, &mut token) else {
        panic!("a token of {} claim bytes does not fit", claims.len());
    };
    let token = token.get(..len).unwrap_or_default();
    let mut scratch = [0u8; MAX_INPUT];
    let jws = jwt_mod::verify_jws(token, &keys.hs_key, &Validation::new(), &mut scratch);
    assert!(
        jws.is_ok_and(|v| v.payload() == claims),
        "a freshly signed token verifies and returns its payload"
    );

    let expected = if token.len() > rules.max_token_len_bytes() {
        Err(JwtError::TokenTooLarge)
    } else {
        Header::parse(header)
            .and_then(|h| rules.validate_header(&h))
            .and_then(|()| Claims::parse(claims))
            .and_then(|c| rules.validate_claims(&c, now))
    };
    let got = jwt_mod::verify(token, &keys.hs_key, rules, now, &mut scratch).map(|_| ());
    assert_eq!(got, expected, "minted token verdict");
    let by_jwk = jwt_mod::verify(token, &keys.hs_jwk, rules, now, &mut scratch).map(|_| ());
    assert_eq!(by_jwk, expected, "the same secret as a JWK");

    let relaxed = Validation::new();
    for other in [&keys.es, &keys.rs] {
        let r = jwt_mod::verify_jws(token, other, &relaxed, &mut scratch).map(|_| ());
        assert_eq!(r, Err(JwtError::AlgorithmMismatch), "the key decides");
    }
    let r = jwt_mod::verify_jws(token, &keys.set, &relaxed, &mut scratch).map(|_| ());
    assert!(
        matches!(r, Err(JwtError::UnknownKey | JwtError::AlgorithmMismatch)),
        "no HS256 key in the asymmetric set: {r:?}"
    );

    // Any flipped signature bit is an invalid signature.
    let mut tampered = [0u8; MAX_INPUT];
    let Some(tampered) = tampered.get_mut(..len) else {
        return;
    };
    tampered.copy_from_slice(token);
    let mut tag = keys.hs.sign(signing_input(token));
    let bit = usize::from(mode) % 256;
    if let Some(byte) = tag.get_mut(bit / 8) {
        *byte ^= 1 << (bit % 8);
    }
    let sig_at = len - 43;
    if let Some(slot) = tampered.get_mut(sig_at..)
        && b64::encode(&tag, slot).is_ok()
    {
        let r = jwt_mod::verify_jws(tampered, &keys.hs_key, &relaxed, &mut scratch).map(|_| ());
        assert_eq!(r, Err(JwtError::InvalidSignature));
    }
}

fn signing_input(token: &[u8]) -> &[u8] {
    token
        .get(..token.len().saturating_sub(44))
        .unwrap_or_default()
}

/// `b64(header).b64(claims).b64(HMAC)` into `out`; returns its length.
fn mint(
    secret: &crate::jwt::alg::hs256::Hs256Secret,
    header: &[u8],
    claims: &[u8],
    out: &mut [u8],
) -> Option<usize> {
    let h = b64::encode(header, out).ok()?.len();
    *out.get_mut(h)? = b'.';
    let p = b64::encode(claims, out.get_mut(h + 1..)?).ok()?.len();
    let signed = h + 1 + p;
    let tag = secret.sign(out.get(..signed)?);
    *out.get_mut(signed)? = b'.';
    let s = b64::encode(&tag, out.get_mut(signed + 1..)?).ok()?.len();
    Some(signed + 1 + s)
}

/// Token split, header and claims parsing, and the JSON scanner on arbitrary bytes.
pub fn jwt_parse(data: &[u8]) {
    let data = data.get(..MAX_INPUT).unwrap_or(data);
    let dots = data.iter().filter(|&&b| b == b'.').count();
    match CompactParts::split(data) {
        Ok(parts) => {
            assert_eq!(dots, 2);
            let (h, p, s) = (parts.header(), parts.payload(), parts.signature());
            assert_eq!(h.len() + p.len() + s.len() + 2, data.len());
            assert_eq!(
                parts.signing_input(),
                data.get(..h.len() + 1 + p.len()).unwrap_or_default()
            );
            assert!(data.starts_with(h) && data.ends_with(s));
            let mut buf = [0u8; MAX_INPUT];
            for segment in [h, p] {
                if let Ok(json) = b64::decode(segment, &mut buf) {
                    parse_json_document(json);
                }
            }
        }
        Err(error) => {
            assert_ne!(dots, 2);
            assert_eq!(error, JwtError::Malformed);
        }
    }
    parse_json_document(data);
}

/// Header and claims parsing agree with the scanner, and every value reads back.
fn parse_json_document(doc: &[u8]) {
    let header = Header::parse(doc);
    let claims = Claims::parse(doc);
    let object = check_object(doc, 1);
    if let Ok(header) = header {
        assert!(object);
        assert_eq!(header.json().as_bytes(), doc);
        let _ = (header.kid(), header.typ(), header.content_type());
    }
    match claims {
        Ok(claims) => {
            assert!(object);
            assert_eq!(claims.json().as_bytes(), doc);
            for date in [claims.exp(), claims.nbf(), claims.iat()]
                .into_iter()
                .flatten()
            {
                assert!(date.ceil() >= date.floor());
                assert_eq!(
                    date.ceil() != date.floor(),
                    date.is_fractional() && date.floor() != i64::MAX
                );
            }
            if let Some(aud) = claims.aud() {
                for value in aud.iter() {
                    check_string(value);
                }
            }
        }
        Err(error) => {
            // A valid object can only fail on the type of a registered claim.
            let expected = if object {
                JwtError::InvalidClaim
            } else {
                JwtError::Malformed
            };
            assert_eq!(error, expected);
        }
    }
}

/// Scans `doc` as one object, walking every value; on success checks that no two member
/// names are equal once unescaped (a reference for the scanner's duplicate detection).
fn check_object(doc: &[u8], depth: usize) -> bool {
    assert!(
        depth <= json::MAX_DEPTH,
        "nesting beyond the limit accepted"
    );
    let mut names: [Option<JsonStr<'_>>; json::MAX_MEMBERS] = [None; json::MAX_MEMBERS];
    let mut count = 0;
    let result = json::parse_object(doc, |name, value| {
        if let Some(slot) = names.get_mut(count) {
            *slot = Some(name);
        }
        count += 1;
        check_string(name);
        check_value(value, depth);
    });
    let Ok(text) = result else {
        return false;
    };
    assert_eq!(text.as_bytes(), doc);
    assert!(
        count <= json::MAX_MEMBERS,
        "more members than the limit accepted"
    );
    // Unescape every name once into one buffer, then compare all pairs.
    let mut unescaped = [0u8; MAX_INPUT];
    let mut spans = [(0usize, 0usize); json::MAX_MEMBERS];
    let mut end = 0;
    for (name, span) in names.iter().flatten().zip(spans.iter_mut()) {
        let len = unescape_naive(name.raw(), unescaped.get_mut(end..).unwrap_or_default()).len();
        *span = (end, end + len);
        end += len;
    }
    let spans = spans.get(..count).unwrap_or_default();
    let name = |&(start, end): &(usize, usize)| unescaped.get(start..end).unwrap_or_default();
    for (i, a) in spans.iter().enumerate() {
        for b in spans.get(i + 1..).unwrap_or_default() {
            assert_ne!(
                name(a),
                name(b),
                "duplicate member names accepted in {text:?}"
            );
        }
    }
    true
}

fn check_value(value: Value<'_>, depth: usize) {
    match value {
        Value::Null | Value::Bool(_) => {}
        Value::String(s) => check_string(s),
        Value::Number(n) => {
            let got = n.to_floor_and_fraction();
            assert_eq!(got, floor_reference(n.raw()), "floor of {}", n.raw());
        }
        Value::Array(array) => {
            assert!(depth < json::MAX_DEPTH);
            let mut elements = 0usize;
            for element in array.iter() {
                check_value(element, depth + 1);
                elements += 1;
            }
            assert_eq!(array.is_empty(), elements == 0);
        }
        Value::Object(object) => {
            assert!(
                check_object(object.raw().as_bytes(), depth + 1),
                "a nested object re-scans"
            );
        }
    }
}

/// `JsonStr`'s views agree with each other and with a naive unescaper.
fn check_string(s: JsonStr<'_>) {
    let mut buf = [0u8; MAX_INPUT];
    let mut naive = [0u8; MAX_INPUT];
    let Ok(text) = s.unescape_into(&mut buf) else {
        panic!("an unescaped string is never longer than its source");
    };
    assert_eq!(
        text.as_bytes(),
        unescape_naive(s.raw(), &mut naive),
        "unescape of {s:?}"
    );
    assert_eq!(text.len(), s.unescaped_len());
    assert!(s.eq_str(text) && s == text && s.eq_ignore_ascii_case(text));
    assert_eq!(s.has_escapes(), s.raw().contains('\\'));
    if let Some(plain) = s.as_str() {
        assert_eq!(plain, text);
    }
    assert_eq!(s.chars().count(), text.chars().count());
}

/// Unescapes a validated JSON string body (RFC 8259 §7) byte by byte.
fn unescape_naive<'o>(raw: &str, out: &'o mut [u8]) -> &'o [u8] {
    let mut len = 0;
    let mut push = |c: char, len: &mut usize| {
        let mut tmp = [0u8; 4];
        let bytes = c.encode_utf8(&mut tmp).as_bytes();
        if let Some(dst) = out.get_mut(*len..*len + bytes.len()) {
            dst.copy_from_slice(bytes);
        }
        *len += bytes.len();
    };
    let mut chars = raw.chars();
    let hex4 = |chars: &mut core::str::Chars<'_>| {
        (0..4).fold(0u32, |acc, _| {
            acc << 4 | chars.next().and_then(|c| c.to_digit(16)).unwrap_or(0)
        })
    };
    while let Some(c) = chars.next() {
        if c != '\\' {
            push(c, &mut len);
            continue;
        }
        let decoded = match chars.next() {
            Some('b') => '\u{8}',
            Some('f') => '\u{c}',
            Some('n') => '\n',
            Some('r') => '\r',
            Some('t') => '\t',
            Some('u') => {
                let first = hex4(&mut chars);
                let code = if (0xD800..0xDC00).contains(&first) {
                    // A validated string has the low surrogate right after.
                    let (_, _) = (chars.next(), chars.next());
                    let low = hex4(&mut chars);
                    0x10000 + ((first - 0xD800) << 10) + (low.wrapping_sub(0xDC00) & 0x3FF)
                } else {
                    first
                };
                char::from_u32(code).unwrap_or('\u{FFFD}')
            }
            Some(other) => other,
            None => break,
        };
        push(decoded, &mut len);
    }
    out.get(..len).unwrap_or_default()
}

/// The exact floor of a validated JSON number, clamped to `i64`, and whether a non-zero
/// fraction was dropped: digits accumulate in `i128` and saturate far above `i64`.
fn floor_reference(raw: &str) -> (i64, bool) {
    const CAP: i128 = 1 << 64;
    let (negative, body) = match raw.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, raw),
    };
    let (mantissa, exponent) = match body.split_once(['e', 'E']) {
        Some((m, e)) => {
            let (sign, digits) = match e.strip_prefix('-') {
                Some(d) => (-1i128, d),
                None => (1, e.strip_prefix('+').unwrap_or(e)),
            };
            let magnitude = digits.bytes().fold(0i128, |acc, d| {
                (acc * 10 + i128::from(d - b'0')).min(1 << 40)
            });
            (m, sign * magnitude)
        }
        None => (body, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let point = int.len() as i128 + exponent;
    let mut value: i128 = 0;
    let mut fraction = false;
    let mut index: i128 = 0;
    for d in int.bytes().chain(frac.bytes()) {
        let digit = i128::from(d - b'0');
        if index < point {
            value = (value * 10 + digit).min(CAP);
        } else if digit != 0 {
            fraction = true;
        }
        index += 1;
    }
    let mut shift = point - index;
    while shift > 0 && value != 0 && value < CAP {
        value = (value * 10).min(CAP);
        shift -= 1;
    }
    let floor = match (negative, fraction) {
        (false, _) => value,
        (true, false) => -value,
        (true, true) => -value - 1,
    };
    let clamped = floor.clamp(i128::from(i64::MIN), i128::from(i64::MAX));
    (clamped as i64, fraction)
}

/// Strict base64url against a naive decoder (same verdict, error and bytes) and
/// `base64ct`'s unpadded URL alphabet (same verdict and bytes), and encode→decode.
///
/// Layout: output slack (1 byte), then the text to decode (also the bytes to encode).
pub fn base64url(data: &[u8]) {
    let mut input = Bytes::new(data);
    let slack = usize::from(input.byte());
    let text = input.rest();
    let text = text.get(..MAX_INPUT).unwrap_or(text);

    let mut ours = [0u8; MAX_INPUT];
    let mut naive = [0u8; MAX_INPUT];
    // An output that may be too short by up to a few bytes, or roomy.
    let cap = match b64::decoded_len(text.len()) {
        Ok(len) => (len + slack % 8).saturating_sub(4).min(MAX_INPUT),
        Err(_) => MAX_INPUT,
    };
    let got = b64::decode(text, ours.get_mut(..cap).unwrap_or_default()).map(|b| &*b);
    let want = naive_decode(text, naive.get_mut(..cap).unwrap_or_default());
    assert_eq!(
        got, want,
        "base64url decode of {text:?} with {cap} bytes of output"
    );

    let mut roomy = [0u8; MAX_INPUT];
    let mut reference = [0u8; MAX_INPUT];
    let got = b64::decode(text, &mut roomy).ok().map(|b| &*b);
    let want = base64ct_decode(text, &mut reference);
    assert_eq!(got, want, "base64url against base64ct on {text:?}");

    let mut encoded = [0u8; 2 * MAX_INPUT];
    let Ok(encoded) = b64::encode(text, &mut encoded) else {
        panic!("encoded_len bytes suffice");
    };
    assert_eq!(Some(encoded.len()), b64::encoded_len(text.len()));
    let mut reference = [0u8; 2 * MAX_INPUT];
    assert_eq!(base64ct_encode(text, &mut reference), Some(encoded));
    let decoded = b64::decode(encoded.as_bytes(), &mut roomy).map(|b| &*b);
    assert_eq!(decoded, Ok(text), "encode then decode is the identity");
    if let Some(short) = encoded.len().checked_sub(1) {
        assert!(b64::encode(text, reference.get_mut(..short).unwrap_or_default()).is_err());
    }
}

fn base64ct_decode<'o>(text: &[u8], out: &'o mut [u8]) -> Option<&'o [u8]> {
    use base64ct::{Base64UrlUnpadded, Encoding};
    Base64UrlUnpadded::decode(text, out).ok()
}

fn base64ct_encode<'o>(bytes: &[u8], out: &'o mut [u8]) -> Option<&'o str> {
    use base64ct::{Base64UrlUnpadded, Encoding};
    Base64UrlUnpadded::encode(bytes, out).ok()
}

/// One character at a time, errors in the documented order of precedence.
fn naive_decode<'o>(text: &[u8], out: &'o mut [u8]) -> Result<&'o [u8], b64::DecodeError> {
    use b64::DecodeError;
    if text.len() % 4 == 1 {
        return Err(DecodeError::InvalidLength);
    }
    let len = text.len() / 4 * 3 + (text.len() % 4).saturating_sub(1);
    let out = out.get_mut(..len).ok_or(DecodeError::BufferTooSmall)?;
    let value = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'-' => Some(62),
        b'_' => Some(63),
        _ => None,
    };
    let mut acc: u32 = 0;
    let mut bits = 0;
    let mut at = 0;
    for &c in text {
        let v = value(c).ok_or(DecodeError::InvalidCharacter)?;
        acc = acc << 6 | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            if let Some(slot) = out.get_mut(at) {
                *slot = (acc >> bits) as u8;
            }
            at += 1;
            acc &= (1 << bits) - 1;
        }
    }
    if acc != 0 {
        return Err(DecodeError::NonCanonical);
    }
    Ok(out)
}
