//! Handlers for the streamed operations: pull, push and build answer NDJSON
//! progress and wait in the work queue; save downloads a docker-save tar;
//! build and load read their upload as a stream under the size limit, never
//! buffering it here. Input is validated before any stream starts, so a bad
//! reference is a plain 400; failures once streaming are the stream's last
//! line.

use std::collections::BTreeMap;
use std::fmt;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::Response;
use image_core::{
    BuildContext, BuildOptions, ImageError, LoadReport, Platform, PullOptions, PushOptions,
    Reference, RegistryAuth,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::audit::AuditNote;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiQuery};
use crate::metrics::InFlight;
use crate::queue::Slot;
use crate::stream::{self, StreamGuards, StreamLine, UploadLimit};

/// Registry credentials for one pull or push. Never logged nor returned;
/// `Debug` hides the password.
#[derive(Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct Credentials {
    /// The user name.
    pub username: String,
    /// The password.
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

impl Credentials {
    /// The core's credentials; the backend fills in the registry from the
    /// reference.
    fn into_auth(self) -> RegistryAuth {
        RegistryAuth {
            username: self.username,
            password: self.password,
            identity_token: None,
            server_address: String::new(),
        }
    }
}

/// The body of `POST /api/v1/images/pull`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PullRequest {
    /// `NAME[:TAG|@DIGEST]`; `latest` when neither is given.
    pub reference: String,
    /// `os/arch[/variant]`, when not the engine's own.
    #[serde(default)]
    pub platform: Option<String>,
    /// Pull every tag of the repository.
    #[serde(default)]
    pub all_tags: bool,
    /// Credentials; without them the server's configured ones are used.
    #[serde(default)]
    pub auth: Option<Credentials>,
}

/// The body of `POST /api/v1/images/push`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PushRequest {
    /// `NAME[:TAG]`; `latest` when no tag is given.
    pub reference: String,
    /// Push every local tag of the repository.
    #[serde(default)]
    pub all_tags: bool,
    /// Credentials; without them the server's configured ones are used.
    #[serde(default)]
    pub auth: Option<Credentials>,
}

fn parse_reference(text: &str) -> Result<Reference, ApiError> {
    Reference::parse_normalized(text)
        .map_err(|error| ApiError::from(ImageError::invalid_reference(text, error)))
}

fn parse_platform(text: Option<&str>) -> Result<Option<Platform>, ApiError> {
    text.filter(|text| !text.is_empty())
        .map(Platform::parse)
        .transpose()
        .map_err(ApiError::from)
}

/// Waits for a work slot.
async fn slot(state: &AppState) -> Result<Slot, ApiError> {
    state.queue.acquire(&state.shutdown).await
}

fn guards(
    state: &AppState,
    slot: Option<Slot>,
    audit: AuditNote,
    overflow: Option<UploadLimit>,
) -> StreamGuards {
    StreamGuards {
        shutdown: state.shutdown.clone(),
        in_flight: InFlight::start(&state.metrics.streams_in_flight),
        slot,
        audit: audit.into_stream(),
        overflow,
    }
}

/// Pulls an image; the answer is NDJSON progress.
#[utoipa::path(
    post,
    path = "/api/v1/images/pull",
    tag = "transfer",
    request_body = PullRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "One progress event per line; the last is `done` or `error`", content_type = "application/x-ndjson", body = StreamLine),
        (status = 400, description = "A bad reference, platform or body", body = ErrorBody),
        (status = 403, description = "Read-only server", body = ErrorBody),
        (status = 503, description = "The queue is full (busy) or the engine is unavailable", body = ErrorBody)
    )
)]
pub async fn pull(
    State(state): State<AppState>,
    audit: AuditNote,
    ApiJson(body): ApiJson<PullRequest>,
) -> Result<Response, ApiError> {
    audit.target(body.reference.clone());
    parse_reference(&body.reference)?;
    let options = PullOptions {
        platform: parse_platform(body.platform.as_deref())?,
        all_tags: body.all_tags,
        auth: body.auth.map(Credentials::into_auth),
        reference: body.reference,
    };
    let slot = slot(&state).await?;
    let events = state.service.pull(&options).await?;
    Ok(stream::ndjson(
        events,
        guards(&state, Some(slot), audit, None),
    ))
}

/// Pushes an image; the answer is NDJSON progress.
#[utoipa::path(
    post,
    path = "/api/v1/images/push",
    tag = "transfer",
    request_body = PushRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "One progress event per line; the last is `done` or `error`", content_type = "application/x-ndjson", body = StreamLine),
        (status = 400, description = "A bad reference or body", body = ErrorBody),
        (status = 403, description = "Read-only server", body = ErrorBody),
        (status = 404, description = "No such local image", body = ErrorBody),
        (status = 503, description = "The queue is full (busy) or the engine is unavailable", body = ErrorBody)
    )
)]
pub async fn push(
    State(state): State<AppState>,
    audit: AuditNote,
    ApiJson(body): ApiJson<PushRequest>,
) -> Result<Response, ApiError> {
    audit.target(body.reference.clone());
    parse_reference(&body.reference)?;
    let options = PushOptions {
        platform: None,
        all_tags: body.all_tags,
        auth: body.auth.map(Credentials::into_auth),
        reference: body.reference,
    };
    let slot = slot(&state).await?;
    let events = state.service.push(&options).await?;
    Ok(stream::ndjson(
        events,
        guards(&state, Some(slot), audit, None),
    ))
}

