//! Handlers for retention policies: `POST /api/v1/cleanup` plans a policy
//! on a snapshot of the engine and, when asked (`dry_run: false`), carries
//! the plan out; `GET /api/v1/cleanup/reports` lists the scheduled runs
//! (see [`crate::cleanup`]).

use axum::Json;
use axum::extract::State;
use chrono::Utc;
use image_core::ImageError;
use image_core::retention::{self, CleanupPlan, CleanupReport, RetentionPolicy};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AppState;
use crate::audit::AuditNote;
use crate::cleanup::{CleanupRun, Schedule};
use crate::error::{ApiError, ErrorBody};
use crate::extract::ApiJson;

fn default_true() -> bool {
    true
}

/// The body of `POST /api/v1/cleanup`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CleanupRequest {
    /// The policy, as in a `--cleanup-policy` file but in JSON:
    /// `{"rules":[{"repository":["myapp"],"keep_last":3,"keep":["production"],
    /// "older_than":"720h","order":"created","dangling":false}]}`. A policy
    /// that does not hold is a 400 `invalid_argument`.
    #[schema(value_type = RetentionPolicy)]
    pub policy: serde_json::Value,
    /// Only plan, change nothing (the default).
    #[serde(default = "default_true")]
    pub dry_run: bool,
}

/// The answer of a cleanup.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CleanupResponse {
    /// Whether nothing was carried out.
    pub dry_run: bool,
    /// What the policy removes and keeps, and the bytes it frees.
    pub plan: CleanupPlan,
    /// What was done (absent for a dry run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<CleanupReport>,
}

/// Reads a policy from JSON and checks it; every problem is an
/// `invalid_argument` naming what is wrong.
fn policy_of(value: serde_json::Value) -> Result<RetentionPolicy, ImageError> {
    let policy: RetentionPolicy = serde_json::from_value(value)
        .map_err(|error| ImageError::invalid_argument(format!("retention policy: {error}")))?;
    policy.validate()?;
    Ok(policy)
}

/// Plans a retention policy on the engine as it is now and, with
/// `dry_run: false`, carries the plan out (never forced: the engine still
/// refuses anything a container uses, and anything that changed since the
/// plan is skipped). Like every POST, refused with `--read-only`, dry runs
/// included.
#[utoipa::path(
    post,
    path = "/api/v1/cleanup",
    tag = "cleanup",
    request_body = CleanupRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The plan, and the report unless a dry run", body = CleanupResponse),
        (status = 400, description = "A bad policy (invalid_argument) or body (bad_request)", body = ErrorBody),
        (status = 403, description = "Read-only server", body = ErrorBody),
        (status = 501, description = "This engine cannot take snapshots", body = ErrorBody),
        (status = 503, description = "The engine is unavailable", body = ErrorBody)
    )
)]
pub async fn cleanup(
    State(state): State<AppState>,
    audit: AuditNote,
    ApiJson(body): ApiJson<CleanupRequest>,
) -> Result<Json<CleanupResponse>, ApiError> {
    let policy = policy_of(body.policy)?;
    let repositories: Vec<&str> = policy
        .rules
        .iter()
        .flat_map(|rule| rule.repository.iter().map(String::as_str))
        .collect();
    audit.target(format!(
        "dry_run={} repositories={}",
        body.dry_run,
        repositories.join(",")
    ));
    let snapshot = state.service.snapshot().await?;
    let plan = retention::plan(&snapshot, &policy, Utc::now())?;
    let report = if body.dry_run {
        None
    } else {
        Some(retention::execute(state.service.as_ref(), &plan).await)
    };
    Ok(Json(CleanupResponse {
        dry_run: body.dry_run,
        plan,
        report,
    }))
}

/// The answer of `GET /api/v1/cleanup/reports`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CleanupReports {
    /// The schedule (`--cleanup-policy`, `--cleanup-every`), or `null`
    /// when none runs.
    pub schedule: Option<Schedule>,
    /// The last scheduled runs, newest first (at most 50).
    pub reports: Vec<CleanupRun>,
}

/// Lists the last scheduled cleanups, newest first, with the schedule.
/// Each run has its plan and, unless the server is read-only (then it only
/// plans), its report; a run that failed has its error instead.
#[utoipa::path(
    get,
    path = "/api/v1/cleanup/reports",
    tag = "cleanup",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The scheduled runs kept in memory", body = CleanupReports),
        (status = 401, description = "No or wrong token", body = ErrorBody)
    )
)]
pub async fn reports(State(state): State<AppState>) -> Json<CleanupReports> {
    Json(CleanupReports {
        schedule: state.cleanup_runs.schedule(),
        reports: state.cleanup_runs.newest_first(),
    })
}
