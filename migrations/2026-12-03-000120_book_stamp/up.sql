-- List pages answered from a copy that PostgreSQL validates (issue 15).
--
-- A page of the whole book is the same answer until one of the owner's contacts is inserted,
-- deleted or changed. Each instance keeps the JSON of recent pages, and asks PostgreSQL at every
-- request whether the owner's *book stamp* is still the one the copy was made at:
-- `contact_counts.version + contact_counts.change_version`. The rows are read (with the stamp,
-- in the same snapshot) only when it is not, so a change made by any instance is seen on the
-- very next request.
--
-- `version` already counts the owner's inserting and deleting statements (migration 000070);
-- `change_version` counts their updating statements, any column: a statement-level trigger, so
-- an import batch that replaces a thousand cards bumps it once per owner, not a thousand times.
-- Both only grow, under the row's lock, so the stamp changes with every change and never comes
-- back to an earlier value. Statement-level triggers fire after the row-level ones, so this lock
-- is taken after the book's (`contacts_change_log`), as the other count triggers take it.
ALTER TABLE contact_counts ADD COLUMN change_version BIGINT NOT NULL DEFAULT 0;

CREATE FUNCTION contact_counts_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE contact_counts c SET change_version = c.change_version + 1
     WHERE c.user_id IN (SELECT user_id FROM changed_from UNION SELECT user_id FROM changed_to);
    RETURN NULL;
END
$$;

CREATE TRIGGER contacts_count_update AFTER UPDATE ON contacts
    REFERENCING OLD TABLE AS changed_from NEW TABLE AS changed_to
    FOR EACH STATEMENT EXECUTE FUNCTION contact_counts_updated();
