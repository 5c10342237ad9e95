//! The request and response values `taskd check` sends and inspects, and the short plain-text
//! descriptions of them that go into a report.

use serde_json::Value;

/// Longest piece of a body quoted in a report line.
const QUOTE_CHARS: usize = 100;

/// One request. The transport adds `Host`, `Connection: close` and `Content-Length`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The method, sent as written (methods are case-sensitive, RFC 9110 §9.1).
    pub method: String,
    /// The request target in origin form (`/tasks/1`), or `*`.
    pub target: String,
    /// Extra header fields.
    pub headers: Vec<(String, String)>,
    /// The content, possibly empty.
    pub body: Vec<u8>,
    /// How the report names this request when its body is not worth quoting (uploads).
    pub summary: Option<String>,
}

impl Request {
    /// A request without a body.
    pub fn new(method: &str, target: impl Into<String>) -> Request {
        Request {
            method: method.to_owned(),
            target: target.into(),
            headers: Vec::new(),
            body: Vec::new(),
            summary: None,
        }
    }

    /// The same request with `body` sent as `content_type`.
    pub fn with_body(mut self, content_type: &str, body: impl Into<Vec<u8>>) -> Request {
        self.headers
            .push(("Content-Type".to_owned(), content_type.to_owned()));
        self.body = body.into();
        self
    }

    /// The same request with one more header field.
    pub fn with_header(mut self, name: &str, value: &str) -> Request {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The same request with a JSON body.
    pub fn with_json(self, value: &Value) -> Request {
        self.with_body("application/json", value.to_string())
    }

    /// The same request, named in reports by `summary` instead of its body.
    pub fn with_summary(mut self, summary: impl Into<String>) -> Request {
        self.summary = Some(summary.into());
        self
    }

    /// `POST /tasks with {"title":"x"} (application/json)`, for a report; header fields other
    /// than `Content-Type` are named, since a conditional or ranged request is about them.
    pub fn describe(&self) -> String {
        let mut line = format!("{} {}", self.method, self.target);
        for (name, value) in &self.headers {
            if !name.eq_ignore_ascii_case("Content-Type") {
                line.push_str(&format!(" with {name}: {value}"));
            }
        }
        if let Some(summary) = &self.summary {
            return format!("{line} with {summary}");
        }
        if self.body.is_empty() {
            return line;
        }
        let kind = self.header("Content-Type").unwrap_or("no Content-Type");
        format!("{line} with {} ({kind})", quote_body(&self.body))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(field, _)| field.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// One final response. Header values are Latin-1 decoded, byte for byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The reason phrase as sent.
    pub reason: String,
    /// Header fields in the order received.
    pub headers: Vec<(String, String)>,
    /// The content. For HEAD, 204 and 304: whatever bytes followed the head anyway.
    pub body: Vec<u8>,
}

impl Response {
    /// A response with this status and no headers or body (for tests and fakes).
    pub fn new(status: u16) -> Response {
        Response {
            status,
            reason: String::new(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// The same response with one more header field.
    pub fn with_header(mut self, name: &str, value: &str) -> Response {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The same response with a JSON body and `Content-Type: application/json`.
    pub fn with_json(self, body: &str) -> Response {
        let mut response = self.with_header("Content-Type", "application/json");
        response.body = body.as_bytes().to_vec();
        response
    }

    /// The same response with this body.
    pub fn with_body(mut self, body: &[u8]) -> Response {
        self.body = body.to_vec();
        self
    }

    /// The first value of a header field (names are case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(field, _)| field.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// Every value of a header field, in order.
    pub fn header_values(&self, name: &str) -> Vec<&str> {
        let fields = self.headers.iter();
        fields
            .filter(|(field, _)| field.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
            .collect()
    }

    /// The JSON body, if it is JSON.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// The media type of `Content-Type`, lower-cased, without parameters (RFC 9110 §8.3.1).
    pub fn media_type(&self) -> Option<String> {
        self.header("Content-Type").map(media_type)
    }

    /// Whether `Content-Type` says JSON (`application/json` or `application/*+json`).
    pub fn is_json_type(&self) -> bool {
        self.media_type().is_some_and(|kind| {
            kind == "application/json"
                || (kind.starts_with("application/") && kind.ends_with("+json"))
        })
    }

    /// `404 Not Found with {"detail":"Task 9 not found"}`, for a report.
    pub fn describe(&self) -> String {
        let status = if self.reason.is_empty() {
            self.status.to_string()
        } else {
            format!("{} {}", self.status, self.reason)
        };
        if self.body.is_empty() {
            format!("{status} with no body")
        } else {
            format!("{status} with {}", quote_body(&self.body))
        }
    }
}

/// The media type of a `Content-Type` value: before `;`, trimmed, lower-cased.
pub fn media_type(value: &str) -> String {
    let essence = value.split(';').next().unwrap_or_default();
    essence.trim().to_ascii_lowercase()
}

/// A body as a report shows it: JSON as it is, other text quoted, both shortened; binary as a
/// byte count.
pub fn quote_body(body: &[u8]) -> String {
    let Ok(text) = std::str::from_utf8(body) else {
        return format!("{} bytes of binary content", body.len());
    };
    let chars = text.chars().count();
    let mut shown: String = text.chars().take(QUOTE_CHARS).collect();
    // JSON reads best as it is; other text is quoted, with control characters escaped.
    if serde_json::from_str::<Value>(text).is_err() || shown.chars().any(char::is_control) {
        shown = format!("{shown:?}");
    }
    if chars > QUOTE_CHARS {
        format!("{shown}… ({chars} characters)")
    } else {
        shown
    }
}
