//! Opening a data directory: its lock, the clean-up of `tmp/`, and recovery, which replays the
//! newest snapshot and every journal after it, cuts a torn tail that no client was answered
//! for, removes blobs that no record refers to, and refuses to start on anything worse (naming
//! the file and the byte offset), so that no acknowledged change is ever dropped silently.
//! `disk` puts a replayed directory to work (`Disk::open`); this module knows nothing of it.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use super::frame::{Damage, Reader};
use super::hooks::Tuning;
use super::journal::journal_path;
use super::record::Record;
use super::sync_dir;

/// The end of the chain after a replay: the generation to continue and its valid length.
#[derive(Debug)]
pub(crate) struct Tail {
    pub(super) snapshot: Option<u64>,
    pub(super) generation: u64,
    pub(super) valid_len: u64,
    pub(super) torn: Option<(u64, &'static str)>,
}

/// A data directory that is locked and cleaned but not yet replayed.
pub(crate) struct Opening {
    pub(super) dir: PathBuf,
    pub(super) lock: File,
    pub(super) tuning: Tuning,
}

/// How long a held lock is waited for before the directory counts as in use. An `flock` belongs
/// to the open file, and a child process forked by any thread of this process holds a copy of
/// every descriptor until it calls `exec` (close-on-exec acts only then). So a server that was
/// just shut down in a process that also spawns programs (an embedder's test suite) can leave
/// its lock alive for that moment, and reopening the directory at once would fail. A taskd
/// really running on the directory still gets its refusal, this much later.
const LOCK_WAIT: Duration = Duration::from_millis(500);

/// Creates `dir` if needed, takes its lock and empties `tmp/`.
///
/// # Errors
/// When `dir` cannot be created or is in use by another taskd.
pub(crate) fn prepare(dir: &Path, tuning: Tuning) -> io::Result<Opening> {
    let context = |what: &str, error: io::Error| {
        io::Error::new(error.kind(), format!("{what} {}: {error}", dir.display()))
    };
    if !dir.exists() {
        fs::create_dir_all(dir).map_err(|e| context("cannot create --data-dir", e))?;
        // The new directory's own entry must survive a power loss too.
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            sync_dir(parent).map_err(|e| context("cannot sync the parent of", e))?;
        }
    }
    let lock_path = dir.join("lock");
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| context("cannot open the lock file in", e))?;
    let asked = Instant::now();
    loop {
        match lock.try_lock() {
            Ok(()) => break,
            Err(TryLockError::WouldBlock) if asked.elapsed() < LOCK_WAIT => {
                thread::sleep(Duration::from_millis(5));
            }
            Err(TryLockError::WouldBlock) => {
                return Err(io::Error::other(format!(
                    "{} is in use by another taskd ({} is locked); stop it first",
                    dir.display(),
                    lock_path.display()
                )))
            }
            Err(TryLockError::Error(error)) => return Err(context("cannot lock", error)),
        }
    }
    for sub in ["blobs", "tmp"] {
        fs::create_dir_all(dir.join(sub)).map_err(|e| context("cannot create a folder in", e))?;
    }
    // Uploads and snapshots that were being written when the last run ended: never referenced.
    for entry in fs::read_dir(dir.join("tmp"))? {
        let path = entry?.path();
        fs::remove_file(&path).map_err(|e| context("cannot clean tmp/ in", e))?;
    }
    Ok(Opening {
        dir: dir.to_owned(),
        lock,
        tuning,
    })
}

impl Opening {
    /// Replays the chain into `apply`; see [`replay`].
    pub(crate) fn replay(
        &self,
        apply: &mut dyn FnMut(Record) -> Result<(), String>,
    ) -> io::Result<Tail> {
        replay(&self.dir, apply)
    }
}

/// The generations of the snapshots and journals in `dir`, each sorted.
pub(super) fn generations(dir: &Path) -> io::Result<(Vec<u64>, Vec<u64>)> {
    let (mut snapshots, mut journals) = (Vec::new(), Vec::new());
    for entry in fs::read_dir(dir)? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if let Some(g) = name.strip_prefix("snapshot.").and_then(|g| g.parse().ok()) {
            snapshots.push(g);
        } else if let Some(g) = name.strip_prefix("journal.").and_then(|g| g.parse().ok()) {
            journals.push(g);
        }
    }
    snapshots.sort_unstable();
    journals.sort_unstable();
    Ok((snapshots, journals))
}

