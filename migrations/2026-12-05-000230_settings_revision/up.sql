-- Every change of a user's reminder settings counts: a pass completes a user's day only with
-- the settings it read (the revision it claimed), whatever else happened since. The `-infinity`
-- mark a change sets (due again at once) can be taken by a second pass's claim before the
-- first completes, so it alone did not tell the first pass its settings were stale.
ALTER TABLE user_settings ADD COLUMN revision BIGINT NOT NULL DEFAULT 0;
