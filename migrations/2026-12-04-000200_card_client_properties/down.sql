DROP INDEX client_properties_book_idx;
DROP INDEX client_properties_contact_idx;
DELETE FROM client_properties WHERE contact_id IS NOT NULL;
DROP INDEX client_properties_key;
CREATE UNIQUE INDEX client_properties_key ON client_properties (user_id, COALESCE(book_id, 0), namespace, name);
ALTER TABLE client_properties
    DROP CONSTRAINT client_properties_one_holder,
    DROP CONSTRAINT client_properties_contact_fkey,
    DROP COLUMN contact_id;
ALTER TABLE contacts DROP CONSTRAINT contacts_user_id_idx;
CREATE INDEX contacts_user_id_idx ON contacts (user_id, id);
