//! `router`: `taskd::fuzzing::route(method, target)` and `TaskId::parse`.
//!
//! Input: `METHOD SP TARGET` (split at the first space; lossy UTF-8), like a request line
//! without its version. Oracles:
//! - `route` never panics, and fails only with 404 `Not Found` or 405 with a known `Allow`;
//! - `HEAD` routes exactly as `GET`;
//! - a 307 `Location` starts with one `/` (never `//` or `/\`, which browsers read as another
//!   host), and for a target the connection layer can deliver (visible ASCII) is made of
//!   visible ASCII only (no CR, LF, space, tab or other control byte); following it routes to the
//!   same resource without another redirect (`TASKD_FUZZ_ALLOW=redirect-query` exempts the
//!   query part from the byte check, to keep fuzzing while that finding is open);
//! - the `{task_id}` a route carries is `TaskId::parse` of the percent-decoded segment;
//! - `TaskId::parse` of any segment is either the `int_parsing` item for exactly the strings
//!   that are not an optionally signed run of ASCII digits, or an id whose canonical form
//!   round-trips (`parse(canonical) == id`) and matches exact integer arithmetic.

use serde_json::{json, Value};
use taskd::fuzzing::ApiError;
use taskd::fuzzing::{
    route, Route, TaskId, ALLOW_ATTACHMENT, ALLOW_READ_ONLY, ALLOW_SERVER, ALLOW_TASK, ALLOW_TASKS,
};

/// Runs every router oracle on one input.
pub fn check(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (method, target) = text.split_once(' ').unwrap_or((&text, ""));
    let routed = route(method, target);

    let (as_head, as_get) = (route("HEAD", target), route("GET", target));
    assert_eq!(as_head, as_get, "HEAD must route as GET: {target:?}");

    match &routed {
        Err(error) => check_error(error),
        Ok(Route::Redirect { location }) => check_redirect(method, target, location),
        Ok(other) => {
            if let Some(id) = path_id(other) {
                let segment = decoded_id_segment(target)
                    .unwrap_or_else(|| panic!("{target:?} routed to {other:?} without an id"));
                assert_eq!(id, &TaskId::parse(&segment), "id of {target:?}");
            }
        }
    }

    check_task_id(&text);
    check_task_id(method);
    check_task_id(target);
    for segment in target.split(['/', '?', '&', '=']) {
        check_task_id(segment);
    }
    if let Some(segment) = decoded_id_segment(target) {
        check_task_id(&segment);
    }
}

fn check_error(error: &ApiError) {
    match error {
        ApiError::NotFound(detail) => assert_eq!(detail, "Not Found"),
        ApiError::MethodNotAllowed { allow } => assert!(
            [
                ALLOW_TASKS,
                ALLOW_TASK,
                ALLOW_ATTACHMENT,
                ALLOW_READ_ONLY,
                ALLOW_SERVER
            ]
            .contains(allow),
            "unknown Allow {allow:?}"
        ),
        other => panic!("route may only answer 404 or 405, got {other:?}"),
    }
}

/// Whether taskd's connection layer can hand the router this target: visible ASCII only
/// (`http1::head` refuses spaces, control bytes and bytes over 0x7E with 400). The tiny_http
/// server delivered more (a lone CR or LF, a tab), which is how the redirect finding got in.
pub fn reaches_taskd(target: &str) -> bool {
    !target.is_empty() && target.bytes().all(|b| (0x21..=0x7e).contains(&b))
}

fn check_redirect(method: &str, target: &str, location: &str) {
    assert!(
        location.starts_with('/') && !location.starts_with("//") && !location.starts_with("/\\"),
        "Location {location:?} for {target:?} must be a path on this host"
    );
    if reaches_taskd(target) {
        // With the known issue allowed, only the path part (the router's re-encoding) is held
        // to this; the query is copied as sent.
        let checked = if crate::allowed("redirect-query") {
            location.split('?').next().unwrap_or_default()
        } else {
            location
        };
        if let Some(bad) = checked.bytes().find(|b| !(0x21..=0x7e).contains(b)) {
            panic!(
                "307 Location {location:?} for target {target:?} carries byte 0x{bad:02x}: \
                 a Location must be visible ASCII (no CR, LF, space or control byte)"
            );
        }
    }
    match route(method, location) {
        Ok(Route::Redirect { location: again }) => {
            panic!("{target:?} redirects to {location:?}, which redirects to {again:?}")
        }
        Err(ApiError::NotFound(_)) => {
            panic!("{target:?} redirects to {location:?}, which is a 404")
        }
        _ => {}
    }
}

