//! The lesson's Stage 4 verification, replayed against a real taskd over raw HTTP.
//!
//! The lesson checks its FastAPI app in-process with `TestClient`; here every request is written
//! to a `TcpStream` by hand, so what you read below is exactly what goes over the wire. After the
//! lesson's transcript come its three exercises: 409 on a duplicate title, 400 on a disallowed
//! upload type, and downloading the attachment back.
//!
//! Run it with `cargo run --example walkthrough`.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};

use taskd::{Config, Server};

/// A response as the lesson prints it: the status and the body.
struct Exchange {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Exchange {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (field, value) = line.split_once(':')?;
            field.eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }

    /// `status body`, like the lesson's `print(r.status_code, r.json())`.
    fn print(&self) {
        println!("{} {}", self.status, String::from_utf8_lossy(&self.body));
    }
}

/// Sends one request on a fresh connection and reads the whole response.
fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    extra: &str,
    body: &[u8],
) -> io::Result<Exchange> {
    let mut stream = TcpStream::connect(addr)?;
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{extra}Content-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| io::Error::other("response without a blank line"))?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| io::Error::other("response without a status"))?;
    Ok(Exchange {
        status,
        head,
        body: raw[split + 4..].to_vec(),
    })
}

fn post_json(addr: SocketAddr, path: &str, json: &str) -> io::Result<Exchange> {
    send(
        addr,
        "POST",
        path,
        "Content-Type: application/json\r\n",
        json.as_bytes(),
    )
}

/// POSTs one `file` part, as `files={"file": (name, content, type)}` does in the lesson.
fn upload(
    addr: SocketAddr,
    path: &str,
    name: &str,
    content: &[u8],
    kind: &str,
) -> io::Result<Exchange> {
    let boundary = "taskd-walkthrough-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
         Content-Type: {kind}\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(content);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let extra = format!("Content-Type: multipart/form-data; boundary={boundary}\r\n");
    send(addr, "POST", path, &extra, &body)
}

fn main() -> io::Result<()> {
    let handle = Server::bind(Config::ephemeral())?.spawn();
    let addr = handle.addr();
    let notes = b"hello fastapi files";

    println!("== 201 create ==");
    post_json(
        addr,
        "/tasks",
        r#"{"title": "Write the report", "priority": "high"}"#,
    )?
    .print();

    println!("\n== GET existing ==");
    send(addr, "GET", "/tasks/1", "", b"")?.print();

    println!("\n== 404 get missing ==");
    send(addr, "GET", "/tasks/999", "", b"")?.print();

    println!("\n== 404 delete missing ==");
    send(addr, "DELETE", "/tasks/999", "", b"")?.print();

    println!("\n== attachment upload ==");
    upload(
        addr,
        "/tasks/1/attachment",
        "notes.txt",
        notes,
        "text/plain",
    )?
    .print();

    println!("\n== 404 attachment on missing task ==");
    upload(
        addr,
        "/tasks/999/attachment",
        "notes.txt",
        notes,
        "text/plain",
    )?
    .print();

    println!("\n== 204 delete ==");
    let deleted = send(addr, "DELETE", "/tasks/1", "", b"")?;
    // The lesson prints repr(r.text), which is '' for a 204: it has no body at all, and no
    // Content-Type or Content-Length either (RFC 9110 §8.6).
    println!(
        "{} '{}'",
        deleted.status,
        String::from_utf8_lossy(&deleted.body)
    );
    for name in ["Content-Type", "Content-Length"] {
        println!("   {name}: {}", deleted.header(name).unwrap_or("(none)"));
    }

    println!("\n== confirm gone ==");
    send(addr, "GET", "/tasks/1", "", b"")?.print();

    println!("\n== exercise 1: 409 on a duplicate title ==");
    let created = post_json(addr, "/tasks", r#"{"title": "Write the report"}"#)?;
    created.print();
    println!(
        "   Location: {}",
        created.header("Location").unwrap_or("(none)")
    );
    post_json(
        addr,
        "/tasks",
        r#"{"title": "Write the report", "priority": "low"}"#,
    )?
    .print();

    println!("\n== exercise 2: 400 on a disallowed upload type ==");
    upload(
        addr,
        "/tasks/2/attachment",
        "report.pdf",
        b"%PDF-1.7",
        "application/pdf",
    )?
    .print();

    println!("\n== exercise 3: download the attachment ==");
    upload(
        addr,
        "/tasks/2/attachment",
        "notes.txt",
        notes,
        "text/plain",
    )?
    .print();
    let download = send(addr, "GET", "/tasks/2/attachment", "", b"")?;
    download.print();
    for name in ["Content-Type", "Content-Length", "Content-Disposition"] {
        println!("   {name}: {}", download.header(name).unwrap_or("(none)"));
    }

    handle.shutdown();
    Ok(())
}
