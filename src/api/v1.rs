//! Routes of auditors and reviewers, and `/openapi.json`. Mounted by [`super::configure`]; every
//! resource answers 405 to methods it does not route.

use actix_web::web;

use super::{export, method_not_allowed, openapi, records, review, trail};

/// Mounts the `/v1/…` routes and `/openapi.json`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    let resource = |path: &str| web::resource(path).default_service(web::to(method_not_allowed));
    cfg.service(resource("/v1/submissions").route(web::get().to(records::list)))
        .service(resource("/v1/submissions/{reference}").route(web::get().to(records::show)))
        .service(
            resource("/v1/submissions/{reference}/images/{kind}")
                .route(web::get().to(records::image)),
        )
        .service(
            resource("/v1/submissions/{reference}/review").route(web::post().to(review::review)),
        )
        .service(resource("/v1/audit/events").route(web::get().to(trail::events)))
        .service(resource("/v1/audit/verify").route(web::get().to(trail::verify)))
        .service(resource("/v1/export").route(web::get().to(export::export)))
        .service(resource("/openapi.json").route(web::get().to(openapi::openapi_json)));
}
