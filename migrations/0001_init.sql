-- taskd's schema, version 1 (CONTRACT §14). Applied by src/pg/schema.rs inside one transaction
-- under the advisory lock, after `CREATE SCHEMA IF NOT EXISTS taskd` and the version table.
-- Everything is schema-qualified: nothing of taskd's ever lands in `public`.

-- The next id to give: one row, updated in each create's own transaction, so a failed create,
-- a crash or a restart consumes no id (a sequence would leave gaps; CONTRACT §3). It serialises
-- creates on this row's lock until commit: the measured cost goes in the README.
CREATE TABLE taskd.id_counter (
    one     boolean PRIMARY KEY DEFAULT true CHECK (one),
    next_id bigint  NOT NULL CHECK (next_id >= 1)
);
INSERT INTO taskd.id_counter (next_id) VALUES (1);

-- One immutable attachment version: its bytes are in attachment_chunks. A task points at its
-- current version; a replaced or deleted one is `retired_at` and removed ten minutes later
-- (CONTRACT §14), so a download already reading it finishes or is cut short, never mixed.
-- No foreign key to tasks: a retired version outlives its task for that grace period.
CREATE TABLE taskd.attachments (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, -- gaps are fine: never shown
    task_id      bigint      NOT NULL,
    filename     bytea       NOT NULL, -- byte-exact: §9's filename* can decode to NUL
    content_type bytea       NOT NULL, -- the part's Content-Type as sent
    size         bigint      NOT NULL CHECK (size >= 0),
    chunk_size   integer     NOT NULL CHECK (chunk_size > 0),
    digest       bytea       NOT NULL, -- §11's digest of the bytes, behind the ETag
    stored_at    timestamptz NOT NULL, -- Last-Modified
    retired_at   timestamptz NULL
);
CREATE INDEX attachments_retired ON taskd.attachments (retired_at) WHERE retired_at IS NOT NULL;

-- Chunk `seq` holds bytes [seq * chunk_size, (seq + 1) * chunk_size) of its version, so a range
-- reads only the chunks it overlaps, each in a short statement of its own.
CREATE TABLE taskd.attachment_chunks (
    attachment_id bigint  NOT NULL REFERENCES taskd.attachments (id) ON DELETE CASCADE,
    seq           integer NOT NULL CHECK (seq >= 0),
    bytes         bytea   NOT NULL,
    PRIMARY KEY (attachment_id, seq)
);
-- Stored out of line and uncompressed: uploads are mostly compressed already (PNG, JPEG), and
-- an uncompressed TOAST value can be read without decompressing it whole.
ALTER TABLE taskd.attachment_chunks ALTER COLUMN bytes SET STORAGE EXTERNAL;

CREATE TABLE taskd.tasks (
    id            bigint  PRIMARY KEY CHECK (id >= 1),
    -- bytea, not text: §5 allows NUL in a title, which text cannot hold. Unique on the exact
    -- bytes (no collation, no normalisation): two instances creating one title at once get one
    -- 201 and one 409 from this index.
    title         bytea   NOT NULL CONSTRAINT tasks_title_key UNIQUE,
    priority      text    NOT NULL CHECK (priority IN ('low', 'medium', 'high')),
    done          boolean NOT NULL,
    -- Bumped by every change to the row: the row's version for preconditions checked in the
    -- changing transaction (CONTRACT §11, §14).
    revision      bigint  NOT NULL DEFAULT 1,
    attachment_id bigint  NULL UNIQUE REFERENCES taskd.attachments (id)
);

-- Tasks per done × priority, changed in the same transaction as the tasks: X-Total-Count of a
-- filtered list in O(1), as the memory store keeps it.
CREATE TABLE taskd.task_counts (
    done     boolean NOT NULL,
    priority text    NOT NULL CHECK (priority IN ('low', 'medium', 'high')),
    tasks    bigint  NOT NULL DEFAULT 0 CHECK (tasks >= 0),
    PRIMARY KEY (done, priority)
);
INSERT INTO taskd.task_counts (done, priority)
    SELECT d, p FROM (VALUES (false), (true)) AS ds (d), (VALUES ('low'), ('medium'), ('high')) AS ps (p);
