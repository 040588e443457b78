ALTER TABLE users DROP COLUMN ended_sessions;
