-- Create an authentication policy that allows only key-pair (JWT) and OAuth sign-in
--
-- When: to lock a service user (or the users of an OAuth connection) to the methods icebroker
--       uses: KEYPAIR for keypair connections' JWTs, OAUTH for tokens of the listed
--       security integrations.
-- As:   SECURITYADMIN (or a role with CREATE AUTHENTICATION POLICY on the schema and APPLY
--       AUTHENTICATION POLICY on the account).
-- Then: DESC AUTHENTICATION POLICY shows AUTHENTICATION_METHODS = [KEYPAIR, OAUTH]; press
--       "Test" in icebroker; a password login of the user now fails.
--
-- @param policy_database ident Database holding the policy (e.g. a governance database).
-- @param policy_schema ident Schema holding the policy.
-- @param policy ident The policy's name.
-- @param security_integrations list(string) default=ALL Security integrations allowed for OAuth (ALL or names).
-- @param user ident The user the policy is set on.
CREATE AUTHENTICATION POLICY IF NOT EXISTS {{policy_database}}.{{policy_schema}}.{{policy}}
  AUTHENTICATION_METHODS = ('KEYPAIR', 'OAUTH')
  SECURITY_INTEGRATIONS = {{security_integrations}}
  COMMENT = 'icebroker: key-pair JWT and OAuth only';

ALTER USER {{user}} SET AUTHENTICATION POLICY {{policy_database}}.{{policy_schema}}.{{policy}};
