-- Create an API integration for a Git repository (e.g. icebroker's deployment scripts)
--
-- When: a team wants a Git repository clone in Snowflake (CREATE GIT REPOSITORY), e.g. to run
--       the SQL from a repository that holds these templates' output.
-- As:   ACCOUNTADMIN, or a role with the CREATE INTEGRATION privilege on the account. Create
--       the secret first yourself, so the token never passes through icebroker:
--       CREATE SECRET <db>.<schema>.<secret> TYPE = PASSWORD USERNAME = '<user>' PASSWORD = '<token>';
-- Then: CREATE GIT REPOSITORY … API_INTEGRATION = <this> GIT_CREDENTIALS = <the secret>
--       ORIGIN = '<https url under the allowed prefix>'; ALTER GIT REPOSITORY … FETCH works.
--
-- @param api_integration ident The integration's name.
-- @param allowed_prefixes list(url) Repository URLs or owners the integration may reach (comma-separated prefixes).
-- @param git_secret_database ident Database of the credentials secret.
-- @param git_secret_schema ident Schema of the credentials secret.
-- @param git_secret ident The credentials secret (TYPE = PASSWORD).
CREATE API INTEGRATION IF NOT EXISTS {{api_integration}}
  API_PROVIDER = git_https_api
  API_ALLOWED_PREFIXES = {{allowed_prefixes}}
  ALLOWED_AUTHENTICATION_SECRETS = ({{git_secret_database}}.{{git_secret_schema}}.{{git_secret}})
  ENABLED = TRUE;

DESC API INTEGRATION {{api_integration}};
