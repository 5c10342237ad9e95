//! The ceiling of a thread-per-connection HTTP front for PostgreSQL: what the `postgres` bench
//! scenario's GET figure could reach with none of taskd's own work.
//!
//! One thread per HTTP connection, as taskd; each thread owns one database connection of its own
//! (no pool to wait for) on its own current-thread tokio runtime, as taskd's `PgConn`, with the
//! statement prepared once. A request is read up to its blank line, `GET /tasks/{id}` is answered
//! with the row as a fixed JSON shape, anything else with 404; no limits, no timeouts, no
//! validation, no logging. It is a measuring stick, not a server: never expose it.
//!
//! ```text
//! cargo run --release --example pg_ceiling -- postgres://USER:PASSWORD@HOST:PORT/DB 18082
//! wrk -t2 -c32 -d8s -s get.lua http://127.0.0.1:18082/tasks/ -- 10000
//! ```
//!
//! The database must hold taskd's schema (start taskd on it once) and the tasks to read. The
//! `postgres` scenario of `examples/bench` builds and races it next to taskd.
//!
//! With `--raw` first, each thread speaks PostgreSQL's wire protocol itself over a
//! blocking socket instead (trust authentication only; `postgres://USER@HOST:PORT/DB`): no
//! runtime, no epoll, four system calls a request. That is the ceiling of the design with any
//! client library.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};

use tokio_postgres::NoTls;

const TASK: &str = "SELECT t.id, t.title, t.priority, t.done \
                    FROM taskd.tasks t WHERE t.id = $1";

fn main() {
    let mut args = std::env::args().skip(1).peekable();
    let raw = args.next_if(|arg| arg == "--raw").is_some();
    let (Some(url), Some(port)) = (args.next(), args.next()) else {
        eprintln!("usage: pg_ceiling [--raw] DATABASE_URL PORT");
        std::process::exit(2);
    };
    let addr = format!("127.0.0.1:{port}");
    let listener = TcpListener::bind(&addr).expect("bind");
    println!("pg_ceiling listening on http://{addr}");
    for stream in listener.incoming().flatten() {
        let url = url.clone();
        std::thread::spawn(move || {
            let served = if raw {
                raw::serve(stream, &url)
            } else {
                serve(stream, &url)
            };
            if let Err(error) = served {
                eprintln!("pg_ceiling: {error}");
            }
        });
    }
}

type Failure = Box<dyn std::error::Error>;

/// One HTTP connection on tokio-postgres, as taskd's `PgConn` drives it.
fn serve(stream: TcpStream, url: &str) -> Result<(), Failure> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()?;
    let (client, connection) = runtime.block_on(tokio_postgres::connect(url, NoTls))?;
    runtime.spawn(connection);
    let statement = runtime.block_on(client.prepare(TASK))?;
    answer_requests(stream, |id| {
        let row = runtime.block_on(client.query_opt(&statement, &[&id]))?;
        Ok(row.map(|row| json(id, &row.get::<_, Vec<u8>>(1), row.get(2), row.get(3))))
    })
}

/// Reads requests up to their blank line and answers each with `task` of its id (404 when it
/// gives none or the target is not `/tasks/{id}`), until the client closes.
fn answer_requests(
    mut stream: TcpStream,
    mut task: impl FnMut(i64) -> Result<Option<String>, Failure>,
) -> Result<(), Failure> {
    stream.set_nodelay(true)?;
    let mut buffer = vec![0u8; 8192];
    let mut filled = 0;
    loop {
        let Some(end) = find_head_end(&buffer[..filled]) else {
            let read = stream.read(&mut buffer[filled..])?;
            if read == 0 || filled + read == buffer.len() {
                return Ok(());
            }
            filled += read;
            continue;
        };
        let id = parse_id(&buffer[..end]);
        buffer.copy_within(end..filled, 0);
        filled -= end;
        let body = match id {
            Some(id) => task(id)?,
            None => None,
        };
        stream.write_all(&answer(body))?;
    }
}

fn json(id: i64, title: &[u8], priority: &str, done: bool) -> String {
    format!(
        "{{\"id\":{id},\"title\":{:?},\"priority\":\"{priority}\",\"done\":{done},\"attachment\":null}}",
        String::from_utf8_lossy(title)
    )
}

