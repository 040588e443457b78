-- A book's description holds at most 1,000 characters, as the display name holds at most 255
-- (migration 000011): the bound the CardDAV backend checks, kept by the database too.
ALTER TABLE address_books
    ADD CONSTRAINT address_books_description_length CHECK (char_length(description) <= 1000);
