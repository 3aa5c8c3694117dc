-- Create an API integration for calling out from Snowflake through Azure API Management
--
-- When: a team calls its own HTTPS service from Snowflake (external functions) through an
--       Azure API Management instance.
-- As:   ACCOUNTADMIN, or a role with the CREATE INTEGRATION privilege on the account.
-- Then: DESC API INTEGRATION shows AZURE_CONSENT_URL and AZURE_MULTI_TENANT_APP_NAME: open the
--       consent URL as an Azure admin and allow the app in the API Management policy; then
--       GRANT USAGE ON INTEGRATION to the role that creates the external functions.
--
-- @param api_integration ident The integration's name.
-- @param azure_tenant_id string The Microsoft Entra (Azure AD) tenant id.
-- @param azure_ad_application_id string The "Application (client) id" of the app protecting the service.
-- @param allowed_prefixes list(url) API Management URLs the integration may call (comma-separated prefixes).
CREATE API INTEGRATION IF NOT EXISTS {{api_integration}}
  API_PROVIDER = azure_api_management
  AZURE_TENANT_ID = {{azure_tenant_id}}
  AZURE_AD_APPLICATION_ID = {{azure_ad_application_id}}
  API_ALLOWED_PREFIXES = {{allowed_prefixes}}
  ENABLED = TRUE;

DESC API INTEGRATION {{api_integration}};
