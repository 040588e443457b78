ALTER TABLE address_books DROP COLUMN description;
