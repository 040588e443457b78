-- The `emails` and `phones` lists kept as `json` (their text) instead of `jsonb` (issue 15).
--
-- Nothing queries inside the lists: the server writes them whole and reads them whole. As
-- `jsonb`, every read converted each list back to text (`jsonb_send` writes the JSON text after
-- a version byte), two lists a row: a list page of 20 ran a fifth fewer times a second than the
-- same statement without the two columns, and that conversion was most of the difference. A
-- `json` value is stored as the text it was given (checked to be JSON when written) and read back
-- as it is. The one update that edits a list in place (`jsonb_set` on its first entry) casts to
-- `jsonb` and back for that. Changing the type rewrites the table once, under its exclusive lock.
ALTER TABLE contacts
    ALTER COLUMN emails DROP DEFAULT,
    ALTER COLUMN phones DROP DEFAULT,
    ALTER COLUMN emails TYPE json USING emails::json,
    ALTER COLUMN phones TYPE json USING phones::json,
    ALTER COLUMN emails SET DEFAULT '[]',
    ALTER COLUMN phones SET DEFAULT '[]';
