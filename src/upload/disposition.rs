//! Header parameters of a multipart part: its `Content-Disposition` (RFC 7578 §4.2, RFC 6266)
//! decoded the way CONTRACT §9 says, and the `; name=value` parameters of a request
//! `Content-Type`.

use super::NO_NAME;
use crate::error::ApiError;

/// What a part's headers say about it.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct PartHead {
    /// The `name` parameter's raw bytes; only `file` matters, so it is never decoded.
    pub(super) name: Vec<u8>,
    /// `Some` for a file part (it has `filename`, or a usable `filename*`), already decoded and
    /// stripped of any path; `None` for a text field.
    pub(super) filename: Option<String>,
    /// The part's `Content-Type` as sent, kept for the download and the type check.
    pub(super) content_type: Option<String>,
}

impl PartHead {
    /// Reads a part's raw `Content-Disposition` and `Content-Type` header values.
    ///
    /// # Errors
    /// 400 `The Content-Disposition header field "name" must be provided.` when the part has
    /// no `name` parameter: RFC 7578 §4.2 requires one, and multer would accept the part.
    pub(super) fn from_headers(
        disposition: Option<&[u8]>,
        content_type: Option<&[u8]>,
    ) -> Result<PartHead, ApiError> {
        let params = disposition
            .map(|value| split_params(value).1)
            .unwrap_or_default();
        let name = last_param(&params, "name")
            .ok_or_else(|| ApiError::BadRequest(NO_NAME.to_owned()))?
            .to_vec();
        // RFC 6266 §4.3 lets `filename*` win, but the contract follows FastAPI, whose parser
        // knows only `filename`: `filename*` is used just when `filename` is absent.
        let filename = match last_param(&params, "filename") {
            Some(raw) => Some(decode_utf8_or_latin1(raw)),
            None => last_param(&params, "filename*").and_then(decode_ext_value),
        };
        Ok(PartHead {
            name,
            filename: filename.map(|name| strip_path(&name)),
            content_type: content_type.map(|raw| String::from_utf8_lossy(raw).into_owned()),
        })
    }
}

/// One header parameter: its name lower-cased (parameter names are case-insensitive, RFC 9110
/// §5.6.6) and its value with any quoting removed.
pub(super) type Param = (Vec<u8>, Vec<u8>);

/// Splits `value; a=1; b="x"` into the leading value (trimmed) and its parameters, in order.
///
/// Quoted values are unescaped the way python-multipart (FastAPI's parser) does it: only `\"`
/// and `\\` are escapes, so a Windows path sent as `"C:\Users\a.txt"` keeps its backslashes.
/// A token value ends at `;` or whitespace; a parameter without `=` is skipped.
pub(super) fn split_params(value: &[u8]) -> (&[u8], Vec<Param>) {
    let (head, mut rest) = match value.iter().position(|&b| b == b';') {
        Some(at) => value.split_at(at),
        None => (value, &[][..]),
    };
    let mut params = Vec::new();
    loop {
        rest = rest.trim_ascii_start();
        let Some((&first, tail)) = rest.split_first() else {
            break;
        };
        if first == b';' {
            rest = tail;
            continue;
        }
        let name_end = rest.iter().position(|&b| b == b'=' || b == b';');
        let (name, after_name) = rest.split_at(name_end.unwrap_or(rest.len()));
        let Some(after_eq) = after_name.strip_prefix(b"=") else {
            rest = after_name;
            continue;
        };
        let after_eq = after_eq.trim_ascii_start();
        let (param_value, after_value) = match after_eq.strip_prefix(b"\"") {
            Some(quoted) => unquote(quoted),
            None => {
                let end = after_eq
                    .iter()
                    .position(|&b| b == b';' || b.is_ascii_whitespace());
                let (token, after) = after_eq.split_at(end.unwrap_or(after_eq.len()));
                (token.to_vec(), after)
            }
        };
        params.push((name.trim_ascii().to_ascii_lowercase(), param_value));
        let next = after_value.iter().position(|&b| b == b';');
        rest = after_value.split_at(next.unwrap_or(after_value.len())).1;
    }
    (head.trim_ascii(), params)
}

/// The value of the last parameter called `name` (a repeated parameter: the last one wins, as
/// in python-multipart's dict).
pub(super) fn last_param<'p>(params: &'p [Param], name: &str) -> Option<&'p [u8]> {
    params
        .iter()
        .rev()
        .find(|(key, _)| key == name.as_bytes())
        .map(|(_, value)| value.as_slice())
}

