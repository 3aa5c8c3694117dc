-- Rotate a keypair connection's key through the second key slot
--
-- When: after starting a rotation in icebroker (POST …/rotate-key): the new key goes into the
--       free slot (usually RSA_PUBLIC_KEY_2) while the old key keeps working.
-- As:   a role that owns the user or has MODIFY on it (e.g. SECURITYADMIN or USERADMIN).
-- Then: DESC USER shows the new fingerprint in the slot's _FP column; press "complete" in
--       icebroker (POST …/rotate-key/complete), which tests the new key and switches to it;
--       only then remove the retired key with keypair_unset_public_key.
--
-- @param user ident The Snowflake user NAME.
-- @param next_property enum(RSA_PUBLIC_KEY|RSA_PUBLIC_KEY_2) default=RSA_PUBLIC_KEY_2 The free slot.
-- @param next_public_key string The new public key (base64 DER, as icebroker shows it).
ALTER USER {{user}} SET {{next_property}}={{next_public_key}};

DESC USER {{user}};
