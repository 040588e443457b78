DROP INDEX mail_outbox_user_idx;
ALTER TABLE mail_outbox DROP COLUMN headers, DROP COLUMN user_id;
DROP TABLE reminder_runs;
DROP TRIGGER users_default_settings ON users;
DROP FUNCTION create_default_user_settings();
DROP TABLE user_settings;
