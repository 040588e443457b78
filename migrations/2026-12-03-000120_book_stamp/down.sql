DROP TRIGGER contacts_count_update ON contacts;
DROP FUNCTION contact_counts_updated();
ALTER TABLE contact_counts DROP COLUMN change_version;