fn answer(body: Option<String>) -> Vec<u8> {
    let (status, body) = match body {
        Some(body) => ("200 OK", body),
        None => (
            "404 Not Found",
            "{\"detail\":\"Task not found\"}".to_owned(),
        ),
    };
    format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// The same loop over a hand-written, blocking PostgreSQL client (protocol 3.0, trust only).
mod raw {
    use std::io::{Read, Write};
    use std::net::TcpStream;

    use super::{answer_requests, json, Failure, TASK};

    pub fn serve(stream: TcpStream, url: &str) -> Result<(), Failure> {
        let mut db = Db::connect(url)?;
        answer_requests(stream, |id| db.task(id))
    }

    struct Db {
        socket: TcpStream,
        input: Vec<u8>,
    }

    impl Db {
        fn connect(url: &str) -> Result<Db, Failure> {
            let rest = url.strip_prefix("postgres://").ok_or("postgres:// URL")?;
            let (user, rest) = rest.split_once('@').ok_or("user@")?;
            let (host, database) = rest.split_once('/').ok_or("/database")?;
            let socket = TcpStream::connect(host)?;
            socket.set_nodelay(true)?;
            let mut db = Db {
                socket,
                input: Vec::new(),
            };
            let mut startup = Vec::new();
            startup.extend_from_slice(&196_608u32.to_be_bytes());
            for (key, value) in [("user", user), ("database", database)] {
                startup.extend_from_slice(key.as_bytes());
                startup.push(0);
                startup.extend_from_slice(value.as_bytes());
                startup.push(0);
            }
            startup.push(0);
            let mut message = ((startup.len() + 4) as u32).to_be_bytes().to_vec();
            message.extend_from_slice(&startup);
            db.socket.write_all(&message)?;
            db.until_ready(|_, _| Ok(()))?;
            let mut parse = Vec::new();
            parse.push(0); // unnamed statement
            parse.extend_from_slice(TASK.as_bytes());
            parse.push(0);
            parse.extend_from_slice(&1u16.to_be_bytes());
            parse.extend_from_slice(&20u32.to_be_bytes()); // int8
            let mut out = frame(b'P', &parse);
            out.extend_from_slice(&frame(b'S', &[]));
            db.socket.write_all(&out)?;
            db.until_ready(|_, _| Ok(()))?;
            Ok(db)
        }

        /// Bind, Execute, Sync in one write; the row (text format) as JSON.
        fn task(&mut self, id: i64) -> Result<Option<String>, Failure> {
            let text = id.to_string();
            let mut bind = vec![0, 0, 0, 0, 0, 1];
            bind.extend_from_slice(&(text.len() as u32).to_be_bytes());
            bind.extend_from_slice(text.as_bytes());
            bind.extend_from_slice(&0u16.to_be_bytes());
            let mut out = frame(b'B', &bind);
            out.extend_from_slice(&frame(b'E', &[0, 0, 0, 0, 0]));
            out.extend_from_slice(&frame(b'S', &[]));
            self.socket.write_all(&out)?;
            let mut found = None;
            self.until_ready(|kind, body| {
                if kind == b'D' {
                    let fields = fields(body).ok_or("bad DataRow")?;
                    let title = hex_bytes(fields[1]).ok_or("bad title")?;
                    let priority = std::str::from_utf8(fields[2])?;
                    found = Some(json(id, &title, priority, fields[3] == b"t"));
                }
                Ok(())
            })?;
            Ok(found)
        }

        /// Reads messages up to ReadyForQuery, handing each to `each`; an ErrorResponse fails.
        fn until_ready(
            &mut self,
            mut each: impl FnMut(u8, &[u8]) -> Result<(), Failure>,
        ) -> Result<(), Failure> {
            loop {
                while self.input.len() >= 5 {
                    let len = u32::from_be_bytes(self.input[1..5].try_into()?) as usize;
                    if self.input.len() < 1 + len {
                        break;
                    }
                    let kind = self.input[0];
                    let body = self.input[5..1 + len].to_vec();
                    self.input.drain(..1 + len);
                    match kind {
                        b'E' => return Err(String::from_utf8_lossy(&body).into()),
                        b'R' if body[..4] != [0, 0, 0, 0] => return Err("not trust".into()),
                        b'Z' => return Ok(()),
                        _ => each(kind, &body)?,
                    }
                }
                let mut chunk = [0u8; 8192];
                let read = self.socket.read(&mut chunk)?;
                if read == 0 {
                    return Err("database closed".into());
                }
                self.input.extend_from_slice(&chunk[..read]);
            }
        }
    }

    fn frame(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![kind];
        out.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
        out.extend_from_slice(body);
        out
    }

    fn fields(body: &[u8]) -> Option<Vec<&[u8]>> {
        let count = u16::from_be_bytes(body.get(..2)?.try_into().ok()?);
        let mut at = 2;
        let mut out = Vec::new();
        for _ in 0..count {
            let len = i32::from_be_bytes(body.get(at..at + 4)?.try_into().ok()?);
            at += 4;
            let len = usize::try_from(len).unwrap_or(0);
            out.push(body.get(at..at + len)?);
            at += len;
        }
        Some(out)
    }

    /// A bytea in text format: `\x` and hex digits.
    fn hex_bytes(text: &[u8]) -> Option<Vec<u8>> {
        let hex = text.strip_prefix(b"\\x")?;
        hex.chunks(2)
            .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok())
            .collect()
    }
}

fn find_head_end(bytes: &[u8]) -> Option<usize> {
    bytes
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .map(|at| at + 4)
}

fn parse_id(head: &[u8]) -> Option<i64> {
    let rest = head.strip_prefix(b"GET /tasks/")?;
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    std::str::from_utf8(&rest[..digits]).ok()?.parse().ok()
}
