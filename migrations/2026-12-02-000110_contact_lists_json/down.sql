ALTER TABLE contacts
    ALTER COLUMN emails DROP DEFAULT,
    ALTER COLUMN phones DROP DEFAULT,
    ALTER COLUMN emails TYPE jsonb USING emails::jsonb,
    ALTER COLUMN phones TYPE jsonb USING phones::jsonb,
    ALTER COLUMN emails SET DEFAULT '[]',
    ALTER COLUMN phones SET DEFAULT '[]';