/// The query of `POST /api/v1/build`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BuildQuery {
    /// A tag for the result, `name[:tag]`; repeatable.
    #[serde(default)]
    pub t: Vec<String>,
    /// The Dockerfile's path inside the context (default `Dockerfile`).
    pub dockerfile: Option<String>,
    /// A build argument `KEY=VALUE`; repeatable.
    #[serde(default)]
    pub build_arg: Vec<String>,
    /// A label `KEY=VALUE`; repeatable.
    #[serde(default)]
    pub label: Vec<String>,
    /// Do not use the build cache.
    #[serde(default)]
    pub no_cache: bool,
    /// Always try to pull newer base images.
    #[serde(default)]
    pub pull: bool,
    /// The stage to build.
    pub target: Option<String>,
    /// The platform to build for, `os/arch[/variant]`.
    pub platform: Option<String>,
}

fn key_values(what: &str, pairs: &[String]) -> Result<BTreeMap<String, String>, ApiError> {
    pairs
        .iter()
        .map(|pair| match pair.split_once('=') {
            Some((key, value)) if !key.is_empty() => Ok((key.to_string(), value.to_string())),
            _ => Err(ApiError::from(ImageError::invalid_argument(format!(
                "{what} \"{pair}\" is not KEY=VALUE"
            )))),
        })
        .collect()
}

/// Checks the `Content-Length`, if any, against the limit before reading.
fn check_length(headers: &HeaderMap, limit: &UploadLimit) -> Result<(), ApiError> {
    let length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    match length {
        Some(length) if length > limit.max() => Err(ApiError::payload_too_large(limit.max())),
        _ => Ok(()),
    }
}

/// Builds an image from an uploaded context tar (streamed, never buffered
/// here); the answer is NDJSON progress.
#[utoipa::path(
    post,
    path = "/api/v1/build",
    tag = "transfer",
    params(BuildQuery),
    request_body(content = Vec<u8>, description = "The build context as an uncompressed tar", content_type = "application/x-tar"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Build output, one event per line; the last is `done` (with the image ID) or `error`", content_type = "application/x-ndjson", body = StreamLine),
        (status = 400, description = "A bad tag, argument or context", body = ErrorBody),
        (status = 403, description = "Read-only server", body = ErrorBody),
        (status = 413, description = "The context is larger than --max-body", body = ErrorBody),
        (status = 503, description = "The queue is full (busy) or the engine is unavailable", body = ErrorBody)
    )
)]
pub async fn build(
    State(state): State<AppState>,
    audit: AuditNote,
    ApiQuery(query): ApiQuery<BuildQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    audit.target(query.t.join(","));
    for tag in &query.t {
        parse_reference(tag)?;
    }
    let options = BuildOptions {
        dockerfile: query.dockerfile.filter(|path| !path.is_empty()),
        tags: query.t,
        build_args: key_values("build_arg", &query.build_arg)?,
        labels: key_values("label", &query.label)?,
        no_cache: query.no_cache,
        pull: query.pull,
        target: query.target.filter(|target| !target.is_empty()),
        platform: parse_platform(query.platform.as_deref())?,
    };
    let limit = UploadLimit::new(state.settings.max_body);
    check_length(&headers, &limit)?;
    let slot = slot(&state).await?;
    let context = BuildContext::Tar(limit.stream(body));
    let events = state
        .service
        .build(context, &options)
        .await
        .map_err(|error| limit.explain(error))?;
    Ok(stream::ndjson(
        events,
        guards(&state, Some(slot), audit, Some(limit)),
    ))
}

/// The query of `GET /api/v1/images/save`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SaveQuery {
    /// An image to save (reference or ID); repeatable, at least one.
    #[serde(default)]
    pub image: Vec<String>,
}

/// Downloads images as one docker-save tar.
#[utoipa::path(
    get,
    path = "/api/v1/images/save",
    tag = "transfer",
    params(SaveQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A docker-save tar, streamed", content_type = "application/x-tar", body = Vec<u8>),
        (status = 400, description = "No image, or a bad reference", body = ErrorBody),
        (status = 404, description = "No such image", body = ErrorBody)
    )
)]
pub async fn save(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<SaveQuery>,
) -> Result<Response, ApiError> {
    if query.image.is_empty() {
        return Err(ApiError::from(ImageError::invalid_argument(
            "name at least one image to save: ?image=NAME (repeatable)",
        )));
    }
    let bytes = state.service.save(&query.image).await?;
    Ok(stream::download(
        bytes,
        state.shutdown.clone(),
        InFlight::start(&state.metrics.streams_in_flight),
        "application/x-tar",
        "images.tar",
    ))
}

/// Loads images from an uploaded docker-save tar (streamed).
#[utoipa::path(
    post,
    path = "/api/v1/images/load",
    tag = "transfer",
    request_body(content = Vec<u8>, description = "A docker-save tar", content_type = "application/x-tar"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "What was loaded", body = LoadReport),
        (status = 400, description = "Not a docker-save archive", body = ErrorBody),
        (status = 403, description = "Read-only server", body = ErrorBody),
        (status = 413, description = "The archive is larger than --max-body", body = ErrorBody)
    )
)]
pub async fn load(
    State(state): State<AppState>,
    audit: AuditNote,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<LoadReport>, ApiError> {
    let limit = UploadLimit::new(state.settings.max_body);
    check_length(&headers, &limit)?;
    let report = state
        .service
        .load(limit.stream(body))
        .await
        .map_err(|error| limit.explain(error))?;
    audit.target(report.loaded_tags.join(","));
    Ok(Json(report))
}
