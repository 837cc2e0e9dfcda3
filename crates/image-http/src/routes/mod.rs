//! The handlers: [`images`] for local images (list, inspect, history,
//! containers, tag, remove, prune, disk usage) and [`transfer`] for the
//! streamed operations (pull, push, build, save, load), plus the health
//! check.

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
