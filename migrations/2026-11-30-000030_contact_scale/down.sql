DROP INDEX contacts_email_trgm_idx;
DROP INDEX contacts_last_name_trgm_idx;
DROP INDEX contacts_first_name_trgm_idx;
DROP TRIGGER contacts_count_delete ON contacts;
DROP TRIGGER contacts_count_insert ON contacts;
DROP FUNCTION contact_counts_deleted();
DROP FUNCTION contact_counts_inserted();
DROP TABLE contact_counts;
