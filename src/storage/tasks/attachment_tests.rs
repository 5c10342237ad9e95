//! Tests of `attachment`: a download's validators, and digests read from a blob file.

use std::fs;
use std::path::PathBuf;
use std::time::{Duration, UNIX_EPOCH};

use bytes::Bytes;

use super::*;
use crate::storage::tasks::Blob;

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

/// A blob stored without a digest (8c73c49) of the given content, recorded as `recorded` long.
fn old_blob(blob: &TempFile, recorded: u64) -> Download {
    let stored = StoredFile {
        filename: "old.bin".to_owned(),
        content_type: None,
        content: Content::Blob(Blob {
            name: "b".to_owned(),
            size: recorded,
        }),
    };
    Download::new(attached(stored, None), Some(blob.open()))
}

#[test]
fn an_old_blobs_digest_is_read_across_chunk_boundaries() {
    let content = pattern(3 * CHUNK + 17);
    let blob = TempFile::with("chunks", &content);
    let download = old_blob(&blob, content.len() as u64);
    assert_eq!(download.digest().unwrap(), Digest::of(&content));
}

#[test]
fn a_file_shorter_than_recorded_is_an_error_not_a_short_digest() {
    let blob = TempFile::with("short", b"abc");
    let error = old_blob(&blob, 10).digest().unwrap_err();
    assert!(
        matches!(error, StorageError::Internal(reason) if reason.contains("before its recorded size"))
    );
}
