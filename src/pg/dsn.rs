//! The text of `--database-url` in its two forms, turned into `(keyword, value)` pairs, and the
//! redaction of its password for anything that is printed.
//!
//! Both forms are libpq's ("Connection Strings", PostgreSQL docs §34.1.1):
//! - the URI `postgres[ql]://[user[:password]@][host][:port][,host[:port]…][/dbname][?k=v&…]`,
//!   every part percent-decoded (RFC 3986 §2.1), so a password may hold `@ : / %` and spaces
//!   once encoded; `+` stays a plus (libpq does not decode it);
//! - `keyword = value` pairs separated by white space, a value single-quoted when it holds
//!   spaces, with `\'` and `\\` as escapes.
//!
//! Values stay bytes here: a password need not be UTF-8. What the keywords mean is `options.rs`'s.

use super::error::one_line;

/// What replaces a password in every printed form.
pub(crate) const REDACTED: &str = "[redacted]";

/// One `keyword`, its raw bytes.
pub(crate) type Pair = (String, Vec<u8>);

/// Parses either form. The error is one line that never contains the input's password.
pub(crate) fn parse(text: &str) -> Result<Vec<Pair>, String> {
    match uri_body(text) {
        Some(body) => parse_uri(body),
        None => parse_key_values(text),
    }
}

/// The part after `postgres://` or `postgresql://`, or `None` for the `key=value` form.
fn uri_body(text: &str) -> Option<&str> {
    ["postgresql://", "postgres://"].iter().find_map(|scheme| {
        let head = text.get(..scheme.len())?;
        head.eq_ignore_ascii_case(scheme)
            .then(|| &text[scheme.len()..])
    })
}

fn parse_uri(body: &str) -> Result<Vec<Pair>, String> {
    let mut pairs = Vec::new();
    let (before_query, query) = match body.split_once('?') {
        Some((before, query)) => (before, Some(query)),
        None => (body, None),
    };
    let (authority, path) = match before_query.split_once('/') {
        Some((authority, path)) => (authority, Some(path)),
        None => (before_query, None),
    };
    // The last `@` ends the credentials, so an unencoded `@` in a password still parses.
    let hosts = match authority.rsplit_once('@') {
        Some((credentials, hosts)) => {
            let (user, password) = match credentials.split_once(':') {
                Some((user, password)) => (user, Some(password)),
                None => (credentials, None),
            };
            if !user.is_empty() {
                pairs.push(("user".to_owned(), percent_decode(user, "user name")?));
            }
            if let Some(password) = password {
                pairs.push(("password".to_owned(), percent_decode(password, "password")?));
            }
            hosts
        }
        None => authority,
    };
    let (mut host_list, mut port_list) = (Vec::new(), Vec::new());
    for spec in hosts.split(',').filter(|_| !hosts.is_empty()) {
        let (host, port) = split_host_port(spec)?;
        host_list.push(percent_decode(host, "host")?);
        port_list.push(percent_decode(port, "port")?);
    }
    if host_list.iter().any(|host| !host.is_empty()) {
        pairs.push(("host".to_owned(), host_list.join(&b','))); // libpq's list form
    }
    if port_list.iter().any(|port| !port.is_empty()) {
        pairs.push(("port".to_owned(), port_list.join(&b',')));
    }
    if let Some(path) = path.filter(|path| !path.is_empty()) {
        pairs.push(("dbname".to_owned(), percent_decode(path, "database name")?));
    }
    for param in query
        .unwrap_or("")
        .split('&')
        .filter(|param| !param.is_empty())
    {
        let Some((key, value)) = param.split_once('=') else {
            return Err(format!("query parameter `{}` has no `=`", safe_key(param)));
        };
        let key = String::from_utf8(percent_decode(key, "parameter name")?)
            .map_err(|_| "a query parameter name is not UTF-8".to_owned())?;
        let value = percent_decode(value, &format!("value of `{}`", safe_key(&key)))?;
        pairs.push((key, value));
    }
    Ok(pairs)
}

/// `host`, `host:port`, `[v6]` or `[v6]:port` (RFC 3986 §3.2.2).
fn split_host_port(spec: &str) -> Result<(&str, &str), String> {
    if let Some(rest) = spec.strip_prefix('[') {
        let Some((host, after)) = rest.split_once(']') else {
            return Err("an IPv6 host has no closing `]`".to_owned());
        };
        return match after {
            "" => Ok((host, "")),
            _ => match after.strip_prefix(':') {
                Some(port) => Ok((host, port)),
                None => Err("text after an IPv6 host's `]` is not `:port`".to_owned()),
            },
        };
    }
    Ok(spec.split_once(':').unwrap_or((spec, "")))
}

/// RFC 3986 §2.1: `%XX` is the byte 0xXX; anything else stands for itself.
fn percent_decode(text: &str, what: &str) -> Result<Vec<u8>, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|pair| std::str::from_utf8(pair).ok());
            match hex.and_then(|pair| u8::from_str_radix(pair, 16).ok()) {
                Some(byte) => out.push(byte),
                None => {
                    return Err(format!(
                        "the {what} has a `%` not followed by two hex digits"
                    ))
                }
            }
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Ok(out)
}

