-- Deep pages of big books (issue 15): `?skip=45000` walked 45,000 index entries on every request.
--
-- Each user's contacts are listed in id order, and only an insert or a delete moves a contact to
-- another position. So:
-- 1. `contact_counts.version` counts the owner's inserting and deleting statements; the
--    count triggers bump it in the same statement (and so the same transaction) as `n`.
-- 2. `contact_page_marks` holds, for one version, the id at every 1,000th position of the book
--    (`marks[k]` is the id at position k × 1,000, counting from 0). While the version is
--    current, a page at `skip` starts at the mark below it and steps over fewer than 1,000
--    entries; once it is not, the page walks from the start as before (never a wrong answer,
--    only a slower one) and the adapter computes the marks again.

ALTER TABLE contact_counts ADD COLUMN version BIGINT NOT NULL DEFAULT 0;

CREATE OR REPLACE FUNCTION contact_counts_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO contact_counts AS c (user_id, n)
        SELECT user_id, count(*) FROM inserted GROUP BY user_id ORDER BY user_id
        ON CONFLICT (user_id) DO UPDATE SET n = c.n + EXCLUDED.n, version = c.version + 1;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION contact_counts_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- The user's row is already gone when the account itself is being deleted: nothing to do.
    UPDATE contact_counts c SET n = c.n - d.n, version = c.version + 1
        FROM (SELECT user_id, count(*) AS n FROM deleted GROUP BY user_id) d
        WHERE c.user_id = d.user_id;
    RETURN NULL;
END
$$;

CREATE TABLE contact_page_marks (
    user_id BIGINT   PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    version BIGINT   NOT NULL,
    marks   BIGINT[] NOT NULL
);

-- The ids of the owner's page (`lim` contacts after `skip`), in id order. STABLE: it reads the
-- marks, the version and the contacts in the snapshot of the statement calling it, so the page
-- agrees with whatever else that statement reads (the stored total).
CREATE FUNCTION contact_page_ids(owner BIGINT, skip BIGINT, lim BIGINT) RETURNS SETOF BIGINT
LANGUAGE plpgsql STABLE AS $$
DECLARE
    mark BIGINT;
BEGIN
    IF skip >= 1000 THEN
        SELECT m.marks[skip / 1000] INTO mark
            FROM contact_page_marks m
            JOIN contact_counts c ON c.user_id = m.user_id AND c.version = m.version
            WHERE m.user_id = owner;
    END IF;
    IF mark IS NULL THEN
        -- No current marks, or a page before the first mark or past the last one.
        RETURN QUERY SELECT id FROM contacts WHERE user_id = owner ORDER BY id OFFSET skip LIMIT lim;
    ELSE
        RETURN QUERY SELECT id FROM contacts WHERE user_id = owner AND id >= mark
            ORDER BY id OFFSET skip % 1000 LIMIT lim;
    END IF;
END
$$;

-- Whether the owner's marks are missing or of another version than the book's.
CREATE FUNCTION contact_page_marks_stale(owner BIGINT) RETURNS BOOLEAN LANGUAGE sql STABLE AS $$
    SELECT NOT EXISTS (
        SELECT 1 FROM contact_page_marks m
        JOIN contact_counts c ON c.user_id = m.user_id AND c.version = m.version
        WHERE m.user_id = owner
    )
$$;

-- Computes the owner's marks in one statement, so they and their version come from one
-- snapshot, and returns how many it stored. A slower concurrent computation of an older version
-- never replaces a newer one (it stores nothing and returns NULL).
CREATE FUNCTION refresh_contact_page_marks(owner BIGINT) RETURNS INTEGER LANGUAGE sql AS $$
    INSERT INTO contact_page_marks AS m (user_id, version, marks)
    SELECT c.user_id, c.version, ARRAY(
        SELECT id FROM (
            SELECT id, row_number() OVER (ORDER BY id) - 1 AS position
            FROM contacts WHERE user_id = owner
        ) p
        WHERE position % 1000 = 0 AND position > 0
        ORDER BY id
    )
    FROM contact_counts c WHERE c.user_id = owner
    ON CONFLICT (user_id) DO UPDATE SET version = EXCLUDED.version, marks = EXCLUDED.marks
        WHERE m.version < EXCLUDED.version
    RETURNING cardinality(marks);
$$;
