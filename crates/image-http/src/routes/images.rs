//! Handlers for local images: list (docker's filters, sorting, paging),
//! inspect, history, the containers using an image, whether a tag is
//! outdated, tag, remove, prune and disk usage. Each is one call to the [`ImageService`](image_core::ImageService);
//! the list response is serialized once, with no further engine call per
//! row.

use std::cmp::Ordering;

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse as _, Response};
use bytes::Bytes;
use image_core::outdated::OutdatedStatus;
use image_core::{
    ContainerRef, DiskUsage, HistoryEntry, ImageDetails, ImageError, ImageFilters, ImageSummary,
    ListOptions, PruneFilters, PruneOptions, RemoveAction, RemoveOptions,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::audit::AuditNote;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery};

/// How to order the list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SortKey {
    /// Newest first (the default).
    #[default]
    Created,
    /// Largest first.
    Size,
    /// By the first tag's repository, A to Z; untagged images last.
    Repository,
    /// By the first tag's tag, A to Z; untagged images last.
    Tag,
}

/// The query of `GET /api/v1/images`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Include intermediate images (`docker images -a`).
    #[serde(default)]
    pub all: bool,
    /// A docker filter `KEY=VALUE` (dangling, reference, label, label!,
    /// before, since, until); repeatable, all must hold.
    #[serde(default)]
    pub filter: Vec<String>,
    /// The order: `created` (newest first, the default), `size` (largest
    /// first), `repository` or `tag` (A to Z, untagged last).
    #[serde(default)]
    #[param(inline)]
    pub sort: SortKey,
    /// Reverse the order.
    #[serde(default)]
    pub reverse: bool,
    /// At most this many images (default: all).
    pub limit: Option<usize>,
    /// Skip this many images first (default 0).
    #[serde(default)]
    pub offset: usize,
}

/// The answer of `GET /api/v1/images`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ImageList {
    /// The page of images.
    pub images: Vec<ImageSummary>,
    /// How many images matched, before `limit` and `offset`.
    pub total: usize,
}

/// The repository and tag of an image's first tag, if it has one.
fn repo_and_tag(image: &ImageSummary) -> Option<(&str, &str)> {
    let first = image.repo_tags.first()?;
    let name_start = first.rfind('/').map_or(0, |slash| slash + 1);
    let colon = first
        .get(name_start..)
        .and_then(|name| name.rfind(':'))
        .map(|colon| name_start + colon);
    Some(match colon {
        Some(colon) => (
            first.get(..colon).unwrap_or(first),
            first.get(colon + 1..).unwrap_or_default(),
        ),
        None => (first.as_str(), ""),
    })
}

/// Sorts images by `key`; ties are broken by ID so pages are stable.
pub fn sort_images(images: &mut [ImageSummary], key: SortKey, reverse: bool) {
    let by_name = |a: &ImageSummary, b: &ImageSummary, tag_first: bool| -> Ordering {
        match (repo_and_tag(a), repo_and_tag(b)) {
            (Some((ra, ta)), Some((rb, tb))) => {
                if tag_first {
                    ta.cmp(tb).then(ra.cmp(rb))
                } else {
                    ra.cmp(rb).then(ta.cmp(tb))
                }
            }
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        }
    };
    images.sort_by(|a, b| {
        let primary = match key {
            SortKey::Created => b.created.cmp(&a.created),
            SortKey::Size => b.size.cmp(&a.size),
            SortKey::Repository => by_name(a, b, false),
            SortKey::Tag => by_name(a, b, true),
        };
        primary.then_with(|| a.id.cmp(&b.id))
    });
    if reverse {
        images.reverse();
    }
}

