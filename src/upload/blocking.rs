//! Drives multer's async parser from a blocking reader without an executor. The parser's input
//! is a one-chunk mailbox that the driver fills only after the parser found it empty, so the
//! body is read as the parser consumes it, never ahead.

use std::future::Future;
use std::io::{ErrorKind, Read};
use std::pin::{pin, Pin};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use futures_util::stream::Stream;

use super::framing::{Framing, SentHeaders, MAX_FRAMING_RUN};
use super::INVALID;
use crate::error::ApiError;

/// Bytes asked of the reader per turn (one `read` call): 256 KiB rather than 64 makes a large
/// upload take a quarter of the reads, polls and chunk allocations (0.80× → 0.92× the tiny_http
/// build's 256 MiB upload in the bench's `big` scenario, the digest of issue 12 included).
const CHUNK_BYTES: usize = 256 * 1024;
/// A backstop: how far the parser may read without producing a field or data before the body
/// is refused. `Framing` refuses long runs of header bytes by their position first (which does
/// not depend on read sizes); a run it allows is at most `MAX_FRAMING_RUN` bytes and may be read
/// together with up to two chunks around it, so this fires only if multer ever stalls inside
/// part data, which it is not known to do.
const NO_PROGRESS_BYTES: usize = MAX_FRAMING_RUN + 2 * CHUNK_BYTES;

/// What the parser finds on its next poll of the mailbox.
enum Delivery {
    Chunk(Bytes),
    End,
    Fail(ApiError),
}

/// The hand-over point between the driver (which reads) and multer's input stream.
///
/// Only the mailbox is shared, never the reader, so the reader needs no `Send` even though
/// multer requires a `Send` stream.
#[derive(Default)]
pub(super) struct Mailbox {
    slot: Mutex<Slot>,
}

#[derive(Default)]
struct Slot {
    /// The parser polled an empty mailbox since the driver last looked: it is waiting for input.
    starved: bool,
    delivery: Option<Delivery>,
}

impl Mailbox {
    fn lock(&self) -> MutexGuard<'_, Slot> {
        // Nothing panics while the slot is locked; a poisoned lock still holds a valid slot.
        self.slot.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// multer's input: a `Stream` that answers `Pending` until the driver delivers.
    pub(super) fn inbox(&self) -> Inbox<'_> {
        Inbox(self)
    }
}

/// multer's end of the mailbox.
pub(super) struct Inbox<'m>(&'m Mailbox);

impl Stream for Inbox<'_> {
    type Item = Result<Bytes, ApiError>;

    // No waker is stored: the driver polls again by itself right after every delivery.
    fn poll_next(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut slot = self.0.lock();
        match slot.delivery.take() {
            Some(Delivery::Chunk(bytes)) => Poll::Ready(Some(Ok(bytes))),
            Some(Delivery::End) => Poll::Ready(None),
            Some(Delivery::Fail(error)) => Poll::Ready(Some(Err(error))),
            None => {
                slot.starved = true;
                Poll::Pending
            }
        }
    }
}

/// Reads the body one chunk per starvation and checks its framing (`Framing`) on the way in.
pub(super) struct Driver<'m, R> {
    body: R,
    mailbox: &'m Mailbox,
    buf: Vec<u8>,
    framing: Framing,
    /// A framing error found inside a chunk: the bytes before it are delivered first, so the
    /// parser reports anything earlier in the body (a too-large part, a missing name) first.
    deferred: Option<ApiError>,
    since_progress: usize,
    no_progress_limit: usize,
    at_eof: bool,
}

impl<'m, R: Read> Driver<'m, R> {
    /// A driver for a body framed by `boundary` (already checked non-empty, without CR or LF).
    pub(super) fn new(body: R, mailbox: &'m Mailbox, boundary: &str) -> Driver<'m, R> {
        Driver {
            body,
            mailbox,
            buf: vec![0; CHUNK_BYTES],
            framing: Framing::new(boundary),
            deferred: None,
            since_progress: 0,
            // multer holds back up to a boundary's length of data that might start a delimiter.
            no_progress_limit: NO_PROGRESS_BYTES + boundary.len(),
            at_eof: false,
        }
    }

    /// The parser produced a field or a data chunk: restart the no-progress count.
    pub(super) fn progress(&mut self) {
        self.since_progress = 0;
    }

    /// Whether the reader reported the end of the body.
    pub(super) fn at_eof(&self) -> bool {
        self.at_eof
    }

    /// The headers of multer's field number `index` (`Field::index`) whose values as sent had
    /// bytes rewritten before multer saw them. Asked once per field, in order.
    pub(super) fn sent_headers(&mut self, index: usize) -> SentHeaders {
        self.framing.sent_headers(index)
    }

    /// Polls `future` to completion, feeding one chunk each time the parser waits for input.
    ///
    /// # Errors
    /// 500 if the parser is pending without having asked for input (it would never finish).
    pub(super) fn block_on<F: Future>(&mut self, future: F) -> Result<F::Output, ApiError> {
        let mut future = pin!(future);
        let mut cx = Context::from_waker(Waker::noop());
        loop {
            self.mailbox.lock().starved = false;
            if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                return Ok(output);
            }
            let slot = self.mailbox.lock();
            let waiting = slot.starved && slot.delivery.is_none();
            drop(slot);
            if !waiting {
                return Err(ApiError::Internal(
                    "multipart parser pending without waiting for input".into(),
                ));
            }
            let delivery = self.next_delivery();
            self.mailbox.lock().delivery = Some(delivery);
        }
    }

    fn next_delivery(&mut self) -> Delivery {
        if let Some(error) = self.deferred.take() {
            return Delivery::Fail(error);
        }
        if self.at_eof {
            return Delivery::End;
        }
        let read = loop {
            match self.body.read(&mut self.buf) {
                Err(error) if error.kind() == ErrorKind::Interrupted => continue,
                other => break other,
            }
        };
        let chunk = match read {
            Ok(0) => {
                self.at_eof = true;
                return Delivery::End;
            }
            Ok(len) => self.buf.get_mut(..len).unwrap_or_default(),
            Err(error) => return Delivery::Fail(error.into()),
        };
        self.since_progress += chunk.len();
        if self.since_progress > self.no_progress_limit {
            return Delivery::Fail(ApiError::BadRequest(INVALID.to_owned()));
        }
        match self.framing.scan(chunk) {
            Ok(()) => Delivery::Chunk(Bytes::copy_from_slice(chunk)),
            Err((0, message)) => Delivery::Fail(ApiError::BadRequest(message.to_owned())),
            Err((at, message)) => {
                self.deferred = Some(ApiError::BadRequest(message.to_owned()));
                Delivery::Chunk(Bytes::copy_from_slice(chunk.get(..at).unwrap_or_default()))
            }
        }
    }
}

#[cfg(test)]
#[path = "blocking_tests.rs"]
mod tests;
