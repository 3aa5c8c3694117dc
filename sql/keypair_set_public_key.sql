-- When: after creating a keypair connection (slot RSA_PUBLIC_KEY) or starting a key rotation
--       (the free slot, usually RSA_PUBLIC_KEY_2).
-- As:   a role that owns the user or has MODIFY on it (e.g. SECURITYADMIN or USERADMIN).
-- Then: run the DESC USER statement and check that RSA_PUBLIC_KEY_FP (or RSA_PUBLIC_KEY_2_FP)
--       equals the fingerprint icebroker shows, then press "test" in icebroker.
ALTER USER {{user}} SET {{property}}='{{public_key}}';
