//! The append-only journal and its group commit.
//!
//! A change is *appended* (framed into an in-memory buffer) while the store lock is held, so the
//! journal's order is the order the changes were applied in; it is *committed* (written and
//! fsynced) after the store lock is released. A committer that finds no flush in progress
//! becomes the leader: it takes everything appended so far, writes it and fsyncs once, for every
//! writer whose record was in the batch. A committer that finds a flush in progress waits until
//! a leader wakes it, so one fsync serves many concurrent writers.
//!
//! The wake-ups are what a durable change costs beyond the fsync. Profiled with one condvar
//! that every flush signalled with `notify_all` while holding the lock: each flush woke every
//! waiter, also those whose records were only in the next batch (they went back to sleep), and
//! each woken thread preempted the leader and found the lock still held (six futex calls and
//! six context switches per create; memory mode: under one and under two). So the waiters of a batch
//! wait on a condvar of their own (two alternate: the batch being flushed and the next one), a
//! leader that ends a flush wakes exactly the batch it made durable with one `notify_all`, plus
//! one waiter of the next batch to lead it, and it does so after unlocking.
//!
//! A failed write or fsync *breaks* the journal: every record not yet durable fails (its writer
//! answers 500), and nothing more is appended until [`Journal::repair`] cuts the file back to
//! its last durable length and the store reloads itself from disk. Each repair starts a new
//! epoch, so a ticket from before it is judged by what was durable when its epoch ended, never
//! by a later record that reuses its sequence number.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
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
    /// Whether `Inner::broken` is set, readable without the lock (every change asks).
    broken: AtomicBool,
    /// Where the writers of flush `n` wait: `batches[n % 2]`. While flush `n` runs, a record
    /// is in its batch or in the next one, so two condvars suffice.
    batches: [Condvar; 2],
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
    /// Flushes started so far; the running one (if any) is number `flushes`.
    flushes: u64,
    /// Sequence number of the last record in the running (or last) flush.
    flushing_up_to: u64,
    /// Why the journal is broken, until it is repaired.
    broken: Option<String>,
    epoch: u64,
    /// For each epoch a repair ended, its last durable sequence number.
    ended: Vec<u64>,
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
            flushes: 0,
            flushing_up_to: 0,
            broken: None,
            epoch: 0,
            ended: Vec::new(),
            durable_len: len,
        };
        Ok(Journal {
            dir: dir.to_owned(),
            faults,
            inner: Mutex::new(inner),
            broken: AtomicBool::new(false),
            batches: [Condvar::new(), Condvar::new()],
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Nothing panics while this lock is held; the state stays consistent.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether a failure awaits [`Journal::repair`].
    pub(crate) fn is_broken(&self) -> bool {
        // Set and cleared under the lock together with `Inner::broken`; a caller that needs
        // the reason takes the lock anyway (append, repair).
        self.broken.load(Ordering::Acquire)
    }

    /// Sets or clears the broken state, keeping the flag beside it in step.
    fn set_broken(&self, inner: &mut Inner, reason: Option<String>) {
        self.broken.store(reason.is_some(), Ordering::Release);
        inner.broken = reason;
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
        self.wait_durable(ticket.seq, Some(ticket.epoch))
    }

    /// Waits until record `seq` is durable, following a flush in progress or leading one. With
    /// an `epoch`, a record from before a storage failure is judged by its epoch's end.
    fn wait_durable(&self, seq: u64, epoch: Option<u64>) -> Result<(), String> {
        let mut inner = self.lock();
        loop {
            if let Some(epoch) = epoch.filter(|&epoch| epoch != inner.epoch) {
                // A repair ended the ticket's epoch; later records reuse its sequence numbers,
                // so only what was durable when it ended counts. A flush may have made the
                // record durable just before the failure, with its writer not yet awake.
                let ended = usize::try_from(epoch).ok().and_then(|e| inner.ended.get(e));
                return match ended {
                    Some(&last) if seq <= last => Ok(()),
                    _ => Err("the change was lost in an earlier storage failure".to_owned()),
                };
            }
            if inner.durable >= seq {
                return Ok(());
            }
            if let Some(reason) = &inner.broken {
                return Err(reason.clone());
            }
            if !inner.flushing {
                self.flush(inner);
                inner = self.lock();
                continue;
            }
            // In the running flush's batch, or else in the next one (appended after it began).
            let batch = if seq <= inner.flushing_up_to {
                inner.flushes
            } else {
                inner.flushes + 1
            };
            inner = self
                .batch(batch)
                .wait(inner)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    fn batch(&self, flush: u64) -> &Condvar {
        &self.batches[(flush % 2) as usize]
    }

    /// Leads one flush: writes and fsyncs the buffer outside the lock, then wakes the writers
    /// it made durable (every waiter if it failed) and one writer of the next batch to lead it.
    fn flush(&self, mut inner: MutexGuard<'_, Inner>) {
        inner.flushing = true;
        inner.flushes += 1;
        let flush = inner.flushes;
        let batch = std::mem::take(&mut inner.buffer);
        let target = inner.appended;
        inner.flushing_up_to = target;
        let file = inner.file.clone();
        drop(inner);
        let result = self.write_and_sync(&file, &batch);
        let mut inner = self.lock();
        inner.flushing = false;
        match result {
            Ok(()) => {
                inner.durable = target;
                inner.durable_len += batch.len() as u64;
                let next_batch_waits = !inner.buffer.is_empty();
                if !next_batch_waits {
                    // Keep the allocation for the next batch.
                    let mut batch = batch;
                    batch.clear();
                    inner.buffer = batch;
                }
                drop(inner);
                // The next batch's leader first, so its write and fsync start while this
                // batch's writers answer their clients. A writer of that batch that has not
                // begun to wait yet finds no flush running and leads it itself.
                if next_batch_waits {
                    self.batch(flush + 1).notify_one();
                }
                self.batch(flush).notify_all();
            }
            Err(error) => {
                let generation = inner.generation;
                let reason = format!(
                    "cannot write {}: {error}",
                    journal_path(&self.dir, generation).display()
                );
                self.set_broken(&mut inner, Some(reason));
                drop(inner);
                for batch in &self.batches {
                    batch.notify_all();
                }
            }
        }
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
        // Under the store lock nothing is appended meanwhile, so once everything appended so
        // far is durable no flush can be running or start (a flush needs an undurable record).
        let appended = self.lock().appended;
        self.wait_durable(appended, None)?;
        let mut inner = self.lock();
        if let Some(reason) = &inner.broken {
            return Err(reason.clone());
        }
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
        let mut inner = self.lock();
        self.set_broken(&mut inner, Some(reason.to_owned()));
    }

    /// After a failure: cuts the current file back to its durable length and accepts appends
    /// again. The caller must then reload the state from disk, under the store lock.
    ///
    /// # Errors
    /// When the file cannot be cut or synced; the journal stays broken.
    pub(crate) fn repair(&self) -> Result<(), String> {
        let mut inner = self.lock();
        // A flush that breaks the journal ends in the same critical section, and none starts on
        // a broken one; waiting anyway keeps any write in flight from landing past the cut.
        while inner.flushing {
            let flush = inner.flushes;
            inner = self
                .batch(flush)
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
        self.set_broken(&mut inner, None);
        let last = inner.durable;
        inner.ended.push(last);
        inner.epoch += 1;
        Ok(())
    }
}

#[cfg(test)]
#[path = "journal_tests.rs"]
mod tests;
