//! A strict, heap-free JSON scanner for JOSE headers, JWT claims and JWKs.
//!
//! It validates a whole document in one pass (RFC 8259 grammar, UTF-8, no BOM, no
//! trailing data) and hands the members of the top-level object to the caller as
//! borrowed [`Value`]s. It is stricter than RFC 8259 where JOSE asks for it
//! (RFC 7515 §5.2 step 4): duplicate member names are rejected in every object, as are
//! lone surrogate escapes and nesting deeper than [`MAX_DEPTH`].
//!
//! Duplicate detection keeps the first eight member names of each object on the
//! stack and re-reads the (already validated) object only beyond that, so the common
//! small header or payload costs a handful of slice comparisons.

use core::fmt;

/// Deepest nesting of arrays and objects accepted (the top-level object is depth 1).
pub const MAX_DEPTH: usize = 16;

/// Most members accepted in one object; bounds the cost of duplicate detection.
pub const MAX_MEMBERS: usize = 256;

/// Member names per object remembered on the stack for duplicate detection.
const KEY_CACHE: usize = 8;

/// The document is not acceptable JSON (the reason is deliberately not detailed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct JsonError;

/// A validated JSON string: the raw text between the quotes, escapes still in place.
///
/// Comparisons and [`chars`](Self::chars) work on the unescaped text without a heap;
/// [`as_str`](Self::as_str) borrows directly when there is nothing to unescape.
#[derive(Clone, Copy)]
pub struct JsonStr<'a> {
    raw: &'a str,
}

impl<'a> JsonStr<'a> {
    /// The raw JSON text between the quotes, escapes included.
    #[must_use]
    pub const fn raw(&self) -> &'a str {
        self.raw
    }

    /// Whether the raw text contains a backslash escape.
    #[must_use]
    pub fn has_escapes(&self) -> bool {
        self.raw.as_bytes().contains(&b'\\')
    }

    /// The string itself when it has no escapes (the common case), borrowed.
    #[must_use]
    pub fn as_str(&self) -> Option<&'a str> {
        if self.has_escapes() {
            None
        } else {
            Some(self.raw)
        }
    }

    /// The unescaped characters.
    #[must_use]
    pub fn chars(&self) -> JsonChars<'a> {
        JsonChars {
            rest: self.raw.chars(),
        }
    }

    /// The length in bytes of the unescaped UTF-8 text.
    #[must_use]
    pub fn unescaped_len(&self) -> usize {
        self.chars().map(char::len_utf8).sum()
    }

    /// Whether the unescaped text equals `other`.
    #[must_use]
    pub fn eq_str(&self, other: &str) -> bool {
        match self.as_str() {
            Some(plain) => plain == other,
            None => self.chars().eq(other.chars()),
        }
    }

    /// Whether the unescaped text equals `other`, ignoring ASCII case.
    #[must_use]
    pub fn eq_ignore_ascii_case(&self, other: &str) -> bool {
        self.chars()
            .map(|c| c.to_ascii_lowercase())
            .eq(other.chars().map(|c| c.to_ascii_lowercase()))
    }

    /// Writes the unescaped text into `buf` and returns it.
    ///
    /// # Errors
    /// [`BufferTooSmall`](crate::error::BufferTooSmall) when it does not fit.
    pub fn unescape_into<'b>(
        &self,
        buf: &'b mut [u8],
    ) -> Result<&'b str, crate::error::BufferTooSmall> {
        let mut len = 0;
        for c in self.chars() {
            let end = len + c.len_utf8();
            let slot = buf.get_mut(len..end).ok_or(crate::error::BufferTooSmall)?;
            c.encode_utf8(slot);
            len = end;
        }
        let text = buf.get(..len).ok_or(crate::error::BufferTooSmall)?;
        core::str::from_utf8(text).map_err(|_| crate::error::BufferTooSmall)
    }
}

impl PartialEq for JsonStr<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.raw == other.raw
            || (self.has_escapes() || other.has_escapes()) && self.chars().eq(other.chars())
    }
}

impl Eq for JsonStr<'_> {}

impl PartialEq<str> for JsonStr<'_> {
    fn eq(&self, other: &str) -> bool {
        self.eq_str(other)
    }
}

impl PartialEq<&str> for JsonStr<'_> {
    fn eq(&self, other: &&str) -> bool {
        self.eq_str(other)
    }
}

impl fmt::Debug for JsonStr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\"", self.raw)
    }
}

impl fmt::Display for JsonStr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use fmt::Write;
        self.chars().try_for_each(|c| f.write_char(c))
    }
}

