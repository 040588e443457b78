CREATE OR REPLACE FUNCTION contact_search_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE contact_search
       SET user_id = NEW.user_id, first_name = lower(NEW.first_name), last_name = lower(NEW.last_name),
           email = lower(NEW.email)
     WHERE contact_id = NEW.id;
    RETURN NULL;
END
$$;

ALTER TABLE contact_counts DROP COLUMN search_version;
