//! Borrowed views of validated JSON values: strings (escapes resolved lazily), numbers,
//! arrays and objects. Only the scanner in the parent module creates them, so every
//! view is known to hold valid JSON.

use core::fmt;

use super::{JsonError, Parser};

/// A validated JSON string: the raw text between the quotes, escapes still in place.
///
/// Comparisons and [`chars`](Self::chars) work on the unescaped text without a heap;
/// [`as_str`](Self::as_str) borrows directly when there is nothing to unescape.
#[derive(Clone, Copy)]
pub struct JsonStr<'a> {
    pub(super) raw: &'a str,
    /// Whether `raw` contains a backslash (known from the scan, so never re-checked).
    pub(super) escaped: bool,
}

impl<'a> JsonStr<'a> {
    /// The raw JSON text between the quotes, escapes included.
    #[must_use]
    pub const fn raw(&self) -> &'a str {
        self.raw
    }

    /// Whether the raw text contains a backslash escape.
    #[must_use]
    pub const fn has_escapes(&self) -> bool {
        self.escaped
    }

    /// The string itself when it has no escapes (the common case), borrowed.
    #[must_use]
    pub const fn as_str(&self) -> Option<&'a str> {
        if self.escaped { None } else { Some(self.raw) }
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
        if self.escaped || other.escaped {
            self.chars().eq(other.chars())
        } else {
            self.raw == other.raw
        }
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
    pub(super) raw: &'a str,
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
        // The common NumericDate: a plain non-negative integer that fits (18 digits
        // stay below i64::MAX), read in the same loop that checks it.
        if raw.len() <= 18 {
            let mut value = 0i64;
            let mut plain = true;
            for digit in raw.bytes().map(|b| b.wrapping_sub(b'0')) {
                if digit > 9 {
                    plain = false;
                    break;
                }
                value = value * 10 + i64::from(digit);
            }
            if plain {
                return (value, false);
            }
        }
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
        // Unsigned, so that a magnitude of 2^63 still floors to i64::MIN when negative.
        let mut magnitude: u64 = 0;
        let mut fraction = false;
        for (index, digit) in (0i64..).zip(digits) {
            let d = u64::from(digit.wrapping_sub(b'0'));
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
            let floor = 0i64.saturating_sub_unsigned(magnitude);
            let floor = if fraction {
                floor.saturating_sub(1)
            } else {
                floor
            };
            (floor, fraction)
        } else {
            (i64::try_from(magnitude).unwrap_or(i64::MAX), fraction)
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
    pub(super) raw: &'a str,
}

impl<'a> JsonArray<'a> {
    /// The elements in order.
    #[must_use]
    pub fn iter(&self) -> ArrayIter<'a> {
        ArrayIter {
            parser: Parser::new(self.raw, 1),
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
    pub const fn raw(&self) -> &'a str {
        self.raw
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
    pub(super) raw: &'a str,
}

impl<'a> JsonObject<'a> {
    /// The source text of the object.
    #[must_use]
    pub const fn raw(&self) -> &'a str {
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

#[cfg(test)]
mod tests {
    extern crate std;
    use super::super::parse_object;
    use super::*;
    use std::{string::ToString, vec::Vec};

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
        assert_eq!(n("-1e400"), (i64::MIN, false));
    }

    /// Found by the `jwt_parse` fuzz target: the negative side saturated one short.
    #[test]
    fn numeric_date_floor_saturates_at_i64_min() {
        let n = |raw| JsonNumber { raw }.to_floor_and_fraction();
        assert_eq!(n("-9223372036854775808"), (i64::MIN, false));
        assert_eq!(n("-9223372036854775807.5"), (i64::MIN, true));
        assert_eq!(n("-9223372036854775807"), (i64::MIN + 1, false));
        assert_eq!(n("-58356e3344"), (i64::MIN, false));
        assert_eq!(n("9223372036854775807"), (i64::MAX, false));
        assert_eq!(n("9223372036854775808"), (i64::MAX, false));
    }
}
