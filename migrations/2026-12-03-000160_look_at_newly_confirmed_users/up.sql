-- A user who confirms their email is looked at by the next reminder pass, whoever confirms
-- them (the link, an operator's SQL). A pass that found them unconfirmed moved their next look
-- to the next day's hour: confirming after today's hour brought no digest today, although the
-- contract mails it "as soon after as the service runs". The run recorded per (user, local
-- date) keeps this from ever mailing twice.
CREATE FUNCTION look_at_newly_confirmed_user() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE user_settings SET next_run_at = '-infinity' WHERE user_id = NEW.id;
    RETURN NULL;
END
$$;

CREATE TRIGGER users_newly_confirmed AFTER UPDATE OF confirmed ON users
    FOR EACH ROW WHEN (NEW.confirmed AND NOT OLD.confirmed)
    EXECUTE FUNCTION look_at_newly_confirmed_user();
