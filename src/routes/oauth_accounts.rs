//! Connected accounts of an OAuth connection: list, inspect, disconnect. Never tokens.
//! Any API key allowed for the connection may use them (apps check and end their users'
//! connections; admins too).

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::oauth::require_connection;
use crate::error::AppError;
use crate::http::auth::ServiceCaller;
use crate::oauth::{AccountStatus, AccountView};
use crate::state::AppState;

/// `?status=` filter.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountsQuery {
    /// Only accounts in this state.
    #[serde(default)]
    pub status: Option<AccountStatus>,
}

/// `GET /v1/connections/{name}/accounts`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountList {
    /// Accounts by identifier.
    pub accounts: Vec<AccountView>,
}

/// `DELETE …/accounts/{identifier}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct DisconnectResponse {
    /// The account, now `revoked`, without tokens.
    pub account: AccountView,
    /// `ALTER USER … REMOVE DELEGATED AUTHORIZATIONS FROM SECURITY INTEGRATION …`, when the
    /// Snowflake user is known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoke_sql: Option<String>,
    /// What to do next.
    pub instructions: String,
}

/// Lists the connection's accounts, optionally by status.
#[utoipa::path(get, path = "/v1/connections/{name}/accounts", tag = "oauth",
    security(("api_key" = [])),
    params(("name" = String, Path),
           ("status" = Option<AccountStatus>, Query, description = "pending, active, expired or revoked")),
    responses((status = 200, body = AccountList),
              (status = 403, body = crate::routes::openapi::ErrorEnvelope),
              (status = 404, body = crate::routes::openapi::ErrorEnvelope)))]
pub async fn get_accounts(
    caller: ServiceCaller,
    state: web::Data<AppState>,
    name: web::Path<String>,
    query: web::Query<AccountsQuery>,
) -> Result<HttpResponse, AppError> {
    require_connection(&caller, &name)?;
    let accounts = state.oauth.accounts(&name, query.status)?;
    Ok(HttpResponse::Ok().json(AccountList { accounts }))
}

/// One account: status, Snowflake user, scope, expiries, last refresh and error.
#[utoipa::path(get, path = "/v1/connections/{name}/accounts/{identifier}", tag = "oauth",
    security(("api_key" = [])),
    params(("name" = String, Path), ("identifier" = String, Path)),
    responses((status = 200, body = AccountView),
              (status = 404, body = crate::routes::openapi::ErrorEnvelope)))]
pub async fn get_account(
    caller: ServiceCaller,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (name, identifier) = path.into_inner();
    require_connection(&caller, &name)?;
    Ok(HttpResponse::Ok().json(state.oauth.account(&name, &identifier)?))
}

/// Forgets the account's tokens (status `revoked`) and returns the SQL that revokes the
/// consent on the Snowflake side.
#[utoipa::path(delete, path = "/v1/connections/{name}/accounts/{identifier}", tag = "oauth",
    security(("api_key" = [])),
    params(("name" = String, Path), ("identifier" = String, Path)),
    responses((status = 200, body = DisconnectResponse),
              (status = 404, body = crate::routes::openapi::ErrorEnvelope)))]
pub async fn delete_account(
    caller: ServiceCaller,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (name, identifier) = path.into_inner();
    require_connection(&caller, &name)?;
    let (account, revoke_sql) = state.oauth.disconnect(&name, &identifier).await?;
    let instructions = if revoke_sql.is_some() {
        "icebroker forgot the tokens. Run revoke_sql in Snowflake (ACCOUNTADMIN or the user's \
         owner) to end the consent and every token Snowflake issued for it."
    } else {
        "icebroker forgot the tokens. The Snowflake user is unknown, so no revoke statement \
         can be rendered."
    };
    Ok(HttpResponse::Ok().json(DisconnectResponse {
        account,
        revoke_sql,
        instructions: instructions.to_owned(),
    }))
}
