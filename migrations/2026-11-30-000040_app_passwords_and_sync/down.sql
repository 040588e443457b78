DROP TRIGGER contacts_change_log ON contacts;
DROP FUNCTION contacts_change_log();
DROP FUNCTION log_card_change(BIGINT, TEXT, BOOLEAN);
DROP TABLE card_changes;
ALTER TABLE address_books DROP COLUMN sync_seq, DROP COLUMN sync_floor;
DROP TRIGGER users_password_revokes_app_passwords ON users;
DROP FUNCTION revoke_app_passwords();
DROP TABLE app_passwords;
