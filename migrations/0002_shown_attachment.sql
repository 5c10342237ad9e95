-- taskd's schema, version 2: what a task shows of its attachment (name and size, CONTRACT §9)
-- is kept on the task's own row, so a read of one task or of a list page touches one table.
-- With the join of version 1, PostgreSQL locked and set up the attachments table and its index
-- for every read, even of a task with no attachment: under pgbench, a primary-key read of
-- `taskd.tasks` alone ran 33,129 statements/s against 27,537 for the join (docs/performance.md).
--
-- A trigger, not the writers, keeps the copy: any INSERT or any UPDATE that sets attachment_id
-- (from this taskd, from an older instance still running during a rolling upgrade, from
-- `taskd import`) fills both columns from the version it points at, in the same statement.
-- Versions are immutable, so the copy cannot go stale.
ALTER TABLE taskd.tasks
    ADD COLUMN attachment_filename bytea  NULL,
    ADD COLUMN attachment_size     bigint NULL;

CREATE FUNCTION taskd.show_attachment() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- No row (attachment_id NULL) sets both to NULL.
    SELECT a.filename, a.size INTO NEW.attachment_filename, NEW.attachment_size
        FROM taskd.attachments a WHERE a.id = NEW.attachment_id;
    RETURN NEW;
END
$$;

-- A create (no attachment) does not call the function at all.
CREATE TRIGGER tasks_show_new_attachment BEFORE INSERT ON taskd.tasks
    FOR EACH ROW WHEN (NEW.attachment_id IS NOT NULL) EXECUTE FUNCTION taskd.show_attachment();
CREATE TRIGGER tasks_show_changed_attachment BEFORE UPDATE OF attachment_id ON taskd.tasks
    FOR EACH ROW EXECUTE FUNCTION taskd.show_attachment();

UPDATE taskd.tasks t SET attachment_filename = a.filename, attachment_size = a.size
    FROM taskd.attachments a WHERE a.id = t.attachment_id;

ALTER TABLE taskd.tasks ADD CONSTRAINT tasks_shown_attachment CHECK (
    (attachment_id IS NULL) = (attachment_filename IS NULL)
    AND (attachment_id IS NULL) = (attachment_size IS NULL));
