//! The one place where a handler's [`Reply`] becomes the connection layer's [`Response`]: its
//! status and fields as they are, its body as pieces the layer writes without copying (JSON and
//! shared attachment bytes as `Bytes`, files as stretches of the open file, a
//! `multipart/byteranges` body as its literal delimiters and slices of the attachment).

use std::borrow::Cow;

use http1::{Piece, Response};

use crate::http::{Body, Reply};
use crate::storage::BodySource;
use crate::validators::Segment;

/// `reply` as the connection layer writes it.
pub(super) fn into_response(reply: Reply) -> Response {
    let Reply {
        status,
        headers,
        body,
    } = reply;
    let (content_type, body) = match body {
        Body::Empty => (None, http1::Body::empty()),
        Body::Json(bytes) => (
            Some(Cow::Borrowed("application/json")),
            http1::Body::bytes(bytes),
        ),
        Body::File {
            content_type,
            bytes,
        } => (Some(content_type.into()), http1::Body::bytes(bytes)),
        Body::Stream {
            content_type,
            file,
            len,
        } => (Some(content_type.into()), http1::Body::file(file.0, 0, len)),
        Body::FileRange {
            content_type,
            file,
            offset,
            len,
        } => (
            Some(content_type.into()),
            http1::Body::file(file.0, offset, len),
        ),
        Body::ByteRanges {
            content_type,
            source,
            layout,
        } => {
            let pieces = layout
                .into_segments()
                .into_iter()
                .map(|segment| part_piece(&source, segment))
                .collect();
            (Some(content_type.into()), http1::Body::pieces(pieces))
        }
    };
    Response {
        status,
        content_type,
        headers,
        body,
    }
}

/// One piece of a `multipart/byteranges` body.
fn part_piece(source: &BodySource, segment: Segment) -> Piece {
    match (segment, source) {
        (Segment::Literal(bytes), _) => Piece::Bytes(bytes),
        (Segment::Slice { start, len }, BodySource::Memory(bytes)) => {
            let range = usize::try_from(start)
                .ok()
                .and_then(|start| Some(start..start.checked_add(usize::try_from(len).ok()?)?))
                .filter(|range| range.end <= bytes.len());
            Piece::Bytes(bytes.slice(range.expect("ranges are resolved against these very bytes")))
        }
        (Segment::Slice { start, len }, BodySource::File { file, .. }) => Piece::File {
            file: file.clone(),
            offset: start,
            len,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn json_keeps_its_media_type_and_bytes() {
        let response = into_response(Reply::json(201, &serde_json::json!({"a": 1})));
        assert_eq!(response.status, 201);
        assert_eq!(response.content_type.as_deref(), Some("application/json"));
        assert_eq!(response.body.len(), 7);
    }

    #[test]
    fn an_empty_reply_has_no_media_type() {
        let response = into_response(Reply::no_content().with_header("ETag", "\"x\""));
        assert_eq!(response.content_type, None);
        assert!(response.body.is_empty());
        assert_eq!(response.headers, [("ETag", "\"x\"".to_owned())]);
    }

    #[test]
    fn shared_bytes_are_not_copied() {
        let bytes = Bytes::from(vec![7u8; 100]);
        let reply = Reply {
            status: 200,
            headers: Vec::new(),
            body: Body::File {
                content_type: "text/plain".to_owned(),
                bytes: bytes.clone(),
            },
        };
        let response = into_response(reply);
        let [Piece::Bytes(sent)] = response.body.as_pieces() else {
            panic!("one piece in memory");
        };
        assert_eq!(sent.as_ptr(), bytes.as_ptr());
    }
}