/// Iterator over the unescaped characters of a [`JsonStr`].
#[derive(Clone, Debug)]
pub struct JsonChars<'a> {
    rest: core::str::Chars<'a>,
}

impl JsonChars<'_> {
    fn hex4(&mut self) -> u32 {
        (0..4).fold(0, |acc, _| {
            acc << 4 | self.rest.next().and_then(|c| c.to_digit(16)).unwrap_or(0)
        })
    }
}

impl Iterator for JsonChars<'_> {
    type Item = char;

    fn next(&mut self) -> Option<char> {
        let c = self.rest.next()?;
        if c != '\\' {
            return Some(c);
        }
        // Escapes were validated when the string was scanned; the fallbacks below are
        // unreachable in practice and only keep this panic-free.
        Some(match self.rest.next()? {
            'b' => '\u{8}',
            'f' => '\u{c}',
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            'u' => {
                let unit = self.hex4();
                let code = if (0xD800..0xDC00).contains(&unit) {
                    self.rest.next();
                    self.rest.next();
                    let low = self.hex4();
                    0x10000 + ((unit - 0xD800) << 10) + (low.wrapping_sub(0xDC00) & 0x3FF)
                } else {
                    unit
                };
                char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER)
            }
            other => other,
        })
    }
}

/// A validated JSON number, kept as its source text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JsonNumber<'a> {
    raw: &'a str,
}

impl<'a> JsonNumber<'a> {
    /// The source text (RFC 8259 number grammar).
    #[must_use]
    pub const fn raw(&self) -> &'a str {
        self.raw
    }

    /// The value as whole seconds for a NumericDate (RFC 7519 §2): integer part rounded
    /// toward negative infinity, saturating at the `i64` range, and whether a non-zero
    /// fraction was dropped. Exponents are honoured.
    #[must_use]
    pub fn to_floor_and_fraction(&self) -> (i64, bool) {
        numeric::floor_and_fraction(self.raw)
    }
}

mod numeric {
    /// Splits a validated JSON number into floor and "had a non-zero fraction".
    pub(super) fn floor_and_fraction(raw: &str) -> (i64, bool) {
        let (negative, body) = match raw.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, raw),
        };
        let (mantissa, exponent) = match body.find(['e', 'E']) {
            Some(at) => (
                body.get(..at).unwrap_or(""),
                parse_exponent(body.get(at + 1..).unwrap_or("")),
            ),
            None => (body, 0),
        };
        let (int_digits, frac_digits) = match mantissa.split_once('.') {
            Some((i, f)) => (i, f),
            None => (mantissa, ""),
        };
        // The decimal point sits after `point` digits of int_digits ‖ frac_digits.
        let point = i64::try_from(int_digits.len())
            .unwrap_or(i64::MAX)
            .saturating_add(exponent);
        let digits = int_digits.bytes().chain(frac_digits.bytes());
        let mut magnitude: i64 = 0;
        let mut fraction = false;
        for (index, digit) in (0i64..).zip(digits) {
            let d = i64::from(digit.wrapping_sub(b'0'));
            if index < point {
                magnitude = magnitude.saturating_mul(10).saturating_add(d);
            } else if d != 0 {
                fraction = true;
            }
        }
        let total = i64::try_from(int_digits.len() + frac_digits.len()).unwrap_or(i64::MAX);
        if point > total {
            for _ in 0..(point - total).min(20) {
                magnitude = magnitude.saturating_mul(10);
            }
        }
        if negative {
            let floor = if fraction {
                magnitude.saturating_neg().saturating_sub(1)
            } else {
                magnitude.saturating_neg()
            };
            (floor, fraction)
        } else {
            (magnitude, fraction)
        }
    }

    fn parse_exponent(text: &str) -> i64 {
        let (negative, digits) = match text.as_bytes().first() {
            Some(b'-') => (true, text.get(1..).unwrap_or("")),
            Some(b'+') => (false, text.get(1..).unwrap_or("")),
            _ => (false, text),
        };
        let value = digits.bytes().fold(0i64, |acc, d| {
            acc.saturating_mul(10)
                .saturating_add(i64::from(d.wrapping_sub(b'0')))
                .min(1 << 40)
        });
        if negative { -value } else { value }
    }
}

/// A validated JSON array, kept as its source text (brackets included).
#[derive(Clone, Copy, Debug)]
pub struct JsonArray<'a> {
    raw: &'a [u8],
}

impl<'a> JsonArray<'a> {
    /// The elements in order.
    #[must_use]
    pub fn iter(&self) -> ArrayIter<'a> {
        ArrayIter {
            parser: Parser {
                bytes: self.raw,
                pos: 1,
            },
            done: false,
        }
    }

    /// Whether the array has no elements.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }

    /// The source text of the array.
    #[must_use]
    pub fn raw(&self) -> &'a str {
        core::str::from_utf8(self.raw).unwrap_or("")
    }
}

