//! Tests of `attachment`: a download's validators, and reading ranges from memory or a file.

use std::fs;
use std::path::PathBuf;
use std::time::{Duration, UNIX_EPOCH};

use super::*;
use crate::durable::Blob;
use crate::validators::{ByteRange, ByteRangesBody};

/// A file under the temp dir, removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn with(name: &str, content: &[u8]) -> TempFile {
        let path = std::env::temp_dir().join(format!(
            "taskd-attachment-{name}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        fs::write(&path, content).unwrap();
        TempFile(path)
    }

    fn open(&self) -> File {
        File::open(&self.0).unwrap()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

/// Bytes that differ at every offset of a 64 KiB stretch, so a misplaced chunk would show.
fn pattern(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i % 251) as u8 ^ (i / 251) as u8)
        .collect()
}

fn memory_file(content: &[u8], content_type: Option<&str>) -> StoredFile {
    StoredFile {
        filename: "a.txt".to_owned(),
        content_type: content_type.map(str::to_owned),
        content: Content::Memory(Bytes::copy_from_slice(content)),
    }
}

fn attached(file: StoredFile, stored_at: Option<SystemTime>) -> Attached {
    Attached {
        file,
        stored_at,
        digest: DigestCell::default(),
    }
}

#[test]
fn the_digest_is_computed_once_and_shared_with_the_stores_copy() {
    let stored = attached(memory_file(b"hello", None), Some(UNIX_EPOCH));
    let download = Download::new(stored.clone(), None);
    assert_eq!(stored.digest.get(), None);
    assert_eq!(download.digest().unwrap(), Digest::of(b"hello"));
    assert_eq!(stored.digest.get(), Some(Digest::of(b"hello")));
    // Once known, it is not computed again (a cell that says otherwise wins).
    let known = Attached {
        digest: DigestCell::known(Digest::of(b"recorded")),
        ..stored
    };
    let download = Download::new(known, None);
    assert_eq!(download.digest().unwrap(), Digest::of(b"recorded"));
}

#[test]
fn the_tag_covers_bytes_type_as_served_and_filename() {
    let download = Download::new(attached(memory_file(b"hello", None), None), None);
    assert_eq!(download.content_type(), "text/plain");
    let expected = EntityTag::for_attachment(Digest::of(b"hello"), 5, "text/plain", "a.txt");
    assert_eq!(download.etag().unwrap(), expected);
    let typed = memory_file(b"hello", Some("text/plain"));
    let same = Download::new(attached(typed, None), None);
    assert_eq!(
        same.etag().unwrap(),
        expected,
        "the same representation as served"
    );
    let png = Download::new(
        attached(memory_file(b"hello", Some("image/png")), None),
        None,
    );
    assert_ne!(png.etag().unwrap(), expected);
}

#[test]
fn last_modified_is_whole_seconds_and_never_in_the_future() {
    let stored_at = UNIX_EPOCH + Duration::from_millis(1_700_000_000_900);
    let download = Download::new(attached(memory_file(b"x", None), Some(stored_at)), None);
    let expected = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    assert_eq!(download.last_modified().unwrap(), expected);
    let future = SystemTime::now() + Duration::from_secs(3600);
    let download = Download::new(attached(memory_file(b"x", None), Some(future)), None);
    assert!(download.last_modified().unwrap() <= SystemTime::now());
}

/// An attachment recorded by 8c73c49 has no stored time: its blob's mtime stands in.
#[test]
fn an_old_attachment_takes_its_blobs_mtime() {
    let blob = TempFile::with("mtime", b"old");
    let mtime = UNIX_EPOCH + Duration::from_secs(1_600_000_000);
    let file = fs::OpenOptions::new().write(true).open(&blob.0).unwrap();
    file.set_modified(mtime).unwrap();
    let stored = StoredFile {
        filename: "old.txt".to_owned(),
        content_type: None,
        content: Content::Blob(Blob {
            name: "b".to_owned(),
            size: 3,
        }),
    };
    let download = Download::new(attached(stored.clone(), None), Some(blob.open()));
    assert_eq!(download.last_modified().unwrap(), mtime);
    assert_eq!(download.digest().unwrap(), Digest::of(b"old"));
    let unopened = Download::new(attached(stored, None), None);
    assert!(unopened.last_modified().is_err());
    assert!(unopened.digest().is_err());
    assert!(unopened.into_source().is_err());
}

