//! An HTTP/1.1 connection layer (RFC 9112): a blocking accept loop with a connection cap, one
//! thread per connection that reads a head, frames its body, asks the [`Service`] for a
//! [`Response`], writes it and reads the next request. It knows nothing of the application that
//! uses it, and the application knows nothing of sockets: this crate depends on no crate of
//! theirs.
//!
//! - `listener`: binding, the accept loop, the 503 at the cap, shutdown.
//! - `registry`: the open connections, which are idle, closing them (cap, shutdown), and what
//!   the accept loop and the connection threads share.
//! - `conn`: one connection's loop ([`Connection`], over any [`Wire`]): deadlines, answering,
//!   lingering close; `answer`: writing one answer and logging it.
//! - `service`: what the layer and the application say to each other.
//! - `head` and `rules`: pure parsing of request heads, and the message rules.
//! - `chunked`: the pure chunked decoder; `framing`: the pure step that says where a body's
//!   next bytes are.
//! - `body`: the request body as a `Read`, with `100 Continue` and the pace rule.
//! - `wire`: the [`Wire`] a connection runs on, and the pace rule; `socket`: the real one.
//! - `response` and `date`: what a service answers, and the `Date` field.
//! - `write`: serialising and sending answers.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod answer;
mod body;
pub mod chunked;
mod conn;
mod date;
mod framing;
pub mod head;
mod listener;
mod registry;
mod response;
pub mod rules;
mod service;
mod socket;
#[cfg(test)]
mod test_wire;
mod wire;
mod write;

pub use body::{BodyFailure, BodyReader, CONTINUE};
pub use conn::Connection;
pub use date::http_date;
pub use listener::{bind, start, OpenConnections, Running, StopSwitch};
pub use response::{has_content, reason_phrase, Body, Piece, Response, Stream};
pub use rules::{BodyLength, Refusal, Version};
pub use service::{Exchange, Request, Service, Settings, TransportError};
pub use wire::Wire;
