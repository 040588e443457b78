-- Birthday reminders (issue 14).
--
-- Each user's reminder settings, made with the account by a trigger (same statement as the
-- user's INSERT wherever it happens) and here for existing accounts. `next_run_at` is when a
-- reminder pass should look at the user next: its partial index makes "who is due" one index
-- range scan however many users and contacts there are, and a pass that finds nobody due reads
-- nothing else. A claim moves it forward by a lease (FOR UPDATE SKIP LOCKED), so a crashed
-- instance's users come back when the lease runs out; `-infinity` means "look at once" (new
-- accounts, changed settings).
CREATE TABLE user_settings (
    user_id            BIGINT      PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    timezone           TEXT        NOT NULL DEFAULT 'UTC',
    birthday_reminders BOOLEAN     NOT NULL DEFAULT TRUE,
    reminder_days      SMALLINT    NOT NULL DEFAULT 1 CHECK (reminder_days BETWEEN 0 AND 30),
    reminder_hour      SMALLINT    NOT NULL DEFAULT 8 CHECK (reminder_hour BETWEEN 0 AND 23),
    next_run_at        TIMESTAMPTZ NOT NULL DEFAULT '-infinity'
);
CREATE INDEX user_settings_due_idx ON user_settings (next_run_at) WHERE birthday_reminders;

INSERT INTO user_settings (user_id) SELECT id FROM users;

CREATE FUNCTION create_default_user_settings() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO user_settings (user_id) VALUES (NEW.id);
    RETURN NEW;
END
$$;

CREATE TRIGGER users_default_settings AFTER INSERT ON users
    FOR EACH ROW EXECUTE FUNCTION create_default_user_settings();

-- "At most one digest per user and local day" as a database fact: a pass inserts the run with
-- ON CONFLICT DO NOTHING in the same transaction as the mail it queues, so of two instances
-- racing for one user and day exactly one queues a mail. Days without birthdays are recorded
-- too (`mailed` false), so they are not computed again.
CREATE TABLE reminder_runs (
    user_id    BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    local_date DATE        NOT NULL,
    mailed     BOOLEAN     NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, local_date)
);

-- Mails about one account (reminders) name it: deleting the account deletes its queued mails,
-- and the delivery worker skips mails of accounts that are no longer confirmed.
ALTER TABLE mail_outbox
    ADD COLUMN user_id BIGINT REFERENCES users (id) ON DELETE CASCADE,
    -- Extra header lines ([["List-Unsubscribe", "<...>"], ...]), sent as they are.
    ADD COLUMN headers JSONB NOT NULL DEFAULT '[]';
CREATE INDEX mail_outbox_user_idx ON mail_outbox (user_id) WHERE user_id IS NOT NULL;
