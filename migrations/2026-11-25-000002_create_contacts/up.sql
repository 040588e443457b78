-- Each user's contacts. A contact's email is unique per owner, case-insensitively.
CREATE TABLE contacts (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id         BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    first_name      TEXT        NOT NULL CHECK (char_length(first_name) BETWEEN 1 AND 50),
    last_name       TEXT        NOT NULL CHECK (char_length(last_name) BETWEEN 1 AND 50),
    email           TEXT        NOT NULL CHECK (char_length(email) <= 254),
    phone           TEXT        NOT NULL CHECK (char_length(phone) BETWEEN 7 AND 20),
    birthday        DATE        NOT NULL,
    additional_info TEXT        CHECK (char_length(additional_info) <= 1000),
    -- month * 100 + day, so "whose birthday falls in this window" is an index lookup.
    birthday_md     SMALLINT    NOT NULL GENERATED ALWAYS AS
                        ((EXTRACT(MONTH FROM birthday) * 100 + EXTRACT(DAY FROM birthday))::SMALLINT) STORED,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE UNIQUE INDEX contacts_user_email_key ON contacts (user_id, lower(email));
CREATE INDEX contacts_user_id_idx ON contacts (user_id, id);
CREATE INDEX contacts_user_birthday_idx ON contacts (user_id, birthday_md);
