-- Create the Snowflake OAuth security integration for an OAuth connection
--
-- When: once per OAuth connection, before end users authorize it. OAUTH_REDIRECT_URI must be
--       icebroker's <public_url>/oauth/callback/<connection>, byte for byte (OA-4).
-- As:   ACCOUNTADMIN, or a role with the CREATE INTEGRATION privilege on the account.
-- Then: run oauth_show_client_secrets and give icebroker OAUTH_CLIENT_ID and
--       OAUTH_CLIENT_SECRET; run oauth_check_redirect_uri. PKCE is enforced, refresh tokens are
--       issued, and the blocked roles (Snowflake always blocks ACCOUNTADMIN, SECURITYADMIN,
--       ORGADMIN, GLOBALORGADMIN) can never be used through this integration.
--
-- @param integration name The security integration's name (unquoted, e.g. ICEBROKER_SALES).
-- @param redirect_uri string icebroker's callback URL for the connection.
-- @param allow_non_tls bool default=FALSE TRUE only for an http:// redirect URI on loopback (development).
-- @param refresh_token_validity number(3600..31622400) default=7776000 Refresh-token lifetime in seconds (Snowflake accepts 86400 to 7776000 unless its support changed the limits).
-- @param single_use bool default=TRUE Require single-use (rotating) refresh tokens.
-- @param blocked_roles list(string) default=ACCOUNTADMIN,SECURITYADMIN Extra roles never usable through the integration (comma-separated).
CREATE SECURITY INTEGRATION {{integration}}
  TYPE = OAUTH
  ENABLED = TRUE
  OAUTH_CLIENT = CUSTOM
  OAUTH_CLIENT_TYPE = 'CONFIDENTIAL'
  OAUTH_REDIRECT_URI = {{redirect_uri}}
  OAUTH_ALLOW_NON_TLS_REDIRECT_URI = {{allow_non_tls}}
  OAUTH_ENFORCE_PKCE = TRUE
  OAUTH_ISSUE_REFRESH_TOKENS = TRUE
  OAUTH_REFRESH_TOKEN_VALIDITY = {{refresh_token_validity}}
  OAUTH_SINGLE_USE_REFRESH_TOKENS_REQUIRED = {{single_use}}
  BLOCKED_ROLES_LIST = {{blocked_roles}};
