-- When: after a key rotation completed (removes the retired key), or after deleting the
--       connection in icebroker (removes the key icebroker held).
-- As:   a role that owns the user or has MODIFY on it.
-- Then: DESC USER shows the property as null; JWTs signed with that key now fail.
ALTER USER {{user}} UNSET {{property}};
