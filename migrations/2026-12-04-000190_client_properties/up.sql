-- Properties sync clients keep on their address books and on their address-book home (WebDAV's
-- dead properties: macOS Contacts keeps its "me" card there). `book_id` NULL: the home.
-- A book's properties go with the book, every one of them with the user.
ALTER TABLE address_books ADD CONSTRAINT address_books_user_id_id_key UNIQUE (user_id, id);

CREATE TABLE client_properties (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id   BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    book_id   BIGINT,
    namespace TEXT   NOT NULL CHECK (octet_length(namespace) <= 1024),
    name      TEXT   NOT NULL CHECK (octet_length(name) BETWEEN 1 AND 1024),
    -- The property element as the CardDAV adapter wrote it (MAX_CLIENT_PROPERTY_BYTES).
    value     TEXT   NOT NULL CHECK (octet_length(value) <= 16384),
    -- The book is one of the same user's (NULL: the home, not checked).
    CONSTRAINT client_properties_book_fkey FOREIGN KEY (user_id, book_id)
        REFERENCES address_books (user_id, id) ON DELETE CASCADE
);

-- One value a name on each book and on the home.
CREATE UNIQUE INDEX client_properties_key ON client_properties (user_id, COALESCE(book_id, 0), namespace, name);
