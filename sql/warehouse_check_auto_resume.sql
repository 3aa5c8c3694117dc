-- Check that a connection's warehouse resumes by itself
--
-- When: when setting up a connection, and when its statements fail with 000606 ("No active
--       warehouse") or "warehouse is suspended".
-- As:   any role with USAGE, OPERATE or MONITOR on the warehouse.
-- Then: AUTO_RESUME is true. If it is false, run warehouse_enable_auto_resume (or resume the
--       warehouse yourself before each use).
--
-- @param warehouse ident The warehouse.
SHOW WAREHOUSES LIKE {{warehouse:literal}};

SELECT "name", "state", "auto_resume", "auto_suspend"
  FROM TABLE(RESULT_SCAN(LAST_QUERY_ID()))
  WHERE "name" = {{warehouse:literal}};
