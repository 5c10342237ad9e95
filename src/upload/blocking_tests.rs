//! Unit tests of `blocking.rs`.

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::*;
use crate::upload::{read_file_field, FileField, UploadLimits, UploadedFile};

const BOUNDARY: &str = "XyZzy42";

/// A tiny xorshift PRNG, so read sizes vary reproducibly without a `rand` dependency.
struct XorShift(u64);

impl XorShift {
    fn below(&mut self, bound: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        usize::try_from(self.0 % bound as u64).expect("below a usize bound")
    }
}

/// Hands out `data` in reads of the sizes `next_size` picks, counting what it handed out.
struct ScriptedReader<F> {
    data: Vec<u8>,
    at: usize,
    next_size: F,
    handed_out: Arc<AtomicUsize>,
}

impl<F: FnMut() -> usize> ScriptedReader<F> {
    fn new(data: Vec<u8>, next_size: F) -> ScriptedReader<F> {
        ScriptedReader {
            data,
            at: 0,
            next_size,
            handed_out: Arc::default(),
        }
    }
}

impl<F: FnMut() -> usize> Read for ScriptedReader<F> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let rest = &self.data[self.at..];
        let len = (self.next_size)().max(1).min(buf.len()).min(rest.len());
        buf[..len].copy_from_slice(&rest[..len]);
        self.at += len;
        self.handed_out.fetch_add(len, Ordering::Relaxed);
        Ok(len)
    }
}

fn file_body(content: &[u8]) -> Vec<u8> {
    let head = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhi\r\n\
         --{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.bin\"\r\n\
         Content-Type: image/png\r\n\r\n"
    );
    [
        head.as_bytes(),
        content,
        format!("\r\n--{BOUNDARY}--\r\n").as_bytes(),
    ]
    .concat()
}

fn upload(reader: impl Read + Send) -> Result<FileField, ApiError> {
    let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
    let limits = UploadLimits {
        max_file_bytes: 64 << 20,
    };
    read_file_field(reader, Some(&content_type), None, limits)
}

fn uploaded_bytes(field: Result<FileField, ApiError>) -> Vec<u8> {
    match field {
        Ok(FileField::File(file)) => file.bytes.to_vec(),
        other => panic!("expected a file, got {other:?}"),
    }
}

/// Contents that look like delimiters, or end in a delimiter's prefix, stress the parser
/// most when a read ends inside them.
fn tricky_contents() -> Vec<Vec<u8>> {
    let near = format!("\r\n--{}", &BOUNDARY[..4]);
    vec![
        Vec::new(),
        b"\r".to_vec(),
        b"\r\n".to_vec(),
        b"\r\n-".to_vec(),
        b"\r\n--".to_vec(),
        near.clone().into_bytes(),
        format!("--{BOUNDARY}\r\n-{BOUNDARY}x\r\n{near}Q\r\r\n\r\n--\r\n").into_bytes(),
        format!("a\r\nb\r\n\r\n{near}{near}\r\n-{BOUNDARY}{near}").into_bytes(),
        (0..=255u8).cycle().take(10_000).collect(),
    ]
}

#[test]
fn fixed_read_sizes_give_byte_identical_files() {
    for size in [1, 2, 3, 7, 64, 4096] {
        for content in tricky_contents() {
            let reader = ScriptedReader::new(file_body(&content), || size);
            assert_eq!(uploaded_bytes(upload(reader)), content, "reads of {size}");
        }
    }
}

#[test]
fn random_read_sizes_give_byte_identical_files() {
    for seed in [1, 7, 42, 0x9E37_79B9] {
        let mut rng = XorShift(seed);
        for content in tricky_contents() {
            let reader = ScriptedReader::new(file_body(&content), || rng.below(90) + 1);
            assert_eq!(uploaded_bytes(upload(reader)), content, "seed {seed}");
        }
    }
}

