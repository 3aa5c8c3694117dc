-- Check that the security integration's redirect URI is the one icebroker sends
--
-- When: after creating or altering the integration, and whenever end users see
--       "invalid redirect_uri" on Snowflake's consent page.
-- As:   ACCOUNTADMIN, or the integration's owner.
-- Then: REDIRECT_URI_MATCHES is TRUE. If it is FALSE, run
--       ALTER SECURITY INTEGRATION <name> SET OAUTH_REDIRECT_URI = '<the uri icebroker shows>'.
--
-- @param integration name The security integration's name.
-- @param redirect_uri string icebroker's callback URL for the connection.
DESC SECURITY INTEGRATION {{integration}};

SELECT "property_value" = {{redirect_uri}} AS redirect_uri_matches,
       "property_value" AS oauth_redirect_uri
  FROM TABLE(RESULT_SCAN(LAST_QUERY_ID()))
  WHERE "property" = 'OAUTH_REDIRECT_URI';
