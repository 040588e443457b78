DROP TRIGGER contacts_rest_email_free_on_update ON contacts;
DROP TRIGGER contacts_rest_email_free_on_insert ON contacts;
DROP FUNCTION contacts_rest_email_free();
DROP INDEX contacts_user_lower_email_idx;