fn path_id(route: &Route) -> Option<&Result<TaskId, taskd::fuzzing::ErrorItem>> {
    match route {
        Route::GetTask(id)
        | Route::UpdateTask(id)
        | Route::DeleteTask(id)
        | Route::DownloadAttachment(id)
        | Route::UploadAttachment(id)
        | Route::DeleteAttachment(id) => Some(id),
        _ => None,
    }
}

/// Reference model of CONTRACT §3's path handling, far enough to find `{task_id}`: drop the
/// query, take the path of an absolute-form target, percent-decode (malformed → none), then
/// the second segment of `/tasks/{id}[/attachment]`.
fn decoded_id_segment(target: &str) -> Option<String> {
    let path = target.split('?').next().unwrap_or_default();
    let lower = path.to_ascii_lowercase();
    let path = ["http://", "https://"]
        .iter()
        .find(|scheme| lower.starts_with(*scheme))
        .map_or(path, |scheme| {
            let rest = &path[scheme.len()..];
            rest.find('/').map_or("/", |slash| &rest[slash..])
        });
    let mut bytes = Vec::new();
    let mut rest = path.as_bytes();
    while let Some((&byte, tail)) = rest.split_first() {
        if byte == b'%' {
            let hex = std::str::from_utf8(tail.get(..2)?).ok()?;
            if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            bytes.push(u8::from_str_radix(hex, 16).ok()?);
            rest = &tail[2..];
        } else {
            bytes.push(byte);
            rest = tail;
        }
    }
    let decoded = String::from_utf8(bytes).ok()?;
    let mut segments = decoded.strip_prefix("/tasks/")?.split('/');
    segments.next().map(str::to_owned)
}

fn is_signed_digits(segment: &str) -> bool {
    let digits = segment.strip_prefix(['+', '-']).unwrap_or(segment);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// `TaskId::parse` against the contract's rules and exact arithmetic.
pub fn check_task_id(segment: &str) {
    match TaskId::parse(segment) {
        Err(item) => {
            assert!(!is_signed_digits(segment), "{segment:?} refused: {item:?}");
            assert_eq!(item.kind, "int_parsing");
            assert_eq!(item.loc, [json!("path"), json!("task_id")]);
            assert_eq!(item.input, Value::from(segment));
        }
        Ok(id) => {
            assert!(is_signed_digits(segment), "{segment:?} accepted as {id:?}");
            let canonical = id.to_string();
            assert_eq!(
                TaskId::parse(&canonical).as_ref(),
                Ok(&id),
                "{segment:?} → {canonical:?} does not round-trip"
            );
            let digits = canonical.strip_prefix('-').unwrap_or(&canonical);
            assert!(
                !digits.is_empty()
                    && digits.bytes().all(|b| b.is_ascii_digit())
                    && (digits == "0" || !digits.starts_with('0'))
                    && canonical != "-0",
                "{segment:?} → non-canonical {canonical:?}"
            );
            match &id {
                TaskId::Number(number) => assert_eq!(id.as_u64(), Some(*number)),
                TaskId::OutOfRange(text) => {
                    assert_eq!(id.as_u64(), None);
                    assert!(
                        text.starts_with('-') || text.parse::<u64>().is_err(),
                        "{segment:?}: {text:?} is in range"
                    );
                }
            }
            // Exact arithmetic where i128 holds the value.
            let negative = segment.starts_with('-');
            let unsigned = segment
                .trim_start_matches(['+', '-'])
                .trim_start_matches('0');
            if unsigned.len() <= 37 {
                let magnitude: i128 = if unsigned.is_empty() {
                    0
                } else {
                    unsigned.parse().expect("at most 37 digits fit in i128")
                };
                let value = if negative { -magnitude } else { magnitude };
                let expected = match u64::try_from(value) {
                    Ok(number) => TaskId::Number(number),
                    Err(_) => TaskId::OutOfRange(value.to_string()),
                };
                assert_eq!(id, expected, "{segment:?}");
            }
        }
    }
}
