//! The handlers: [`images`] for local images (list, inspect, history,
//! containers, whether a tag is outdated, tag, remove, prune, disk usage),
//! [`transfer`] for the streamed operations (pull, push, build, save,
//! load) and [`cleanup`] for retention policies, plus the health check.

pub mod cleanup;
pub mod images;
pub mod transfer;

/// `GET /healthz`: `ok` while the server runs (it does not ask the engine).
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "service",
    responses((status = 200, description = "The server runs", content_type = "text/plain", body = String))
)]
pub async fn healthz() -> &'static str {
    "ok"
}
