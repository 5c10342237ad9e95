//! `taskd backup`: a consistent copy of a data directory that a taskd may be running on, which
//! a fresh taskd starts from.
//!
//! It never takes `DIR/lock` (the running server holds it) and never writes to `DIR`. It relies
//! on three facts of the layout (see `mod.rs`):
//! - **The chain only grows at its end.** A journal is appended to in whole frames and a change
//!   is answered only once its frame is durable, so a prefix of the newest journal that ends at
//!   a complete frame (`frame` tells torn from complete) is a state the server passed through,
//!   and it holds every change answered before the copy began.
//! - **Compaction never changes a file in place.** It starts `journal.<g+1>` (the older journal
//!   is complete from then on), renames a finished `snapshot.<g+1>` in, then deletes older
//!   files. Every file of the chain is opened first: an open file stays readable after it is
//!   deleted, so the files opened are a chain as it stood. A file deleted before it could be
//!   opened means a compaction won the race: the attempt starts again from the listing.
//! - **Blobs are immutable and go in before any record names them.** The copied records are
//!   replayed to learn which blobs the copied state needs; each is hard-linked (or copied when
//!   `DEST` is on another file system: opened first, copied after, so a later removal cannot
//!   take it away mid-copy). A blob already removed before its link or open (a later change
//!   replaced or deleted it) means the copy is older than the server: the attempt starts again.
//!
//! `DEST` is assembled in a temporary directory beside it, made durable, and renamed into place,
//! so it is either absent or whole.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::Duration;

use super::frame::{Damage, Reader};
use super::journal::journal_path;
use super::record::Record;
use super::recovery::{generations, snapshot_path};
use super::sync_dir;
use crate::storage::tasks::state::State;

/// How many times the copy starts again when a compaction or a blob removal overtook it.
const ATTEMPTS: u32 = 50;

/// What a backup copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Tasks in the copied state.
    pub tasks: usize,
    /// Attachment files in it.
    pub blobs: usize,
    /// Of those, how many were hard links to `DIR`'s (the rest were copied).
    pub linked: usize,
    /// Bytes of snapshot and journal copied.
    pub chain_bytes: u64,
    /// The generation of the chain copied.
    pub generation: u64,
    /// Attempts it took (more than 1 when the running server compacted or removed a blob).
    pub attempts: u32,
}

/// Why one attempt did not make a copy.
enum Failure {
    /// The server moved on under the copy (compaction, a removed blob): try again.
    Overtaken(String),
    /// Anything else: give up.
    Fatal(io::Error),
}

impl From<io::Error> for Failure {
    fn from(error: io::Error) -> Failure {
        Failure::Fatal(error)
    }
}

/// A file that vanished between the listing and its opening was removed by a compaction.
fn open_or_overtaken(path: &Path) -> Result<File, Failure> {
    File::open(path).map_err(|error| match error.kind() {
        io::ErrorKind::NotFound => Failure::Overtaken(format!("{} was removed", path.display())),
        _ => Failure::Fatal(with_path(path, error)),
    })
}

fn with_path(path: &Path, error: io::Error) -> io::Error {
    io::Error::new(error.kind(), format!("{}: {error}", path.display()))
}

/// Copies `dir` to `dest` (which must not exist, or be an empty directory).
///
/// # Errors
/// `dir` is not a taskd data directory or cannot be read; `dest` exists and is not empty, or
/// cannot be written; the server kept overtaking the copy `ATTEMPTS` times.
pub fn backup(dir: &Path, dest: &Path) -> io::Result<Summary> {
    let (snapshots, journals) = generations(dir).map_err(|error| {
        io::Error::new(
            error.kind(),
            format!("cannot read --data-dir {}: {error}", dir.display()),
        )
    })?;
    if snapshots.is_empty() && journals.is_empty() {
        return Err(io::Error::other(format!(
            "{} is not a taskd data directory (no journal in it)",
            dir.display()
        )));
    }
    if let Ok(mut entries) = fs::read_dir(dest) {
        if entries.next().is_some() {
            return Err(io::Error::other(format!(
                "{} exists and is not empty; give a new directory",
                dest.display()
            )));
        }
    } else if dest.exists() {
        return Err(io::Error::other(format!(
            "{} exists and is not a directory",
            dest.display()
        )));
    }
    let temp = temp_beside(dest)?;
    let mut last_reason = String::new();
    for attempt in 1..=ATTEMPTS {
        if temp.exists() {
            fs::remove_dir_all(&temp)?;
        }
        match copy_once(dir, &temp, attempt) {
            Ok(mut summary) => {
                summary.attempts = attempt;
                fs::rename(&temp, dest).map_err(|error| {
                    let _ = fs::remove_dir_all(&temp);
                    with_path(dest, error)
                })?;
                sync_dir(parent_of(dest))?;
                return Ok(summary);
            }
            Err(Failure::Overtaken(reason)) => {
                last_reason = reason;
                thread::sleep(Duration::from_millis(u64::from(attempt) * 5));
            }
            Err(Failure::Fatal(error)) => {
                let _ = fs::remove_dir_all(&temp);
                return Err(error);
            }
        }
    }
    let _ = fs::remove_dir_all(&temp);
    Err(io::Error::other(format!(
        "the running server changed {} faster than it could be copied ({ATTEMPTS} attempts; \
         last: {last_reason})",
        dir.display()
    )))
}

fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// `.<name>.backup-<pid>` in `dest`'s parent, so the final rename stays on one file system.
fn temp_beside(dest: &Path) -> io::Result<PathBuf> {
    let name = dest
        .file_name()
        .ok_or_else(|| io::Error::other(format!("--to {} names no directory", dest.display())))?;
    let name = format!(".{}.backup-{}", name.to_string_lossy(), std::process::id());
    Ok(parent_of(dest).join(name))
}

/// One attempt: list, open, copy and replay the chain, then bring in the blobs it names.
fn copy_once(dir: &Path, temp: &Path, attempt: u32) -> Result<Summary, Failure> {
    fs::create_dir(temp).map_err(|error| with_path(temp, error))?;
    for sub in ["blobs", "tmp"] {
        fs::create_dir(temp.join(sub))?;
    }
    // The blobs first, then the chain: a blob the chain names was either here already (and is
    // now held) or written while the chain was read (few, fetched after it).
    let grabbed = grab_blobs(dir, temp)?;
    let (snapshots, journals) = generations(dir)?;
    let base = snapshots.last().copied().unwrap_or(0);
    let chain: Vec<u64> = journals.into_iter().filter(|&g| g >= base).collect();
    let contiguous = chain.iter().enumerate().all(|(i, &g)| g == base + i as u64);
    if chain.is_empty() || !contiguous {
        return Err(Failure::Overtaken(format!(
            "the chain from generation {base} was incomplete when listed"
        )));
    }
    // Open everything before reading anything: these files are then one chain as it stood.
    let snapshot = match snapshots.last() {
        Some(&g) => Some((g, open_or_overtaken(&snapshot_path(dir, g))?)),
        None => None,
    };
    let mut opened = Vec::with_capacity(chain.len());
    for &g in &chain {
        opened.push((g, open_or_overtaken(&journal_path(dir, g))?));
    }
    test_pause(attempt);
    let mut state = State::default();
    let mut chain_bytes = 0;
    if let Some((g, file)) = snapshot {
        chain_bytes += copy_records(file, &snapshot_path(temp, g), false, &mut state)?;
    }
    let newest = chain[chain.len() - 1];
    for (g, file) in opened {
        chain_bytes += copy_records(file, &journal_path(temp, g), g == newest, &mut state)?;
    }
    test_pause(attempt);
    let (blobs, linked) = bring_blobs(dir, temp, &state, grabbed)?;
    for sub in ["blobs", "tmp"] {
        sync_dir(&temp.join(sub))?;
    }
    sync_dir(temp)?;
    Ok(Summary {
        tasks: state.tasks.len(),
        blobs,
        linked,
        chain_bytes,
        generation: newest,
        attempts: 0,
    })
}

/// The `test-hooks` feature's way to let a compaction and blob removals overtake the first
/// attempt: it sleeps `TASKD_BACKUP_TEST_PAUSE_MS` after opening the chain (a compaction then
/// deletes files already open) and after copying it (a replace then removes a blob it names).
#[cfg(feature = "test-hooks")]
fn test_pause(attempt: u32) {
    let pause = std::env::var("TASKD_BACKUP_TEST_PAUSE_MS").ok();
    if let Some(millis) = pause.and_then(|millis| millis.parse().ok()) {
        if attempt == 1 {
            thread::sleep(Duration::from_millis(millis));
        }
    }
}

#[cfg(not(feature = "test-hooks"))]
fn test_pause(_attempt: u32) {}

