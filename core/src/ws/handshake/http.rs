//! Header-field helpers shared by the server and client sides.

use httparse::Header;

/// RFC 9110 `tchar`: the bytes of a token (method names, list items, subprotocols).
pub(crate) const fn is_tchar(byte: u8) -> bool {
    matches!(byte,
        b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.' | b'^' | b'_'
        | b'`' | b'|' | b'~' | b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z')
}

/// A non-empty run of `tchar`.
pub(crate) fn is_token(value: &[u8]) -> bool {
    !value.is_empty() && value.iter().all(|&b| is_tchar(b))
}

/// A field value a caller may write: visible ASCII, space and tab only, so it cannot
/// end the line or smuggle another header.
pub(crate) fn is_field_value(value: &[u8]) -> bool {
    value
        .iter()
        .all(|&b| b == b'\t' || (0x20..0x7f).contains(&b))
}

/// Every value of the header lines named `name`, in order.
pub(crate) fn values<'h, 'b>(
    headers: &'h [Header<'b>],
    name: &'h str,
) -> impl Iterator<Item = &'b [u8]> + 'h {
    headers
        .iter()
        .filter(move |h| h.name.eq_ignore_ascii_case(name))
        .map(|h| h.value)
}

/// The comma-separated items of every `name` line, trimmed, empty items skipped
/// (RFC 9110 §5.6.1 list syntax; a list may be split across several lines).
pub(crate) fn list_items<'h, 'b>(
    headers: &'h [Header<'b>],
    name: &'h str,
) -> impl Iterator<Item = &'b [u8]> + 'h {
    values(headers, name)
        .flat_map(|value| value.split(|&b| b == b','))
        .map(<[u8]>::trim_ascii)
        .filter(|item| !item.is_empty())
}

/// Whether some item of the `name` list equals `token`, ignoring ASCII case.
pub(crate) fn list_contains(headers: &[Header<'_>], name: &str, token: &str) -> bool {
    list_items(headers, name).any(|item| item.eq_ignore_ascii_case(token.as_bytes()))
}

/// The one trimmed value of a header that may appear at most once.
///
/// `Err(())` when it appears twice; the caller picks the error variant.
pub(crate) fn single<'b>(headers: &[Header<'b>], name: &str) -> Result<Option<&'b [u8]>, ()> {
    let mut found = values(headers, name);
    let first = found.next();
    if found.next().is_some() {
        return Err(());
    }
    Ok(first.map(<[u8]>::trim_ascii))
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn header<'a>(name: &'a str, value: &'a [u8]) -> Header<'a> {
        Header { name, value }
    }

    #[test]
    fn list_items_span_lines_and_skip_empty_items() {
        let headers = [
            header("Connection", b"keep-alive, , Upgrade "),
            header("connection", b"close"),
        ];
        let items: [&[u8]; 3] = [b"keep-alive", b"Upgrade", b"close"];
        assert!(list_items(&headers, "Connection").eq(items));
        assert!(list_contains(&headers, "CONNECTION", "upgrade"));
        assert!(!list_contains(&headers, "Connection", "upgrad"));
    }

    #[test]
    fn single_rejects_a_repeated_header() {
        let headers = [header("Host", b"a"), header("host", b"b")];
        assert_eq!(single(&headers, "Host"), Err(()));
        assert_eq!(single(&headers, "Origin"), Ok(None));
        assert_eq!(single(&headers[..1], "HOST"), Ok(Some(&b"a"[..])));
    }

    #[test]
    fn field_values_exclude_line_breaks() {
        assert!(is_field_value(b"Bearer abc\tdef"));
        assert!(!is_field_value(b"abc\r\nX-Evil: 1"));
        assert!(!is_field_value(b"caf\xc3\xa9"));
    }
}
