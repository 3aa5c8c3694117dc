//! The one route table. Every route is listed here and in [`openapi::ApiDoc`]; a test checks
//! that each documented operation is served.

pub mod api_keys;
pub mod health;
pub mod openapi;

use actix_web::web;

use crate::http::extractors::method_not_allowed;

/// Registers every route (production and tests share this).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/healthz")
            .route(web::get().to(health::get_healthz))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/readyz")
            .route(web::get().to(health::get_readyz))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/openapi.json")
            .route(web::get().to(openapi::get_openapi))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/v1/api-keys")
            .route(web::get().to(api_keys::get_api_keys))
            .route(web::post().to(api_keys::post_api_key))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/v1/api-keys/{id}")
            .route(web::delete().to(api_keys::delete_api_key))
            .default_service(web::to(method_not_allowed)),
    );
}
