//! The checks on validators, conditional requests and ranges (RFC 9110 §8.8, §13, §14), which
//! taskd has (CONTRACT §11) and the lesson does not ask for. A server without them gets NOTEs
//! saying what a client loses; one that has them and gets them wrong (a 304 with a body, a 206
//! with a wrong `Content-Range`, a 400 for `Range: lines=1-2`) gets FAILs with the section.

use super::message::Response;
use super::report::Outcome;
use super::rules::{status_text, unexpected};

/// The file the range checks upload and read parts of.
pub const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz";

/// `entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE` (§8.8.3).
pub fn is_entity_tag(value: &str) -> bool {
    let opaque = value.strip_prefix("W/").unwrap_or(value);
    opaque.len() >= 2
        && opaque.starts_with('"')
        && opaque.ends_with('"')
        && opaque[1..opaque.len() - 1]
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x7e).contains(&b) || b >= 0x80)
}

/// The response's `ETag`, when it is a well-formed entity tag.
pub fn entity_tag(response: &Response) -> Option<&str> {
    response.header("ETag").filter(|tag| is_entity_tag(tag))
}

/// A GET of a task: an `ETag`, well-formed.
pub fn has_tag(response: &Response) -> Outcome {
    if response.status != 200 {
        return unexpected(response, "200 OK with the task", "RFC 9110 §15.3.1");
    }
    match response.header("ETag") {
        None => Outcome::note(
            "no ETag: a client can neither revalidate its copy of a task (304) nor make a change \
             conditional on it (If-Match, 412 against lost updates). The lesson does not ask for \
             one; taskd sends a strong tag (RFC 9110 §8.8.3, §13.1).",
        ),
        Some(tag) if !is_entity_tag(tag) => Outcome::fail(
            format!("ETag: {tag}"),
            "an entity-tag: a quoted string, W/-prefixed if weak, e.g. \"3f9a\"",
            "RFC 9110 §8.8.3",
        ),
        Some(_) => Outcome::Pass,
    }
}

/// A GET of the task after a PATCH changed it: a strong tag must have changed with it.
pub fn tag_changed(before: &str, after: &Response) -> Outcome {
    let Some(tag) = entity_tag(after) else {
        return Outcome::note(format!(
            "{} without a well-formed ETag after the change, where the first GET had {before}.",
            status_text(after)
        ));
    };
    if tag != before {
        return Outcome::Pass;
    }
    if tag.starts_with("W/") {
        return Outcome::note(format!(
            "the weak tag {tag} stayed: allowed for a change a weak validator deems \
             insignificant, but done changed from false to true (RFC 9110 §8.8.1)."
        ));
    }
    Outcome::fail(
        format!("ETag: {tag} both before and after the change"),
        "a new tag: a strong validator changes whenever the representation does, or a client \
         revalidating with it is told its stale copy is current",
        "RFC 9110 §8.8.1, §8.8.3",
    )
}

/// A GET with `If-None-Match: <the current tag>`: 304, which ends at its head.
pub fn not_modified(response: &Response, tag: &str) -> Outcome {
    match response.status {
        304 if !response.body.is_empty() => Outcome::fail(
            format!("304 Not Modified followed by {} bytes", response.body.len()),
            "nothing after the head: a 304 never has content, so a client reads those bytes as \
             the start of the next response",
            "RFC 9110 §15.4.5; RFC 9112 §6.3",
        ),
        304 if response.header("ETag") != Some(tag) => Outcome::fail(
            format!(
                "304 Not Modified with ETag: {}",
                response.header("ETag").unwrap_or("(none)")
            ),
            format!("ETag: {tag}, the field a 200 would carry"),
            "RFC 9110 §15.4.5",
        ),
        304 => Outcome::Pass,
        200 => Outcome::note(
            "the full 200 again: the server sends an ETag but does not evaluate If-None-Match, \
             so a client downloads again what it already has; taskd answers 304 Not Modified \
             (RFC 9110 §13.1.2, §15.4.5).",
        ),
        412 => Outcome::fail(
            status_text(response),
            "304 Not Modified: a false If-None-Match is a 412 only for methods other than GET \
             and HEAD",
            "RFC 9110 §13.1.2",
        ),
        _ => unexpected(response, "304 Not Modified", "RFC 9110 §13.1.2, §15.4.5"),
    }
}

