//! Durable storage for `--data-dir DIR`: the directory's layout and lock, recovery at start,
//! attachment blobs on disk, and compaction into snapshots. The store decides *what* changed;
//! this module makes it survive a restart or a `kill -9`.
//!
//! ```text
//! DIR/lock            held with File::try_lock while a taskd uses DIR
//! DIR/snapshot.<g>    the whole state when journal.<g> was started (absent for g = 0)
//! DIR/journal.<g>     one record per acknowledged change since then (see `frame`, `record`)
//! DIR/blobs/<hex>     attachment bytes, one file per upload, never changed once in place
//! DIR/tmp/            uploads being received and snapshots being written; emptied at start
//! ```
//!
//! The state is the newest snapshot plus every journal from its generation on, in order. A
//! compaction creates `journal.<g+1>` first, then writes `snapshot.<g+1>` beside it, and only
//! then deletes older files; a crash at any point leaves a readable chain.

mod crc32;
mod frame;
mod journal;
mod record;

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

pub(crate) use self::journal::{Journal, Ticket};
pub(crate) use self::record::Record;

use self::frame::{Damage, Reader};
use self::journal::journal_path;
use crate::error::ApiError;
use crate::upload::FileSink;

/// The journal may grow to this many bytes before compaction is considered at all, so a small
/// store is not rewritten over and over.
pub const DEFAULT_COMPACT_FLOOR_BYTES: u64 = 4 * 1024 * 1024;

/// Test hooks for durable mode. Never set them in production.
#[doc(hidden)]
#[derive(Debug, Clone, Default)]
pub struct StorageHooks {
    /// While `true`, every write of data (journal, upload, snapshot) fails as if the disk were
    /// full; cutting a file back and fsync still work, as they do on a full disk.
    pub fail_writes: Option<Arc<AtomicBool>>,
    /// Overrides [`DEFAULT_COMPACT_FLOOR_BYTES`].
    pub compact_floor_bytes: Option<u64>,
}

impl PartialEq for StorageHooks {
    fn eq(&self, other: &StorageHooks) -> bool {
        let same_switch = match (&self.fail_writes, &other.fail_writes) {
            (None, None) => true,
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        };
        same_switch && self.compact_floor_bytes == other.compact_floor_bytes
    }
}

impl Eq for StorageHooks {}

/// The write-failure switch of [`StorageHooks::fail_writes`].
#[derive(Debug, Clone, Default)]
pub(crate) struct Faults(Option<Arc<AtomicBool>>);

impl Faults {
    /// Fails like a full disk while the switch is on.
    pub(crate) fn check(&self) -> io::Result<()> {
        match &self.0 {
            Some(switch) if switch.load(Ordering::SeqCst) => Err(io::Error::new(
                io::ErrorKind::StorageFull,
                "injected fault: no space left on device",
            )),
            _ => Ok(()),
        }
    }
}

/// fsyncs a directory, so that files created, renamed or removed in it stay so after a crash.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// An attachment's bytes on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    /// File name under `DIR/blobs/`.
    pub name: String,
    /// Length in bytes.
    pub size: u64,
}

/// The end of the chain after a replay: the generation to continue and its valid length.
#[derive(Debug)]
pub(crate) struct Tail {
    snapshot: Option<u64>,
    generation: u64,
    valid_len: u64,
    torn: Option<(u64, &'static str)>,
}

/// A data directory, locked and with its journal open.
#[derive(Debug)]
pub(crate) struct Disk {
    dir: PathBuf,
    blobs: PathBuf,
    /// Holds `DIR/lock` for as long as the store lives.
    _lock: File,
    /// The journal of the current generation.
    pub(crate) journal: Journal,
    spool: Spool,
    faults: Faults,
    compact_floor: u64,
    /// Set while one compaction runs, so a second is not started beside it.
    compacting: AtomicBool,
    /// Held while the chain is read at a repair, or renamed and pruned by a compaction.
    files: Mutex<()>,
}

/// A data directory that is locked and cleaned but not yet replayed.
pub(crate) struct Opening {
    dir: PathBuf,
    lock: File,
    hooks: StorageHooks,
}

/// Creates `dir` if needed, takes its lock and empties `tmp/`.
///
/// # Errors
/// When `dir` cannot be created or is in use by another taskd.
pub(crate) fn prepare(dir: &Path, hooks: StorageHooks) -> io::Result<Opening> {
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
    match lock.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            return Err(io::Error::other(format!(
                "{} is in use by another taskd ({} is locked); stop it first",
                dir.display(),
                lock_path.display()
            )))
        }
        Err(TryLockError::Error(error)) => return Err(context("cannot lock", error)),
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
        hooks,
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

