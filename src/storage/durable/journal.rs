//! The append-only journal and its group commit.
//!
//! A change is *appended* (framed into an in-memory buffer) while the store lock is held, so the
//! journal's order is the order the changes were applied in; it is *committed* (written and
//! fsynced) after the store lock is released. A committer that finds no flush in progress
//! becomes the leader: it takes everything appended so far, writes it and fsyncs once, for every
//! writer whose record was in the batch. A committer that finds a flush in progress waits for it
//! and then for the next one, so one fsync serves many concurrent writers.
//!
//! A failed write or fsync *breaks* the journal: every record not yet durable fails (its writer
//! answers 500), and nothing more is appended until [`Journal::repair`] cuts the file back to
//! its last durable length and the store reloads itself from disk. Each repair starts a new
//! epoch, so a ticket from before it can never be mistaken for durable.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use super::frame;
use super::record::Record;
use super::{sync_dir, Faults};

/// A place in the journal: durable once [`Journal::commit`] says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ticket {
    epoch: u64,
    seq: u64,
}

/// The current journal file and the commit state.
#[derive(Debug)]
pub(crate) struct Journal {
    dir: PathBuf,
    faults: Faults,
    inner: Mutex<Inner>,
    /// Signalled when a flush ends.
    flushed: Condvar,
}

#[derive(Debug)]
struct Inner {
    file: Arc<File>,
    /// The file is `journal.<generation>`.
    generation: u64,
    /// Framed records appended since the last flush started.
    buffer: Vec<u8>,
    /// Sequence number of the last appended record.
    appended: u64,
    /// Sequence number of the last durable record.
    durable: u64,
    /// A leader is writing and fsyncing outside the lock.
    flushing: bool,
    /// Why the journal is broken, until it is repaired.
    broken: Option<String>,
    epoch: u64,
    /// Bytes of the current file known to be durable.
    durable_len: u64,
}

/// The path of generation `generation`'s journal.
pub(crate) fn journal_path(dir: &Path, generation: u64) -> PathBuf {
    dir.join(format!("journal.{generation}"))
}

impl Journal {
    /// Continues `journal.<generation>`, whose first `len` bytes are valid (anything after them
    /// is cut off now).
    ///
    /// # Errors
    /// When the file cannot be opened, cut or synced.
    pub(crate) fn open(dir: &Path, generation: u64, len: u64, faults: Faults) -> io::Result<Self> {
        let path = journal_path(dir, generation);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .append(true)
            .open(&path)?;
        if file.metadata()?.len() != len {
            file.set_len(len)?;
            file.sync_all()?;
        }
        sync_dir(dir)?;
        let inner = Inner {
            file: Arc::new(file),
            generation,
            buffer: Vec::new(),
            appended: 0,
            durable: 0,
            flushing: false,
            broken: None,
            epoch: 0,
            durable_len: len,
        };
        Ok(Journal {
            dir: dir.to_owned(),
            faults,
            inner: Mutex::new(inner),
            flushed: Condvar::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Nothing panics while this lock is held; the state stays consistent.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether a failure awaits [`Journal::repair`].
    pub(crate) fn is_broken(&self) -> bool {
        self.lock().broken.is_some()
    }

    /// Frames `record` into the buffer. Call it under the store lock, right before the change is
    /// applied, so the journal's order is the order of the changes.
    ///
    /// # Errors
    /// The reason the journal is broken.
    pub(crate) fn append(&self, record: &Record) -> Result<Ticket, String> {
        let payload = record.to_json();
        let mut inner = self.lock();
        if let Some(reason) = &inner.broken {
            return Err(reason.clone());
        }
        frame::encode(&payload, &mut inner.buffer);
        inner.appended += 1;
        Ok(Ticket {
            epoch: inner.epoch,
            seq: inner.appended,
        })
    }

    /// Waits until the ticket's record is durable, leading a flush when none is running.
    ///
    /// # Errors
    /// Why the record did not become durable (the journal is then broken).
    pub(crate) fn commit(&self, ticket: Ticket) -> Result<(), String> {
        let inner = self.lock();
        self.wait_durable(inner, ticket.seq, Some(ticket.epoch))
            .map(drop)
    }

    /// Waits until record `seq` is durable, following a flush in progress or leading one. With
    /// an `epoch`, a record from before a storage failure (its epoch is gone) is reported lost.
    fn wait_durable<'a>(
        &'a self,
        mut inner: MutexGuard<'a, Inner>,
        seq: u64,
        epoch: Option<u64>,
    ) -> Result<MutexGuard<'a, Inner>, String> {
        loop {
            if epoch.is_some_and(|epoch| epoch != inner.epoch) {
                return Err("the change was lost in an earlier storage failure".to_owned());
            }
            if inner.durable >= seq {
                return Ok(inner);
            }
            if let Some(reason) = &inner.broken {
                return Err(reason.clone());
            }
            inner = if inner.flushing {
                self.flushed
                    .wait(inner)
                    .unwrap_or_else(PoisonError::into_inner)
            } else {
                self.flush(inner)
            };
        }
    }

    /// Leads one flush: writes and fsyncs the buffer outside the lock.
    fn flush<'a>(&'a self, mut inner: MutexGuard<'a, Inner>) -> MutexGuard<'a, Inner> {
        inner.flushing = true;
        let batch = std::mem::take(&mut inner.buffer);
        let target = inner.appended;
        let file = inner.file.clone();
        drop(inner);
        let result = self.write_and_sync(&file, &batch);
        let mut inner = self.lock();
        inner.flushing = false;
        match result {
            Ok(()) => {
                inner.durable = target;
                inner.durable_len += batch.len() as u64;
                if inner.buffer.is_empty() {
                    // Keep the allocation for the next batch.
                    let mut batch = batch;
                    batch.clear();
                    inner.buffer = batch;
                }
            }
            Err(error) => {
                let generation = inner.generation;
                inner.broken = Some(format!(
                    "cannot write {}: {error}",
                    journal_path(&self.dir, generation).display()
                ));
            }
        }
        self.flushed.notify_all();
        inner
    }

    fn write_and_sync(&self, file: &File, batch: &[u8]) -> io::Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        self.faults.check()?;
        let mut writer = file;
        writer.write_all(batch)?;
        file.sync_data()
    }

