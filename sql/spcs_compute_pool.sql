-- Create the compute pool icebroker runs on (Snowpark Container Services)
--
-- When: after spcs_image_repository, once per deployment.
-- As:   ACCOUNTADMIN, or a role with CREATE COMPUTE POOL on the account; it grants the pool
--       and the right to expose a public endpoint to the role that will own the service.
-- Then: DESCRIBE COMPUTE POOL shows state IDLE or ACTIVE (STARTING for a few minutes first).
--       One node is enough: icebroker keeps its vault on one block volume, so run one
--       instance. Then run spcs_external_access.
--
-- @param compute_pool name default=ICEBROKER_POOL The compute pool.
-- @param instance_family enum(CPU_X64_XS|CPU_X64_S|CPU_X64_M|CPU_X64_L) default=CPU_X64_XS Node size.
-- @param service_role ident The role that will own the service.
CREATE COMPUTE POOL IF NOT EXISTS {{compute_pool}}
  MIN_NODES = 1
  MAX_NODES = 1
  INSTANCE_FAMILY = {{instance_family}}
  AUTO_RESUME = TRUE
  AUTO_SUSPEND_SECS = 3600;

GRANT USAGE, MONITOR ON COMPUTE POOL {{compute_pool}} TO ROLE {{service_role}};

GRANT BIND SERVICE ENDPOINT ON ACCOUNT TO ROLE {{service_role}};

DESCRIBE COMPUTE POOL {{compute_pool}};