fn parse_key_values(text: &str) -> Result<Vec<Pair>, String> {
    let mut pairs = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            return Ok(pairs);
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=' && !c.is_whitespace()) {
            key.push(c);
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.next() != Some('=') {
            return Err(format!(
                "`{}` is neither a postgres:// URL nor key=value pairs (missing `=`)",
                safe_key(&key)
            ));
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'\'').is_some() {
            loop {
                match chars.next() {
                    Some('\'') => break,
                    Some('\\') => value.extend(chars.next()),
                    Some(c) => value.push(c),
                    None => {
                        return Err(format!(
                            "the value of `{}` has no closing quote",
                            safe_key(&key)
                        ))
                    }
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                match c {
                    '\\' => value.extend(chars.next()),
                    c => value.push(c),
                }
            }
        }
        pairs.push((key, value.into_bytes()));
    }
}

/// A keyword as it may be shown in an error: short, and never a password that was mistyped
/// into a keyword's place (anything that is not a plain keyword is elided).
fn safe_key(key: &str) -> String {
    let plain = key.len() <= 40 && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if plain {
        key.to_owned()
    } else {
        "…".to_owned()
    }
}

/// Keywords whose values may be printed: those `options.rs` reads, but `password`. Any other
/// keyword's value is hidden as the password is, so a mistyped `pasword=` or a percent-encoded
/// `pass%77ord=` (which decodes to `password`) shows no secret either.
const SHOWN: &str =
    "host port user dbname sslmode sslrootcert connect_timeout application_name options";

fn is_shown(key: &str) -> bool {
    SHOWN.split(' ').any(|shown| shown == key)
}

/// The text with its password replaced by [`REDACTED`], in either form, for a log line or an
/// error: `postgres://user:[redacted]@host/db`, `password=[redacted]`, on one line (control
/// characters escaped, [`one_line`]). It does not parse, so a malformed text is redacted too:
/// in a URL everything between the first `:` after `//` and the last `@` is the password, and
/// the value of every query parameter or keyword not in [`SHOWN`] is hidden.
pub(crate) fn redact(text: &str) -> String {
    let redacted = match uri_body(text) {
        Some(body) => {
            let scheme = &text[..text.len() - body.len()];
            // Hide more rather than less: the last `@` anywhere ends the password, even when an
            // unencoded `/` or `?` in it would have ended the authority early.
            let mut body = match body.rfind('@') {
                Some(at) => match body[..at].find(':') {
                    Some(colon) => format!("{}:{REDACTED}{}", &body[..colon], &body[at..]),
                    None => body.to_owned(),
                },
                None => body.to_owned(),
            };
            if let Some(query_start) = body.find('?') {
                let query: Vec<String> = body[query_start + 1..]
                    .split('&')
                    .map(|param| match param.split_once('=') {
                        Some((key, _)) if !is_shown(key) => format!("{key}={REDACTED}"),
                        _ => param.to_owned(),
                    })
                    .collect();
                body = format!("{}?{}", &body[..query_start], query.join("&"));
            }
            format!("{scheme}{body}")
        }
        None => redact_key_values(text),
    };
    one_line(&redacted).into_owned()
}

/// Each `keyword = value` whose keyword is not in [`SHOWN`] becomes `keyword = [redacted]`
/// (quoted or not; the spaces around `=` kept). A word that is not a pair is kept as it is.
fn redact_key_values(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        let word = rest.trim_start();
        let key_len = word
            .find(|c: char| c == '=' || c.is_whitespace())
            .unwrap_or(word.len());
        let key = &word[..key_len];
        match word[key_len..].trim_start().strip_prefix('=') {
            Some(after_eq) => {
                let value = after_eq.trim_start();
                out.push_str(&rest[..rest.len() - value.len()]);
                let after_value = skip_value(value);
                match is_shown(key) {
                    true => out.push_str(&value[..value.len() - after_value.len()]),
                    false => out.push_str(REDACTED),
                }
                rest = after_value;
            }
            None => {
                let end = rest.len() - word.len() + key_len;
                out.push_str(&rest[..end]);
                rest = &rest[end..];
            }
        }
    }
    out
}

/// The text after one value (quoted with escapes, or up to white space).
fn skip_value(text: &str) -> &str {
    let mut chars = text.char_indices();
    if text.starts_with('\'') {
        chars.next();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    chars.next();
                }
                '\'' => return &text[i + 1..],
                _ => {}
            }
        }
        return "";
    }
    let mut escaped = false;
    for (i, c) in chars {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            c if c.is_whitespace() => return &text[i..],
            _ => {}
        }
    }
    ""
}

#[cfg(test)]
#[path = "dsn_tests.rs"]
mod tests;
