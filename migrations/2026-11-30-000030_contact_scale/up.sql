-- Contacts at the size of real address books (issue 15).
--
-- 1. Each user's number of contacts, kept by statement-level triggers in the same statement
--    (and so the same transaction) as every insert and delete, whichever way rows come and go:
--    REST, vCard import batches, CardDAV, an address book or an account deleted with cascade.
--    The unfiltered list reads its exact `X-Total-Count` from here instead of counting the book.
CREATE TABLE contact_counts (
    user_id BIGINT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    n       BIGINT NOT NULL CHECK (n >= 0)
);

INSERT INTO contact_counts (user_id, n) SELECT user_id, count(*) FROM contacts GROUP BY user_id;

CREATE FUNCTION contact_counts_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO contact_counts AS c (user_id, n)
        SELECT user_id, count(*) FROM inserted GROUP BY user_id ORDER BY user_id
        ON CONFLICT (user_id) DO UPDATE SET n = c.n + EXCLUDED.n;
    RETURN NULL;
END
$$;

CREATE FUNCTION contact_counts_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- The user's row is already gone when the account itself is being deleted: nothing to do.
    UPDATE contact_counts c SET n = c.n - d.n
        FROM (SELECT user_id, count(*) AS n FROM deleted GROUP BY user_id) d
        WHERE c.user_id = d.user_id;
    RETURN NULL;
END
$$;

CREATE TRIGGER contacts_count_insert AFTER INSERT ON contacts
    REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION contact_counts_inserted();
CREATE TRIGGER contacts_count_delete AFTER DELETE ON contacts
    REFERENCING OLD TABLE AS deleted FOR EACH STATEMENT EXECUTE FUNCTION contact_counts_deleted();

-- 2. Substring search: trigram indexes serve `ILIKE '%x%'` (with `\`-escaped `%` and `_`) on
--    each searchable column; `q` (an OR of the three) becomes a BitmapOr of them.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX contacts_first_name_trgm_idx ON contacts USING gin (first_name gin_trgm_ops);
CREATE INDEX contacts_last_name_trgm_idx ON contacts USING gin (last_name gin_trgm_ops);
CREATE INDEX contacts_email_trgm_idx ON contacts USING gin (email gin_trgm_ops);
