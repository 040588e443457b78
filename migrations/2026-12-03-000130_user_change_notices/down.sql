DROP TRIGGER users_changed_notice ON users;
DROP FUNCTION users_changed_notice();
