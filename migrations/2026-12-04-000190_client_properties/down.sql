DROP TABLE client_properties;
ALTER TABLE address_books DROP CONSTRAINT address_books_user_id_id_key;
