//! The data directory at work: the journal, attachment blobs (opened for downloads, moved in
//! from `tmp/` once an upload is accepted, removed once no durable record refers to them),
//! the upload spool under `tmp/`, and snapshots written by compaction. `Disk::open` takes over
//! a directory that `recovery` locked and replayed; recovery never refers back to this module.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::frame;
use super::hooks::Faults;
use super::journal::journal_path;
use super::journal::Journal;
use super::record::Record;
use super::recovery::{prune, replay, snapshot_path, Opening, Tail};
use super::sync_dir;
use crate::storage::spool::TempFile;
use crate::storage::tasks::{Blob, StoreError};
use crate::storage::{Spool, SpoolWriter, StorageError};

/// A data directory, locked and with its journal open.
#[derive(Debug)]
pub(crate) struct Disk {
    pub(super) dir: PathBuf,
    pub(super) blobs: PathBuf,
    /// Holds `DIR/lock` for as long as the store lives.
    pub(super) _lock: File,
    /// The journal of the current generation.
    pub(crate) journal: Journal,
    pub(super) spool: DiskSpool,
    pub(super) faults: Faults,
    pub(super) compact_floor: u64,
    /// Set while one compaction runs, so a second is not started beside it.
    pub(super) compacting: AtomicBool,
    /// Held while the chain is read at a repair, or renamed and pruned by a compaction.
    pub(super) files: Mutex<()>,
}

impl Disk {
    /// The directory of `opening`, replayed up to `tail`, put to work: cuts a torn tail, opens the journal, removes superseded files and unreferenced blobs,
    /// and checks that every referenced blob is there with its recorded size.
    ///
    /// # Errors
    /// A missing or short blob, or a failing file operation.
    pub(crate) fn open(
        opening: Opening,
        tail: Tail,
        referenced: &HashMap<String, u64>,
    ) -> io::Result<Disk> {
        let dir = opening.dir;
        if let Some((offset, reason)) = tail.torn {
            let path = journal_path(&dir, tail.generation);
            crate::log::line(format_args!(
                "taskd: {}: cut an unacknowledged torn record at byte offset {offset} ({reason})",
                path.display()
            ));
        }
        let faults = opening.tuning.faults.clone();
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
        let spool = DiskSpool {
            tmp: dir.join("tmp"),
            names: Arc::new(AtomicU64::new(highest + 1)),
            faults: faults.clone(),
        };
        Ok(Disk {
            blobs,
            _lock: opening.lock,
            journal,
            spool,
            faults,
            compact_floor: opening.tuning.compact_floor,
            compacting: AtomicBool::new(false),
            files: Mutex::new(()),
            dir,
        })
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
    pub(crate) fn persist(&self, mut temp: TempFile, size: u64) -> Result<Blob, StoreError> {
        let name = format!("{:016x}", self.spool.names.fetch_add(1, Ordering::SeqCst));
        let target = self.blobs.join(&name);
        let moved = self
            .faults
            .check()
            .and_then(|()| temp.file.sync_all())
            .and_then(|()| fs::rename(&temp.path, &target));
        moved.map_err(|error| {
            StoreError::Storage(format!(
                "cannot store an upload as {}: {error}",
                target.display()
            ))
        })?;
        temp.kept = true;
        sync_dir(&self.blobs).map_err(|error| {
            StoreError::Storage(format!("cannot sync {}: {error}", self.blobs.display()))
        })?;
        Ok(Blob { name, size })
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

/// Receives uploads into `DIR/tmp/`, so that no upload is ever held in memory.
#[derive(Debug)]
pub(crate) struct DiskSpool {
    pub(super) tmp: PathBuf,
    /// Numbers for temp and blob names; starts above every blob present at start.
    pub(super) names: Arc<AtomicU64>,
    pub(super) faults: Faults,
}

impl Spool for DiskSpool {
    fn create(&self, _bound: Option<u64>) -> Result<SpoolWriter, StorageError> {
        let number = self.names.fetch_add(1, Ordering::SeqCst);
        let path = self.tmp.join(format!("upload.{number:016x}"));
        SpoolWriter::file(path, self.faults.clone())
    }
}