/// Reads a quoted-string body (after its opening quote) up to the closing quote; returns the
/// unescaped bytes and what follows. An unterminated quote runs to the end of the header.
fn unquote(quoted: &[u8]) -> (Vec<u8>, &[u8]) {
    let mut out = Vec::with_capacity(quoted.len());
    let mut rest = quoted;
    while let Some((&byte, tail)) = rest.split_first() {
        match (byte, tail.first()) {
            (b'"', _) => return (out, tail),
            (b'\\', Some(&escaped @ (b'"' | b'\\'))) => {
                out.push(escaped);
                rest = tail.get(1..).unwrap_or_default();
            }
            _ => {
                out.push(byte);
                rest = tail;
            }
        }
    }
    (out, rest)
}

/// Browsers send `filename` as raw UTF-8 (RFC 7578 §4.2); older clients send Latin-1, which
/// is what FastAPI falls back to when the bytes are not UTF-8.
fn decode_utf8_or_latin1(raw: &[u8]) -> String {
    match std::str::from_utf8(raw) {
        Ok(text) => text.to_owned(),
        Err(_) => raw.iter().map(|&byte| char::from(byte)).collect(),
    }
}

/// Decodes an RFC 8187 §3.2 ext-value `charset'language'pct-encoded`; only UTF-8 (any case) is
/// accepted, since that is the one charset RFC 8187 requires and browsers use.
fn decode_ext_value(raw: &[u8]) -> Option<String> {
    let mut pieces = raw.splitn(3, |&b| b == b'\'');
    let charset = pieces.next()?;
    let _language = pieces.next()?;
    let encoded = pieces.next()?;
    if !charset.eq_ignore_ascii_case(b"utf-8") {
        return None;
    }
    Some(String::from_utf8_lossy(&percent_decode(encoded)).into_owned())
}

/// `%XX` → byte; a `%` not followed by two hex digits stays as it is.
fn percent_decode(encoded: &[u8]) -> Vec<u8> {
    let hex = |byte: Option<&u8>| byte.and_then(|&b| char::from(b).to_digit(16));
    let mut out = Vec::with_capacity(encoded.len());
    let mut rest = encoded;
    while let Some((&byte, tail)) = rest.split_first() {
        match (byte, hex(tail.first()), hex(tail.get(1))) {
            (b'%', Some(high), Some(low)) => {
                out.push(u8::try_from(high * 16 + low).expect("two hex digits fit in a byte"));
                rest = tail.get(2..).unwrap_or_default();
            }
            _ => {
                out.push(byte);
                rest = tail;
            }
        }
    }
    out
}

