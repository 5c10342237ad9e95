//! A strict reader of a download's `Content-Disposition` (RFC 6266 §4.1), with `filename*`
//! decoded as RFC 8187 §3.2.1 says, so the checker sees the filename a careful browser would.

/// The parts of a `Content-Disposition` value that matter for a download's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disposition {
    /// `attachment`, `inline`, …, lower-cased.
    pub kind: String,
    /// The `filename` parameter, unquoted.
    pub filename: Option<String>,
    /// The `filename*` parameter, decoded.
    pub filename_ext: Option<String>,
}

impl Disposition {
    /// The name a recipient uses: `filename*` wins over `filename` (RFC 6266 §4.3).
    pub fn name(&self) -> Option<&str> {
        self.filename_ext.as_deref().or(self.filename.as_deref())
    }
}

/// Parses a `Content-Disposition` field value.
///
/// # Errors
/// A short description of the first thing that does not follow the grammar.
pub fn parse(value: &str) -> Result<Disposition, String> {
    let mut rest = value.trim();
    let kind = take_token(&mut rest).ok_or("it does not start with a disposition type")?;
    let mut disposition = Disposition {
        kind: kind.to_ascii_lowercase(),
        filename: None,
        filename_ext: None,
    };
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            return Ok(disposition);
        }
        rest = rest
            .strip_prefix(';')
            .ok_or_else(|| format!("unexpected text {rest:?} where ';' or the end should be"))?
            .trim_start();
        if rest.is_empty() {
            return Ok(disposition);
        }
        let name = take_token(&mut rest).ok_or_else(|| format!("a bad parameter at {rest:?}"))?;
        rest = rest
            .trim_start()
            .strip_prefix('=')
            .ok_or_else(|| format!("parameter {name} has no '='"))?
            .trim_start();
        let value = if rest.starts_with('"') {
            take_quoted(&mut rest)?
        } else {
            take_token(&mut rest).ok_or_else(|| format!("parameter {name} has no value"))?
        };
        match name.to_ascii_lowercase().as_str() {
            "filename" => disposition.filename = Some(value),
            "filename*" => disposition.filename_ext = Some(decode_ext_value(&value)?),
            _ => {}
        }
    }
}

/// `tchar`s (RFC 9110 §5.6.2).
fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

fn take_token(rest: &mut &str) -> Option<String> {
    let end = rest.find(|c| !is_tchar(c)).unwrap_or(rest.len());
    if end == 0 {
        return None;
    }
    let token = rest[..end].to_owned();
    *rest = &rest[end..];
    Some(token)
}

/// A quoted-string (RFC 9110 §5.6.4): `\` escapes the next character.
fn take_quoted(rest: &mut &str) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = rest.char_indices().skip(1);
    while let Some((at, c)) = chars.next() {
        match c {
            '"' => {
                *rest = &rest[at + 1..];
                return Ok(out);
            }
            '\\' => match chars.next() {
                Some((_, escaped)) => out.push(escaped),
                None => break,
            },
            _ => out.push(c),
        }
    }
    Err("a quoted-string that never ends".to_owned())
}

/// `charset'[language]'value-chars`, UTF-8 or ISO-8859-1 (RFC 8187 §3.2.1).
fn decode_ext_value(value: &str) -> Result<String, String> {
    let mut parts = value.splitn(3, '\'');
    let (Some(charset), Some(_language), Some(encoded)) =
        (parts.next(), parts.next(), parts.next())
    else {
        return Err(format!("filename*={value} is not charset'language'value"));
    };
    let mut bytes = Vec::new();
    let mut iter = encoded.bytes();
    while let Some(byte) = iter.next() {
        if byte == b'%' {
            let hex: Vec<u8> = iter.by_ref().take(2).collect();
            let text = std::str::from_utf8(&hex).unwrap_or_default();
            let decoded = u8::from_str_radix(text, 16)
                .ok()
                .filter(|_| hex.len() == 2)
                .ok_or_else(|| format!("filename*={value} has a bad %-escape"))?;
            bytes.push(decoded);
        } else if is_tchar(char::from(byte)) && !b"*'%".contains(&byte) {
            bytes.push(byte);
        } else {
            return Err(format!(
                "filename*={value} has {:?}, which must be %-encoded",
                char::from(byte)
            ));
        }
    }
    if charset.eq_ignore_ascii_case("UTF-8") {
        String::from_utf8(bytes).map_err(|_| format!("filename*={value} is not UTF-8"))
    } else if charset.eq_ignore_ascii_case("ISO-8859-1") {
        Ok(bytes.into_iter().map(char::from).collect())
    } else {
        Err(format!(
            "filename*={value}: charset {charset} is neither UTF-8 nor ISO-8859-1"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_taskd_s_escaped_and_encoded_forms() {
        let plain = parse(r#"attachment; filename="say \"hi\".txt""#).unwrap();
        assert_eq!(plain.name(), Some(r#"say "hi".txt"#));
        let encoded =
            parse(r#"attachment; filename="r_sum_.txt"; filename*=UTF-8''r%C3%A9sum%C3%A9.txt"#)
                .unwrap();
        assert_eq!(encoded.kind, "attachment");
        assert_eq!(encoded.name(), Some("résumé.txt"));
    }

    #[test]
    fn reads_starlette_s_file_response_form() {
        let starlette = parse("attachment; filename*=utf-8''say%20%22hi%22.txt").unwrap();
        assert_eq!(starlette.name(), Some(r#"say "hi".txt"#));
    }

    #[test]
    fn refuses_unescaped_quotes_and_bad_ext_values() {
        assert!(parse(r#"attachment; filename="say "hi".txt""#).is_err());
        assert!(parse(r#"attachment; filename="open"#).is_err());
        assert!(parse("attachment; filename*=UTF-8''caf\u{e9}.txt").is_err());
        assert!(parse("attachment; filename*=UTF-8''%zz.txt").is_err());
        assert!(parse("attachment; filename*=notes.txt").is_err());
    }
}
