//! What a journal or snapshot record says, as JSON.
//!
//! JSON rather than a binary encoding: records are small (a title is at most 100 code points),
//! serde_json is already a dependency, and a journal can be read with a hex dump and a JSON
//! viewer when something goes wrong. Each record is one change, tagged by `op`:
//! `{"op":"create","id":7,"title":"Buy milk","priority":"medium","done":false}`.

use serde::{Deserialize, Serialize};

use crate::model::Priority;
use crate::validators::Digest;

/// One change, or the first record of a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub(crate) enum Record {
    /// A snapshot's first record: the id counter, and how many tasks follow (so a snapshot that
    /// lost records is refused rather than loaded short).
    Snapshot {
        /// The next id to hand out.
        next_id: u64,
        /// Tasks in the snapshot.
        tasks: u64,
    },
    /// A task was created with this id.
    Create {
        /// Its id.
        id: u64,
        /// Its title.
        title: String,
        /// Its priority.
        priority: Priority,
        /// Its done flag.
        done: bool,
    },
    /// Some fields of a task changed; absent ones did not.
    Patch {
        /// The task.
        id: u64,
        /// A new title.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        title: Option<String>,
        /// A new priority.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        priority: Option<Priority>,
        /// A new done flag.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        done: Option<bool>,
    },
    /// A task and its attachment were deleted.
    Delete {
        /// The task.
        id: u64,
    },
    /// A task's attachment was set or replaced; the bytes are in `blobs/<blob>`.
    Attach {
        /// The task.
        id: u64,
        /// The blob's file name under `blobs/`.
        blob: String,
        /// The blob's length in bytes.
        size: u64,
        /// The filename after path stripping.
        filename: String,
        /// The part's `Content-Type` as sent, `null` when it had none.
        content_type: Option<String>,
        /// When it was stored, in whole seconds since 1970 (its `Last-Modified`). Absent in
        /// records written by 8c73c49 and older: the blob file's mtime stands in.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stored_at: Option<u64>,
        /// The digest of the blob's bytes, 32 hex digits (behind its `ETag`). Absent in records
        /// of 8c73c49 and older, and when it was not known yet: computed on first use then.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        digest: Option<Digest>,
    },
    /// A task's attachment was removed.
    Detach {
        /// The task.
        id: u64,
    },
}

impl Record {
    /// The record as compact JSON.
    pub(crate) fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("records always serialize")
    }

    /// Parses a payload.
    ///
    /// # Errors
    /// A payload that is not a record's JSON (a bug or a foreign file, since checksums passed).
    pub(crate) fn from_json(payload: &[u8]) -> Result<Record, String> {
        serde_json::from_slice(payload).map_err(|error| format!("unreadable record: {error}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_omit_unchanged_fields() {
        let patch = Record::Patch {
            id: 3,
            title: None,
            priority: Some(Priority::High),
            done: None,
        };
        let json = patch.to_json();
        assert_eq!(json, br#"{"op":"patch","id":3,"priority":"high"}"#);
        assert_eq!(Record::from_json(&json), Ok(patch));
        let attach = Record::Attach {
            id: 1,
            blob: "000000000000002a".into(),
            size: 5,
            filename: "r\u{e9}sum\u{e9} \"x\".txt".into(),
            content_type: None,
            stored_at: Some(1_796_256_000),
            digest: Some(Digest::of(b"hello")),
        };
        assert_eq!(Record::from_json(&attach.to_json()), Ok(attach));
    }

    /// 8c73c49 wrote attach records without `stored_at` and `digest`; they still read, and a
    /// record without them is written exactly as 8c73c49 wrote it (so that release can still
    /// read a directory whose old attachments were never used).
    #[test]
    fn attach_records_of_8c73c49_still_read() {
        let old = br#"{"op":"attach","id":1,"blob":"0000000000000002","size":19,"filename":"notes.txt","content_type":"text/plain; charset=utf-8"}"#;
        let record = Record::from_json(old).unwrap();
        let Record::Attach {
            stored_at, digest, ..
        } = &record
        else {
            panic!("{record:?}")
        };
        assert_eq!((stored_at, digest), (&None, &None));
        assert_eq!(record.to_json(), old);
        let new = Record::Attach {
            id: 1,
            blob: "0000000000000002".into(),
            size: 5,
            filename: "a.txt".into(),
            content_type: None,
            stored_at: Some(7),
            digest: Some(Digest::of(b"hello")),
        };
        let json = String::from_utf8(new.to_json()).unwrap();
        assert!(json.ends_with(&format!(
            r#""stored_at":7,"digest":"{}"}}"#,
            Digest::of(b"hello")
        )));
        assert!(Record::from_json(br#"{"op":"attach","id":1,"blob":"b","size":1,"filename":"f","content_type":null,"digest":"nothex"}"#).is_err());
    }
}
