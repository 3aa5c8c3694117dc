-- Allow icebroker in Snowpark Container Services to reach the Snowflake account's host
--
-- When: after spcs_compute_pool. A service has no outbound network access by default;
--       icebroker calls the account's host for OAuth (/oauth/token-request) and the SQL API.
-- As:   ACCOUNTADMIN (CREATE INTEGRATION), in a role that may create network rules in the schema.
-- Then: DESC EXTERNAL ACCESS INTEGRATION shows the rule; the service role has USAGE on the
--       integration. Then run spcs_service with the same names.
--
-- @param spcs_database name Database for icebroker's objects in Snowflake.
-- @param spcs_schema name default=APP Schema for icebroker's objects.
-- @param network_rule name default=ICEBROKER_SNOWFLAKE_EGRESS The egress network rule.
-- @param snowflake_host host The account host, e.g. myorg-myaccount.snowflakecomputing.com.
-- @param external_access_integration name default=ICEBROKER_EGRESS The external access integration.
-- @param service_role ident The role that will own the service.
CREATE NETWORK RULE IF NOT EXISTS {{spcs_database}}.{{spcs_schema}}.{{network_rule}}
  MODE = EGRESS
  TYPE = HOST_PORT
  VALUE_LIST = ('{{snowflake_host}}:443');

CREATE EXTERNAL ACCESS INTEGRATION IF NOT EXISTS {{external_access_integration}}
  ALLOWED_NETWORK_RULES = ({{spcs_database}}.{{spcs_schema}}.{{network_rule}})
  ENABLED = TRUE;

GRANT USAGE ON INTEGRATION {{external_access_integration}} TO ROLE {{service_role}};

DESC EXTERNAL ACCESS INTEGRATION {{external_access_integration}};