    /// Cuts a torn tail, opens the journal, removes superseded files and unreferenced blobs,
    /// and checks that every referenced blob is there with its recorded size.
    ///
    /// # Errors
    /// A missing or short blob, or a failing file operation.
    pub(crate) fn finish(self, tail: Tail, referenced: &HashMap<String, u64>) -> io::Result<Disk> {
        let dir = self.dir;
        if let Some((offset, reason)) = tail.torn {
            let path = journal_path(&dir, tail.generation);
            crate::log::line(format_args!(
                "taskd: {}: cut an unacknowledged torn record at byte offset {offset} ({reason})",
                path.display()
            ));
        }
        let faults = Faults(self.hooks.fail_writes.clone());
        let journal = Journal::open(&dir, tail.generation, tail.valid_len, faults.clone())?;
        prune(&dir, tail.snapshot.unwrap_or(0))?;
        let blobs = dir.join("blobs");
        let mut highest = 0;
        for entry in fs::read_dir(&blobs)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let Ok(number) = u64::from_str_radix(&name, 16) else {
                continue;
            };
            if referenced.contains_key(&name) {
                highest = highest.max(number);
            } else {
                // An upload whose attach record never became durable.
                fs::remove_file(entry.path())?;
            }
        }
        for (name, &size) in referenced {
            let found = fs::metadata(blobs.join(name)).map(|meta| meta.len()).ok();
            if found != Some(size) {
                return Err(io::Error::other(format!(
                    "{}: missing or not {size} bytes long as recorded; refusing to start \
                     (restore {} from a backup)",
                    blobs.join(name).display(),
                    dir.display()
                )));
            }
        }
        sync_dir(&blobs)?;
        let spool = Spool {
            tmp: dir.join("tmp"),
            names: Arc::new(AtomicU64::new(highest + 1)),
            faults: faults.clone(),
        };
        Ok(Disk {
            blobs,
            _lock: self.lock,
            journal,
            spool,
            faults,
            compact_floor: self
                .hooks
                .compact_floor_bytes
                .unwrap_or(DEFAULT_COMPACT_FLOOR_BYTES),
            compacting: AtomicBool::new(false),
            files: Mutex::new(()),
            dir,
        })
    }
}

