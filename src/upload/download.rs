//! What serving an attachment back needs from its upload: whether the part's `Content-Type`
//! can be stored and sent back verbatim, and the download's `Content-Disposition`.

/// Whether a part's `Content-Type` is one taskd accepts (`text/plain`, `image/png`,
/// `image/jpeg`; media type compared case-insensitively, parameters ignored). `None` (no header)
/// counts as `text/plain` (RFC 7578 §4.4). A value with non-ASCII or control characters is refused.
pub fn is_allowed_type(content_type: Option<&str>) -> bool {
    let Some(value) = content_type else {
        return true;
    };
    // Such a value could not be sent back verbatim in the download's Content-Type header.
    if value.bytes().any(|b| !b.is_ascii() || b.is_ascii_control()) {
        return false;
    }
    // RFC 9110 §8.3.1: the type and subtype are case-insensitive; parameters do not matter.
    let media_type = crate::message::media_type(value);
    ["text/plain", "image/png", "image/jpeg"].contains(&media_type.as_str())
}

/// The download's `Content-Disposition` value for `filename` (RFC 6266 with an RFC 8187
/// `filename*` when the name is not printable ASCII).
pub fn content_disposition(filename: &str) -> String {
    // RFC 6266 §4.3: `filename` is a quoted-string for clients that ignore `filename*`, so it
    // carries a printable-ASCII stand-in with `\` and `"` escaped.
    let mut value = String::from("attachment; filename=\"");
    let mut printable = true;
    for c in filename.chars() {
        match c {
            '\\' | '"' => value.extend(['\\', c]),
            ' '..='~' => value.push(c),
            _ => {
                value.push('_');
                printable = false;
            }
        }
    }
    value.push('"');
    if !printable {
        // RFC 8187 §3.2.1: everything but `attr-char` is percent-encoded UTF-8.
        value.push_str("; filename*=UTF-8''");
        for byte in filename.bytes() {
            if byte.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&byte) {
                value.push(char::from(byte));
            } else {
                value.push_str(&format!("%{byte:02X}"));
            }
        }
    }
    value
}