impl<'a> IntoIterator for JsonArray<'a> {
    type Item = Value<'a>;
    type IntoIter = ArrayIter<'a>;

    fn into_iter(self) -> ArrayIter<'a> {
        self.iter()
    }
}

/// Iterator over the elements of a [`JsonArray`].
#[derive(Clone, Debug)]
pub struct ArrayIter<'a> {
    parser: Parser<'a>,
    done: bool,
}

impl<'a> Iterator for ArrayIter<'a> {
    type Item = Value<'a>;

    fn next(&mut self) -> Option<Value<'a>> {
        if self.done {
            return None;
        }
        self.parser.skip_ws();
        if self.parser.peek() == Some(b']') {
            self.done = true;
            return None;
        }
        // The array was validated when scanned; stop quietly on the impossible failure.
        let value = self.parser.value(1);
        self.parser.skip_ws();
        if self.parser.peek() == Some(b',') {
            self.parser.pos += 1;
        }
        match value {
            Ok(v) => Some(v),
            Err(JsonError) => {
                self.done = true;
                None
            }
        }
    }
}

/// A validated JSON object, kept as its source text (braces included).
#[derive(Clone, Copy, Debug)]
pub struct JsonObject<'a> {
    raw: &'a [u8],
}

impl<'a> JsonObject<'a> {
    /// The source text of the object.
    #[must_use]
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }
}

