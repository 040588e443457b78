-- CardDAV sync (issue 13): tombstones of deleted cards are purged once they are older than the
-- retention period, and the book's `sync_floor` is raised past them, so a token older than the
-- floor answers `valid-sync-token` (the client starts over) instead of missing a deletion.

-- When each entry was last written. Entries that exist already count from now.
ALTER TABLE card_changes ADD COLUMN changed_at TIMESTAMPTZ NOT NULL DEFAULT now();

-- The purge looks for old tombstones across all books.
CREATE INDEX card_changes_tombstones_idx ON card_changes (changed_at) WHERE deleted;

CREATE OR REPLACE FUNCTION log_card_change(book BIGINT, name TEXT, gone BOOLEAN) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    next BIGINT;
BEGIN
    -- The row lock on the book orders concurrent writers: numbers are given in commit order
    -- per book, so a client never misses a change made by a transaction that committed later
    -- with a smaller number. The purge takes the same lock before it touches a book's entries.
    UPDATE address_books SET sync_seq = sync_seq + 1 WHERE id = book RETURNING sync_seq INTO next;
    IF NOT FOUND THEN
        RETURN; -- the book itself is being deleted
    END IF;
    INSERT INTO card_changes (book_id, href, seq, deleted, changed_at) VALUES (book, name, next, gone, now())
        ON CONFLICT (book_id, href)
        DO UPDATE SET seq = EXCLUDED.seq, deleted = EXCLUDED.deleted, changed_at = EXCLUDED.changed_at;
END
$$;
