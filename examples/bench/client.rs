//! A minimal keep-alive HTTP/1.1 client for the load generator: it writes request bytes as given
//! and reads responses framed by `Content-Length` into one reused buffer. The generator shares
//! the CPU with the server, so it parses only the status line and `Content-Length`.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::ops::Range;

/// The read buffer; a body that fits is kept in it (so a script can read an id), a larger one
/// is counted and dropped.
const BUFFER_BYTES: usize = 64 * 1024;

/// One keep-alive connection.
pub struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    /// Unconsumed bytes are `buf[start..end]`.
    start: usize,
    end: usize,
    /// Where the last response's body is in `buf`, when it fitted.
    body: Range<usize>,
}

impl Conn {
    /// Connects with Nagle off: requests are written in one piece and latency matters.
    pub fn connect(addr: SocketAddr) -> io::Result<Conn> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        Ok(Conn::from_stream(stream))
    }

    /// A connection made by the caller, e.g. with timeouts set.
    pub fn from_stream(stream: TcpStream) -> Conn {
        Conn {
            stream,
            buf: vec![0; BUFFER_BYTES],
            start: 0,
            end: 0,
            body: 0..0,
        }
    }

    /// Writes bytes as they are.
    pub fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Reads one response and returns its status and its body length.
    pub fn recv(&mut self) -> io::Result<(u16, u64)> {
        let head_end = loop {
            if let Some(at) = find_blank_line(&self.buf[self.start..self.end]) {
                break self.start + at + 4;
            }
            self.fill()?;
        };
        let head = &self.buf[self.start..head_end];
        let status = parse_status(head)?;
        let length = content_length(head)?;
        self.start = head_end;
        match usize::try_from(length) {
            Ok(length) if length <= BUFFER_BYTES / 2 => {
                while self.end - self.start < length {
                    self.fill()?;
                }
                self.body = self.start..self.start + length;
                self.start += length;
            }
            _ => {
                self.discard(length)?;
                self.body = 0..0;
            }
        }
        Ok((status, length))
    }

    /// The last response's body, or empty when it was too large to keep.
    pub fn body(&self) -> &[u8] {
        &self.buf[self.body.clone()]
    }

    /// Reads more bytes, first moving the unconsumed ones to the front when the buffer is full.
    fn fill(&mut self) -> io::Result<()> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.end == self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            if self.end == self.buf.len() {
                return Err(io::Error::other("response head larger than the buffer"));
            }
        }
        let read = self.stream.read(&mut self.buf[self.end..])?;
        if read == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        self.end += read;
        Ok(())
    }

    /// Skips `length` body bytes without keeping them (a download of hundreds of MiB).
    fn discard(&mut self, length: u64) -> io::Result<()> {
        let buffered = (self.end - self.start) as u64;
        if buffered >= length {
            self.start += length as usize;
            return Ok(());
        }
        let mut remaining = length - buffered;
        self.start = 0;
        self.end = 0;
        while remaining > 0 {
            let want = remaining.min(self.buf.len() as u64) as usize;
            let read = self.stream.read(&mut self.buf[..want])?;
            if read == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            remaining -= read as u64;
        }
        Ok(())
    }
}

fn find_blank_line(bytes: &[u8]) -> Option<usize> {
    bytes.windows(4).position(|window| window == b"\r\n\r\n")
}

fn parse_status(head: &[u8]) -> io::Result<u16> {
    head.get(9..12)
        .and_then(|digits| std::str::from_utf8(digits).ok())
        .and_then(|digits| digits.parse().ok())
        .ok_or_else(|| io::Error::other("malformed status line"))
}

/// The `Content-Length`, 0 when absent (a 204). A chunked response is refused: the servers
/// measured here never send one unless asked with `TE`.
fn content_length(head: &[u8]) -> io::Result<u64> {
    let mut length = 0;
    for line in head.split(|&byte| byte == b'\n') {
        let Some(colon) = line.iter().position(|&byte| byte == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
        if name.eq_ignore_ascii_case(b"content-length") {
            length = std::str::from_utf8(value)
                .ok()
                .and_then(|text| text.parse().ok())
                .ok_or_else(|| io::Error::other("malformed Content-Length"))?;
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            return Err(io::Error::other("chunked responses are not supported"));
        }
    }
    Ok(length)
}

/// The value of `"id":` in a JSON body, e.g. of a created task.
pub fn json_id(body: &[u8]) -> Option<u64> {
    let key = b"\"id\":";
    let at = body.windows(key.len()).position(|window| window == key)? + key.len();
    let digits = body[at..].trim_ascii_start();
    let end = digits
        .iter()
        .position(|byte| !byte.is_ascii_digit())
        .unwrap_or(digits.len());
    std::str::from_utf8(&digits[..end]).ok()?.parse().ok()
}
