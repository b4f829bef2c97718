//! A strict, heap-free JSON scanner for JOSE headers, JWT claims and JWKs.
//!
//! It validates a whole document in one pass (RFC 8259 grammar, UTF-8, no BOM, no
//! trailing data) and hands the members of the top-level object to the caller as
//! borrowed [`Value`]s. It is stricter than RFC 8259 where JOSE asks for it
//! (RFC 7515 §5.2 step 4): duplicate member names are rejected in every object, as are
//! lone surrogate escapes and nesting deeper than [`MAX_DEPTH`].
//!
//! Duplicate detection tests each member name against a 128-bit Bloom filter of the
//! names before it; only on a hit does it compare names, the first few of each object
//! kept on the stack and the rest re-read from the (already validated) text. A header
//! or payload without duplicates so costs one bit test per member.

/// Deepest nesting of arrays and objects accepted (the top-level object is depth 1).
pub const MAX_DEPTH: usize = 16;

/// Most members accepted in one object; bounds the cost of duplicate detection.
pub const MAX_MEMBERS: usize = 256;

/// Member names of the top-level object remembered on the stack for duplicate
/// detection (a JWT payload often carries a dozen claims).
const TOP_KEY_CACHE: usize = 16;

/// Member names of each nested object remembered on the stack (nesting recurses, so
/// these are kept small).
const NESTED_KEY_CACHE: usize = 8;

/// The document is not acceptable JSON (the reason is deliberately not detailed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct JsonError;

mod value;

pub use value::{ArrayIter, JsonArray, JsonChars, JsonNumber, JsonObject, JsonStr, Value};

/// Validates `doc` as exactly one JSON object (surrounding whitespace allowed), calls
/// `on_member` for each top-level member in order, and returns `doc` as text.
///
/// The callback runs before the rest of the document is validated: callers record what
/// they need and act on it only when this returns `Ok`.
pub(crate) fn parse_object<'a>(
    doc: &'a [u8],
    mut on_member: impl FnMut(JsonStr<'a>, Value<'a>),
) -> Result<&'a str, JsonError> {
    // Validating UTF-8 up front lets the scanner treat every byte ≥ 0x80 as string
    // content; it also rejects a BOM's bytes outside strings below.
    let text = core::str::from_utf8(doc).map_err(|_| JsonError)?;
    let mut parser = Parser::new(text, 0);
    parser.skip_ws();
    parser.expect(b'{')?;
    let mut cache = KeyCache::<TOP_KEY_CACHE>::new();
    parser.object_members(1, cache.tracker(), &mut on_member)?;
    parser.skip_ws();
    if parser.pos == doc.len() {
        Ok(text)
    } else {
        Err(JsonError)
    }
}

/// The position of `name` (unescaped) in `names`.
pub(crate) fn name_index(name: JsonStr<'_>, names: &[&str]) -> Option<usize> {
    match name.as_str() {
        Some(plain) => names.iter().position(|n| *n == plain),
        None => names.iter().position(|n| name.chars().eq(n.chars())),
    }
}

/// Length, first and last byte of the unescaped name: equal for equal names, rarely
/// for others.
#[inline]
fn fingerprint(name: JsonStr<'_>) -> u32 {
    let Some(plain) = name.as_str() else {
        return escaped_fingerprint(name);
    };
    let bytes = plain.as_bytes();
    let first = bytes.first().copied().unwrap_or(0);
    let last = bytes.last().copied().unwrap_or(0);
    (bytes.len() as u32) << 16 | u32::from(first) << 8 | u32::from(last)
}

/// [`fingerprint`] of a name with escapes, from its unescaped UTF-8 bytes.
#[cold]
fn escaped_fingerprint(name: JsonStr<'_>) -> u32 {
    let (len, first, last) = name.chars().fold((0, 0, 0), |(len, first, _), c| {
        let mut buf = [0u8; 4];
        let bytes = c.encode_utf8(&mut buf).as_bytes();
        let lead = bytes.first().copied().unwrap_or(0);
        let tail = bytes.last().copied().unwrap_or(0);
        (len + bytes.len(), if len == 0 { lead } else { first }, tail)
    });
    (len as u32) << 16 | u32::from(first) << 8 | u32::from(last)
}

