ALTER FUNCTION contact_page_ids(BIGINT, BIGINT, BIGINT) RESET plan_cache_mode;
DROP FUNCTION try_refresh_contact_page_marks(BIGINT);
