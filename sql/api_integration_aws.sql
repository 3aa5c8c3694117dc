-- Create an API integration for calling out from Snowflake through Amazon API Gateway
--
-- When: a team calls its own HTTPS service from Snowflake (external functions) through Amazon
--       API Gateway, e.g. a gateway in front of icebroker's API.
-- As:   ACCOUNTADMIN, or a role with the CREATE INTEGRATION privilege on the account.
-- Then: DESC API INTEGRATION shows API_AWS_IAM_USER_ARN and API_AWS_EXTERNAL_ID: put both in
--       the IAM role's trust policy; then GRANT USAGE ON INTEGRATION to the role that creates
--       the external functions. Keep API_ALLOWED_PREFIXES as narrow as possible.
--
-- @param api_integration ident The integration's name.
-- @param api_provider enum(aws_api_gateway|aws_private_api_gateway|aws_gov_api_gateway|aws_gov_private_api_gateway) default=aws_api_gateway The gateway type.
-- @param aws_role_arn string ARN of the IAM role Snowflake assumes (arn:aws:iam::<account>:role/<name>).
-- @param allowed_prefixes list(url) Gateway URLs the integration may call (comma-separated prefixes).
CREATE API INTEGRATION IF NOT EXISTS {{api_integration}}
  API_PROVIDER = {{api_provider}}
  API_AWS_ROLE_ARN = {{aws_role_arn}}
  API_ALLOWED_PREFIXES = {{allowed_prefixes}}
  ENABLED = TRUE;

DESC API INTEGRATION {{api_integration}};