/// Lists images.
#[utoipa::path(
    get,
    path = "/api/v1/images",
    tag = "images",
    params(ListQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The images", body = ImageList),
        (status = 400, description = "A bad filter or query", body = ErrorBody),
        (status = 401, description = "No or wrong token", body = ErrorBody),
        (status = 503, description = "The engine is unavailable", body = ErrorBody)
    )
)]
pub async fn list(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Response, ApiError> {
    // Answers without filters are kept while the listing is unchanged
    // (filters such as `until=` depend on the time as well).
    let version = if query.filter.is_empty() {
        state.list_answers.version()
    } else {
        None
    };
    let key = raw.unwrap_or_default();
    if let Some(body) = version.and_then(|version| state.list_answers.get(&key, version)) {
        return Ok(json_answer(body));
    }
    let filters = ImageFilters::parse(&query.filter)?;
    let options = ListOptions {
        all: query.all,
        filters,
        digests: true,
    };
    let mut images = state.service.list(&options).await?;
    sort_images(&mut images, query.sort, query.reverse);
    let total = images.len();
    let end = match query.limit {
        Some(limit) => query.offset.saturating_add(limit).min(total),
        None => total,
    };
    let images = if query.offset >= end {
        Vec::new()
    } else {
        images.drain(query.offset..end).collect()
    };
    let body = serde_json::to_vec(&ImageList { images, total })
        .map(Bytes::from)
        .map_err(|error| ImageError::backend("serializing the image list", error))?;
    if let Some(version) = version {
        state.list_answers.put(key, version, body.clone());
    }
    Ok(json_answer(body))
}

/// A `200 OK` with a JSON body.
fn json_answer(body: Bytes) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// Shows one image.
#[utoipa::path(
    get,
    path = "/api/v1/images/{image}",
    tag = "images",
    params(("image" = String, Path, description = "A reference, full ID or short ID, percent-encoded as one segment")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The image", body = ImageDetails),
        (status = 400, description = "Not a reference", body = ErrorBody),
        (status = 404, description = "No such image", body = ErrorBody)
    )
)]
pub async fn inspect(
    State(state): State<AppState>,
    ApiPath(image): ApiPath<String>,
) -> Result<Json<ImageDetails>, ApiError> {
    Ok(Json(state.service.inspect(&image).await?))
}

/// Shows an image's history, newest step first.
#[utoipa::path(
    get,
    path = "/api/v1/images/{image}/history",
    tag = "images",
    params(("image" = String, Path, description = "A reference, full ID or short ID, percent-encoded as one segment")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The history", body = Vec<HistoryEntry>),
        (status = 404, description = "No such image", body = ErrorBody)
    )
)]
pub async fn history(
    State(state): State<AppState>,
    ApiPath(image): ApiPath<String>,
) -> Result<Json<Vec<HistoryEntry>>, ApiError> {
    Ok(Json(state.service.history(&image).await?))
}

/// Lists the containers, running or stopped, that use an image.
#[utoipa::path(
    get,
    path = "/api/v1/images/{image}/containers",
    tag = "images",
    params(("image" = String, Path, description = "A reference, full ID or short ID, percent-encoded as one segment")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The containers", body = Vec<ContainerRef>),
        (status = 404, description = "No such image", body = ErrorBody)
    )
)]
pub async fn containers(
    State(state): State<AppState>,
    ApiPath(image): ApiPath<String>,
) -> Result<Json<Vec<ContainerRef>>, ApiError> {
    Ok(Json(state.service.containers_using(&image).await?))
}

/// Tells whether a tag still points at what its registry serves: the tag
/// the path names, or the image's first tag when it is named by ID. The
/// image's repo digest for the tag's repository is compared with what the
/// registry gives for the tag now (with the engine's own credentials);
/// `unknown` says why it cannot tell (never pulled from a registry, no such
/// tag there, the registry's error).
#[utoipa::path(
    get,
    path = "/api/v1/images/{image}/outdated",
    tag = "images",
    params(("image" = String, Path, description = "A reference, full ID or short ID, percent-encoded as one segment")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "up_to_date, update_available or unknown (with the reason)", body = OutdatedStatus),
        (status = 404, description = "No such image", body = ErrorBody)
    )
)]
pub async fn outdated(
    State(state): State<AppState>,
    ApiPath(image): ApiPath<String>,
) -> Result<Json<OutdatedStatus>, ApiError> {
    Ok(Json(
        image_core::outdated::check(state.service.as_ref(), &image).await?,
    ))
}

