-- Create an API integration for an external MCP server (Cortex Agents' MCP connectors)
--
-- When: a team lets Cortex Agents call tools of an external Model Context Protocol server
--       that authenticates its users with OAuth 2.0.
-- As:   ACCOUNTADMIN, or a role with the CREATE INTEGRATION privilege on the account.
-- Then: CREATE EXTERNAL MCP SERVER … API_INTEGRATION = <this>; each user connects once
--       through the OAuth flow. This is the public-client form (OAUTH_CLIENT_AUTH_METHOD =
--       NONE): for a confidential client add OAUTH_CLIENT_SECRET = '<secret>' in the worksheet
--       yourself, so the secret never passes through icebroker.
--
-- @param api_integration ident The integration's name.
-- @param allowed_prefixes list(url) The MCP server's base URLs (comma-separated prefixes).
-- @param oauth_client_id string The client id the MCP server's provider issued.
-- @param oauth_authorization_endpoint url The provider's authorization endpoint.
-- @param oauth_token_endpoint url The provider's token endpoint.
-- @param oauth_refresh_token_validity number(3600..31536000) default=86400 Refresh-token lifetime in seconds (finite: users re-authenticate).
CREATE API INTEGRATION IF NOT EXISTS {{api_integration}}
  API_PROVIDER = external_mcp
  API_ALLOWED_PREFIXES = {{allowed_prefixes}}
  API_USER_AUTHENTICATION = (
    TYPE = OAUTH2
    OAUTH_CLIENT_ID = {{oauth_client_id}}
    OAUTH_CLIENT_AUTH_METHOD = NONE
    OAUTH_AUTHORIZATION_ENDPOINT = {{oauth_authorization_endpoint}}
    OAUTH_TOKEN_ENDPOINT = {{oauth_token_endpoint}}
    OAUTH_REFRESH_TOKEN_VALIDITY = {{oauth_refresh_token_validity}}
  )
  ENABLED = TRUE;

DESC API INTEGRATION {{api_integration}};