/// A PATCH with `If-Match: <a tag from before the last change>`: refused, nothing changed.
pub fn stale_if_match(response: &Response) -> Outcome {
    match response.status {
        412 => Outcome::Pass,
        200..=299 => Outcome::fail(
            format!("{}: the change was made", status_text(response)),
            "412 Precondition Failed: the task no longer has the tag in If-Match, so someone \
             changed it after this client read it, and applying the change would silently \
             overwrite theirs (the lost update)",
            "RFC 9110 §13.1.1, §15.5.13",
        ),
        _ => unexpected(response, "412 Precondition Failed", "RFC 9110 §13.1.1"),
    }
}

/// `bytes first-last/size` of a `Content-Range` value.
fn content_range(value: &str) -> Option<(usize, usize, usize)> {
    let (span, size) = value.strip_prefix("bytes ")?.split_once('/')?;
    let (first, last) = span.split_once('-')?;
    Some((first.parse().ok()?, last.parse().ok()?, size.parse().ok()?))
}

/// Whether one part (its `Content-Range` value and bytes) is a true slice of `content`.
fn part_matches(range: Option<&str>, bytes: &[u8], content: &[u8]) -> Option<(usize, usize)> {
    let (first, last, size) = content_range(range?)?;
    let slice = content.get(first..=last)?;
    (size == content.len() && slice == bytes).then_some((first, last))
}

/// What to say about a 200 answer to a `Range` request.
fn range_ignored(response: &Response, content: &[u8]) -> Outcome {
    if response.body == content {
        Outcome::note(
            "Range is ignored and the whole file comes back: allowed (RFC 9110 §14.2: a server \
             MAY ignore Range), but a client cannot resume an interrupted download or fetch a \
             part; taskd answers 206 Partial Content.",
        )
    } else {
        Outcome::fail(
            format!("200 OK with {} bytes", response.body.len()),
            format!(
                "the whole file, {} bytes, when Range is ignored",
                content.len()
            ),
            "RFC 9110 §14.2, §15.3.1",
        )
    }
}

/// `Range: bytes=first-last` of `content`: 206 with exactly those bytes and `Content-Range`.
pub fn single_range(response: &Response, content: &[u8], first: usize, last: usize) -> Outcome {
    let expected = format!("bytes {first}-{last}/{}", content.len());
    match response.status {
        206 if response.media_type().as_deref() == Some("multipart/byteranges") => Outcome::fail(
            "206 Partial Content as multipart/byteranges",
            "one range sent as it is, described by Content-Range: a server MUST NOT send a \
             multipart response to a request for a single range",
            "RFC 9110 §15.3.7.2",
        ),
        206 => match part_matches(response.header("Content-Range"), &response.body, content) {
            Some(found) if found == (first, last) => Outcome::Pass,
            _ => Outcome::fail(
                format!(
                    "206 Partial Content with Content-Range: {} and {} bytes",
                    response.header("Content-Range").unwrap_or("(none)"),
                    response.body.len()
                ),
                format!(
                    "Content-Range: {expected} and those {} bytes",
                    last - first + 1
                ),
                "RFC 9110 §14.4, §15.3.7.1",
            ),
        },
        200 => range_ignored(response, content),
        416 => Outcome::fail(
            status_text(response),
            format!("206 with {expected}: the range is within the file"),
            "RFC 9110 §14.1.2, §15.5.17",
        ),
        _ => unexpected(response, "206 Partial Content", "RFC 9110 §15.3.7"),
    }
}

/// `Range: bytes=...` with several ranges: 206, `multipart/byteranges` with one true part per
/// range (or, coalesced, parts that cover them all).
pub fn multiple_ranges(response: &Response, content: &[u8], ranges: &[(usize, usize)]) -> Outcome {
    let parts = match response.status {
        200 => return range_ignored(response, content),
        206 if response.media_type().as_deref() == Some("multipart/byteranges") => {
            multipart_parts(response)
        }
        // §15.3.7.2: a server MAY coalesce ranges into one, which then needs no multipart.
        206 => Some(vec![(
            response.header("Content-Range").map(str::to_owned),
            response.body.clone(),
        )]),
        _ => return unexpected(response, "206 Partial Content", "RFC 9110 §15.3.7.2"),
    };
    let found: Option<Vec<(usize, usize)>> = parts.and_then(|parts| {
        let matched = parts
            .iter()
            .map(|(range, bytes)| part_matches(range.as_deref(), bytes, content));
        matched.collect()
    });
    let covered = found.as_ref().is_some_and(|found| {
        let within =
            |(first, last): &(usize, usize)| found.iter().any(|(a, b)| a <= first && last <= b);
        ranges.iter().all(within)
    });
    if covered {
        return Outcome::Pass;
    }
    Outcome::fail(
        format!(
            "206 Partial Content ({}) whose parts do not match the file",
            response.header("Content-Type").unwrap_or("no Content-Type")
        ),
        "multipart/byteranges: a part per range, each with its Content-Range and exactly those \
         bytes of the file, the parts covering every range asked for",
        "RFC 9110 §14.6, §15.3.7.2",
    )
}

