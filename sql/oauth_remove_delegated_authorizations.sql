-- Revoke a user's consent and every OAuth token issued to icebroker for them
--
-- When: after disconnecting an end user in icebroker (DELETE …/accounts/{identifier}):
--       icebroker forgot the tokens; this revokes the consent and the tokens in Snowflake.
-- As:   ACCOUNTADMIN, or a role with OWNERSHIP on the user.
-- Then: SHOW DELEGATED AUTHORIZATIONS BY USER <user> no longer lists the integration.
--
-- @param oauth_user ident The end user's Snowflake user NAME.
-- @param integration name The security integration's name.
ALTER USER {{oauth_user}} REMOVE DELEGATED AUTHORIZATIONS FROM SECURITY INTEGRATION {{integration}};
