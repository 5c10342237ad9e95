//! Validators, conditional requests, ranges and list navigation (CONTRACT §11; RFC 9110 §8.8,
//! §13, §14; RFC 8288), as pure functions over field values: no sockets, no store, no clock
//! except where a rule names one. The handlers read the request's fields, ask these functions
//! what to answer, and write it.

pub mod date;
pub mod digest;
pub mod etag;
pub mod preconditions;
pub mod range;

pub use date::{parse_http_date, parse_http_date_at, whole_seconds};
pub use digest::{Digest, Digester};
pub use etag::{EntityTag, Tag, TagList};
pub use preconditions::{evaluate, Current, Method, Outcome, Preconditions};
pub use range::{
    if_range_holds, parse_range, select_ranges, unsatisfied_content_range, ByteRange, Ranges,
    MAX_RANGE_SPECS,
};
