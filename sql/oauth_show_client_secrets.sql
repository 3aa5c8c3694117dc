-- Show the OAuth client id and secrets of the security integration
--
-- When: right after oauth_create_security_integration, and after rotating the client secret.
-- As:   ACCOUNTADMIN, or the integration's owner.
-- Then: the JSON holds OAUTH_CLIENT_ID and OAUTH_CLIENT_SECRET (base64: it contains + / =).
--       Give both to icebroker exactly as shown (POST /v1/connections, kind "oauth"); icebroker
--       seals the secret and never shows it again. Do not paste the secret anywhere else.
--
-- @param integration name The security integration's name.
SELECT SYSTEM$SHOW_OAUTH_CLIENT_SECRETS('{{integration}}');
