DROP FUNCTION refresh_contact_page_marks(BIGINT);
DROP FUNCTION contact_page_marks_stale(BIGINT);
DROP FUNCTION contact_page_ids(BIGINT, BIGINT, BIGINT);
DROP TABLE contact_page_marks;

CREATE OR REPLACE FUNCTION contact_counts_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO contact_counts AS c (user_id, n)
        SELECT user_id, count(*) FROM inserted GROUP BY user_id ORDER BY user_id
        ON CONFLICT (user_id) DO UPDATE SET n = c.n + EXCLUDED.n;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION contact_counts_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- The user's row is already gone when the account itself is being deleted: nothing to do.
    UPDATE contact_counts c SET n = c.n - d.n
        FROM (SELECT user_id, count(*) AS n FROM deleted GROUP BY user_id) d
        WHERE c.user_id = d.user_id;
    RETURN NULL;
END
$$;

ALTER TABLE contact_counts DROP COLUMN version;
