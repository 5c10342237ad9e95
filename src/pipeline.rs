//! Pipelined requests on one connection take effect in the order they were sent.
//!
//! tiny_http reads a body of up to 1 KiB into memory before handing a request over, so the next
//! request on the same connection can reach the queue, and another worker, while the first is
//! still running. tiny_http keeps only the *answers* in order. RFC 9112 §9.3.2 lets a server run
//! pipelined requests in parallel only when they are all safe methods, so a `POST` followed by a
//! `DELETE` must not run the other way round. The `Sequencer` numbers each connection's requests
//! as they leave the queue and lets a worker start one only after its predecessor has finished.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use tiny_http::Request;

/// Hands out requests with their place in their connection's order.
#[derive(Debug, Default)]
pub(crate) struct Sequencer {
    /// Held across `recv()` so that numbers are issued in queue order, which is the order each
    /// connection's requests were parsed in.
    receiving: Mutex<()>,
    /// Per client address (one per open TCP connection): how many requests were handed out and
    /// how many have finished. An entry is removed when the two are equal.
    turns: Mutex<HashMap<SocketAddr, Turns>>,
    /// Signalled whenever a request finishes.
    finished: Condvar,
}

#[derive(Debug, Default)]
struct Turns {
    issued: u64,
    finished: u64,
}

/// A request's place in its connection's order; the turn ends when this is dropped.
pub(crate) struct Turn<'s> {
    sequencer: &'s Sequencer,
    client: SocketAddr,
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        let mut turns = self.sequencer.turns();
        if let Some(entry) = turns.get_mut(&self.client) {
            entry.finished += 1;
            if entry.finished == entry.issued {
                turns.remove(&self.client);
            }
        }
        drop(turns);
        self.sequencer.finished.notify_all();
    }
}

impl Sequencer {
    fn turns(&self) -> MutexGuard<'_, HashMap<SocketAddr, Turns>> {
        // Nothing panics while this lock is held, so a poisoned lock still holds sound counts.
        self.turns.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes the next request off tiny_http's queue, then waits until every earlier request
    /// from the same connection has finished. The oldest unfinished request of a connection is
    /// always held by some worker and never waits, so the pool cannot deadlock.
    ///
    /// # Errors
    /// `recv()`'s error: our own shutdown, or a dead accept loop.
    pub(crate) fn next(&self, http: &tiny_http::Server) -> io::Result<(Request, Option<Turn<'_>>)> {
        let (request, ticket) = {
            let _receiving = self
                .receiving
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let request = http.recv()?;
            let ticket = request.remote_addr().map(|&client| {
                let mut turns = self.turns();
                let entry = turns.entry(client).or_default();
                entry.issued += 1;
                (client, entry.issued - 1)
            });
            (request, ticket)
        };
        let turn = ticket.map(|(client, number)| {
            let mut turns = self.turns();
            while turns
                .get(&client)
                .is_some_and(|entry| entry.finished < number)
            {
                turns = self
                    .finished
                    .wait(turns)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            Turn {
                sequencer: self,
                client,
            }
        });
        Ok((request, turn))
    }
}
