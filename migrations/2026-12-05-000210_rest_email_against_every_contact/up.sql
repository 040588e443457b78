-- REST's one-contact-per-email rule (API.md: POST and PUT/PATCH answer 409 when "this user
-- already has a contact with that email") holds against every contact of the user, cards that
-- came by import or CardDAV included; only those arriving cards themselves may share emails.
-- Between REST writes the unique index on rest_email decides (no race); this trigger refuses a
-- REST write that gives a contact an email another contact of the user has as its first one.
-- It raises what that index raises, so both read as the same conflict. A REST write that keeps
-- the contact's own email (a PUT of a synced card) is not judged again, nor is a card write
-- (it sets no rest_email of its own: NULL, or the claim its contact already had).
-- A card arriving at the same moment as the REST write may still land beside it, as it could
-- a moment later: cards are accepted whatever their emails.
CREATE INDEX contacts_user_lower_email_idx ON contacts (user_id, lower(email));

CREATE FUNCTION contacts_rest_email_free() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (
        SELECT 1 FROM contacts c
        WHERE c.user_id = NEW.user_id AND lower(c.email) = lower(NEW.rest_email) AND c.id <> NEW.id
    ) THEN
        RAISE EXCEPTION 'another contact of user % has the email %', NEW.user_id, NEW.rest_email
            USING ERRCODE = 'unique_violation', CONSTRAINT = 'contacts_user_email_key', TABLE = 'contacts';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER contacts_rest_email_free_on_insert BEFORE INSERT ON contacts
    FOR EACH ROW WHEN (NEW.rest_email IS NOT NULL) EXECUTE FUNCTION contacts_rest_email_free();
CREATE TRIGGER contacts_rest_email_free_on_update BEFORE UPDATE OF rest_email ON contacts
    FOR EACH ROW WHEN (NEW.rest_email IS NOT NULL AND lower(NEW.rest_email) IS DISTINCT FROM lower(OLD.email))
    EXECUTE FUNCTION contacts_rest_email_free();
