DROP FUNCTION try_refresh_contact_page_marks(BIGINT);
