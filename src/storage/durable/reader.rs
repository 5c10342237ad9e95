//! A data directory read without being opened: what `taskd import` copies (CONTRACT §14,
//! "moving up from one host"). Unlike [`super::recovery`], nothing in `DIR` is created,
//! locked for writing, cleaned or cut: the chain is replayed in memory exactly as recovery
//! would replay it, a torn tail is left where it is (its record was never acknowledged), and
//! every file keeps its bytes and its times.
//!
//! A running taskd holds an exclusive `flock` on `DIR/lock`. The probe opens that file
//! read-only (never creating it) and asks for a *shared* lock without blocking: refused means
//! a taskd is running. The shared lock is then kept until the [`DataDirImage`] is dropped, so no
//! taskd can start on `DIR` and change it while the import copies it. `flock` changes neither
//! the file's bytes nor its times.

use std::fs::{self, File, TryLockError};
use std::io;
use std::path::Path;
use std::time::SystemTime;

use super::changes::{self, snapshot_records};
use super::record::Record;
use super::recovery::replay;
use crate::model::Priority;
use crate::storage::tasks::state::State;
use crate::validators::{whole_seconds, Digest};

/// One task as the directory holds it.
#[derive(Debug)]
pub(crate) struct ImageTask {
    pub(crate) id: u64,
    pub(crate) title: String,
    pub(crate) priority: Priority,
    pub(crate) done: bool,
    pub(crate) attachment: Option<ImageAttachment>,
}

/// One attachment: its record, with the blob file it lives in.
#[derive(Debug)]
pub(crate) struct ImageAttachment {
    /// The blob, opened read-only.
    pub(crate) blob: File,
    pub(crate) blob_name: String,
    pub(crate) size: u64,
    pub(crate) filename: String,
    /// `None` when the part had no `Content-Type` (served as `text/plain`).
    pub(crate) content_type: Option<String>,
    /// Whole seconds: the recorded time, or the blob's mtime for a record of 8c73c49 or older.
    pub(crate) stored_at: SystemTime,
    /// The recorded digest; `None` for a record of 8c73c49 or older (the importer computes it).
    pub(crate) digest: Option<Digest>,
}

/// Everything a data directory holds, and the shared lock that keeps a taskd off it meanwhile.
#[derive(Debug)]
pub(crate) struct DataDirImage {
    /// The id the directory would give to its next task (not the largest id + 1).
    pub(crate) next_id: u64,
    /// In id order.
    pub(crate) tasks: Vec<ImageTask>,
    /// Where an unacknowledged torn tail of the last journal starts, if there is one (left in place).
    pub(crate) torn_tail: Option<u64>,
    _shared_lock: Option<File>,
}

/// Reads `dir` as recovery would, writing nothing.
///
/// # Errors
/// One line: `dir` missing or not a taskd data directory, in use by a running taskd, a corrupt
/// record (file and offset), a blob missing or of the wrong size.
pub(crate) fn read_data_dir(dir: &Path) -> io::Result<DataDirImage> {
    let shown = dir.display();
    let meta = fs::metadata(dir)
        .map_err(|error| io::Error::new(error.kind(), format!("--data-dir {shown}: {error}")))?;
    if !meta.is_dir() {
        return Err(io::Error::other(format!(
            "--data-dir {shown} is not a directory"
        )));
    }
    if !holds_a_chain(dir)? {
        return Err(io::Error::other(format!(
            "--data-dir {shown} is not a taskd data directory (no journal.<n> or snapshot.<n> in it)"
        )));
    }
    let shared_lock = probe_lock(dir)?;
    let mut state = State::default();
    let tail = replay(dir, &mut |record| changes::replay(&mut state, record))?;
    let mut tasks = Vec::with_capacity(state.tasks.len());
    let mut next_id = 1;
    for record in snapshot_records(state.next_id, &state.tasks) {
        match record {
            Record::Snapshot { next_id: next, .. } => next_id = next,
            Record::Create {
                id,
                title,
                priority,
                done,
            } => tasks.push(ImageTask {
                id,
                title,
                priority,
                done,
                attachment: None,
            }),
            Record::Attach {
                id,
                blob,
                size,
                filename,
                content_type,
                stored_at,
                digest,
            } => {
                let attachment = open_attachment(dir, blob, size, filename, content_type)
                    .and_then(|mut attachment| {
                        attachment.stored_at = match stored_at {
                            Some(seconds) => {
                                SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(seconds)
                            }
                            // 8c73c49's records: the blob's mtime, as the data dir serves it.
                            None => whole_seconds(attachment.blob.metadata()?.modified()?),
                        };
                        attachment.digest = digest;
                        Ok(attachment)
                    })?;
                match tasks.last_mut() {
                    Some(task) if task.id == id => task.attachment = Some(attachment),
                    _ => {
                        return Err(io::Error::other(format!(
                            "{shown}: an attachment of task {id} without its task"
                        )))
                    }
                }
            }
            Record::Patch { .. } | Record::Delete { .. } | Record::Detach { .. } => {}
        }
    }
    Ok(DataDirImage {
        next_id,
        tasks,
        torn_tail: tail.torn.map(|(offset, _)| offset),
        _shared_lock: shared_lock,
    })
}

/// Whether `dir` has a journal or a snapshot: what every taskd data directory has from its
/// first start on (the lock file may be missing, e.g. in a copy; the 8c73c49 fixture has none).
fn holds_a_chain(dir: &Path) -> io::Result<bool> {
    for entry in fs::read_dir(dir)? {
        let name = entry?.file_name();
        let name = name.to_string_lossy();
        let numbered = |prefix: &str| {
            name.strip_prefix(prefix)
                .is_some_and(|g| g.parse::<u64>().is_ok())
        };
        if numbered("journal.") || numbered("snapshot.") {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The non-blocking shared-lock probe of `DIR/lock` (see the module doc); `None` when there is
/// no lock file (no taskd has it open: a running taskd keeps it).
fn probe_lock(dir: &Path) -> io::Result<Option<File>> {
    let path = dir.join("lock");
    let file = match File::open(&path) {
        Ok(file) => file,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(error) => {
            return Err(io::Error::new(
                error.kind(),
                format!("cannot open {}: {error}", path.display()),
            ))
        }
    };
    match file.try_lock_shared() {
        Ok(()) => Ok(Some(file)),
        Err(TryLockError::WouldBlock) => Err(io::Error::other(format!(
            "{} is in use by a running taskd ({} is locked); stop it first",
            dir.display(),
            path.display()
        ))),
        Err(TryLockError::Error(error)) => Err(io::Error::new(
            error.kind(),
            format!("cannot probe the lock {}: {error}", path.display()),
        )),
    }
}

fn open_attachment(
    dir: &Path,
    blob_name: String,
    size: u64,
    filename: String,
    content_type: Option<String>,
) -> io::Result<ImageAttachment> {
    let path = dir.join("blobs").join(&blob_name);
    let blob = File::open(&path)
        .map_err(|error| io::Error::new(error.kind(), format!("{}: {error}", path.display())))?;
    let found = blob.metadata()?.len();
    if found != size {
        return Err(io::Error::other(format!(
            "{}: {found} bytes, but {size} are recorded",
            path.display()
        )));
    }
    Ok(ImageAttachment {
        blob,
        blob_name,
        size,
        filename,
        content_type,
        stored_at: SystemTime::UNIX_EPOCH,
        digest: None,
    })
}
