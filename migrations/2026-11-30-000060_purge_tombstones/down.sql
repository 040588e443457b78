CREATE OR REPLACE FUNCTION log_card_change(book BIGINT, name TEXT, gone BOOLEAN) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    next BIGINT;
BEGIN
    UPDATE address_books SET sync_seq = sync_seq + 1 WHERE id = book RETURNING sync_seq INTO next;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    INSERT INTO card_changes (book_id, href, seq, deleted) VALUES (book, name, next, gone)
        ON CONFLICT (book_id, href) DO UPDATE SET seq = EXCLUDED.seq, deleted = EXCLUDED.deleted;
END
$$;

DROP INDEX card_changes_tombstones_idx;
ALTER TABLE card_changes DROP COLUMN changed_at;
