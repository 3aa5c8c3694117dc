//! The one route table. Every route is listed here and in [`openapi::ApiDoc`]; a test checks
//! that each documented operation is served.

pub mod admin;
pub mod api_keys;
pub mod audit;
pub mod connections;
pub mod health;
pub mod mcp;
pub mod metrics;
pub mod oauth;
pub mod oauth_accounts;
pub mod openapi;
pub mod proxy;
pub mod proxy_errors;
pub mod tools;

use actix_web::{guard, web, Resource};

use crate::http::extractors::method_not_allowed;

/// A resource whose unsupported methods answer 405 in the error contract.
fn resource(path: &str) -> Resource {
    web::resource(path).default_service(web::to(method_not_allowed))
}

/// Registers every route (production and tests share this).
pub fn configure(cfg: &mut web::ServiceConfig) {
    use connections as c;
    // The six SQL API proxy paths come first and are recognised without the router's regular
    // expressions (`proxy::dispatch`): they carry the traffic (BENCHMARKS.md). The guard lets
    // every other `/v1/connections/…` path through to the resources below.
    cfg.service(
        web::scope("/v1/connections")
            .guard(guard::fn_guard(proxy::is_proxy_path))
            .default_service(web::to(proxy::dispatch)),
    )
    .service(resource("/healthz").route(web::get().to(health::get_healthz)))
    .service(resource("/readyz").route(web::get().to(health::get_readyz)))
    .service(resource("/openapi.json").route(web::get().to(openapi::get_openapi)))
    .service(
        resource("/v1/api-keys")
            .route(web::get().to(api_keys::get_api_keys))
            .route(web::post().to(api_keys::post_api_key)),
    )
    .service(resource("/v1/api-keys/{id}").route(web::delete().to(api_keys::delete_api_key)))
    .service(
        resource("/v1/connections")
            .route(web::get().to(c::get_connections))
            .route(web::post().to(c::post_connection)),
    )
    .service(
        resource("/v1/connections/{name}")
            .route(web::get().to(c::get_connection))
            .route(web::patch().to(c::patch_connection))
            .route(web::delete().to(c::delete_connection)),
    )
    .service(resource("/v1/connections/{name}/disable").route(web::post().to(c::post_disable)))
    .service(resource("/v1/connections/{name}/enable").route(web::post().to(c::post_enable)))
    .service(resource("/v1/connections/{name}/test").route(web::post().to(c::post_test)))
    .service(
        resource("/v1/connections/{name}/rotate-key").route(web::post().to(c::post_rotate_key)),
    )
    .service(
        resource("/v1/connections/{name}/rotate-key/complete")
            .route(web::post().to(c::post_rotate_key_complete)),
    )
    .service(
        resource("/v1/connections/{name}/authorization-links")
            .route(web::post().to(oauth::post_authorization_link)),
    )
    .service(
        resource("/v1/connections/{name}/accounts")
            .route(web::get().to(oauth_accounts::get_accounts)),
    )
    .service(
        resource("/v1/connections/{name}/accounts/{identifier}")
            .route(web::get().to(oauth_accounts::get_account))
            .route(web::delete().to(oauth_accounts::delete_account)),
    )
    .service(resource("/connect/{token}").route(web::get().to(oauth::get_connect)))
    .service(
        resource("/oauth/callback/{connection}").route(web::get().to(oauth::get_oauth_callback)),
    )
    .service(resource("/v1/actions/request").route(web::post().to(proxy::post_action_request)))
    .service(resource("/v1/audit").route(web::get().to(audit::get_audit)))
    .service(resource("/v1/tools").route(web::get().to(tools::get_tools)))
    .service(resource("/v1/tools/execute").route(web::post().to(tools::post_execute)))
    .service(resource("/metrics").route(web::get().to(metrics::get_metrics)))
    .service(
        resource("/mcp")
            .route(web::post().to(mcp::post_mcp))
            .route(web::get().to(mcp::get_mcp))
            .route(web::delete().to(mcp::delete_mcp)),
    );
    // The admin UI (HTML; not part of the OpenAPI document).
    cfg.configure(admin::configure);
}