pub(super) fn snapshot_path(dir: &Path, generation: u64) -> PathBuf {
    dir.join(format!("snapshot.{generation}"))
}

/// Removes snapshots and journals older than generation `base`.
pub(super) fn prune(dir: &Path, base: u64) -> io::Result<()> {
    let (snapshots, journals) = generations(dir)?;
    for g in snapshots.into_iter().filter(|&g| g < base) {
        fs::remove_file(snapshot_path(dir, g))?;
    }
    for g in journals.into_iter().filter(|&g| g < base) {
        fs::remove_file(journal_path(dir, g))?;
    }
    sync_dir(dir)
}

/// Feeds the newest snapshot and then every journal from its generation on to `apply`, in
/// order. Only the last journal may end in a torn record; it is reported in the `Tail`, not cut.
///
/// # Errors
/// A corrupt or unreadable record anywhere, naming the file and the byte offset; a gap in the
/// chain of journals.
pub(crate) fn replay(
    dir: &Path,
    apply: &mut dyn FnMut(Record) -> Result<(), String>,
) -> io::Result<Tail> {
    let (snapshots, journals) = generations(dir)?;
    let snapshot = snapshots.last().copied();
    let base = snapshot.unwrap_or(0);
    if let Some(g) = snapshot {
        read_snapshot(&snapshot_path(dir, g), apply)?;
    }
    let chain: Vec<u64> = journals.into_iter().filter(|&g| g >= base).collect();
    let mut tail = Tail {
        snapshot,
        generation: base,
        valid_len: 0,
        torn: None,
    };
    for (index, &g) in chain.iter().enumerate() {
        let path = journal_path(dir, g);
        if g != base + index as u64 {
            return Err(refusal(&path, 0, "a journal before it is missing"));
        }
        let last = index + 1 == chain.len();
        let (valid_len, torn) = read_records(&path, last, &mut |_, record| apply(record))?;
        tail = Tail {
            snapshot,
            generation: g,
            valid_len,
            torn,
        };
    }
    Ok(tail)
}

fn refusal(path: &Path, offset: u64, reason: &str) -> io::Error {
    io::Error::other(format!(
        "{}: bad record at byte offset {offset}: {reason}; refusing to start so that no \
         acknowledged change is dropped (restore the directory from a backup, or move this file \
         away to start without what it holds)",
        path.display()
    ))
}

/// Reads every record of `path`; returns the valid length and the torn tail, if any (only when
/// `torn_allowed`).
fn read_records(
    path: &Path,
    torn_allowed: bool,
    apply: &mut dyn FnMut(u64, Record) -> Result<(), String>,
) -> io::Result<(u64, Option<(u64, &'static str)>)> {
    let file = File::open(path)?;
    let len = file.metadata()?.len();
    let mut reader = Reader::new(io::BufReader::with_capacity(256 * 1024, file), len);
    loop {
        let offset = reader.offset();
        match reader.next_record()? {
            Ok(Some(payload)) => {
                let record = Record::from_json(payload).map_err(|e| refusal(path, offset, &e))?;
                apply(offset, record).map_err(|e| refusal(path, offset, &e))?;
            }
            Ok(None) => return Ok((len, None)),
            Err(Damage::Torn { offset, reason }) if torn_allowed => {
                return Ok((offset, Some((offset, reason))))
            }
            Err(Damage::Torn { offset, reason } | Damage::Corrupt { offset, reason }) => {
                return Err(refusal(path, offset, reason))
            }
        }
    }
}

/// A snapshot: a `snapshot` record first, then exactly as many `create` records as it says,
/// each possibly followed by its `attach`.
fn read_snapshot(
    path: &Path,
    apply: &mut dyn FnMut(Record) -> Result<(), String>,
) -> io::Result<()> {
    let mut expected = None;
    let mut creates = 0u64;
    read_records(path, false, &mut |offset, record| {
        match (&record, expected) {
            (Record::Snapshot { tasks, .. }, None) if offset == 0 => expected = Some(*tasks),
            (Record::Create { .. }, Some(_)) => creates += 1,
            (Record::Attach { .. }, Some(_)) => {}
            _ => return Err("not a snapshot record here".to_owned()),
        }
        apply(record)
    })?;
    if expected != Some(creates) {
        return Err(refusal(path, 0, "the snapshot is incomplete"));
    }
    Ok(())
}
