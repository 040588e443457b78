ALTER TABLE mail_outbox DROP COLUMN leased_until;