/// A borrowed JSON value.
#[derive(Clone, Copy, Debug)]
pub enum Value<'a> {
    /// `null`
    Null,
    /// `true` or `false`
    Bool(bool),
    /// A number, as text.
    Number(JsonNumber<'a>),
    /// A string, escapes not yet resolved.
    String(JsonStr<'a>),
    /// An array.
    Array(JsonArray<'a>),
    /// An object.
    Object(JsonObject<'a>),
}

/// Validates `doc` as exactly one JSON object (surrounding whitespace allowed) and calls
/// `on_member` for each top-level member in order.
///
/// The callback runs before the rest of the document is validated: callers record what
/// they need and act on it only when this returns `Ok`.
pub(crate) fn parse_object<'a>(
    doc: &'a [u8],
    mut on_member: impl FnMut(JsonStr<'a>, Value<'a>),
) -> Result<(), JsonError> {
    // Validating UTF-8 up front lets the scanner treat every byte ≥ 0x80 as string
    // content; it also rejects a BOM's bytes outside strings below.
    core::str::from_utf8(doc).map_err(|_| JsonError)?;
    let mut parser = Parser { bytes: doc, pos: 0 };
    parser.skip_ws();
    parser.expect(b'{')?;
    parser.object_members(1, &mut on_member)?;
    parser.skip_ws();
    if parser.pos == doc.len() {
        Ok(())
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

/// Remembers the member names of one object to detect duplicates.
struct KeyTracker {
    cached: [(u32, u32); KEY_CACHE],
    count: usize,
    /// Where the first member beyond the cache starts (re-read for later members).
    overflow_from: usize,
}

impl KeyTracker {
    const fn new() -> Self {
        Self {
            cached: [(0, 0); KEY_CACHE],
            count: 0,
            overflow_from: 0,
        }
    }

    /// Records the key whose raw text is `bytes[start..end]` and whose member begins
    /// (opening quote) at `member_start`; fails on a duplicate.
    fn insert(
        &mut self,
        bytes: &[u8],
        start: usize,
        end: usize,
        member_start: usize,
    ) -> Result<(), JsonError> {
        let key = raw_str(bytes, start, end)?;
        for &(s, e) in self.cached.iter().take(self.count) {
            let other = raw_str(bytes, s as usize, e as usize)?;
            if other == key {
                return Err(JsonError);
            }
        }
        if self.count == KEY_CACHE {
            self.overflow_from = member_start;
        }
        if self.count >= KEY_CACHE {
            let mut rescan = Parser {
                bytes,
                pos: self.overflow_from,
            };
            while rescan.pos < member_start {
                let (s, e) = rescan.string_span()?;
                if raw_str(bytes, s, e)? == key {
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
        } else if let Some(slot) = self.cached.get_mut(self.count) {
            *slot = (
                u32::try_from(start).map_err(|_| JsonError)?,
                u32::try_from(end).map_err(|_| JsonError)?,
            );
        }
        self.count += 1;
        if self.count > MAX_MEMBERS {
            return Err(JsonError);
        }
        Ok(())
    }
}

fn raw_str(bytes: &[u8], start: usize, end: usize) -> Result<JsonStr<'_>, JsonError> {
    let raw = bytes.get(start..end).ok_or(JsonError)?;
    let raw = core::str::from_utf8(raw).map_err(|_| JsonError)?;
    Ok(JsonStr { raw })
}

#[derive(Clone, Debug)]
struct Parser<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Parser<'a> {
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
                let (s, e) = self.string_span()?;
                Ok(Value::String(raw_str(self.bytes, s, e)?))
            }
            b'{' => {
                if depth >= MAX_DEPTH {
                    return Err(JsonError);
                }
                let start = self.pos;
                self.pos += 1;
                self.object_members(depth + 1, &mut |_, _| {})?;
                let raw = self.bytes.get(start..self.pos).ok_or(JsonError)?;
                Ok(Value::Object(JsonObject { raw }))
            }
            b'[' => {
                if depth >= MAX_DEPTH {
                    return Err(JsonError);
                }
                let start = self.pos;
                self.pos += 1;
                self.array_elements(depth + 1)?;
                let raw = self.bytes.get(start..self.pos).ok_or(JsonError)?;
                Ok(Value::Array(JsonArray { raw }))
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
        let raw = self.bytes.get(start..self.pos).ok_or(JsonError)?;
        let raw = core::str::from_utf8(raw).map_err(|_| JsonError)?;
        Ok(Value::Number(JsonNumber { raw }))
    }

    /// Scans a string starting at its opening quote; returns the span of its contents.
    fn string_span(&mut self) -> Result<(usize, usize), JsonError> {
        self.expect(b'"')?;
        let start = self.pos;
        loop {
            let byte = self.peek().ok_or(JsonError)?;
            self.pos += 1;
            match byte {
                b'"' => return Ok((start, self.pos - 1)),
                b'\\' => self.escape()?,
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
        on_member: &mut dyn FnMut(JsonStr<'a>, Value<'a>),
    ) -> Result<(), JsonError> {
        let mut keys = KeyTracker::new();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            self.skip_ws();
            let member_start = self.pos;
            let (s, e) = self.string_span()?;
            keys.insert(self.bytes, s, e, member_start)?;
            self.skip_ws();
            self.expect(b':')?;
            self.skip_ws();
            let value = self.value(depth)?;
            on_member(raw_str(self.bytes, s, e)?, value);
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
                Value::Object(o) => String::from_utf8(o.raw().to_vec()).unwrap(),
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

    #[test]
    fn escapes_unescape_and_compare() {
        let mut got = None;
        parse_object(br#"{"k":"a\"b\\c\/d\n\u00e9\ud83d\ude00"}"#, |_, v| {
            if let Value::String(s) = v {
                got = Some(s);
            }
        })
        .unwrap();
        let s = got.unwrap();
        let expected = "a\"b\\c/d\né😀";
        assert!(s.eq_str(expected));
        assert_eq!(s.as_str(), None);
        assert_eq!(s.unescaped_len(), expected.len());
        let mut buf = [0u8; 32];
        assert_eq!(s.unescape_into(&mut buf).unwrap(), expected);
        assert!(s.unescape_into(&mut [0u8; 4]).is_err());
        assert_eq!(s.to_string(), expected);
    }

    #[test]
    fn array_iteration_yields_elements() {
        let mut arr = None;
        parse_object(br#"{"a":[ "x" , 2 ,[3], {"b":4} ]}"#, |_, v| {
            if let Value::Array(a) = v {
                arr = Some(a);
            }
        })
        .unwrap();
        let items: Vec<Value<'_>> = arr.unwrap().iter().collect();
        assert_eq!(items.len(), 4);
        assert!(matches!(items[0], Value::String(s) if s == "x"));
        assert!(matches!(items[3], Value::Object(_)));
    }

    #[test]
    fn numeric_date_floor_and_fraction() {
        let n = |raw| JsonNumber { raw }.to_floor_and_fraction();
        assert_eq!(n("1700000000"), (1_700_000_000, false));
        assert_eq!(n("1700000000.5"), (1_700_000_000, true));
        assert_eq!(n("1700000000.000"), (1_700_000_000, false));
        assert_eq!(n("1.7e9"), (1_700_000_000, false));
        assert_eq!(n("17e-1"), (1, true));
        assert_eq!(n("-0.5"), (-1, true));
        assert_eq!(n("-3"), (-3, false));
        assert_eq!(n("1e400"), (i64::MAX, false));
        assert_eq!(n("99999999999999999999999"), (i64::MAX, false));
        assert_eq!(n("-1e400"), (-i64::MAX, false));
    }
}
