-- Cards keep the properties clients set too (RFC 4918 4.1): `contact_id` names the card's
-- contact, so a card keeps its properties when it moves (the same row) and loses them with
-- the contact. A property has one holder: the home (both NULL), a book, or a card.
--
-- The foreign key on (`user_id`, `contact_id`) keeps each on a contact of its own user; it needs
-- (`user_id`, `id`) unique on `contacts`, which the index of the id pages already is in fact:
-- it becomes a unique constraint of the same name, so the plans that walk it stay as they are.
DROP INDEX contacts_user_id_idx;
ALTER TABLE contacts ADD CONSTRAINT contacts_user_id_idx UNIQUE (user_id, id);

ALTER TABLE client_properties
    ADD COLUMN contact_id BIGINT,
    ADD CONSTRAINT client_properties_contact_fkey FOREIGN KEY (user_id, contact_id)
        REFERENCES contacts (user_id, id) ON DELETE CASCADE,
    ADD CONSTRAINT client_properties_one_holder CHECK (book_id IS NULL OR contact_id IS NULL);

DROP INDEX client_properties_key;
CREATE UNIQUE INDEX client_properties_key
    ON client_properties (user_id, COALESCE(book_id, 0), COALESCE(contact_id, 0), namespace, name);
-- What the cascades look up when a contact or a book is deleted.
CREATE INDEX client_properties_contact_idx ON client_properties (user_id, contact_id) WHERE contact_id IS NOT NULL;
CREATE INDEX client_properties_book_idx ON client_properties (user_id, book_id) WHERE book_id IS NOT NULL;
