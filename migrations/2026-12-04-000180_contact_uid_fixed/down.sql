DROP TRIGGER contacts_uid_fixed ON contacts;
DROP FUNCTION contacts_uid_fixed();
