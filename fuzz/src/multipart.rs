//! `multipart`: `taskd::fuzzing::read_file_field`, with a chunking-invariance oracle.
//!
//! Input: a control byte, a count byte `n`, `n` read-size bytes, then the body.
//! - control bits 0-2: the request `Content-Type` ([`CONTENT_TYPES`]: three spellings of
//!   `multipart/form-data` with the fixed boundary [`BOUNDARY`], and once in eight a
//!   form-urlencoded body);
//! - bit 3: whether `Content-Length` (the size hint) is known;
//! - bits 4-5: the upload limit, from [`LIMITS`] (small, so the 413 paths are reachable).
//!
//! The body is parsed twice: in one read, and through [`ScriptedReader`], whose reads are as long
//! as the read-size bytes say (cycled; none means one byte at a time), some of them
//! `ErrorKind::Interrupted`. Oracles:
//! - nothing panics, and both parses give the same `Result<FileField, ApiError>`;
//! - every error is one of CONTRACT §9's 400s or a 413 (never a 500: the reader cannot fail);
//! - an accepted file is within the limit and its name has no path left in it; a text field is
//!   never empty.

use std::io::{self, ErrorKind, Read};

use taskd::fuzzing::ApiError;
use taskd::fuzzing::{read_file_field, FileField, UploadLimits};

/// The boundary of every multipart body; dashes in it make the close delimiter's `--` and the
/// delimiter's own dashes easy to confuse.
pub const BOUNDARY: &str = "----fzB";

/// Request `Content-Type` choices (control bits 0-2).
pub const CONTENT_TYPES: [&str; 8] = [
    "multipart/form-data; boundary=----fzB",
    "multipart/form-data; boundary=\"----fzB\"",
    "Multipart/Form-Data;charset=utf-8;BOUNDARY=----fzB",
    "multipart/form-data; boundary=----fzB",
    "multipart/form-data; boundary=\"----fzB\"",
    "Multipart/Form-Data;charset=utf-8;BOUNDARY=----fzB",
    "multipart/form-data; boundary=----fzB",
    "application/x-www-form-urlencoded",
];

/// Upload limits (control bits 4-5); the fourth choice is the first again.
pub const LIMITS: [u64; 4] = [4096, 64, 0, 4096];

/// The 400 details CONTRACT §9 allows while reading an upload.
const BAD_REQUESTS: &[&str] = &[
    "Invalid multipart data.",
    "Missing boundary in multipart.",
    "The Content-Disposition header field \"name\" must be provided.",
    "Part exceeded maximum size of 1024KB.",
    "Too many fields. Maximum number of fields is 1000.",
    "Too many files. Maximum number of files is 1000.",
];

/// A reader that hands out its data in reads of scripted sizes.
pub struct ScriptedReader<'a> {
    data: &'a [u8],
    sizes: &'a [u8],
    turn: usize,
    interrupted: bool,
}

impl<'a> ScriptedReader<'a> {
    /// Size byte `0`: one `Interrupted` error (a read of one byte right after another one, so
    /// the reader always gets somewhere); `1..=127`: 1 to 8 bytes; `128..=255`: 16 to 2048
    /// bytes. No size bytes: one byte per read.
    pub fn new(data: &'a [u8], sizes: &'a [u8]) -> ScriptedReader<'a> {
        ScriptedReader {
            data,
            sizes,
            turn: 0,
            interrupted: false,
        }
    }
}

impl Read for ScriptedReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let size_byte = match self.sizes {
            [] => 1,
            sizes => sizes[self.turn % sizes.len()],
        };
        self.turn += 1;
        let want = match size_byte {
            0 if !self.interrupted => {
                self.interrupted = true;
                return Err(io::Error::new(
                    ErrorKind::Interrupted,
                    "scripted interruption",
                ));
            }
            0 => 1,
            1..=127 => usize::from(size_byte % 8) + 1,
            _ => usize::from(size_byte - 127) * 16,
        };
        self.interrupted = false;
        let len = want.min(buf.len()).min(self.data.len());
        let (head, tail) = self.data.split_at(len);
        buf[..len].copy_from_slice(head);
        self.data = tail;
        Ok(len)
    }
}

/// The input's parts.
pub struct Input<'a> {
    /// The request `Content-Type`.
    pub content_type: &'static str,
    /// `Content-Length`, when known.
    pub size_hint: Option<u64>,
    /// The upload limits.
    pub limits: UploadLimits,
    /// Read sizes for [`ScriptedReader`].
    pub sizes: &'a [u8],
    /// The body.
    pub body: &'a [u8],
}

impl<'a> Input<'a> {
    /// Splits fuzz input; `None` when it is too short to hold the two header bytes.
    pub fn parse(data: &'a [u8]) -> Option<Input<'a>> {
        let (&control, rest) = data.split_first()?;
        let (&count, rest) = rest.split_first()?;
        let (sizes, body) = rest.split_at(usize::from(count % 64).min(rest.len()));
        Some(Input {
            content_type: CONTENT_TYPES[usize::from(control & 7)],
            size_hint: (control & 8 != 0).then_some(body.len() as u64),
            limits: UploadLimits {
                max_file_bytes: LIMITS[usize::from(control >> 4) & 3],
            },
            sizes,
            body,
        })
    }
}

/// Runs every multipart oracle on one input.
pub fn check(data: &[u8]) {
    let Some(input) = Input::parse(data) else {
        return;
    };
    let whole = read_file_field(
        input.body,
        Some(input.content_type),
        input.size_hint,
        input.limits,
    );
    let chunked = read_file_field(
        ScriptedReader::new(input.body, input.sizes),
        Some(input.content_type),
        input.size_hint,
        input.limits,
    );
    assert!(
        whole == chunked,
        "one read gave {}, reads of sizes {:?} gave {} (content type {:?}, size hint {:?}, limit {})",
        summary(&whole),
        input.sizes,
        summary(&chunked),
        input.content_type,
        input.size_hint,
        input.limits.max_file_bytes
    );
    match &whole {
        Ok(FileField::Missing) => {}
        Ok(FileField::Text(text)) => assert!(!text.is_empty(), "an empty text field"),
        Ok(FileField::File(file)) => {
            assert!(
                file.bytes.len() as u64 <= input.limits.max_file_bytes,
                "file over the limit"
            );
            assert!(
                !file.filename.contains(['/', '\\']),
                "path left in {:?}",
                file.filename
            );
        }
        Err(ApiError::BadRequest(detail)) => {
            assert!(
                BAD_REQUESTS.contains(&detail.as_str()),
                "unexpected 400 {detail:?}"
            );
        }
        Err(ApiError::PayloadTooLarge(detail)) => {
            let limit = input.limits.max_file_bytes;
            assert!(
                *detail == format!("File too large (limit {limit} bytes)")
                    || detail == "Request body too large (limit 1048576 bytes)",
                "unexpected 413 {detail:?}"
            );
        }
        Err(other) => panic!("an upload may only fail with a 400 or a 413, got {other:?}"),
    }
}

/// A result's `Debug` form, cut short: a mismatch on a 64 KiB filename need not print it twice.
fn summary(result: &Result<FileField, ApiError>) -> String {
    let mut text = format!("{result:?}");
    if text.len() > 600 {
        let mut cut = 600;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push('…');
    }
    text
}
