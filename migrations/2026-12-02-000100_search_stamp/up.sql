-- Repeated searches answered from a cache that PostgreSQL validates (issue 15).
--
-- Paging through a search, or asking it again, read and rechecked every match each time: the
-- exact total needs them all. The server now keeps a search's ordered match ids for a while and
-- reads only the page's rows by key, but only while the owner's matches cannot have changed. That
-- is a fact PostgreSQL must state, in the same statement and snapshot as the page, for every
-- instance: the owner's *search stamp*, `contact_counts.version + contact_counts.search_version`.
--
-- `version` already counts the owner's inserting and deleting statements (migration 000070).
-- `search_version` counts the updates that change a searchable field or the owner, bumped by the
-- trigger that keeps `contact_search` in step, in the same statement as the update. Both only
-- grow, under the row's lock, so the stamp changes with every change to any owner's matches and
-- never comes back to an earlier value. The triggers on `contacts` fire in name order, so this
-- lock is taken after the book's (`contacts_change_log`), as the count triggers take it.
ALTER TABLE contact_counts ADD COLUMN search_version BIGINT NOT NULL DEFAULT 0;

CREATE OR REPLACE FUNCTION contact_search_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE contact_search
       SET user_id = NEW.user_id, first_name = lower(NEW.first_name), last_name = lower(NEW.last_name),
           email = lower(NEW.email)
     WHERE contact_id = NEW.id;
    UPDATE contact_counts SET search_version = search_version + 1 WHERE user_id IN (OLD.user_id, NEW.user_id);
    RETURN NULL;
END
$$;
