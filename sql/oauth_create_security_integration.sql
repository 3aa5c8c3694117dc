-- When: before end users authorize an OAuth connection (once per connection). The redirect URI
--       is icebroker's <public_url>/oauth/callback/<connection>, byte-identical (OA-4).
-- As:   ACCOUNTADMIN, or a role with the CREATE INTEGRATION privilege.
-- Then: run the SYSTEM$SHOW_OAUTH_CLIENT_SECRETS statement and give icebroker OAUTH_CLIENT_ID
--       and OAUTH_CLIENT_SECRET (POST /v1/connections, kind "oauth"). Privileged roles
--       (ACCOUNTADMIN, SECURITYADMIN, ORGADMIN, GLOBALORGADMIN) stay blocked for OAuth.
CREATE SECURITY INTEGRATION {{integration}}
  TYPE = OAUTH
  ENABLED = TRUE
  OAUTH_CLIENT = CUSTOM
  OAUTH_CLIENT_TYPE = 'CONFIDENTIAL'
  OAUTH_REDIRECT_URI = {{redirect_uri}}{{non_tls}}
  OAUTH_ENFORCE_PKCE = TRUE
  OAUTH_ISSUE_REFRESH_TOKENS = TRUE
  OAUTH_REFRESH_TOKEN_VALIDITY = {{refresh_token_validity}}
  OAUTH_SINGLE_USE_REFRESH_TOKENS_REQUIRED = {{single_use}};
