//! # image-http
//!
//! The library behind `imgd`, imgctl's HTTP service: [`app`] builds an axum
//! [`Router`] over an [`AppState`] that holds any
//! [`ImageService`](image_core::ImageService) (`Arc<dyn ImageService>`) and
//! the server's settings, so tests drive the same routes on the in-memory
//! engine or a mock with `tower::ServiceExt::oneshot`, without a socket.
//!
//! The API (`/api/v1`, documented at `/openapi.json`) needs a bearer token;
//! errors have one JSON shape ([`error`]); pulls, pushes and builds stream
//! NDJSON ([`stream`]) and wait in a bounded [`queue`]; mutating requests are
//! audited ([`audit`]); retention policies run on request or on a
//! schedule ([`cleanup`]); [`metrics`] are served to Prometheus; [`server`]
//! serves the router over TCP or TLS and shuts down gracefully. Only
//! `main.rs` names a backend.

pub mod assets;
pub mod audit;
pub mod auth;
pub mod cleanup;
pub mod cli;
pub mod error;
pub mod extract;
pub mod list_cache;
pub mod metrics;
pub mod queue;
pub mod routes;
pub mod server;
pub mod stream;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use image_core::DynImageService;
use tokio_util::sync::CancellationToken;
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Token;
use crate::cleanup::CleanupRuns;
use crate::list_cache::{ListAnswers, ListVersion};
use crate::metrics::Metrics;
use crate::queue::WorkQueue;

/// The default limit of uploads (build contexts, archives to load): 8 GiB.
pub const DEFAULT_MAX_BODY: u64 = 8 << 30;
/// The limit of JSON request bodies: 1 MiB (or `max_body`, if smaller).
pub const MAX_JSON_BODY: u64 = 1 << 20;
/// How many pulls, pushes and builds run at once by default.
pub const DEFAULT_MAX_CONCURRENT: usize = 2;
/// How many more wait for a slot by default.
pub const DEFAULT_MAX_QUEUED: usize = 16;

/// The settings of a server, resolved from flags and environment.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The API token.
    pub token: Token,
    /// Refuse every request that would change images.
    pub read_only: bool,
    /// The limit of uploads, in bytes.
    pub max_body: u64,
    /// How many pulls, pushes and builds run at once.
    pub max_concurrent: usize,
    /// How many more may wait for a slot before requests get 503 `busy`.
    pub max_queued: usize,
}

impl Settings {
    /// Default settings with `token`.
    pub fn new(token: Token) -> Settings {
        Settings {
            token,
            read_only: false,
            max_body: DEFAULT_MAX_BODY,
            max_concurrent: DEFAULT_MAX_CONCURRENT,
            max_queued: DEFAULT_MAX_QUEUED,
        }
    }
}

/// What every handler shares: the engine, the settings, the work queue, the
/// metrics and the shutdown signal. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The engine.
    pub service: Arc<DynImageService>,
    /// The settings.
    pub settings: Arc<Settings>,
    /// Pulls, pushes and builds wait here.
    pub queue: WorkQueue,
    /// The metrics.
    pub metrics: Metrics,
    /// Cancelled when the server shuts down: streams end with a `cancelled`
    /// error line.
    pub shutdown: CancellationToken,
    /// Serialized list answers, kept while the listing is unchanged.
    pub list_answers: ListAnswers,
    /// The scheduled cleanup's runs (none without a schedule).
    pub cleanup_runs: CleanupRuns,
}

impl AppState {
    /// State over `service` with `settings`.
    pub fn new(
        service: Arc<DynImageService>,
        settings: Settings,
    ) -> Result<AppState, prometheus::Error> {
        let metrics = Metrics::new()?;
        let queue = WorkQueue::new(
            settings.max_concurrent,
            settings.max_queued,
            metrics.clone(),
        );
        Ok(AppState {
            service,
            settings: Arc::new(settings),
            queue,
            metrics,
            shutdown: CancellationToken::new(),
            list_answers: ListAnswers::default(),
            cleanup_runs: CleanupRuns::default(),
        })
    }

    /// Keeps serialized list answers while `version` (the list cache's
    /// [`list_version`](image_core::CachedImageService::list_version))
    /// stays the same.
    pub fn with_list_version(mut self, version: ListVersion) -> AppState {
        self.list_answers = ListAnswers::new(version);
        self
    }
}

/// The OpenAPI document's frame; the paths come from the handlers'
/// `#[utoipa::path]` attributes as they are routed.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "imgd",
        description = "imgctl's HTTP API: container images of one engine. Every /api/ route needs `Authorization: Bearer <token>`. Errors are `{\"error\":{\"kind\",\"message\"}}`."
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "images", description = "Local images"),
        (name = "transfer", description = "Pull, push, build, save and load"),
        (name = "cleanup", description = "Retention policies: plans, cleanups and the scheduled runs"),
        (name = "service", description = "Health, metrics and this document")
    )
)]
struct ApiDoc;

/// Adds the bearer security scheme.
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The API routes with their documentation, before state and middleware.
fn api_routes() -> OpenApiRouter<AppState> {
    use routes::{cleanup, images, transfer};
    OpenApiRouter::new()
        .routes(routes!(images::list))
        .routes(routes!(images::inspect, images::remove))
        .routes(routes!(images::history))
        .routes(routes!(images::containers))
        .routes(routes!(images::outdated))
        .routes(routes!(images::tag))
        .routes(routes!(images::prune))
        .routes(routes!(images::disk_usage))
        .routes(routes!(transfer::pull))
        .routes(routes!(transfer::push))
        .routes(routes!(transfer::build))
        .routes(routes!(transfer::save))
        .routes(routes!(transfer::load))
        .routes(routes!(cleanup::cleanup))
        .routes(routes!(cleanup::reports))
}

/// The open routes with their documentation.
fn open_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(routes::healthz))
        .routes(routes!(metrics::serve))
}

/// The whole service: the API, the open routes, the web page, and the
/// middleware (metrics, audit, token, body limits, error shapes).
pub fn app(state: AppState) -> Router {
    let (api, api_doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(api_routes())
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_token,
        ))
        .split_for_parts();
    let (open, open_doc) = open_routes().split_for_parts();
    let mut doc = api_doc;
    doc.merge(open_doc);
    let doc = Arc::new(doc);
    let json_limit = usize::try_from(MAX_JSON_BODY.min(state.settings.max_body)).unwrap_or(0);
    Router::new()
        .merge(api)
        .merge(open)
        .route(
            "/openapi.json",
            axum::routing::get(move || {
                let doc = doc.clone();
                async move { axum::Json(doc.as_ref().clone()) }
            }),
        )
        .route("/", axum::routing::get(assets::index))
        .route("/assets/{file}", axum::routing::get(assets::file))
        .fallback(error::no_route)
        .method_not_allowed_fallback(error::wrong_method)
        .layer(DefaultBodyLimit::max(json_limit))
        .layer(middleware::from_fn(audit::record))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .with_state(state)
}
