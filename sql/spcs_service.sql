-- Run icebroker as a Snowpark Container Services service with its vault on a block volume
--
-- When: after spcs_external_access, with the image pushed. Create the secrets first yourself,
--       so the keys never pass through icebroker (each a 32-byte base64 / an ibk_ key):
--       CREATE SECRET <db>.<schema>.ICEBROKER_MASTER_KEY TYPE = GENERIC_STRING SECRET_STRING = '<openssl rand -base64 32>';
--       CREATE SECRET <db>.<schema>.ICEBROKER_ADMIN_KEY TYPE = GENERIC_STRING SECRET_STRING = '<icebroker api-key generate>';
-- As:   the service role (USAGE on the compute pool and the integration, BIND SERVICE
--       ENDPOINT, READ on both secrets).
-- Then: SHOW ENDPOINTS IN SERVICE gives the ingress URL: it must equal public_url (re-run
--       with --set public_url=https://<ingress_url> and ALTER SERVICE … FROM SPECIFICATION if
--       not); SELECT SYSTEM$GET_SERVICE_LOGS('<db>.<schema>.<service>', 0, 'icebroker')
--       shows "icebroker listening". Keep MAX_INSTANCES = 1: the vault lives on one volume.
--
-- @param spcs_database name Database for icebroker's objects in Snowflake.
-- @param spcs_schema name default=APP Schema for icebroker's objects.
-- @param service name default=ICEBROKER The service.
-- @param compute_pool name default=ICEBROKER_POOL The compute pool.
-- @param image_repository name default=IMAGES The image repository.
-- @param image_tag tag default=latest The image tag pushed.
-- @param public_url url The URL end users and callers reach icebroker at (the ingress URL).
-- @param master_key_secret name default=ICEBROKER_MASTER_KEY Secret holding the vault master key.
-- @param admin_key_secret name default=ICEBROKER_ADMIN_KEY Secret holding the first admin API key.
-- @param data_volume_gib number(1..100) default=10 Size of the /data block volume in GiB.
-- @param external_access_integration name default=ICEBROKER_EGRESS The external access integration.
CREATE SERVICE IF NOT EXISTS {{spcs_database}}.{{spcs_schema}}.{{service}}
  IN COMPUTE POOL {{compute_pool}}
  FROM SPECIFICATION $$
spec:
  containers:
  - name: icebroker
    image: /{{spcs_database:lower}}/{{spcs_schema:lower}}/{{image_repository:lower}}/icebroker:{{image_tag}}
    args:
    - serve
    env:
      ICEBROKER_SERVER__LISTEN: 0.0.0.0:8080
      ICEBROKER_SERVER__PUBLIC_URL: {{public_url}}
      ICEBROKER_STORAGE__DATA_DIR: /data
      ICEBROKER_VAULT__GENERATE_MASTER_KEY: "false"
      ICEBROKER_LOG__FORMAT: json
    secrets:
    - snowflakeSecret:
        objectName: {{spcs_database}}.{{spcs_schema}}.{{master_key_secret}}
      secretKeyRef: secret_string
      envVarName: ICEBROKER_MASTER_KEY
    - snowflakeSecret:
        objectName: {{spcs_database}}.{{spcs_schema}}.{{admin_key_secret}}
      secretKeyRef: secret_string
      envVarName: ICEBROKER_ADMIN_KEY
    volumeMounts:
    - name: data
      mountPath: /data
    readinessProbe:
      port: 8080
      path: /readyz
  endpoints:
  - name: http
    port: 8080
    public: true
  volumes:
  - name: data
    source: block
    size: {{data_volume_gib}}Gi
$$
  EXTERNAL_ACCESS_INTEGRATIONS = ({{external_access_integration}})
  MIN_INSTANCES = 1
  MAX_INSTANCES = 1;

SHOW ENDPOINTS IN SERVICE {{spcs_database}}.{{spcs_schema}}.{{service}};
