DROP TRIGGER users_newly_confirmed ON users;
DROP FUNCTION look_at_newly_confirmed_user();
