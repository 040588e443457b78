-- One computation of a book's marks at a time (issue 15). After a write to a big book, every
-- concurrent deep page of it found the marks stale and each ran `refresh_contact_page_marks`, a
-- walk of the whole book, to store the same marks. `try_refresh_contact_page_marks` first takes
-- a transaction-scoped advisory lock for the owner without waiting: the request that gets it
-- computes the marks, the others skip the work (they already have their page) and return NULL.
-- The lock is the two-key form, so it never meets the single-key migration lock; the owner's
-- id is hashed into the second key, and two owners sharing a hash only ever skip a refresh the
-- next deep page makes.

CREATE FUNCTION try_refresh_contact_page_marks(owner BIGINT) RETURNS INTEGER LANGUAGE plpgsql AS $$
BEGIN
    -- 1835102827 is "mark" in ASCII: the key space of page-mark computations.
    IF NOT pg_try_advisory_xact_lock(1835102827, hashint8(owner)) THEN
        RETURN NULL;
    END IF;
    RETURN refresh_contact_page_marks(owner);
END
$$;

-- The statements inside `contact_page_ids` keep their generic plans. plpgsql prepares them once
-- per connection, but with the owner, skip and limit in view PostgreSQL planned them again at
-- every call wherever one book is much bigger than the rest (its generic estimate assumes the
-- average book); their generic plans are the same index-only walks of `(user_id, id)`.
ALTER FUNCTION contact_page_ids(BIGINT, BIGINT, BIGINT) SET plan_cache_mode = force_generic_plan;
