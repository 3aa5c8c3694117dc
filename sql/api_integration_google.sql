-- Create an API integration for calling out from Snowflake through Google Cloud API Gateway
--
-- When: a team calls its own HTTPS service from Snowflake (external functions) through a
--       Google Cloud API Gateway.
-- As:   ACCOUNTADMIN, or a role with the CREATE INTEGRATION privilege on the account.
-- Then: DESC API INTEGRATION shows API_GCP_SERVICE_ACCOUNT: allow that service account in the
--       gateway's security definition (audience = GOOGLE_AUDIENCE); then GRANT USAGE ON
--       INTEGRATION to the role that creates the external functions.
--
-- @param api_integration ident The integration's name.
-- @param google_audience string The audience claim the gateway expects (its managed service name).
-- @param allowed_prefixes list(url) Gateway URLs the integration may call (comma-separated prefixes).
CREATE API INTEGRATION IF NOT EXISTS {{api_integration}}
  API_PROVIDER = google_api_gateway
  GOOGLE_AUDIENCE = {{google_audience}}
  API_ALLOWED_PREFIXES = {{allowed_prefixes}}
  ENABLED = TRUE;

DESC API INTEGRATION {{api_integration}};
