-- Requests for a mail about an address (`request_email`, `request_password_reset`), recorded
-- before they are answered and handled right after by the instance that answered: one insert
-- whatever the address, so the answer's time says nothing about accounts, and a request whose
-- instance died after answering is taken up by another once its lease runs out (claimed with
-- FOR UPDATE SKIP LOCKED, so by one only).
CREATE TABLE mail_requests (
    id           BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind         TEXT        NOT NULL CHECK (kind IN ('confirmation', 'password_reset')),
    address      TEXT        NOT NULL,
    leased_until TIMESTAMPTZ NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX mail_requests_leased_until_idx ON mail_requests (leased_until);
