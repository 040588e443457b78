ALTER TABLE user_settings DROP COLUMN revision;
