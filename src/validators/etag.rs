//! Entity tags (RFC 9110 §8.8.3): the strong tags taskd sends, how each resource's tag is
//! derived from its representation, the `If-Match` / `If-None-Match` lists clients send, and the
//! two comparison functions of §8.8.3.2.
//!
//! taskd's tags are always strong, `"` + 32 lowercase hex digits + `"`: the [`Digest`] of the
//! whole representation, so a tag changes exactly when the representation does, survives a
//! restart unchanged, and never names another representation of the same URL (a restart that
//! loses a memory-mode task and makes a new one with other content gives it another tag).
//!
//! Reading a list (§5.6.1): elements are separated by commas with optional whitespace, empty
//! elements are skipped, and a comma inside a quoted tag is part of the tag. A field with no
//! element at all (empty, or only commas) is treated as absent, as Go's server does: there is
//! no condition to evaluate. A field that does not follow the grammar (`abc`, `w/"x"`, `"x" y`,
//! `*, "x"`) is [`TagList::Malformed`]; the precondition rules decide what that means (see
//! `preconditions`): it never lets a change through and never yields a 304.

use super::digest::{Digest, Digester};

/// A strong entity tag as taskd sends it, quotes included: the `ETag` field value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EntityTag(String);

impl EntityTag {
    /// `"` + the digest's 32 hex digits + `"`. Written digit by digit: every 200 of a task
    /// makes one, and `format!` through `Display` costs more than the digest itself.
    pub fn from_digest(digest: Digest) -> EntityTag {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut tag = String::with_capacity(34);
        tag.push('"');
        for byte in digest.as_bytes() {
            tag.push(char::from(HEX[usize::from(byte >> 4)]));
            tag.push(char::from(HEX[usize::from(byte & 0xf)]));
        }
        tag.push('"');
        EntityTag(tag)
    }

    /// The tag of a task: its JSON exactly as sent (the 200 of GET, the 201, the PATCH 200).
    pub fn for_task(json: &[u8]) -> EntityTag {
        derive("task", &[json])
    }

    /// A task's JSON exactly as sent and its tag: what a handler answers with and what a
    /// storage backend checks a [`super::Guard`] against, computed in this one place.
    pub fn of_task(task: &crate::model::Task) -> (Vec<u8>, EntityTag) {
        let body = serde_json::to_vec(task).expect("a task always serializes");
        let tag = EntityTag::for_task(&body);
        (body, tag)
    }

    /// The tag of a document compiled into the binary (`/openapi.json`, `/docs`): its bytes
    /// change only with the binary, so the tag is computed once per process.
    pub fn for_document(bytes: &[u8]) -> EntityTag {
        derive("document", &[bytes])
    }

    /// The tag of a list page: its body and its `X-Total-Count` and `Link` values, all three
    /// being part of the representation (CONTRACT §11).
    pub fn for_list_page(body: &[u8], total_count: u64, link: &str) -> EntityTag {
        let total = total_count.to_string();
        derive("list", &[body, total.as_bytes(), link.as_bytes()])
    }

    /// The tag of an attachment: its bytes (through their digest and size), the
    /// `Content-Type` it is served with and its filename (which makes the
    /// `Content-Disposition`).
    pub fn for_attachment(
        digest: Digest,
        size: u64,
        content_type: &str,
        filename: &str,
    ) -> EntityTag {
        let size = size.to_le_bytes();
        derive(
            "attachment",
            &[
                digest.as_bytes(),
                &size,
                content_type.as_bytes(),
                filename.as_bytes(),
            ],
        )
    }

    /// The field value, quotes included.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// This tag as a parsed one, for the comparison functions.
    pub fn as_tag(&self) -> Tag<'_> {
        Tag {
            weak: false,
            opaque: &self.0[1..self.0.len() - 1],
        }
    }
}

/// The digest of a resource kind and its fields, each preceded by its length, so no two
/// different field lists (or kinds) feed the digester the same bytes.
fn derive(kind: &str, fields: &[&[u8]]) -> EntityTag {
    let mut digester = Digester::new();
    for field in std::iter::once(&kind.as_bytes()).chain(fields) {
        digester.update(&(field.len() as u64).to_le_bytes());
        digester.update(field);
    }
    EntityTag::from_digest(digester.finish())
}

/// One entity tag as a client wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tag<'a> {
    /// `W/` was there: a weak validator (§8.8.1).
    pub weak: bool,
    /// What was between the quotes.
    pub opaque: &'a str,
}