#[test]
fn four_mib_file_survives_random_reads() {
    let mut rng = XorShift(2024);
    let content: Vec<u8> = (0..4 << 20).map(|_| b"ab\r\n-X"[rng.below(6)]).collect();
    let mut sizes = XorShift(77);
    let reader = ScriptedReader::new(file_body(&content), || sizes.below(CHUNK_BYTES) + 1);
    assert_eq!(uploaded_bytes(upload(reader)), content);
}

/// An always-ready stream makes multer buffer the whole body before its first field.
#[test]
fn body_is_read_only_as_the_parser_consumes_it() {
    let content = vec![b'z'; 16 << 20];
    let reader = ScriptedReader::new(file_body(&content), || usize::MAX);
    let handed_out = Arc::clone(&reader.handed_out);
    let mailbox = Mailbox::default();
    let mut driver = Driver::new(reader, &mailbox, BOUNDARY);
    let mut multipart = multer::Multipart::new(mailbox.inbox(), BOUNDARY);
    let (mut data_seen, mut max_ahead) = (0, 0);
    while let Some(mut field) = driver.block_on(multipart.next_field()).unwrap().unwrap() {
        driver.progress();
        while let Some(chunk) = driver.block_on(field.chunk()).unwrap().unwrap() {
            driver.progress();
            if data_seen == 0 && field.name() == Some("file") {
                assert!(
                    handed_out.load(Ordering::Relaxed) < 1 << 20,
                    "read ahead before the first chunk"
                );
            }
            data_seen += chunk.len();
            max_ahead = max_ahead.max(handed_out.load(Ordering::Relaxed) - data_seen);
        }
    }
    assert_eq!(data_seen, content.len() + 2);
    assert!(
        max_ahead <= 2 * CHUNK_BYTES,
        "read {max_ahead} bytes ahead of the parser"
    );
}

#[test]
fn megabyte_header_line_trips_the_no_progress_guard_quickly() {
    let long_name = "n".repeat(1 << 20);
    let body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{long_name}\"\r\n\r\nx\r\n--{BOUNDARY}--\r\n"
    );
    let reader = ScriptedReader::new(body.into_bytes(), || usize::MAX);
    let handed_out = Arc::clone(&reader.handed_out);
    let started = Instant::now();
    assert_eq!(
        upload(reader),
        Err(ApiError::BadRequest(INVALID.to_owned()))
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(handed_out.load(Ordering::Relaxed) <= MAX_FRAMING_RUN + 2 * CHUNK_BYTES);
}

/// A body with a run of `header_bytes` outside part data (`Framing` counts from the
/// delimiter's last byte up to the blank line's LF, which starts the data) before the file part's data, after a first
/// part whose data ends right where a large read would stop.
fn body_with_header_block(header_bytes: usize) -> Vec<u8> {
    let start = "Content-Disposition: form-data; name=\"file\"; filename=\"a.bin\"\r\nX-Pad: ";
    let pad = header_bytes - 1 - 2 - start.len() - 3;
    let first = format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\n");
    [
        first.as_bytes(),
        &vec![b'n'; CHUNK_BYTES - first.len() - 7],
        format!("\r\n--{BOUNDARY}\r\n{start}").as_bytes(),
        &vec![b'p'; pad],
        b"\r\n\r\nx",
        format!("\r\n--{BOUNDARY}--\r\n").as_bytes(),
    ]
    .concat()
}