/// The bit of a 128-bit Bloom filter that stands for `fingerprint` (multiplicative
/// hashing: the top seven bits of the product).
const fn bloom_bit(fingerprint: u32) -> u128 {
    1 << (fingerprint.wrapping_mul(0x9E37_79B1) >> 25)
}

/// Where a scanned string's contents lie, and whether they contain escapes.
#[derive(Clone, Copy)]
struct Span {
    start: u32,
    end: u32,
    escaped: bool,
}

/// Stack storage for the first `N` member names of one object (see [`KeyTracker`]).
///
/// Only the storage is generic: the tracker and the object parser work on slices of
/// it, so they exist once in the binary whatever the cache sizes.
struct KeyCache<const N: usize> {
    spans: [Span; N],
    fingerprints: [u32; N],
}

impl<const N: usize> KeyCache<N> {
    const fn new() -> Self {
        Self {
            spans: [Span {
                start: 0,
                end: 0,
                escaped: false,
            }; N],
            fingerprints: [0; N],
        }
    }

    fn tracker(&mut self) -> KeyTracker<'_> {
        KeyTracker {
            seen: 0,
            cached: &mut self.spans,
            fingerprints: &mut self.fingerprints,
            count: 0,
            overflow_from: 0,
        }
    }
}

/// Remembers the member names of one object to detect duplicates.
///
/// A Bloom filter of name fingerprints answers the common question (a new name) with
/// one bit test; only on a hit are the cached names compared (fingerprint, then text)
/// and the members beyond them re-read from the (already validated) text.
struct KeyTracker<'c> {
    seen: u128,
    cached: &'c mut [Span],
    fingerprints: &'c mut [u32],
    count: usize,
    /// Where the first member beyond the cache starts (re-read on a filter hit).
    overflow_from: usize,
}

impl KeyTracker<'_> {
    /// Records `name` (at `key`), whose member begins (opening quote) at
    /// `member_start`; fails on a duplicate or on too many members.
    #[inline]
    fn insert(
        &mut self,
        parser: &Parser<'_>,
        key: Span,
        name: JsonStr<'_>,
        member_start: usize,
    ) -> Result<(), JsonError> {
        let print = fingerprint(name);
        let bit = bloom_bit(print);
        if self.seen & bit != 0 {
            self.reject_duplicate(parser, name, print, member_start)?;
        }
        self.seen |= bit;
        if let (Some(slot), Some(slot_print)) = (
            self.cached.get_mut(self.count),
            self.fingerprints.get_mut(self.count),
        ) {
            *slot = key;
            *slot_print = print;
        } else if self.count == self.cached.len() {
            self.overflow_from = member_start;
        }
        self.count += 1;
        if self.count > MAX_MEMBERS {
            return Err(JsonError);
        }
        Ok(())
    }

    /// The exact check behind a Bloom filter hit.
    #[cold]
    fn reject_duplicate(
        &self,
        parser: &Parser<'_>,
        name: JsonStr<'_>,
        print: u32,
        member_start: usize,
    ) -> Result<(), JsonError> {
        let cached = self.cached.iter().zip(self.fingerprints.iter());
        for (&span, &other) in cached.take(self.count) {
            if other == print && parser.str_at(span)? == name {
                return Err(JsonError);
            }
        }
        if self.count <= self.cached.len() {
            return Ok(());
        }
        let mut rescan = Parser::new(parser.text, self.overflow_from);
        while rescan.pos < member_start {
            let span = rescan.string_span()?;
            if rescan.str_at(span)? == name {
                return Err(JsonError);
            }
            rescan.skip_ws();
            rescan.expect(b':')?;
            rescan.skip_value_validated();
            rescan.skip_ws();
            if rescan.peek() == Some(b',') {
                rescan.pos += 1;
            }
            rescan.skip_ws();
        }
        Ok(())
    }
}

