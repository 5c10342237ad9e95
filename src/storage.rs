//! Where tasks and attachments are kept: the [`Storage`] trait that every handler talks to, and
//! its backends, each its own module:
//! - [`memory`]: everything in the process (the default);
//! - [`durable`]: `--data-dir DIR`, the same in-memory state made to survive a restart or a
//!   `kill -9` by a journal with group commit, snapshots and blob files;
//! - [`postgres`]: `--database-url URL` (CONTRACT §14), every call a short database transaction.
//!
//! `tasks` holds what memory and durable share: the tasks ordered by id, the title index, the
//! counts per `done` × `priority`, the revisions, and the one way they change.
//!
//! # Why this shape
//! The trait is cut so that a database behind it needs no other seam (CONTRACT §14):
//! - **The backend assigns ids** ([`Storage::create`]): on PostgreSQL a counter row updated in
//!   the create's own transaction, here the in-memory counter.
//! - **Every precondition that guards a change is the backend's.** A handler turns `If-Match`,
//!   `If-None-Match` and `If-Unmodified-Since` into a pure [`Guard`] and passes it with the
//!   change; the backend checks it against the row it changes, atomically with the change, and
//!   answers [`StorageError::PreconditionFailed`] if it fails. The memory and durable backends
//!   compute the current tag outside their lock (it may read a whole blob), then make the change
//!   only if the task's revision has not moved, retrying otherwise; PostgreSQL evaluates it in
//!   the changing transaction. A handler may check the same guard earlier, from a read, only to
//!   refuse before reading a body (§11's order); that early check decides nothing.
//! - **Every call returns `Result`**, reads included: a database can fail a read. The errors are
//!   [`StorageError`], mapped to HTTP in one place (`error.rs`).
//! - **Uploads are spooled where the backend says.** The multipart reader sends a file part's
//!   bytes into the backend's [`Spool`] as they arrive (memory here, a file under `DIR/tmp/`
//!   in durable mode, memory then a temporary file on PostgreSQL), and the finished
//!   [`Spooled`] upload goes back to [`Storage::attach`]. It is a push into a backend-made
//!   writer rather than a `Read` handed over, because the `file` part is known to be the one
//!   kept only once the whole body is read (the last `file` part wins, CONTRACT §9), and the
//!   §9 checks (422, 404, 400 type) come after the whole body.
//! - **Downloads go out as a [`BodySource`]** the backend opens: bytes in memory, an open file,
//!   and room for a third kind (chunks fetched on demand from a database). Ranges are offsets
//!   into it; nothing is copied.
//! - **The list is one consistent view** ([`Storage::list`]): the page and its total come from
//!   one lock (one snapshot on a database), and [`ListQuery`] is both what is listed and what
//!   the `Link` is built from.

use std::fmt;

use crate::model::{NewTask, Task, TaskPatch};
pub use crate::validators::{Guard, ListQuery, Verdict};

pub mod durable;
pub mod memory;
#[cfg(feature = "postgres")]
pub(crate) mod postgres;
mod source;
mod spool;
mod tasks;

#[cfg(feature = "test-hooks")]
pub use durable::StorageHooks;
#[cfg_attr(not(feature = "postgres"), allow(unused_imports))] // only PostgreSQL streams chunks
pub use source::{BodySource, ChunkSource};
pub use spool::{Spool, SpoolWriter, Spooled};
pub use tasks::Download;

/// Why a storage call failed. `From<StorageError> for ApiError` (in `error.rs`) is the one
/// place these become HTTP statuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageError {
    /// No task has this id (404 `Task N not found`).
    NotFound {
        /// The id asked for.
        id: u64,
    },
    /// The task exists but has no attachment (404 `Task N has no attachment`).
    NoAttachment {
        /// The task's id.
        id: u64,
    },
    /// Another task already has that title (409).
    TitleTaken,
    /// The change's [`Guard`] failed against the current state; nothing changed (412).
    PreconditionFailed,
    /// The storage cannot be reached right now, e.g. a database that does not answer (503).
    Unavailable(String),
    /// Anything else that went wrong (500); the reason is for the log, never the client.
    Internal(String),
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StorageError::NotFound { id } => write!(f, "task {id} not found"),
            StorageError::NoAttachment { id } => write!(f, "task {id} has no attachment"),
            StorageError::TitleTaken => f.write_str("the title is taken"),
            StorageError::PreconditionFailed => f.write_str("a precondition failed"),
            StorageError::Unavailable(reason) => write!(f, "storage unavailable: {reason}"),
            StorageError::Internal(reason) => f.write_str(reason),
        }
    }
}

impl std::error::Error for StorageError {}

