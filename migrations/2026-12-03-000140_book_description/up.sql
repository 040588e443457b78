-- An address book's description (CardDAV `addressbook-description`, RFC 6352 6.2.1), which
-- clients such as DAVx5 set when they make a book (extended MKCOL) and show beside its name.
-- Empty: none set.
ALTER TABLE address_books ADD COLUMN description TEXT NOT NULL DEFAULT '';
