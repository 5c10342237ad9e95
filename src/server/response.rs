//! The one place where a handler's [`Reply`] becomes the connection layer's [`Response`]: its
//! status and fields as they are, its body as pieces the layer writes without copying (JSON and
//! shared attachment bytes as `Bytes`, files as stretches of the open file, a
//! `multipart/byteranges` body as its literal delimiters and slices of the attachment).

use std::borrow::Cow;
use std::collections::VecDeque;
use std::io::{self, Read};

use http1::{Piece, Response};

use crate::message::{Body, Reply};
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
        Body::Chunks {
            content_type,
            source,
            offset,
            len,
        } => (
            Some(content_type.into()),
            http1::Body::stream(chunk_stream(&source, offset, len), len),
        ),
        Body::ByteRanges {
            content_type,
            source: BodySource::Chunks(chunks),
            layout,
        } => {
            // No file to hand the layer in pieces: the parts are one stream, each slice
            // reading only the chunks it overlaps.
            let len = layout.len();
            let parts: Vec<Box<dyn Read + Send>> = layout
                .into_segments()
                .into_iter()
                .map(|segment| match segment {
                    Segment::Literal(bytes) => {
                        Box::new(io::Cursor::new(bytes)) as Box<dyn Read + Send>
                    }
                    Segment::Slice { start, len } => chunks.reader(start, len),
                })
                .collect();
            (
                Some(content_type.into()),
                http1::Body::stream(Box::new(Concat(parts.into())), len),
            )
        }
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

/// `len` bytes of `source` from `offset`, read as they are sent.
fn chunk_stream(source: &BodySource, offset: u64, len: u64) -> http1::Stream {
    match source {
        BodySource::Chunks(chunks) => chunks.reader(offset, len),
        BodySource::Memory(bytes) => {
            let start = usize::try_from(offset)
                .unwrap_or(usize::MAX)
                .min(bytes.len());
            let end = usize::try_from(offset.saturating_add(len))
                .unwrap_or(usize::MAX)
                .min(bytes.len());
            Box::new(io::Cursor::new(bytes.slice(start..end)))
        }
        BodySource::File { file, .. } => Box::new(FileStretch {
            file: file.clone(),
            offset,
            end: offset.saturating_add(len),
        }),
    }
}

/// Readers read one after the other.
struct Concat(VecDeque<Box<dyn Read + Send>>);

impl Read for Concat {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        while let Some(reader) = self.0.front_mut() {
            match reader.read(buffer)? {
                0 if !buffer.is_empty() => {
                    self.0.pop_front();
                }
                read => return Ok(read),
            }
        }
        Ok(0)
    }
}

/// A stretch of an open file read with positioned reads.
struct FileStretch {
    file: std::sync::Arc<std::fs::File>,
    offset: u64,
    end: u64,
}

impl Read for FileStretch {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let left = usize::try_from(self.end.saturating_sub(self.offset)).unwrap_or(usize::MAX);
        let want = left.min(buffer.len());
        if want == 0 {
            return Ok(0);
        }
        let read =
            std::os::unix::fs::FileExt::read_at(&*self.file, &mut buffer[..want], self.offset)?;
        self.offset += read as u64;
        Ok(read)
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
        // Taken apart as one stream by `into_response`, never in pieces.
        (Segment::Slice { .. }, BodySource::Chunks(_)) => Piece::Bytes(bytes::Bytes::new()),
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
