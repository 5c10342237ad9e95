//! The attachment of a task (CONTRACT §9, §11): its download and its delete, with the
//! attachment's validators (`ETag`, `Last-Modified`), its preconditions, and byte ranges. The
//! upload is in `attach`.

use std::time::SystemTime;

use http1::Request;

use super::conditional::{check_read, Fields};
use super::App;
use crate::error::ApiError;
use crate::message::{http_date, Body, Reply, SharedFile};
use crate::router::PathId;
use crate::storage::{BodySource, Download};
use crate::upload;
use crate::validators::{
    boundary_for, select_ranges, ByteRange, ByteRangesBody, Current, EntityTag, Ranges,
};

/// An attachment's validators, computed outside the storage lock (an attachment stored by an
/// older taskd has its digest computed here, once).
pub(super) struct Validators {
    pub(super) tag: EntityTag,
    pub(super) last_modified: SystemTime,
}

impl Validators {
    pub(super) fn of(download: &Download) -> Result<Validators, ApiError> {
        Ok(Validators {
            tag: download.etag()?,
            last_modified: download.last_modified()?,
        })
    }

    pub(super) fn current(&self) -> Current<'_> {
        Current {
            tag: &self.tag,
            last_modified: Some(self.last_modified),
        }
    }
}

/// `GET /tasks/{task_id}/attachment` (and HEAD): the exact bytes with their type, validators
/// and `Accept-Ranges`; 304 / 412 by the preconditions; then, for GET only, `Range`.
///
/// # Errors
/// 422 bad id, 404 no such task, 404 no attachment, 412, 416.
pub fn download_attachment(
    app: &App,
    request: &Request<'_>,
    id: PathId,
) -> Result<Reply, ApiError> {
    let id = id.map_err(ApiError::invalid)?;
    let key = id.as_u64().ok_or_else(|| id.not_found())?;
    let download = app.storage.attachment(key)?;
    let validators = Validators::of(&download)?;
    let fields = Fields::read(request);
    if let Some(not_modified) = check_read(request.method(), validators.current(), &fields)? {
        return Ok(not_modified);
    }
    let ranges = requested_ranges(request.method(), &fields, &validators, download.size());
    let headers = download_headers(&download, &validators);
    let content_type = download.content_type().to_owned();
    let source = download.into_source()?;
    match ranges {
        Ranges::Ignore => Ok(Reply {
            status: 200,
            headers,
            body: whole(content_type, source),
        }),
        Ranges::Unsatisfiable => Err(ApiError::RangeNotSatisfiable { size: source.len() }),
        Ranges::Satisfiable(ranges) => {
            Ok(partial(headers, content_type, source, &validators, &ranges))
        }
    }
}

/// `Range` and `If-Range` (RFC 9110 §14.2, §13.1.5), read for a GET only: CONTRACT §3, §11 make
/// HEAD GET's head except for `Range`.
fn requested_ranges(
    method: &str,
    fields: &Fields<'_>,
    validators: &Validators,
    size: u64,
) -> Ranges {
    if method != "GET" {
        return Ranges::Ignore;
    }
    // At or before the `Date` the layer will send, as If-Range's strong-date rule needs.
    let now = SystemTime::now();
    select_ranges(
        fields.range(),
        fields.if_range(),
        &validators.current(),
        now,
        size,
    )
}

/// The fields of a 200, and of a 206 beside its own (RFC 9110 §15.3.7: a 206 carries what the
/// 200 would, `ETag` and `Cache-Control` included).
fn download_headers(download: &Download, validators: &Validators) -> Vec<(&'static str, String)> {
    vec![
        (
            "Content-Disposition",
            upload::content_disposition(download.filename()),
        ),
        ("ETag", validators.tag.as_str().to_owned()),
        ("Cache-Control", "no-cache".to_owned()),
        ("Last-Modified", http_date(validators.last_modified)),
        // RFC 9110 §14.3: tells a client it may ask for byte ranges (to resume, say).
        ("Accept-Ranges", "bytes".to_owned()),
    ]
}

/// The whole attachment: the shared bytes, or the open file streamed with `sendfile`.
fn whole(content_type: String, source: BodySource) -> Body {
    match source {
        BodySource::Memory(bytes) => Body::File {
            content_type,
            bytes,
        },
        BodySource::File { file, len } => Body::Stream {
            content_type,
            file: SharedFile(file),
            len,
        },
        chunks @ BodySource::Chunks(_) => Body::Chunks {
            content_type,
            len: chunks.len(),
            source: chunks,
            offset: 0,
        },
    }
}

/// A 206: one range as it is, described by `Content-Range` (RFC 9110 §15.3.7.1), several as
/// `multipart/byteranges` (§15.3.7.2). Either way only the ranges' bytes are read, when sent.
fn partial(
    mut headers: Vec<(&'static str, String)>,
    content_type: String,
    source: BodySource,
    validators: &Validators,
    ranges: &[ByteRange],
) -> Reply {
    let size = source.len();
    let body = if let [range] = ranges {
        headers.push(("Content-Range", range.content_range(size)));
        single_range(content_type, source, *range)
    } else {
        let boundary = boundary_for(&validators.tag, ranges);
        let layout = ByteRangesBody::new(&boundary, &content_type, ranges, size);
        Body::ByteRanges {
            content_type: layout.content_type(),
            source,
            layout,
        }
    };
    Reply {
        status: 206,
        headers,
        body,
    }
}

fn single_range(content_type: String, source: BodySource, range: ByteRange) -> Body {
    match source {
        BodySource::Memory(bytes) => {
            let bounds = usize::try_from(range.first)
                .ok()
                .zip(usize::try_from(range.last).ok());
            let (first, last) = bounds.expect("a range of bytes in memory fits in usize");
            Body::File {
                content_type,
                bytes: bytes.slice(first..=last),
            }
        }
        BodySource::File { file, .. } => Body::FileRange {
            content_type,
            file: SharedFile(file),
            offset: range.first,
            len: range.len(),
        },
        chunks @ BodySource::Chunks(_) => Body::Chunks {
            content_type,
            source: chunks,
            offset: range.first,
            len: range.len(),
        },
    }
}

/// `DELETE /tasks/{task_id}/attachment`: 204, and the task's `attachment` is `null` again.
/// Preconditions compare against the attachment's tag; the storage checks them with the delete.
///
/// # Errors
/// 422 bad id, 404 no such task, 404 no attachment (whatever the preconditions), 412.
pub fn delete_attachment(app: &App, request: &Request<'_>, id: PathId) -> Result<Reply, ApiError> {
    let id = id.map_err(ApiError::invalid)?;
    let key = id.as_u64().ok_or_else(|| id.not_found())?;
    app.storage.detach(key, &Fields::read(request).guard())?;
    Ok(Reply::no_content())
}