/// The body of `POST /api/v1/images/{image}/tag`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TagRequest {
    /// The new reference, `repository[:tag]`.
    pub target: String,
}

/// The answer of a tag.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TagResponse {
    /// The image, as the path named it.
    pub source: String,
    /// The new reference, as given.
    pub target: String,
}

/// Tags an image.
#[utoipa::path(
    post,
    path = "/api/v1/images/{image}/tag",
    tag = "images",
    params(("image" = String, Path, description = "The image to tag, percent-encoded as one segment")),
    request_body = TagRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Tagged", body = TagResponse),
        (status = 400, description = "A bad reference or body", body = ErrorBody),
        (status = 403, description = "Read-only server", body = ErrorBody),
        (status = 404, description = "No such image", body = ErrorBody)
    )
)]
pub async fn tag(
    State(state): State<AppState>,
    audit: AuditNote,
    ApiPath(image): ApiPath<String>,
    ApiJson(body): ApiJson<TagRequest>,
) -> Result<(StatusCode, Json<TagResponse>), ApiError> {
    audit.target(format!("{image} -> {}", body.target));
    state.service.tag(&image, &body.target).await?;
    Ok((
        StatusCode::CREATED,
        Json(TagResponse {
            source: image,
            target: body.target,
        }),
    ))
}

/// The query of `DELETE /api/v1/images/{image}`.
#[derive(Debug, Clone, Copy, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RemoveQuery {
    /// Remove even if stopped containers use it or it has several tags.
    #[serde(default)]
    pub force: bool,
    /// Do not delete untagged parents.
    #[serde(default)]
    pub no_prune: bool,
}

/// The answer of a remove.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RemoveResponse {
    /// Every untag and delete, in order.
    pub actions: Vec<RemoveAction>,
}

/// Removes an image or one of its tags, following docker's rules.
#[utoipa::path(
    delete,
    path = "/api/v1/images/{image}",
    tag = "images",
    params(
        ("image" = String, Path, description = "A reference, full ID or short ID, percent-encoded as one segment"),
        RemoveQuery
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "What was untagged and deleted", body = RemoveResponse),
        (status = 403, description = "Read-only server", body = ErrorBody),
        (status = 404, description = "No such image", body = ErrorBody),
        (status = 409, description = "In use, or must be forced", body = ErrorBody)
    )
)]
pub async fn remove(
    State(state): State<AppState>,
    audit: AuditNote,
    ApiPath(image): ApiPath<String>,
    ApiQuery(query): ApiQuery<RemoveQuery>,
) -> Result<Json<RemoveResponse>, ApiError> {
    audit.target(image.clone());
    let options = RemoveOptions {
        force: query.force,
        no_prune: query.no_prune,
    };
    let actions = state.service.remove(&image, &options).await?;
    Ok(Json(RemoveResponse { actions }))
}

fn default_true() -> bool {
    true
}

/// The body of `POST /api/v1/images/prune`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PruneRequest {
    /// Every image no container uses, not only dangling ones.
    #[serde(default)]
    pub all: bool,
    /// `until=…`, `label=…`, `label!=…` filters.
    #[serde(default)]
    pub filters: Vec<String>,
    /// Report what would be deleted, and delete nothing (the default).
    #[serde(default = "default_true")]
    pub dry_run: bool,
}

/// The answer of a prune.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PruneResponse {
    /// Whether nothing was deleted.
    pub dry_run: bool,
    /// Every untag and delete (or that would be), in order.
    pub actions: Vec<RemoveAction>,
    /// Bytes freed (or that would be).
    pub space_reclaimed: u64,
}

