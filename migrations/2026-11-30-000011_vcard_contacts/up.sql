-- Contacts become vCards kept in address books (issue 12).
--
-- Each user has address books; the default one, `contacts`, is made with the account by a
-- trigger, so it is in the same statement (and transaction) as the user's INSERT wherever the
-- account is created, and made here for the accounts that already exist.
CREATE TABLE address_books (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id      BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The book's path segment in CardDAV URLs, compared exactly.
    name         TEXT        NOT NULL CHECK (char_length(name) BETWEEN 1 AND 255),
    display_name TEXT        NOT NULL CHECK (char_length(display_name) <= 255),
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT address_books_user_name_key UNIQUE (user_id, name)
);

INSERT INTO address_books (user_id, name, display_name) SELECT id, 'contacts', 'Contacts' FROM users;

CREATE FUNCTION create_default_address_book() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO address_books (user_id, name, display_name) VALUES (NEW.id, 'contacts', 'Contacts');
    RETURN NEW;
END
$$;

CREATE TRIGGER users_default_address_book AFTER INSERT ON users
    FOR EACH ROW EXECUTE FUNCTION create_default_address_book();

-- A contact keeps its whole card (`card`, byte for byte as received) plus the columns REST and
-- search read, derived from it. Card-sourced contacts may lack a name part, an email, a phone
-- or a birthday, so REST's input rules leave the table and stay in the domain.
ALTER TABLE contacts
    ADD COLUMN book_id    BIGINT REFERENCES address_books (id) ON DELETE CASCADE,
    ADD COLUMN uid        TEXT,
    ADD COLUMN href       TEXT,
    ADD COLUMN card       TEXT,
    -- Every EMAIL / TEL in card order: [{"value": str, "type": str|null}, ...].
    ADD COLUMN emails     JSONB NOT NULL DEFAULT '[]',
    ADD COLUMN phones     JSONB NOT NULL DEFAULT '[]',
    -- The email of the last REST write that set one (NULL for card-sourced contacts). Its unique
    -- index is REST's "one contact per email" rule, enforced by the database (no check-then-
    -- insert race) and only between REST-written emails: imported cards may share emails.
    ADD COLUMN rest_email TEXT,
    -- TRUE when a REST write changed the mapped columns after `card` was stored: readers then
    -- rewrite the card's mapped properties (FN, N, EMAIL, TEL, BDAY, NOTE, REV) from the
    -- columns and keep every other line as stored. This keeps each REST write one UPDATE.
    ADD COLUMN card_dirty BOOLEAN NOT NULL DEFAULT FALSE;

DROP INDEX contacts_user_email_key;
ALTER TABLE contacts
    DROP CONSTRAINT contacts_first_name_check,
    DROP CONSTRAINT contacts_last_name_check,
    DROP CONSTRAINT contacts_phone_check,
    DROP CONSTRAINT contacts_additional_info_check,
    ALTER COLUMN email DROP NOT NULL,
    ALTER COLUMN phone DROP NOT NULL,
    ALTER COLUMN birthday DROP NOT NULL,
    -- month * 100 + day, now also for birthdays without a year: written by the application.
    ALTER COLUMN birthday_md DROP EXPRESSION,
    ALTER COLUMN birthday_md DROP NOT NULL;

-- Existing rows: the default book, a fresh UID, lists from the single columns, and a 4.0 card
-- built from the columns (text values escaped as RFC 6350 says).
CREATE FUNCTION pg_temp.vcard_text(value TEXT) RETURNS TEXT LANGUAGE sql IMMUTABLE AS $$
    SELECT replace(replace(replace(replace(replace(value, '\', '\\'), ',', '\,'), ';', '\;'), E'\r', ''), E'\n', '\n')
$$;

UPDATE contacts c SET
    book_id = b.id,
    uid = gen_random_uuid()::text,
    emails = jsonb_build_array(jsonb_build_object('value', c.email, 'type', NULL)),
    phones = jsonb_build_array(jsonb_build_object('value', c.phone, 'type', NULL)),
    rest_email = c.email
FROM address_books b
WHERE b.user_id = c.user_id AND b.name = 'contacts';

UPDATE contacts SET
    href = uid || '.vcf',
    card = 'BEGIN:VCARD' || E'\r\n' || 'VERSION:4.0' || E'\r\n'
        || 'UID:' || uid || E'\r\n'
        || 'FN:' || pg_temp.vcard_text(first_name || ' ' || last_name) || E'\r\n'
        || 'N:' || pg_temp.vcard_text(last_name) || ';' || pg_temp.vcard_text(first_name) || ';;;' || E'\r\n'
        || 'EMAIL:' || pg_temp.vcard_text(email) || E'\r\n'
        || 'TEL:' || pg_temp.vcard_text(phone) || E'\r\n'
        || 'BDAY:' || to_char(birthday, 'YYYYMMDD') || E'\r\n'
        || coalesce('NOTE:' || pg_temp.vcard_text(additional_info) || E'\r\n', '')
        || 'REV:' || to_char(updated_at AT TIME ZONE 'UTC', 'YYYYMMDD"T"HH24MISS"Z"') || E'\r\n'
        || 'END:VCARD' || E'\r\n';

ALTER TABLE contacts
    ALTER COLUMN book_id SET NOT NULL,
    ALTER COLUMN uid SET NOT NULL,
    ALTER COLUMN href SET NOT NULL,
    ALTER COLUMN card SET NOT NULL,
    ADD CONSTRAINT contacts_book_uid_key UNIQUE (book_id, uid),
    ADD CONSTRAINT contacts_book_href_key UNIQUE (book_id, href);

CREATE UNIQUE INDEX contacts_user_email_key ON contacts (user_id, lower(rest_email));
-- Export pages through a book by id.
CREATE INDEX contacts_book_id_idx ON contacts (book_id, id);