impl<'a> Tag<'a> {
    /// Parses exactly one `entity-tag`: `[ W/ ] DQUOTE *etagc DQUOTE`.
    pub fn parse(text: &'a str) -> Option<Tag<'a>> {
        match scan_tag(text) {
            Some((tag, "")) => Some(tag),
            _ => None,
        }
    }

    /// §8.8.3.2 strong comparison: neither is weak and the opaque parts are identical.
    pub fn strong_eq(self, other: Tag<'_>) -> bool {
        !self.weak && !other.weak && self.opaque == other.opaque
    }

    /// §8.8.3.2 weak comparison: the opaque parts are identical, weak or not.
    pub fn weak_eq(self, other: Tag<'_>) -> bool {
        self.opaque == other.opaque
    }
}

/// `etagc = %x21 / %x23-7E / obs-text`: visible ASCII but `"`, or any non-ASCII byte.
fn is_etagc(byte: u8) -> bool {
    byte == 0x21 || (0x23..=0x7E).contains(&byte) || byte >= 0x80
}

/// Reads one tag at the start of `text`; returns it and what follows.
fn scan_tag(text: &str) -> Option<(Tag<'_>, &str)> {
    // §8.8.3: `W/` is case-sensitive.
    let (weak, rest) = match text.strip_prefix("W/") {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let quoted = rest.strip_prefix('"')?;
    let end = quoted.bytes().position(|b| !is_etagc(b))?;
    if quoted.as_bytes()[end] != b'"' {
        return None;
    }
    let tag = Tag {
        weak,
        opaque: &quoted[..end],
    };
    Some((tag, &quoted[end + 1..]))
}

/// An `If-Match` or `If-None-Match` field value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagList<'a> {
    /// `*`: any current representation.
    Any,
    /// One or more tags.
    Tags(Vec<Tag<'a>>),
    /// Not the grammar: `abc`, `W/x`, `"a" "b"`, `*, "a"`, an unclosed quote.
    Malformed,
}

impl<'a> TagList<'a> {
    /// Reads a field value; `None` when it holds no element (empty, or only commas and
    /// whitespace): then the field is ignored. Several field lines of one name must be joined
    /// with `, ` first (RFC 9110 §5.3).
    pub fn parse(value: &'a str) -> Option<TagList<'a>> {
        let value = trim_ows(value);
        if value == "*" {
            return Some(TagList::Any);
        }
        let mut tags = Vec::new();
        let mut rest = value;
        loop {
            rest = rest.trim_start_matches([',', ' ', '\t']);
            if rest.is_empty() {
                break;
            }
            let Some((tag, after)) = scan_tag(rest) else {
                return Some(TagList::Malformed);
            };
            tags.push(tag);
            rest = trim_ows(after);
            if !rest.is_empty() && !rest.starts_with(',') {
                return Some(TagList::Malformed);
            }
        }
        (!tags.is_empty()).then_some(TagList::Tags(tags))
    }

    /// `If-Match` (§13.1.1): `*`, or a listed tag that strongly matches `current`.
    /// A malformed list matches nothing.
    pub fn strong_match(&self, current: &EntityTag) -> bool {
        match self {
            TagList::Any => true,
            TagList::Tags(tags) => tags.iter().any(|tag| tag.strong_eq(current.as_tag())),
            TagList::Malformed => false,
        }
    }

    /// `If-None-Match` (§13.1.2): `*`, or a listed tag that weakly matches `current`.
    /// A malformed list matches nothing.
    pub fn weak_match(&self, current: &EntityTag) -> bool {
        match self {
            TagList::Any => true,
            TagList::Tags(tags) => tags.iter().any(|tag| tag.weak_eq(current.as_tag())),
            TagList::Malformed => false,
        }
    }
}

/// Without optional whitespace (SP / HTAB, §5.6.3) at either end.
fn trim_ows(text: &str) -> &str {
    text.trim_matches([' ', '\t'])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(weak: bool, opaque: &str) -> Tag<'_> {
        Tag { weak, opaque }
    }

    fn tags(value: &str) -> Vec<Tag<'_>> {
        match TagList::parse(value) {
            Some(TagList::Tags(tags)) => tags,
            other => panic!("{value:?}: {other:?}"),
        }
    }

    #[test]
    fn lists_with_whitespace_empty_elements_and_commas_inside_tags() {
        assert_eq!(tags(r#""a""#), [tag(false, "a")]);
        assert_eq!(
            tags(" ,\t\"a\" ,, W/\"b\",\"\" ,"),
            [tag(false, "a"), tag(true, "b"), tag(false, "")]
        );
        assert_eq!(tags(r#""a,b", "c""#), [tag(false, "a,b"), tag(false, "c")]);
        assert_eq!(tags("\"caf\u{e9}\""), [tag(false, "caf\u{e9}")]);
        assert_eq!(TagList::parse(" * "), Some(TagList::Any));
    }

    #[test]
    fn no_element_at_all_is_as_if_absent() {
        for value in ["", "   ", ",", " , ,\t,"] {
            assert_eq!(TagList::parse(value), None, "{value:?}");
        }
    }

    #[test]
    fn grammar_violations_are_malformed() {
        for value in [
            "abc",
            "\"a",
            "a\"",
            "w/\"a\"",
            "W/a",
            "W /\"a\"",
            "\"a\" \"b\"",
            "\"a\"b",
            "*, \"a\"",
            "\"a\", *",
            "**",
            "\"a b\"",
            "\"a\u{7f}\"",
            "\"a\u{1}\"",
        ] {
            assert_eq!(TagList::parse(value), Some(TagList::Malformed), "{value:?}");
        }
    }

    /// RFC 9110 §8.8.3.2's table.
    #[test]
    fn strong_and_weak_comparison() {
        let cases = [
            (tag(true, "1"), tag(true, "1"), false, true),
            (tag(true, "1"), tag(true, "2"), false, false),
            (tag(true, "1"), tag(false, "1"), false, true),
            (tag(false, "1"), tag(false, "1"), true, true),
        ];
        for (a, b, strong, weak) in cases {
            assert_eq!(a.strong_eq(b), strong, "{a:?} {b:?}");
            assert_eq!(a.weak_eq(b), weak, "{a:?} {b:?}");
        }
    }

    fn list(value: &str) -> TagList<'_> {
        TagList::parse(value).unwrap()
    }

    #[test]
    fn matching_a_current_tag() {
        let current = EntityTag::from_digest(Digest::of(b"x"));
        let quoted = current.as_str();
        let opaque = &quoted[1..quoted.len() - 1];
        let listed = format!("\"other\", {quoted}");
        let weak = format!("W/{quoted}");
        assert!(list(&listed).strong_match(&current));
        assert!(list(&listed).weak_match(&current));
        assert!(!list(&weak).strong_match(&current));
        assert!(list(&weak).weak_match(&current));
        assert!(list("*").strong_match(&current) && list("*").weak_match(&current));
        assert!(!list(opaque).strong_match(&current) && !list(opaque).weak_match(&current));
        assert!(!list("\"other\"").weak_match(&current));
    }

    #[test]
    fn single_tags() {
        assert_eq!(Tag::parse("W/\"x\""), Some(tag(true, "x")));
        assert_eq!(Tag::parse("\"x\" "), None);
        assert_eq!(Tag::parse("\"x\", \"y\""), None);
        assert_eq!(Tag::parse("Sun, 06 Nov 1994 08:49:37 GMT"), None);
    }

    /// Tags are part of what clients keep across restarts and releases: these values must never
    /// change (a change would turn every cached copy into a full download, and make every saved
    /// `If-Match` fail).
    #[test]
    fn derived_tags_are_pinned() {
        let task =
            br#"{"id":1,"title":"Buy milk","priority":"medium","done":false,"attachment":null}"#;
        let pinned = [
            (
                EntityTag::for_task(task),
                "\"1be64b0593a3aa4f0b00be4d6dcd6e27\"",
            ),
            (
                EntityTag::for_list_page(b"[]", 0, ""),
                "\"b9712d528ea45e8cbd8e36cfaecfe909\"",
            ),
            (
                EntityTag::for_attachment(Digest::of(b"hello"), 5, "text/plain", "a.txt"),
                "\"3a08391acc5028dfa953618b7ae6349c\"",
            ),
        ];
        for (derived, expected) in pinned {
            assert_eq!(derived.as_str(), expected);
        }
    }

    #[test]
    fn each_part_of_a_representation_changes_its_tag() {
        let digest = Digest::of(b"hello");
        let base = EntityTag::for_attachment(digest, 5, "text/plain", "a.txt");
        let variants = [
            EntityTag::for_attachment(Digest::of(b"hellO"), 5, "text/plain", "a.txt"),
            EntityTag::for_attachment(digest, 6, "text/plain", "a.txt"),
            EntityTag::for_attachment(digest, 5, "TEXT/PLAIN", "a.txt"),
            EntityTag::for_attachment(digest, 5, "text/plain", "b.txt"),
            // The same bytes split differently between type and name.
            EntityTag::for_attachment(digest, 5, "text/plaina", ".txt"),
        ];
        for variant in variants {
            assert_ne!(variant, base);
        }
        let page = EntityTag::for_list_page(b"[]", 0, "");
        assert_ne!(EntityTag::for_list_page(b"[]", 1, ""), page);
        assert_ne!(EntityTag::for_list_page(b"[]", 0, "<x>"), page);
        assert_ne!(EntityTag::for_task(b"[]"), page);
        let tag = base.as_str();
        assert!(tag.len() == 34 && tag.starts_with('"') && tag.ends_with('"'));
        assert!(tag[1..33]
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    }
}