/// Drops everything up to the last `/` or `\`: the name is the client's, never a path we
/// follow (`../../etc/passwd` → `passwd`, `C:\Users\me\a.txt` → `a.txt`).
fn strip_path(name: &str) -> String {
    name.rsplit(['/', '\\'])
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(disposition: &str) -> PartHead {
        PartHead::from_headers(Some(disposition.as_bytes()), None).expect("has a name")
    }

    fn filename(disposition: &[u8]) -> Option<String> {
        PartHead::from_headers(Some(disposition), None)
            .expect("has a name")
            .filename
    }

    #[test]
    fn quoted_filename_unescapes_quote_and_backslash_only() {
        let name = filename(br#"form-data; name="file"; filename="say \"hi\".txt""#);
        assert_eq!(name.as_deref(), Some(r#"say "hi".txt"#));
        let (_, params) = split_params(br#"form-data; filename="a\\b\x\"""#);
        assert_eq!(last_param(&params, "filename"), Some(&br#"a\b\x""#[..]));
    }

    #[test]
    fn unquoted_filename_ends_at_semicolon_or_space() {
        assert_eq!(
            filename(b"form-data; name=file; filename=a.txt; x=1").as_deref(),
            Some("a.txt")
        );
        assert_eq!(
            filename(b"form-data; name=file; filename=a.txt b").as_deref(),
            Some("a.txt")
        );
    }

    #[test]
    fn semicolon_inside_quotes_is_part_of_the_value() {
        assert_eq!(
            filename(br#"form-data; filename="a;b.txt"; name="file""#).as_deref(),
            Some("a;b.txt")
        );
    }

    #[test]
    fn filename_that_is_not_utf8_is_latin1() {
        assert_eq!(
            filename(b"form-data; name=\"file\"; filename=\"r\xe9sum\xe9.txt\"").as_deref(),
            Some("résumé.txt")
        );
    }

    #[test]
    fn filename_that_is_utf8_stays_utf8() {
        let raw = "form-data; name=\"file\"; filename=\"résumé 😀.txt\"";
        assert_eq!(filename(raw.as_bytes()).as_deref(), Some("résumé 😀.txt"));
    }

    /// RFC 8187 §3.2: `filename*` is a charset, a language and percent-encoded bytes.
    #[test]
    fn filename_star_is_percent_decoded_utf8() {
        let name = filename(b"form-data; name=file; filename*=utf-8'en'r%C3%A9sum%c3%a9%2.txt");
        assert_eq!(name.as_deref(), Some("résumé%2.txt"));
    }

    #[test]
    fn filename_star_in_another_charset_is_no_filename() {
        assert_eq!(
            filename(b"form-data; name=file; filename*=ISO-8859-1''a%E9.txt"),
            None
        );
    }

    #[test]
    fn filename_wins_over_filename_star() {
        let raw = b"form-data; name=file; filename*=UTF-8''star.txt; filename=\"plain.txt\"";
        assert_eq!(filename(raw).as_deref(), Some("plain.txt"));
    }

    #[test]
    fn path_is_stripped_from_filename() {
        for (sent, kept) in [
            ("../../etc/passwd", "passwd"),
            (r"C:\\Users\\me\\a.txt", "a.txt"),
            (r"C:\Users\me\a.txt", "a.txt"),
            ("dir/f.txt", "f.txt"),
            ("dir/", ""),
            ("", ""),
        ] {
            let raw = format!("form-data; name=\"file\"; filename=\"{sent}\"");
            assert_eq!(filename(raw.as_bytes()).as_deref(), Some(kept), "{sent}");
        }
        let star = b"form-data; name=file; filename*=UTF-8''..%2F..%2Fetc%2Fpasswd";
        assert_eq!(filename(star).as_deref(), Some("passwd"));
    }

    #[test]
    fn parameter_names_are_case_insensitive() {
        let part = head(r#"FORM-DATA; NAME="file"; FileName="a.txt""#);
        assert_eq!(part.name, b"file");
        assert_eq!(part.filename.as_deref(), Some("a.txt"));
    }

    #[test]
    fn filename_is_not_mistaken_for_name() {
        let part = head(r#"form-data; filename="name.txt"; name="file""#);
        assert_eq!(
            (part.name.as_slice(), part.filename.as_deref()),
            (&b"file"[..], Some("name.txt"))
        );
        let only_filename = PartHead::from_headers(Some(br#"form-data; filename="file""#), None);
        assert_eq!(only_filename, Err(ApiError::BadRequest(NO_NAME.to_owned())));
    }

    #[test]
    fn part_without_disposition_has_no_name() {
        assert_eq!(
            PartHead::from_headers(None, None),
            Err(ApiError::BadRequest(NO_NAME.to_owned()))
        );
    }

    #[test]
    fn empty_name_and_empty_filename_are_kept() {
        let part = head(r#"form-data; name=""; filename="""#);
        assert_eq!(
            (part.name.as_slice(), part.filename.as_deref()),
            (&b""[..], Some(""))
        );
    }

    #[test]
    fn part_content_type_is_kept_as_sent() {
        let part = PartHead::from_headers(
            Some(b"form-data; name=file"),
            Some(b"Text/Plain; charset=\"utf-8\""),
        );
        assert_eq!(
            part.map(|p| p.content_type),
            Ok(Some("Text/Plain; charset=\"utf-8\"".to_owned()))
        );
    }

    #[test]
    fn request_boundary_may_be_quoted_and_repeated_names_take_the_last() {
        let (media, params) = split_params(
            br#" Multipart/Form-Data ;charset=x; Boundary = "a b\"c" ;flag; boundary=z"#,
        );
        assert_eq!(media, b"Multipart/Form-Data");
        assert_eq!(params[1], (b"boundary".to_vec(), br#"a b"c"#.to_vec()));
        assert_eq!(last_param(&params, "boundary"), Some(&b"z"[..]));
        assert_eq!(last_param(&params, "flag"), None);
    }
}