/// `Range: lines=1-2`: a unit the server does not know must be ignored.
pub fn unknown_unit(response: &Response, content: &[u8]) -> Outcome {
    match response.status {
        200 if response.body == content => Outcome::Pass,
        200 => range_ignored(response, content),
        _ if starlette_range_error(response) => Outcome::note(format!(
            "{} for Range: lines=1-2: HTTP says to ignore a unit the server does not know \
             (RFC 9110 §14.2), but this answer comes from the framework, not from your code: \
             Starlette's FileResponse parses Range itself and refuses other units. Nothing to \
             fix in your app; it does not count as a FAIL.",
            status_text(response)
        )),
        _ if response.status < 500 => Outcome::fail(
            format!("{} for Range: lines=1-2", status_text(response)),
            "200 with the whole file: a server MUST ignore a Range in a unit it does not \
             understand (FastAPI's FileResponse answers 400)",
            "RFC 9110 §14.2",
        ),
        _ => unexpected(response, "200 OK with the whole file", "RFC 9110 §14.2"),
    }
}

/// Whether a refused `Range` is Starlette's `FileResponse` at work: its own messages for a
/// range it cannot parse (a 400 in plain text), or its 416 with `Content-Range: bytes */N`,
/// from a Python ASGI server. Such an answer is the framework's, not the learner's code.
fn starlette_range_error(response: &Response) -> bool {
    let body = String::from_utf8_lossy(&response.body);
    let message = [
        "Only support bytes range",
        "Range header:",
        "Malformed range header",
    ]
    .iter()
    .any(|known| body.starts_with(known));
    let asgi = response.header("Server").is_some_and(|server| {
        let server = server.to_ascii_lowercase();
        ["uvicorn", "hypercorn", "granian", "daphne"]
            .iter()
            .any(|name| server.contains(name))
    });
    (response.status == 400 && message) || (asgi && matches!(response.status, 400 | 416 | 206))
}

/// The parts of a `multipart/byteranges` body: each one's `Content-Range` and bytes. `None`
/// when it does not parse with the boundary of its `Content-Type` (RFC 2046 §5.1.1).
pub fn multipart_parts(response: &Response) -> Option<Vec<(Option<String>, Vec<u8>)>> {
    let content_type = response.header("Content-Type")?;
    let boundary = content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        (name.trim().eq_ignore_ascii_case("boundary")).then(|| value.trim().trim_matches('"'))
    })?;
    let delimiter = format!("--{boundary}").into_bytes();
    let body = &response.body;
    let mut at = find(body, &delimiter, 0)? + delimiter.len();
    let mut parts = Vec::new();
    loop {
        if body.get(at..at + 2)? == b"--" {
            return Some(parts);
        }
        let head_end = find(body, b"\r\n\r\n", at)?;
        let head = String::from_utf8_lossy(&body[at..head_end]);
        let range = head.split("\r\n").find_map(|line| {
            let (name, value) = line.split_once(':')?;
            let is_range = name.trim().eq_ignore_ascii_case("Content-Range");
            is_range.then(|| value.trim().to_owned())
        });
        let data_start = head_end + 4;
        let mut next = b"\r\n".to_vec();
        next.extend_from_slice(&delimiter);
        let data_end = find(body, &next, data_start)?;
        parts.push((range, body[data_start..data_end].to_vec()));
        at = data_end + next.len();
    }
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    let rest = haystack.get(from..)?;
    rest.windows(needle.len())
        .position(|window| window == needle)
        .map(|at| at + from)
}
