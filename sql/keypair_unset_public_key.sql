-- Remove a retired public key from a keypair connection's Snowflake user
--
-- When: after a key rotation completed (removes the retired key), or after deleting the
--       connection in icebroker (removes the key icebroker held).
-- As:   a role that owns the user or has MODIFY on it.
-- Then: DESC USER shows the property as null; JWTs signed with that key now fail.
--
-- @param user ident The Snowflake user NAME.
-- @param retired_property enum(RSA_PUBLIC_KEY|RSA_PUBLIC_KEY_2) The slot of the retired key.
ALTER USER {{user}} UNSET {{retired_property}};
