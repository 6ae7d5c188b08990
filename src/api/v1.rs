//! Routes of auditors and reviewers, and `/openapi.json`. Mounted by [`super::configure`]; every
//! resource answers 405 to methods it does not route.

use actix_web::web;

use super::{
    events, export, mapping_versions, openapi, quarantine, records, resource, review, trace, trail,
};

/// Mounts the `/v1/…` routes and `/openapi.json`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/v1/submissions", "GET").route(web::get().to(records::list)))
        .service(resource("/v1/submissions/{reference}", "GET").route(web::get().to(records::show)))
        .service(
            resource("/v1/submissions/{reference}/images/{kind}", "GET")
                .route(web::get().to(records::image)),
        )
        .service(
            resource("/v1/submissions/{reference}/review", "POST")
                .route(web::post().to(review::review)),
        )
        .service(resource("/v1/audit/events", "GET").route(web::get().to(trail::events)))
        .service(resource("/v1/audit/verify", "GET").route(web::get().to(trail::verify)))
        .service(resource("/v1/audit/head", "GET").route(web::get().to(trail::head)))
        .service(resource("/v1/audit/export", "GET").route(web::get().to(trail::export)))
        .service(resource("/v1/export", "GET").route(web::get().to(export::export)))
        .service(resource("/v1/trace", "GET").route(web::get().to(trace::trace)))
        .service(resource("/v1/events", "GET").route(web::get().to(events::feed)))
        .service(resource("/v1/webhooks", "GET").route(web::get().to(events::webhooks)))
        .service(resource("/v1/webhooks/{name}/pause", "POST").route(web::post().to(events::pause)))
        .service(
            resource("/v1/webhooks/{name}/resume", "POST").route(web::post().to(events::resume)),
        )
        .service(
            resource("/v1/webhooks/{name}/redeliver", "POST")
                .route(web::post().to(events::redeliver)),
        )
        .service(
            resource("/v1/mappings/{sha256}", "GET").route(web::get().to(mapping_versions::show)),
        )
        .service(resource("/v1/quarantine", "GET").route(web::get().to(quarantine::list)))
        .service(
            resource("/v1/quarantine/replay", "POST")
                .route(web::post().to(quarantine::replay_many)),
        )
        .service(
            resource("/v1/quarantine/{id}", "GET, DELETE")
                .route(web::get().to(quarantine::show))
                .route(web::delete().to(quarantine::drop_entry)),
        )
        .service(
            resource("/v1/quarantine/{id}/replay", "POST")
                .route(web::post().to(quarantine::replay_one)),
        )
        .service(resource("/openapi.json", "GET").route(web::get().to(openapi::openapi_json)));
}
