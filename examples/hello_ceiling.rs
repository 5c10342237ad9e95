//! The ceiling of our stack: a tiny_http 0.12 hello-world with taskd's worker-pool shape (N
//! threads looping on `recv()` over one `Arc<tiny_http::Server>`) answering a fixed JSON body
//! the size of a task. No routing, no store, no JSON work: whatever it reaches is what tiny_http
//! itself allows, so `examples/bench.rs` reports taskd's GET as a ratio of it.
//!
//! `cargo run --release --example hello_ceiling -- --addr 127.0.0.1:0 --workers 4` prints
//! `hello_ceiling listening on http://ADDR` once it accepts connections.

use std::io::Write;
use std::sync::Arc;
use std::thread;

use tiny_http::{Header, Response, Server};

/// The same length and type as `GET /tasks/1` answers for a short title.
const BODY: &[u8] =
    br#"{"id":1,"title":"task 000001","priority":"medium","done":false,"attachment":null}"#;

fn main() {
    let mut addr = "127.0.0.1:0".to_owned();
    let mut workers = 4usize;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().unwrap_or_default();
        match flag.as_str() {
            "--addr" => addr = value,
            "--workers" => workers = value.parse().expect("--workers takes a number"),
            _ => panic!("usage: hello_ceiling [--addr HOST:PORT] [--workers N]"),
        }
    }
    let server = Arc::new(Server::http(&addr).expect("cannot listen"));
    let bound = server.server_addr().to_ip().expect("an IP listener");
    let content_type = Header::from_bytes("Content-Type", "application/json").expect("ASCII");
    let threads: Vec<_> = (0..workers.max(1))
        .map(|_| {
            let server = Arc::clone(&server);
            let content_type = content_type.clone();
            thread::spawn(move || {
                while let Ok(request) = server.recv() {
                    let response = Response::from_data(BODY).with_header(content_type.clone());
                    let _ = request.respond(response);
                }
            })
        })
        .collect();
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "hello_ceiling listening on http://{bound}");
    let _ = stdout.flush();
    drop(stdout);
    for thread in threads {
        let _ = thread.join();
    }
}
