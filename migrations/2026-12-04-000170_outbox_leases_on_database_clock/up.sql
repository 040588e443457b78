-- A claimed mail's lease, timed by PostgreSQL's clock, the one clock every instance shares.
-- The lease used to be `next_attempt_at` moved ahead by the claimer's own clock, so an instance
-- whose clock ran ahead by more than the lease saw another's claim as run out and sent the mail
-- again. `next_attempt_at` is now the schedule only (when the mail is due), the lease its own
-- column: '-infinity' when no worker holds the mail.
ALTER TABLE mail_outbox ADD COLUMN leased_until TIMESTAMPTZ NOT NULL DEFAULT '-infinity';
