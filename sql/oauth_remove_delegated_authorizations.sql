-- When: after disconnecting an end user in icebroker (DELETE …/accounts/{identifier}): icebroker
--       forgot the tokens; this revokes the consent and every token on the Snowflake side.
-- As:   ACCOUNTADMIN, or a role with OWNERSHIP on the user.
-- Then: SHOW DELEGATED AUTHORIZATIONS BY USER <user> no longer lists the integration.
ALTER USER {{user}} REMOVE DELEGATED AUTHORIZATIONS FROM SECURITY INTEGRATION {{integration}};