/// Replays `file`'s complete records into `state` and copies exactly those bytes to `to`
/// (fsynced). Only the newest journal may end in a torn record (an append in progress): the
/// copy stops before it.
fn copy_records(
    mut file: File,
    to: &Path,
    newest: bool,
    state: &mut State,
) -> Result<u64, Failure> {
    // The length now: the server may append after it, and the copy ignores what it appends.
    let len = file.metadata()?.len();
    let mut reader = Reader::new(BufReader::with_capacity(256 * 1024, &file), len);
    let valid = loop {
        let offset = reader.offset();
        match reader.next_record()? {
            Ok(Some(payload)) => {
                let applied = Record::from_json(payload)
                    .and_then(|record| super::changes::replay(state, record));
                if let Err(reason) = applied {
                    return Err(Failure::Fatal(io::Error::other(format!(
                        "{}: bad record at byte offset {offset}: {reason}",
                        to.display()
                    ))));
                }
            }
            Ok(None) => break len,
            Err(Damage::Torn { offset, .. }) if newest => break offset,
            Err(Damage::Torn { offset, reason } | Damage::Corrupt { offset, reason }) => {
                // A complete file that does not check out is damage the server would refuse
                // too; within a journal still written to it may be an append in flight.
                let why = format!("record at byte offset {offset}: {reason}");
                return Err(if newest {
                    Failure::Overtaken(why)
                } else {
                    Failure::Fatal(io::Error::other(why))
                });
            }
        }
    };
    drop(reader);
    file.seek(SeekFrom::Start(0))?;
    let mut out = File::create(to)?;
    let copied = io::copy(&mut (&mut file).take(valid), &mut out)?;
    if copied != valid {
        return Err(Failure::Overtaken(format!("{} shrank", to.display())));
    }
    out.flush()?;
    out.sync_all()?;
    Ok(valid)
}

/// A blob held before the chain was read: linked into the copy, or open to be copied.
enum Held {
    Linked,
    Open(File),
}

/// Links (or, across file systems, opens) every blob in `DIR/blobs/` as the attempt starts.
/// Blobs are immutable and an open file stays readable after a later change removes it, so
/// what is held here cannot be taken away while the chain is read and replayed. A blob gone
/// before it could be held was removed by a change the chain will show.
fn grab_blobs(dir: &Path, temp: &Path) -> Result<HashMap<String, Held>, Failure> {
    let mut held = HashMap::new();
    for entry in fs::read_dir(dir.join("blobs"))? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        let from = dir.join("blobs").join(&name);
        match hold(&from, &temp.join("blobs").join(&name)) {
            Ok(blob) => {
                held.insert(name, blob);
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(error) => return Err(Failure::Fatal(with_path(&from, error))),
        }
    }
    Ok(held)
}

/// Hard-links `from` to `to`, or opens it when a link is not possible (another file system).
fn hold(from: &Path, to: &Path) -> io::Result<Held> {
    match fs::hard_link(from, to) {
        Ok(()) => Ok(Held::Linked),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Err(error),
        // Another file system (EXDEV) or no links allowed: copy the bytes instead.
        Err(_) => File::open(from).map(Held::Open),
    }
}

/// Puts every blob the copied state names into `temp/blobs/` and checks its size: those
/// held at the start, then the few written since (a removal among those means a later change
/// overtook the copy: the attempt starts again). Held blobs the state does not name are let
/// go. Returns how many, and how many were linked.
fn bring_blobs(
    dir: &Path,
    temp: &Path,
    state: &State,
    mut held: HashMap<String, Held>,
) -> Result<(usize, usize), Failure> {
    let blobs = state.blobs();
    let mut linked = 0;
    for (name, &size) in &blobs {
        let from = dir.join("blobs").join(name);
        let to = temp.join("blobs").join(name);
        let blob = match held.remove(name) {
            Some(blob) => blob,
            None => hold(&from, &to).map_err(|error| match error.kind() {
                io::ErrorKind::NotFound => {
                    Failure::Overtaken(format!("blob {name} was removed by a later change"))
                }
                _ => Failure::Fatal(with_path(&from, error)),
            })?,
        };
        match blob {
            Held::Linked => linked += 1,
            Held::Open(mut source) => {
                let copied = File::create(&to).and_then(|mut out| {
                    io::copy(&mut source, &mut out)?;
                    out.sync_all()
                });
                copied.map_err(|error| Failure::Fatal(with_path(&from, error)))?;
            }
        }
        check_size(&from, &to, size)?;
    }
    for (name, blob) in held {
        if let Held::Linked = blob {
            fs::remove_file(temp.join("blobs").join(name))?;
        }
    }
    Ok((blobs.len(), linked))
}

/// The copy has the length the journal recorded for the blob.
fn check_size(from: &Path, to: &Path, size: u64) -> Result<(), Failure> {
    let found = fs::metadata(to)?.len();
    if found != size {
        return Err(Failure::Fatal(io::Error::other(format!(
            "{}: {found} bytes, but the journal says {size}",
            from.display()
        ))));
    }
    Ok(())
}
