-- When: right after creating the security integration (and after rotating its secret).
-- As:   ACCOUNTADMIN, or the integration's owner.
-- Then: the JSON holds oauth_client_id and oauth_client_secret (base64, contains + / =): give
--       both to icebroker exactly as shown; icebroker seals the secret and never shows it again.
SELECT SYSTEM$SHOW_OAUTH_CLIENT_SECRETS('{{integration}}');