/// A list page and the number of matches before `skip` and `limit`, from one consistent view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListPage {
    /// The page.
    pub tasks: Vec<Task>,
    /// Matches before `skip` and `limit`: `X-Total-Count`, and what `Link` is built from.
    pub total: u64,
}

/// What an upload made: the task (the 200's body) and the attachment's new strong tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachedTask {
    /// The task with its new attachment.
    pub task: Task,
    /// The attachment's tag ([`crate::validators::EntityTag::for_attachment`]).
    pub etag: crate::validators::EntityTag,
}

/// A received upload, ready for [`Storage::attach`].
#[derive(Debug)]
pub struct Upload {
    /// The filename after CONTRACT §9's decoding and path stripping.
    pub filename: String,
    /// The part's `Content-Type` exactly as sent, `None` when the part had none.
    pub content_type: Option<String>,
    /// The bytes, where the backend's [`Spool`] put them.
    pub data: Spooled,
    /// The digest of the bytes, computed as they arrived (the `ETag`'s root).
    pub digest: crate::validators::Digest,
}

/// Where tasks and attachments are kept. Every handler talks to this and nothing else; see the
/// module doc for why it is cut this way. Object safe: the server holds a `Box<dyn Storage>`.
pub trait Storage: Send + Sync + fmt::Debug {
    /// Creates a task with the next id (1, 2, 3, … never reused; a refused create consumes
    /// none) and returns it.
    ///
    /// # Errors
    /// `TitleTaken`; `Unavailable`, `Internal`.
    fn create(&self, new: NewTask) -> Result<Task, StorageError>;

    /// The task with this id.
    ///
    /// # Errors
    /// `NotFound`; `Unavailable`, `Internal`.
    fn task(&self, id: u64) -> Result<Task, StorageError>;

    /// Whether a task with this id exists.
    ///
    /// # Errors
    /// `Unavailable`, `Internal`.
    fn contains(&self, id: u64) -> Result<bool, StorageError>;

    /// A page of tasks in id order (filtered, then skipped, then limited) and the number of
    /// matches before `skip` and `limit`, from one consistent view.
    ///
    /// # Errors
    /// `Unavailable`, `Internal`.
    fn list(&self, query: &ListQuery) -> Result<ListPage, StorageError>;

    /// Applies a validated patch if `guard` holds for the task's current tag, and returns the
    /// whole task.
    ///
    /// # Errors
    /// `NotFound` (whatever the guard says), `PreconditionFailed`, `TitleTaken`; `Unavailable`,
    /// `Internal`.
    fn update(&self, id: u64, patch: TaskPatch, guard: &Guard) -> Result<Task, StorageError>;

    /// Deletes a task with its attachment if `guard` holds for the task's current tag; its
    /// title becomes free, its id is never given again.
    ///
    /// # Errors
    /// `NotFound`, `PreconditionFailed`; `Unavailable`, `Internal`.
    fn delete(&self, id: u64, guard: &Guard) -> Result<(), StorageError>;

    /// The task's attachment, ready to send: its details, validators and bytes.
    ///
    /// # Errors
    /// `NotFound`, `NoAttachment`; `Unavailable`, `Internal`.
    fn attachment(&self, id: u64) -> Result<Download, StorageError>;

    /// Where an upload's bytes go while they arrive.
    fn spool(&self) -> &dyn Spool;

    /// Sets (or replaces) the task's attachment, stamped with the time now, if `guard` holds
    /// for the current attachment's tag and `Last-Modified` (none when the task has no
    /// attachment: `If-None-Match: *` holds, `If-Match` fails). Returns the task and the new
    /// attachment's tag.
    ///
    /// # Errors
    /// `NotFound`, `PreconditionFailed`; `Unavailable`, `Internal`. The upload is discarded then.
    fn attach(&self, id: u64, upload: Upload, guard: &Guard) -> Result<AttachedTask, StorageError>;

    /// Removes the task's attachment if `guard` holds for its tag and `Last-Modified`.
    ///
    /// # Errors
    /// `NotFound`, `NoAttachment` (whatever the guard says), `PreconditionFailed`;
    /// `Unavailable`, `Internal`.
    fn detach(&self, id: u64, guard: &Guard) -> Result<(), StorageError>;

    /// Whether the storage can serve requests now, for `GET /healthz` (CONTRACT §10, §14):
    /// always in memory and on disk; on PostgreSQL, whether the database answers.
    fn is_healthy(&self) -> bool {
        true
    }

    /// Test hook for `Config::fault_injection`: panics while holding the backend's lock, to show
    /// that the backend stays usable afterwards.
    #[cfg(feature = "test-hooks")]
    #[doc(hidden)]
    fn panic_while_locked(&self);
}
