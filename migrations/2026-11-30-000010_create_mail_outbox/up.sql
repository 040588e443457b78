-- Mail is written here in the same transaction as the change that caused it, then sent by a
-- worker in every instance. Workers claim rows with FOR UPDATE SKIP LOCKED and push
-- `next_attempt_at` forward by a lease in the same statement, so no two workers (or instances)
-- hold the same row at once; a crashed worker's lease simply runs out.
CREATE TABLE mail_outbox (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind            TEXT        NOT NULL,
    recipient       TEXT        NOT NULL,
    subject         TEXT        NOT NULL,
    text_body       TEXT        NOT NULL,
    html_body       TEXT        NOT NULL,
    status          TEXT        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        INTEGER     NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_error      TEXT,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    sent_at         TIMESTAMPTZ
);
CREATE INDEX mail_outbox_due_idx ON mail_outbox (next_attempt_at) WHERE status = 'pending';
CREATE INDEX mail_outbox_done_idx ON mail_outbox (created_at) WHERE status <> 'pending';

-- The flood guard: mails queued per recipient (lower-cased) on one UTC day, and when the last
-- was queued. One row per address, updated with INSERT ... ON CONFLICT DO UPDATE ... WHERE,
-- so concurrent requests for one address are serialised by the row lock and cannot exceed the
-- cooldown or the daily cap.
CREATE TABLE mail_quota (
    recipient TEXT        PRIMARY KEY,
    day       DATE        NOT NULL,
    sent      INTEGER     NOT NULL,
    last_at   TIMESTAMPTZ NOT NULL
);
