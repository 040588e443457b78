CREATE INDEX contacts_first_name_trgm_idx ON contacts USING gin (first_name gin_trgm_ops);
CREATE INDEX contacts_last_name_trgm_idx ON contacts USING gin (last_name gin_trgm_ops);
CREATE INDEX contacts_email_trgm_idx ON contacts USING gin (email gin_trgm_ops);
DROP TRIGGER contacts_search_update ON contacts;
DROP TRIGGER contacts_search_insert ON contacts;
DROP FUNCTION contact_search_updated();
DROP FUNCTION contact_search_inserted();
DROP TABLE contact_search;