#[test]
fn ranges_from_memory_share_the_bytes() {
    let source = ByteSource::Memory(Bytes::from(pattern(1000)));
    assert_eq!(source.len(), 1000);
    let slice = source.slice(10, 20).unwrap();
    assert_eq!(&slice[..], &pattern(1000)[10..30]);
    assert_eq!(source.slice(990, 11), None);
    assert_eq!(source.slice(u64::MAX, 2), None);
    let mut out = Vec::new();
    source.copy_range(500, 500, &mut out).unwrap();
    assert_eq!(out, pattern(1000)[500..]);
    let past = source.copy_range(999, 2, &mut Vec::new()).unwrap_err();
    assert_eq!(past.kind(), io::ErrorKind::InvalidInput);
    let mut buffer = [0u8; 8];
    assert_eq!(source.read_at(996, &mut buffer).unwrap(), 4);
    assert_eq!(buffer[..4], pattern(1000)[996..]);
    assert_eq!(source.read_at(1000, &mut buffer).unwrap(), 0);
    assert_eq!(source.read_at(u64::MAX, &mut buffer).unwrap(), 0);
}

#[test]
fn ranges_from_a_file_cross_chunk_boundaries() {
    let content = pattern(3 * CHUNK + 17);
    let blob = TempFile::with("ranges", &content);
    let source = ByteSource::File {
        file: Arc::new(blob.open()),
        len: content.len() as u64,
    };
    assert_eq!(source.slice(0, 1), None, "no zero-copy slice of a file");
    for (start, len) in [
        (0, 1),
        (CHUNK - 1, 2),
        (5, 2 * CHUNK + 3),
        (0, 3 * CHUNK + 17),
    ] {
        let mut out = Vec::new();
        source
            .copy_range(start as u64, len as u64, &mut out)
            .unwrap();
        assert_eq!(out, content[start..start + len], "{start}+{len}");
    }
    let mut buffer = [0u8; 4];
    assert_eq!(source.read_at(CHUNK as u64, &mut buffer).unwrap(), 4);
    assert_eq!(buffer, content[CHUNK..CHUNK + 4]);
    let end = content.len() as u64;
    assert_eq!(source.read_at(end - 1, &mut buffer).unwrap(), 1);
    assert_eq!(source.read_at(end, &mut buffer).unwrap(), 0);
}

#[test]
fn a_file_shorter_than_recorded_is_an_error_not_a_short_body() {
    let blob = TempFile::with("short", b"abc");
    let source = ByteSource::File {
        file: Arc::new(blob.open()),
        len: 10,
    };
    let error = source.copy_range(0, 10, &mut Vec::new()).unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);
}

#[test]
fn a_multipart_body_is_written_from_either_source() {
    let content = pattern(2 * CHUNK);
    let ranges = [
        ByteRange {
            first: CHUNK as u64 - 3,
            last: CHUNK as u64 + 3,
        },
        ByteRange { first: 0, last: 9 },
    ];
    let body = ByteRangesBody::new("B", "image/png", &ranges, content.len() as u64);
    let blob = TempFile::with("multipart", &content);
    let sources = [
        ByteSource::Memory(Bytes::from(content.clone())),
        ByteSource::File {
            file: Arc::new(blob.open()),
            len: content.len() as u64,
        },
    ];
    for source in sources {
        let mut out = Vec::new();
        source.write_segments(body.segments(), &mut out).unwrap();
        assert_eq!(out.len() as u64, body.len());
        let first = &content[CHUNK - 3..=CHUNK + 3];
        let at = out.windows(first.len()).position(|w| w == first).unwrap();
        assert!(at > 0 && out.ends_with(b"\r\n--B--\r\n"));
    }
}
