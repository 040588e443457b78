-- Sessions ended by logout whose access tokens may not have expired yet, as
-- '<session id>/<unix time until which its access tokens could live>'. Access tokens of these
-- sessions are refused; a logout prunes the entries whose time has passed.
ALTER TABLE users ADD COLUMN ended_sessions TEXT[] NOT NULL DEFAULT '{}';
