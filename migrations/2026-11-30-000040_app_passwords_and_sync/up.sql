-- CardDAV (issue 13): app passwords for sign-in, and a per-book change log for sync.

-- App passwords: random secrets kept only as their SHA-256 fingerprint (hex), so a leaked table
-- gives nothing to sign in with; checked without bcrypt, as every request of a sync carries one.
CREATE TABLE app_passwords (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id      BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT        NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
    fingerprint  TEXT        NOT NULL CONSTRAINT app_passwords_fingerprint_key UNIQUE,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_used_at TIMESTAMPTZ
);
CREATE INDEX app_passwords_user_idx ON app_passwords (user_id, id);

-- A password change (the reset) revokes every app password, in the same statement as the
-- change wherever it is made.
CREATE FUNCTION revoke_app_passwords() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM app_passwords WHERE user_id = NEW.id;
    RETURN NEW;
END
$$;

CREATE TRIGGER users_password_revokes_app_passwords AFTER UPDATE OF password_hash ON users
    FOR EACH ROW WHEN (OLD.password_hash IS DISTINCT FROM NEW.password_hash)
    EXECUTE FUNCTION revoke_app_passwords();

-- The change log. Each book counts its changes (`sync_seq`, the CardDAV sync token and ctag);
-- every change of a card writes the book's next number into `card_changes` under the card's
-- name, replacing that name's earlier entry (only the latest state of a card matters to a
-- client). Triggers keep it, so REST, import and CardDAV writes cannot forget it. Deletions
-- stay as tombstones (`deleted`); `sync_floor` is the oldest token still answerable (tombstones
-- older than it may be purged).
ALTER TABLE address_books
    ADD COLUMN sync_seq   BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN sync_floor BIGINT NOT NULL DEFAULT 0;

CREATE TABLE card_changes (
    book_id BIGINT  NOT NULL REFERENCES address_books (id) ON DELETE CASCADE,
    href    TEXT    NOT NULL,
    seq     BIGINT  NOT NULL,
    deleted BOOLEAN NOT NULL,
    PRIMARY KEY (book_id, href)
);
CREATE INDEX card_changes_book_seq_idx ON card_changes (book_id, seq);

CREATE FUNCTION log_card_change(book BIGINT, name TEXT, gone BOOLEAN) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    next BIGINT;
BEGIN
    -- The row lock on the book orders concurrent writers: numbers are given in commit order
    -- per book, so a client never misses a change made by a transaction that committed later
    -- with a smaller number.
    UPDATE address_books SET sync_seq = sync_seq + 1 WHERE id = book RETURNING sync_seq INTO next;
    IF NOT FOUND THEN
        RETURN; -- the book itself is being deleted
    END IF;
    INSERT INTO card_changes (book_id, href, seq, deleted) VALUES (book, name, next, gone)
        ON CONFLICT (book_id, href) DO UPDATE SET seq = EXCLUDED.seq, deleted = EXCLUDED.deleted;
END
$$;

CREATE FUNCTION contacts_change_log() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM log_card_change(NEW.book_id, NEW.href, FALSE);
    ELSIF TG_OP = 'UPDATE' THEN
        IF OLD.book_id <> NEW.book_id OR OLD.href <> NEW.href THEN
            PERFORM log_card_change(OLD.book_id, OLD.href, TRUE);
        END IF;
        PERFORM log_card_change(NEW.book_id, NEW.href, FALSE);
    ELSE
        PERFORM log_card_change(OLD.book_id, OLD.href, TRUE);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER contacts_change_log AFTER INSERT OR UPDATE OR DELETE ON contacts
    FOR EACH ROW EXECUTE FUNCTION contacts_change_log();

-- Cards that exist already count as one change each.
INSERT INTO card_changes (book_id, href, seq, deleted)
SELECT book_id, href, row_number() OVER (PARTITION BY book_id ORDER BY id), FALSE FROM contacts;
UPDATE address_books b SET sync_seq = coalesce((SELECT max(seq) FROM card_changes c WHERE c.book_id = b.id), 0);

