-- Every change to a user is announced on the channel `contacts_user_changed` (the payload: the
-- user's id), at commit, whoever makes it: the server, `contacts-api set-role` in another
-- process, an operator's own SQL. A server without Redis keeps users in its own memory; it
-- listens here and drops its copy, so the change is seen on the next request, as with Redis.
--
-- Users change rarely (confirmation, password, avatar, role, a session ended), so the lock
-- NOTIFY takes at commit costs nothing that matters.
CREATE FUNCTION users_changed_notice() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('contacts_user_changed', OLD.id::text);
    RETURN NULL;
END
$$;

CREATE TRIGGER users_changed_notice AFTER UPDATE OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION users_changed_notice();