    /// Waits for any flush in progress, then flushes synchronously: afterwards everything
    /// appended is durable. For compaction, under the store lock.
    fn drain<'a>(&'a self, inner: MutexGuard<'a, Inner>) -> Result<MutexGuard<'a, Inner>, String> {
        if let Some(reason) = &inner.broken {
            return Err(reason.clone());
        }
        // Called under the store lock, so nothing is appended meanwhile.
        let appended = inner.appended;
        self.wait_durable(inner, appended, None)
    }

    /// Bytes in the current journal file.
    pub(crate) fn len(&self) -> u64 {
        self.lock().durable_len
    }

    /// Makes everything appended durable and switches to a fresh `journal.<generation + 1>`.
    /// Call it under the store lock, so the state then is exactly what the old files hold;
    /// returns the new generation.
    ///
    /// # Errors
    /// When the journal is or becomes broken, or the new file cannot be created.
    pub(crate) fn rotate(&self) -> Result<u64, String> {
        let inner = self.lock();
        let mut inner = self.drain(inner)?;
        let generation = inner.generation + 1;
        let path = journal_path(&self.dir, generation);
        let created = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&path)
            .and_then(|file| sync_dir(&self.dir).map(|()| file));
        let file = created.map_err(|error| format!("cannot create {}: {error}", path.display()))?;
        inner.file = Arc::new(file);
        inner.generation = generation;
        inner.durable_len = 0;
        Ok(generation)
    }

    /// Marks the journal broken, e.g. when reloading after a repair failed.
    pub(crate) fn fail(&self, reason: &str) {
        self.lock().broken = Some(reason.to_owned());
    }

    /// After a failure: cuts the current file back to its durable length and accepts appends
    /// again. The caller must then reload the state from disk, under the store lock.
    ///
    /// # Errors
    /// When the file cannot be cut or synced; the journal stays broken.
    pub(crate) fn repair(&self) -> Result<(), String> {
        let mut inner = self.lock();
        while inner.flushing {
            inner = self
                .flushed
                .wait(inner)
                .unwrap_or_else(PoisonError::into_inner);
        }
        if inner.broken.is_none() {
            return Ok(());
        }
        let path = journal_path(&self.dir, inner.generation);
        let file = inner.file.clone();
        // O_APPEND: the next write lands at the new end.
        let cut = file
            .set_len(inner.durable_len)
            .and_then(|()| file.sync_all());
        cut.map_err(|error| format!("cannot repair {}: {error}", path.display()))?;
        inner.buffer.clear();
        inner.appended = inner.durable;
        inner.broken = None;
        inner.epoch += 1;
        Ok(())
    }
}
