-- A contact keeps its UID for its life (API.md: `uid` is stable; RFC 6352 6.3.2.1: a card is
-- never overwritten by one of another UID). Every write path keeps it already (a CardDAV PUT
-- over a card of another UID is refused under the row's lock); this makes it a fact of the
-- table, so no later path can change it by mistake.
CREATE FUNCTION contacts_uid_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'a contact keeps its uid (% stays, % refused)', OLD.uid, NEW.uid
        USING ERRCODE = 'check_violation', CONSTRAINT = 'contacts_uid_fixed', TABLE = 'contacts';
END;
$$;

CREATE TRIGGER contacts_uid_fixed BEFORE UPDATE OF uid ON contacts
    FOR EACH ROW WHEN (OLD.uid IS DISTINCT FROM NEW.uid) EXECUTE FUNCTION contacts_uid_fixed();