#[test]
fn long_header_block_verdict_does_not_depend_on_read_sizes() {
    // Found by the multipart fuzz target's chunking oracle: the guard used to count bytes
    // read since the parser's last output, so a large read that also carried the previous
    // part's data let a longer header block through than byte-by-byte reads did.
    for header_bytes in [
        MAX_FRAMING_RUN - 8,
        MAX_FRAMING_RUN,
        MAX_FRAMING_RUN + 1,
        MAX_FRAMING_RUN + 4096,
    ] {
        let body = body_with_header_block(header_bytes);
        // Not single bytes: multer rescans its buffer on each poll, so 64 KiB of header block
        // in 1-byte reads costs ~2 G comparisons.
        let verdicts: Vec<bool> = [509, 4096, CHUNK_BYTES - 1, CHUNK_BYTES, usize::MAX]
            .into_iter()
            .map(|size| upload(ScriptedReader::new(body.clone(), move || size)).is_ok())
            .collect();
        assert!(
            verdicts.iter().all(|&ok| ok == verdicts[0]),
            "header block of {header_bytes} bytes: {verdicts:?}"
        );
        assert_eq!(
            verdicts[0],
            header_bytes <= MAX_FRAMING_RUN,
            "{header_bytes} bytes"
        );
    }
}

#[test]
fn long_run_of_leading_newlines_trips_the_no_progress_guard() {
    let body = [vec![b'\n'; 1 << 20], file_body(b"x")].concat();
    assert_eq!(
        upload(body.as_slice()),
        Err(ApiError::BadRequest(INVALID.to_owned()))
    );
}

#[test]
fn pending_without_asking_for_input_is_500_not_a_hang() {
    let mailbox = Mailbox::default();
    let mut driver = Driver::new(io::empty(), &mailbox, BOUNDARY);
    let result = driver.block_on(std::future::pending::<()>());
    assert!(matches!(result, Err(ApiError::Internal(_))), "{result:?}");
}

#[test]
fn read_error_reaches_the_caller_as_500() {
    struct Broken;
    impl Read for Broken {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::Error::new(ErrorKind::ConnectionReset, "peer went away"))
        }
    }
    assert!(matches!(upload(Broken), Err(ApiError::Internal(_))));
}

/// A note whose headers carry control bytes, then a file typed `file_type`; the note's
/// sent values must not leak into the file part.
fn control_body(file_type: &[u8], content: &[u8]) -> Vec<u8> {
    [
        format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"no\x1bte\"\r\n").as_bytes(),
        b"Content-Type: text/plain\x00\r\nX-Extra: \x7f\r\n\r\nhi\r\n",
        format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; ").as_bytes(),
        b"filename=\"a\x01.bin\"\r\nContent-Type: ",
        file_type,
        b"\r\n\r\n",
        content,
        format!("\r\n--{BOUNDARY}--\r\n").as_bytes(),
    ]
    .concat()
}

fn assert_sent_as_is(field: Result<FileField, ApiError>, file_type: &str, content: &[u8]) {
    let expected = FileField::File(UploadedFile {
        filename: "a\x01.bin".to_owned(),
        content_type: Some(file_type.to_owned()),
        bytes: Bytes::copy_from_slice(content),
    });
    assert_eq!(field, Ok(expected));
}

/// httparse refuses these bytes in a header value; the part must still be read, with its
/// `Content-Type` and filename as sent, however the reads split the header lines.
#[test]
fn control_bytes_in_part_headers_survive_any_read_size() {
    let file_type = "text/plain\x01 \x00\x1b[31m\x7f";
    let content = b"x\x01\r\n\x00y";
    for size in [1, 2, 3, 7, 64, 4096] {
        let reader = ScriptedReader::new(control_body(file_type.as_bytes(), content), || size);
        assert_sent_as_is(upload(reader), file_type, content);
    }
    for seed in [1, 7, 42, 0x9E37_79B9] {
        let mut rng = XorShift(seed);
        let reader = ScriptedReader::new(control_body(file_type.as_bytes(), content), || {
            rng.below(20) + 1
        });
        assert_sent_as_is(upload(reader), file_type, content);
    }
}

#[test]
fn clean_type_after_a_part_with_control_bytes_is_multers_value() {
    for size in [1, 3, 4096] {
        let reader = ScriptedReader::new(control_body(b"image/png", b"1"), || size);
        assert_sent_as_is(upload(reader), "image/png", b"1");
    }
}