/// The generations of the snapshots and journals in `dir`, each sorted.
fn generations(dir: &Path) -> io::Result<(Vec<u64>, Vec<u64>)> {
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

fn snapshot_path(dir: &Path, generation: u64) -> PathBuf {
    dir.join(format!("snapshot.{generation}"))
}

/// Removes snapshots and journals older than generation `base`.
fn prune(dir: &Path, base: u64) -> io::Result<()> {
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

impl Disk {
    /// Where uploads are received in durable mode.
    pub(crate) fn spool(&self) -> &Spool {
        &self.spool
    }

    /// Opens a blob for reading.
    ///
    /// # Errors
    /// When it cannot be opened.
    pub(crate) fn open_blob(&self, blob: &Blob) -> io::Result<File> {
        File::open(self.blobs.join(&blob.name))
    }

    /// Moves a received upload into `blobs/`, durably: fsync the file, rename it, fsync the
    /// folder. Only then may a record refer to it.
    ///
    /// # Errors
    /// Any failing step; the upload's temporary file is removed then.
    pub(crate) fn persist(&self, mut file: SpooledFile) -> Result<Blob, String> {
        let name = format!("{:016x}", self.spool.names.fetch_add(1, Ordering::SeqCst));
        let target = self.blobs.join(&name);
        let moved = self
            .faults
            .check()
            .and_then(|()| file.temp.file.sync_all())
            .and_then(|()| fs::rename(&file.temp.path, &target));
        moved
            .map_err(|error| format!("cannot store an upload as {}: {error}", target.display()))?;
        file.temp.kept = true;
        sync_dir(&self.blobs)
            .map_err(|error| format!("cannot sync {}: {error}", self.blobs.display()))?;
        Ok(Blob {
            name,
            size: file.size,
        })
    }

    /// Removes a blob no durable record refers to any more. A failure only leaves garbage that
    /// the next start removes.
    pub(crate) fn remove_blob(&self, blob: &Blob) {
        let path = self.blobs.join(&blob.name);
        if let Err(error) = fs::remove_file(&path) {
            crate::log::line(format_args!(
                "taskd: cannot remove {}: {error}",
                path.display()
            ));
        }
    }

    /// Whether the journal has grown past twice the live data (and past the floor), and no
    /// compaction is running; if so, the caller now owns the compaction and must call
    /// [`Disk::compacted`] at the end.
    pub(crate) fn start_compaction(&self, live_bytes: u64) -> bool {
        let len = self.journal.len();
        len > self.compact_floor
            && len > live_bytes.saturating_mul(2)
            && !self.compacting.swap(true, Ordering::SeqCst)
    }

    /// Ends what [`Disk::start_compaction`] began.
    pub(crate) fn compacted(&self) {
        self.compacting.store(false, Ordering::SeqCst);
    }

    fn files(&self) -> MutexGuard<'_, ()> {
        self.files.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Writes `snapshot.<generation>` from `records` (temp file, fsync, rename, fsync the
    /// directory), then deletes the files it supersedes.
    ///
    /// # Errors
    /// Any failing step; the older files are then kept and the chain stays valid.
    pub(crate) fn write_snapshot(
        &self,
        generation: u64,
        records: &mut dyn Iterator<Item = Record>,
    ) -> io::Result<()> {
        let temp = self.spool.tmp.join(format!("snapshot.{generation}"));
        let written = self.write_frames(&temp, records);
        if let Err(error) = written {
            let _ = fs::remove_file(&temp);
            return Err(error);
        }
        let _files = self.files();
        fs::rename(&temp, snapshot_path(&self.dir, generation))?;
        sync_dir(&self.dir)?;
        prune(&self.dir, generation)
    }

    fn write_frames(
        &self,
        path: &Path,
        records: &mut dyn Iterator<Item = Record>,
    ) -> io::Result<()> {
        let mut out = BufWriter::with_capacity(1024 * 1024, File::create(path)?);
        let mut framed = Vec::new();
        for record in records {
            framed.clear();
            frame::encode(&record.to_json(), &mut framed);
            if out.buffer().len() + framed.len() > out.capacity() {
                self.faults.check()?;
            }
            out.write_all(&framed)?;
        }
        self.faults.check()?;
        out.into_inner()
            .map_err(io::IntoInnerError::into_error)?
            .sync_all()
    }

    /// Replays the chain from disk again (after a repair), with compaction kept out.
    ///
    /// # Errors
    /// As [`replay`].
    pub(crate) fn reload(
        &self,
        apply: &mut dyn FnMut(Record) -> Result<(), String>,
    ) -> io::Result<()> {
        let _files = self.files();
        let tail = replay(&self.dir, apply)?;
        if tail.torn.is_some() {
            return Err(io::Error::other(
                "the journal has a torn tail after a repair",
            ));
        }
        Ok(())
    }
}

/// A file in `tmp/` that is removed when dropped, unless it was moved into `blobs/`.
#[derive(Debug)]
struct TempFile {
    path: PathBuf,
    file: File,
    kept: bool,
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.kept {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Receives uploads into `DIR/tmp/`, so that no upload is ever held in memory.
#[derive(Debug)]
pub(crate) struct Spool {
    tmp: PathBuf,
    /// Numbers for temp and blob names; starts above every blob present at start.
    names: Arc<AtomicU64>,
    faults: Faults,
}

/// An upload being received.
#[derive(Debug)]
pub(crate) struct SpoolWriter {
    temp: TempFile,
    size: u64,
}

/// A received upload, not yet in `blobs/`.
#[derive(Debug)]
pub(crate) struct SpooledFile {
    temp: TempFile,
    size: u64,
}

impl PartialEq for SpooledFile {
    fn eq(&self, other: &SpooledFile) -> bool {
        self.temp.path == other.temp.path
    }
}

fn storage_error(what: &str, error: io::Error) -> ApiError {
    ApiError::Internal(format!("{what}: {error}"))
}

impl FileSink for Spool {
    type Writer = SpoolWriter;
    type Data = SpooledFile;

    fn create(&self, _bound: Option<u64>) -> Result<SpoolWriter, ApiError> {
        let number = self.names.fetch_add(1, Ordering::SeqCst);
        let path = self.tmp.join(format!("upload.{number:016x}"));
        let file = OpenOptions::new()
            .create_new(true)
            .write(true)
            .open(&path)
            .map_err(|error| storage_error(&format!("cannot create {}", path.display()), error))?;
        Ok(SpoolWriter {
            temp: TempFile {
                path,
                file,
                kept: false,
            },
            size: 0,
        })
    }

    fn write(&self, writer: &mut SpoolWriter, chunk: &[u8]) -> Result<(), ApiError> {
        let written = self
            .faults
            .check()
            .and_then(|()| (&writer.temp.file).write_all(chunk));
        let path = &writer.temp.path;
        written
            .map_err(|error| storage_error(&format!("cannot write {}", path.display()), error))?;
        writer.size += chunk.len() as u64;
        Ok(())
    }

    fn finish(&self, writer: SpoolWriter) -> Result<SpooledFile, ApiError> {
        Ok(SpooledFile {
            temp: writer.temp,
            size: writer.size,
        })
    }
}
