-- Let a connection's warehouse resume by itself
--
-- When: warehouse_check_auto_resume showed AUTO_RESUME false.
-- As:   the warehouse's owner, or a role with MODIFY on it (e.g. SYSADMIN).
-- Then: warehouse_check_auto_resume shows AUTO_RESUME true; press "Test" in icebroker.
--
-- @param warehouse ident The warehouse.
ALTER WAREHOUSE {{warehouse}} SET AUTO_RESUME = TRUE;
