-- Back to flat contacts: card-sourced rows that lack a required column cannot go back.
DELETE FROM contacts WHERE email IS NULL OR phone IS NULL OR birthday IS NULL
    OR char_length(first_name) NOT BETWEEN 1 AND 50 OR char_length(last_name) NOT BETWEEN 1 AND 50
    OR char_length(phone) NOT BETWEEN 7 AND 20 OR char_length(additional_info) > 1000
    OR rest_email IS NULL;
DROP INDEX contacts_book_id_idx;
DROP INDEX contacts_user_email_key;
ALTER TABLE contacts
    DROP COLUMN book_id, DROP COLUMN uid, DROP COLUMN href, DROP COLUMN card, DROP COLUMN emails,
    DROP COLUMN phones, DROP COLUMN rest_email, DROP COLUMN card_dirty,
    ALTER COLUMN email SET NOT NULL, ALTER COLUMN phone SET NOT NULL, ALTER COLUMN birthday SET NOT NULL;
ALTER TABLE contacts
    ADD CONSTRAINT contacts_first_name_check CHECK (char_length(first_name) BETWEEN 1 AND 50),
    ADD CONSTRAINT contacts_last_name_check CHECK (char_length(last_name) BETWEEN 1 AND 50),
    ADD CONSTRAINT contacts_phone_check CHECK (char_length(phone) BETWEEN 7 AND 20),
    ADD CONSTRAINT contacts_additional_info_check CHECK (char_length(additional_info) <= 1000);
ALTER TABLE contacts DROP COLUMN birthday_md;
ALTER TABLE contacts ADD COLUMN birthday_md SMALLINT NOT NULL GENERATED ALWAYS AS
    ((EXTRACT(MONTH FROM birthday) * 100 + EXTRACT(DAY FROM birthday))::SMALLINT) STORED;
CREATE INDEX contacts_user_birthday_idx ON contacts (user_id, birthday_md);
CREATE UNIQUE INDEX contacts_user_email_key ON contacts (user_id, lower(email));
DROP TRIGGER users_default_address_book ON users;
DROP FUNCTION create_default_address_book();
DROP TABLE address_books;