/// The position of the first byte at or after `from` that ends a run of plain string
/// content (`"`, `\` or a control character), or `bytes.len()`. Eight bytes at a time:
/// string contents are most of a JWT payload.
#[inline(always)]
fn plain_end(bytes: &[u8], mut from: usize) -> usize {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    const QUOTES: u64 = u64::from_ne_bytes([b'"'; 8]);
    const BACKSLASHES: u64 = u64::from_ne_bytes([b'\\'; 8]);
    const SPACES: u64 = u64::from_ne_bytes([0x20; 8]);
    while let Some(chunk) = bytes.get(from..).and_then(<[u8]>::first_chunk::<8>) {
        // The classic has-zero-byte / has-byte-less-than tests. Borrows only run upward
        // from a true hit, so the lowest flagged byte (first in memory, little-endian
        // load) is exact.
        let x = u64::from_le_bytes(*chunk);
        let quote = x ^ QUOTES;
        let backslash = x ^ BACKSLASHES;
        let hits = (quote.wrapping_sub(ONES) & !quote)
            | (backslash.wrapping_sub(ONES) & !backslash)
            | (x.wrapping_sub(SPACES) & !x);
        let hits = hits & HIGHS;
        if hits != 0 {
            return from + (hits.trailing_zeros() / 8) as usize;
        }
        from += 8;
    }
    while let Some(&byte) = bytes.get(from) {
        if byte == b'"' || byte == b'\\' || byte < 0x20 {
            break;
        }
        from += 1;
    }
    from
}

