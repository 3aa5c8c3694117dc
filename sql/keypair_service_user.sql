-- Create a minimal-privilege role and a service user for a keypair connection
--
-- When: before creating a keypair connection, when the connection should get its own user
--       that can only read one schema through one warehouse.
-- As:   SECURITYADMIN (creates the role and user, grants on objects it may grant on); the
--       warehouse and database owners may have to run their GRANT lines instead.
-- Then: DESC USER shows TYPE = SERVICE and RSA_PUBLIC_KEY_FP equal to icebroker's fingerprint;
--       SHOW GRANTS TO ROLE lists only these privileges; press "Test" in icebroker. Grant
--       more (e.g. INSERT) deliberately, table by table.
--
-- @param role ident The role the connection uses.
-- @param user ident The service user's NAME.
-- @param warehouse ident The warehouse the role may use.
-- @param database ident The database to read.
-- @param schema ident The schema to read.
-- @param public_key string The connection's public key (base64 DER, as icebroker shows it).
CREATE ROLE IF NOT EXISTS {{role}};

GRANT USAGE ON WAREHOUSE {{warehouse}} TO ROLE {{role}};

GRANT USAGE ON DATABASE {{database}} TO ROLE {{role}};

GRANT USAGE ON SCHEMA {{database}}.{{schema}} TO ROLE {{role}};

GRANT SELECT ON ALL TABLES IN SCHEMA {{database}}.{{schema}} TO ROLE {{role}};

GRANT SELECT ON ALL VIEWS IN SCHEMA {{database}}.{{schema}} TO ROLE {{role}};

CREATE USER IF NOT EXISTS {{user}}
  TYPE = SERVICE
  DEFAULT_ROLE = {{role}}
  DEFAULT_WAREHOUSE = {{warehouse}}
  RSA_PUBLIC_KEY = {{public_key}};

GRANT ROLE {{role}} TO USER {{user}};
