//! Validators, conditional requests, ranges and list navigation (CONTRACT §11; RFC 9110 §8.8,
//! §13, §14; RFC 8288), as pure functions over field values: no sockets, no store, and no clock
//! except where a rule names one (RFC 850's two-digit years, `If-Range`'s strong dates).
//!
//! A handler reads the request's fields, asks these functions what to answer, and writes it:
//! - [`digest`]: MurmurHash3 x64_128, fed as an upload streams in; the root of every tag.
//! - [`etag`]: the strong tags taskd sends ([`EntityTag::for_task`], `for_list_page`,
//!   `for_attachment`), `If-Match` / `If-None-Match` lists, strong and weak comparison.
//! - [`date`]: HTTP-dates in the three formats of RFC 9110 §5.6.7.
//! - [`preconditions`]: RFC 9110 §13.2.2's evaluation → proceed, 304 or 412.
//! - [`guard`]: a change's preconditions as one owned value that a storage backend checks
//!   against the row it changes, atomically with the change.
//! - [`range`]: `Range` and `If-Range` on a download → the whole, 416, or ranges to send.
//! - [`byteranges`]: the `multipart/byteranges` body of a 206 with several ranges, laid out as
//!   literal bytes and slices of the attachment, with its exact length.
//! - [`navigation`]: the list's `X-Total-Count` and `Link`.

pub mod byteranges;
pub mod date;
pub mod digest;
pub mod etag;
pub mod guard;
pub mod navigation;
pub mod preconditions;
pub mod range;

pub use byteranges::{boundary_for, ByteRangesBody, Segment};
pub use date::{parse_http_date, whole_seconds};
pub use digest::{Digest, Digester};
pub use etag::{EntityTag, TagList};
pub use guard::{Guard, Verdict};
pub use navigation::ListQuery;
pub use preconditions::{evaluate, Current, Method, Outcome, Preconditions};
pub use range::{select_ranges, unsatisfied_content_range, ByteRange, Ranges};