#[derive(Clone, Debug)]
struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Parser<'a> {
    const fn new(text: &'a str, pos: usize) -> Self {
        Self {
            text,
            bytes: text.as_bytes(),
            pos,
        }
    }

    /// The string at `span`; slicing the already validated text needs no UTF-8 check.
    fn str_at(&self, span: Span) -> Result<JsonStr<'a>, JsonError> {
        let raw = self
            .text
            .get(span.start as usize..span.end as usize)
            .ok_or(JsonError)?;
        Ok(JsonStr {
            raw,
            escaped: span.escaped,
        })
    }

    fn raw_from(&self, start: usize) -> Result<&'a str, JsonError> {
        self.text.get(start..self.pos).ok_or(JsonError)
    }

    #[inline]
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    #[inline]
    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    #[inline]
    fn expect(&mut self, byte: u8) -> Result<(), JsonError> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(JsonError)
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value<'a>, JsonError> {
        match self.peek().ok_or(JsonError)? {
            b'"' => {
                let span = self.string_span()?;
                Ok(Value::String(self.str_at(span)?))
            }
            b'{' => {
                if depth >= MAX_DEPTH {
                    return Err(JsonError);
                }
                let start = self.pos;
                self.pos += 1;
                let mut cache = KeyCache::<NESTED_KEY_CACHE>::new();
                self.object_members(depth + 1, cache.tracker(), &mut |_, _| {})?;
                Ok(Value::Object(JsonObject {
                    raw: self.raw_from(start)?,
                }))
            }
            b'[' => {
                if depth >= MAX_DEPTH {
                    return Err(JsonError);
                }
                let start = self.pos;
                self.pos += 1;
                self.array_elements(depth + 1)?;
                Ok(Value::Array(JsonArray {
                    raw: self.raw_from(start)?,
                }))
            }
            b't' => self.literal(b"true", Value::Bool(true)),
            b'f' => self.literal(b"false", Value::Bool(false)),
            b'n' => self.literal(b"null", Value::Null),
            b'-' | b'0'..=b'9' => self.number(),
            _ => Err(JsonError),
        }
    }

    fn literal(&mut self, word: &[u8], value: Value<'a>) -> Result<Value<'a>, JsonError> {
        let end = self.pos + word.len();
        if self.bytes.get(self.pos..end) == Some(word) {
            self.pos = end;
            Ok(value)
        } else {
            Err(JsonError)
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        self.pos - start
    }

    fn number(&mut self) -> Result<Value<'a>, JsonError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(JsonError),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return Err(JsonError);
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(JsonError);
            }
        }
        Ok(Value::Number(JsonNumber {
            raw: self.raw_from(start)?,
        }))
    }

    /// Scans a string starting at its opening quote; returns the span of its contents.
    #[inline(always)]
    fn string_span(&mut self) -> Result<Span, JsonError> {
        self.expect(b'"')?;
        let start = self.pos;
        let mut escaped = false;
        loop {
            self.pos = plain_end(self.bytes, self.pos);
            let byte = self.peek().ok_or(JsonError)?;
            self.pos += 1;
            match byte {
                b'"' => {
                    return Ok(Span {
                        start: u32::try_from(start).map_err(|_| JsonError)?,
                        end: u32::try_from(self.pos - 1).map_err(|_| JsonError)?,
                        escaped,
                    });
                }
                b'\\' => {
                    escaped = true;
                    self.escape()?;
                }
                0x00..=0x1F => return Err(JsonError),
                _ => {}
            }
        }
    }

    fn escape(&mut self) -> Result<(), JsonError> {
        let byte = self.peek().ok_or(JsonError)?;
        self.pos += 1;
        match byte {
            b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => Ok(()),
            b'u' => {
                let unit = self.hex4()?;
                match unit {
                    0xD800..=0xDBFF => {
                        self.expect(b'\\')?;
                        self.expect(b'u')?;
                        match self.hex4()? {
                            0xDC00..=0xDFFF => Ok(()),
                            _ => Err(JsonError),
                        }
                    }
                    0xDC00..=0xDFFF => Err(JsonError),
                    _ => Ok(()),
                }
            }
            _ => Err(JsonError),
        }
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let mut unit = 0;
        for _ in 0..4 {
            let digit = self
                .peek()
                .and_then(|b| char::from(b).to_digit(16))
                .ok_or(JsonError)?;
            self.pos += 1;
            unit = unit << 4 | digit;
        }
        Ok(unit)
    }

    /// Parses members after the opening brace through the closing brace.
    fn object_members(
        &mut self,
        depth: usize,
        mut keys: KeyTracker<'_>,
        on_member: &mut dyn FnMut(JsonStr<'a>, Value<'a>),
    ) -> Result<(), JsonError> {
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            self.skip_ws();
            let member_start = self.pos;
            let key = self.string_span()?;
            let name = self.str_at(key)?;
            keys.insert(self, key, name, member_start)?;
            self.skip_ws();
            self.expect(b':')?;
            self.skip_ws();
            // Most member values are strings: scan those here rather than through the
            // (recursive, so never inlined) general case.
            let value = if self.peek() == Some(b'"') {
                let span = self.string_span()?;
                Value::String(self.str_at(span)?)
            } else {
                self.value(depth)?
            };
            on_member(name, value);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(JsonError),
            }
        }
    }

    fn array_elements(&mut self, depth: usize) -> Result<(), JsonError> {
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            self.skip_ws();
            self.value(depth)?;
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(JsonError),
            }
        }
    }

    /// Skips one value of already validated JSON without re-checking it.
    fn skip_value_validated(&mut self) {
        self.skip_ws();
        match self.peek() {
            Some(b'"') => self.skip_string_validated(),
            Some(b'{' | b'[') => {
                let mut depth = 0usize;
                while let Some(byte) = self.peek() {
                    match byte {
                        b'"' => {
                            self.skip_string_validated();
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth = depth.saturating_sub(1);
                            if depth == 0 {
                                self.pos += 1;
                                return;
                            }
                        }
                        _ => {}
                    }
                    self.pos += 1;
                }
            }
            _ => {
                while let Some(byte) = self.peek() {
                    if matches!(byte, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r') {
                        return;
                    }
                    self.pos += 1;
                }
            }
        }
    }

    fn skip_string_validated(&mut self) {
        self.pos += 1;
        while let Some(byte) = self.peek() {
            self.pos += 1;
            match byte {
                b'\\' => self.pos += 1,
                b'"' => return,
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::{
        borrow::ToOwned,
        format,
        string::{String, ToString},
        vec::Vec,
    };

    fn members(doc: &str) -> Result<Vec<(String, String)>, JsonError> {
        let mut out = Vec::new();
        parse_object(doc.as_bytes(), |k, v| {
            let v = match v {
                Value::Null => "null".to_owned(),
                Value::Bool(b) => b.to_string(),
                Value::Number(n) => n.raw().to_owned(),
                Value::String(s) => s.to_string(),
                Value::Array(a) => a.raw().to_owned(),
                Value::Object(o) => o.raw().to_owned(),
            };
            out.push((k.to_string(), v));
        })?;
        Ok(out)
    }

    #[test]
    fn accepts_objects_with_every_value_kind() {
        let m =
            members(r#" {"a":1,"b":"x","c":[1,{"d":null}],"e":{"f":true},"g":false,"h":-0.5e+3} "#)
                .unwrap();
        assert_eq!(m.len(), 6);
        assert_eq!(m[2], ("c".into(), r#"[1,{"d":null}]"#.into()));
        assert_eq!(m[5].1, "-0.5e+3");
    }

    #[test]
    fn top_level_must_be_an_object() {
        for doc in ["[]", "1", "\"x\"", "null", ""] {
            assert_eq!(members(doc), Err(JsonError), "{doc}");
        }
    }

    #[test]
    fn trailing_data_rejected() {
        assert_eq!(members(r#"{"a":1}x"#), Err(JsonError));
        assert_eq!(members(r#"{"a":1}{}"#), Err(JsonError));
        assert_eq!(members("{\"a\":1}\0"), Err(JsonError));
    }

    #[test]
    fn bom_rejected() {
        assert_eq!(members("\u{feff}{}"), Err(JsonError));
    }

    #[test]
    fn invalid_utf8_rejected() {
        assert_eq!(parse_object(b"{\"a\":\"\xff\"}", |_, _| {}), Err(JsonError));
        assert_eq!(
            parse_object(b"{\"a\":\"\xed\xa0\x80\"}", |_, _| {}),
            Err(JsonError)
        );
    }

    #[test]
    fn duplicate_members_rejected_at_every_depth() {
        assert_eq!(members(r#"{"a":1,"a":2}"#), Err(JsonError));
        assert_eq!(members(r#"{"a":1,"\u0061":2}"#), Err(JsonError));
        assert_eq!(members(r#"{"x":{"a":1,"b":{},"a":2}}"#), Err(JsonError));
        assert_eq!(members(r#"{"x":[{"a":1,"a":2}]}"#), Err(JsonError));
        assert!(members(r#"{"a":1,"b":{"a":2}}"#).is_ok());
    }

    #[test]
    fn duplicates_found_beyond_the_key_cache() {
        let keys: Vec<String> = (0..40)
            .map(|i| format!("\"k{i}\":{{\"n\":[1,\"}}\"]}}"))
            .collect();
        let doc = format!("{{{}}}", keys.join(","));
        assert_eq!(members(&doc).unwrap().len(), 40);
        for dup in [0, 7, 8, 9, 38] {
            let doc = format!("{{{},\"k{dup}\":0}}", keys.join(","));
            assert_eq!(members(&doc), Err(JsonError), "duplicate of k{dup}");
        }
    }

    #[test]
    fn duplicates_found_at_every_position_of_flat_and_nested_objects() {
        let keys: Vec<String> = (0..24).map(|i| format!("\"k{i}\":{i}")).collect();
        let flat = format!("{{{}}}", keys.join(","));
        let nested = format!("{{\"o\":{flat}}}");
        assert!(members(&flat).is_ok() && members(&nested).is_ok());
        for dup in 0..24 {
            // The duplicate spelled plainly and with an escape, at the end of the object.
            for spelling in [format!("k{dup}"), format!("\\u006b{dup}")] {
                let doc = format!("{{{},\"{spelling}\":0}}", keys.join(","));
                assert_eq!(members(&doc), Err(JsonError), "{doc}");
                let doc = format!("{{\"o\":{doc}}}");
                assert_eq!(members(&doc), Err(JsonError), "{doc}");
            }
        }
    }

    #[test]
    fn escaped_and_plain_spellings_of_a_name_collide() {
        assert_eq!(members(r#"{"ab\u00e9":1,"abé":2}"#), Err(JsonError));
        assert_eq!(members(r#"{"😀":1,"\ud83d\ude00":2}"#), Err(JsonError));
        assert_eq!(members(r#"{"\/":1,"/":2}"#), Err(JsonError));
        assert!(members(r#"{"ab\u00e9":1,"abe":2,"\u00e9":3,"é\u00e9":4}"#).is_ok());
    }

    #[test]
    fn plain_end_matches_a_byte_loop_at_every_offset() {
        let reference = |bytes: &[u8], from: usize| {
            bytes[from..]
                .iter()
                .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
                .map_or(bytes.len(), |at| from + at)
        };
        let mut bytes = [b'a'; 24];
        assert_eq!(plain_end(&bytes, 0), 24);
        for special in [b'"', b'\\', 0x00, 0x01, 0x1F] {
            for at in 0..bytes.len() {
                bytes[at] = special;
                for len in 0..=bytes.len() {
                    for from in 0..=len {
                        assert_eq!(
                            plain_end(&bytes[..len], from),
                            reference(&bytes[..len], from)
                        );
                    }
                }
                bytes[at] = b'a';
            }
        }
        // Neighbours of the special bytes, and high bytes, are plain.
        for byte in [0x20, 0x21, 0x23, 0x5B, 0x5D, 0x7F, 0x80, 0xA2, 0xDC, 0xFF] {
            let run = [byte; 24];
            assert_eq!(plain_end(&run, 0), 24, "{byte:#x}");
            // After a hit, later bytes (where borrows could flag falsely) do not matter.
            let mut mixed = run;
            mixed[3] = b'"';
            assert_eq!(plain_end(&mixed, 0), 3, "{byte:#x}");
        }
    }

    #[test]
    fn too_many_members_rejected() {
        let keys: Vec<String> = (0..=MAX_MEMBERS).map(|i| format!("\"{i}\":0")).collect();
        assert_eq!(members(&format!("{{{}}}", keys.join(","))), Err(JsonError));
        let keys: Vec<String> = (0..MAX_MEMBERS).map(|i| format!("\"{i}\":0")).collect();
        assert!(members(&format!("{{{}}}", keys.join(","))).is_ok());
    }

    #[test]
    fn nesting_limit_enforced() {
        let ok = format!(
            "{{\"a\":{}1{}}}",
            "[".repeat(MAX_DEPTH - 1),
            "]".repeat(MAX_DEPTH - 1)
        );
        assert!(members(&ok).is_ok());
        let deep = format!(
            "{{\"a\":{}1{}}}",
            "[".repeat(MAX_DEPTH),
            "]".repeat(MAX_DEPTH)
        );
        assert_eq!(members(&deep), Err(JsonError));
    }

    #[test]
    fn invalid_escapes_rejected() {
        for doc in [
            r#"{"a":"\x"}"#,
            r#"{"a":"\u12"}"#,
            r#"{"a":"\ud800"}"#,
            r#"{"a":"\udc00"}"#,
            r#"{"a":"\ud800\u0041"}"#,
            r#"{"a":"\'"}"#,
        ] {
            assert_eq!(members(doc), Err(JsonError), "{doc}");
        }
    }

    #[test]
    fn control_characters_in_strings_rejected() {
        assert_eq!(members("{\"a\":\"x\ny\"}"), Err(JsonError));
        assert_eq!(members("{\"a\":\"x\ty\"}"), Err(JsonError));
        assert_eq!(members("{\"a\":\"x\u{7f}y\"}").unwrap()[0].1, "x\u{7f}y");
    }

    #[test]
    fn number_grammar_is_strict() {
        for doc in [
            "{\"a\":01}",
            "{\"a\":1.}",
            "{\"a\":.5}",
            "{\"a\":+1}",
            "{\"a\":1e}",
            "{\"a\":-}",
            "{\"a\":NaN}",
        ] {
            assert_eq!(members(doc), Err(JsonError), "{doc}");
        }
    }

    #[test]
    fn syntax_errors_rejected() {
        for doc in [
            "{\"a\":1,}",
            "{,}",
            "{\"a\" 1}",
            "{'a':1}",
            "{\"a\":[1,]}",
            "{\"a\":tru}",
            "{\"a\":1",
            "{a:1}",
        ] {
            assert_eq!(members(doc), Err(JsonError), "{doc}");
        }
    }
}