/// Deletes unused images, or with `dry_run` (the default) reports what it
/// would delete.
#[utoipa::path(
    post,
    path = "/api/v1/images/prune",
    tag = "images",
    request_body = PruneRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "What was (or would be) deleted", body = PruneResponse),
        (status = 400, description = "A bad filter or body", body = ErrorBody),
        (status = 403, description = "Read-only server", body = ErrorBody),
        (status = 501, description = "This engine cannot tell in advance (dry_run)", body = ErrorBody)
    )
)]
pub async fn prune(
    State(state): State<AppState>,
    audit: AuditNote,
    ApiJson(body): ApiJson<PruneRequest>,
) -> Result<Json<PruneResponse>, ApiError> {
    audit.target(format!(
        "all={} dry_run={} filters={}",
        body.all,
        body.dry_run,
        body.filters.join(",")
    ));
    let options = PruneOptions {
        all: body.all,
        filters: PruneFilters::parse(&body.filters)?,
        dry_run: body.dry_run,
    };
    let report = state.service.prune(&options).await?;
    Ok(Json(PruneResponse {
        dry_run: body.dry_run,
        actions: report.actions,
        space_reclaimed: report.space_reclaimed,
    }))
}

/// Reports the disk usage of local images.
#[utoipa::path(
    get,
    path = "/api/v1/disk-usage",
    tag = "images",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Per-image shared and unique sizes", body = DiskUsage),
        (status = 503, description = "The engine is unavailable", body = ErrorBody)
    )
)]
pub async fn disk_usage(State(state): State<AppState>) -> Result<Json<DiskUsage>, ApiError> {
    Ok(Json(state.service.disk_usage().await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(id: &str, tags: &[&str], size: u64, created: i64) -> ImageSummary {
        ImageSummary {
            id: id.to_string(),
            repo_tags: tags.iter().map(|t| t.to_string()).collect(),
            repo_digests: vec![],
            parent_id: None,
            created: chrono::DateTime::from_timestamp(created, 0),
            size,
            shared_size: None,
            labels: Default::default(),
            containers: 0,
        }
    }

    fn ids(images: &[ImageSummary]) -> Vec<&str> {
        images.iter().map(|i| i.id.as_str()).collect()
    }

    #[test]
    fn sorts_by_every_key() {
        let mut images = vec![
            image("a", &["127.0.0.1:5000/zeta:1"], 10, 100),
            image("b", &["alpine:3.20"], 30, 300),
            image("c", &[], 20, 200),
            image("d", &["alpine:3.19"], 5, 50),
        ];
        sort_images(&mut images, SortKey::Created, false);
        assert_eq!(ids(&images), ["b", "c", "a", "d"]);
        sort_images(&mut images, SortKey::Created, true);
        assert_eq!(ids(&images), ["d", "a", "c", "b"]);
        sort_images(&mut images, SortKey::Size, false);
        assert_eq!(ids(&images), ["b", "c", "a", "d"]);
        sort_images(&mut images, SortKey::Repository, false);
        assert_eq!(ids(&images), ["a", "d", "b", "c"]);
        sort_images(&mut images, SortKey::Tag, false);
        assert_eq!(ids(&images), ["a", "d", "b", "c"]);
    }

    #[test]
    fn splits_repository_and_tag_at_the_last_colon_of_the_name() {
        let i = image("a", &["127.0.0.1:5000/app:v1"], 0, 0);
        assert_eq!(repo_and_tag(&i), Some(("127.0.0.1:5000/app", "v1")));
        let i = image("a", &["127.0.0.1:5000/app"], 0, 0);
        assert_eq!(repo_and_tag(&i), Some(("127.0.0.1:5000/app", "")));
        assert_eq!(repo_and_tag(&image("a", &[], 0, 0)), None);
    }
}
