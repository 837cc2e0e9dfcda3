//! The one error shape of the API, `{"error":{"kind","message"}}`, and how
//! every failure becomes it: image-core's [`ImageError`] by its
//! [`ErrorKind`], axum's own rejections (bad JSON, bad
//! query, bad path), unknown routes, wrong methods, oversized bodies, a
//! missing token, read-only mode and a full work queue. Bad input is always a
//! 4xx; only backend failures are 5xx.

use std::borrow::Cow;
use std::error::Error as _;

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use image_core::{ErrorKind, ImageError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The status nginx and others use for "client closed request"; the contract
/// answers `cancelled` with it.
const CLIENT_CLOSED_REQUEST: u16 = 499;

/// An API error: an HTTP status, a stable kind and a message for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    status: StatusCode,
    kind: Cow<'static, str>,
    message: String,
}

/// The JSON body of every error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// What went wrong, in an [`ErrorBody`] or an NDJSON `error` line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// A stable snake_case name, for example `not_found`, `invalid_filter`,
    /// `unauthorized`, `read_only`, `payload_too_large` or `busy`.
    pub kind: String,
    /// What went wrong and what to do next, for people.
    pub message: String,
}

/// The kind of an error response, kept in the response's extensions so that
/// metrics and the audit log can read it without parsing the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorKindTag(pub Cow<'static, str>);

impl ApiError {
    /// An error with an explicit status and kind.
    pub fn new(
        status: StatusCode,
        kind: impl Into<Cow<'static, str>>,
        message: impl Into<String>,
    ) -> ApiError {
        ApiError {
            status,
            kind: kind.into(),
            message: message.into(),
        }
    }

    /// 400 `bad_request`: the request itself is malformed.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 401 `unauthorized`: no token, or the wrong one.
    pub fn unauthorized() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing or wrong API token: send `Authorization: Bearer <token>` with the token imgd printed at start-up (or IMGD_TOKEN / --token-file)",
        )
    }

    /// 403 `read_only`: the server was started with `--read-only`.
    pub fn read_only(method: &Method, path: &str) -> ApiError {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "read_only",
            format!("{method} {path} changes images, and this imgd runs with --read-only"),
        )
    }

    /// 404 `not_found` for a path no route serves.
    pub fn no_route(method: &Method, uri: &Uri) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!(
                "no route for {method} {}: see /openapi.json for the API",
                uri.path()
            ),
        )
    }

    /// 405 `bad_request` for a route that exists with other methods.
    pub fn wrong_method(method: &Method, uri: &Uri) -> ApiError {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "bad_request",
            format!(
                "{} does not accept {method}: see /openapi.json for its methods",
                uri.path()
            ),
        )
    }

    /// 413 `payload_too_large`.
    pub fn payload_too_large(limit: u64) -> ApiError {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!(
                "the request body is larger than this server's limit of {limit} bytes (imgd --max-body)"
            ),
        )
    }

    /// 503 `busy`: the work queue is full.
    pub fn busy(running: usize, queued: usize) -> ApiError {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            format!(
                "the server is busy: {running} pulls, pushes or builds are running and {queued} are queued; try again later"
            ),
        )
    }

    /// `cancelled` because the server is shutting down.
    pub fn shutting_down() -> ApiError {
        ApiError::new(
            cancelled_status(),
            ErrorKind::Cancelled.as_str(),
            "the server is shutting down; the operation was cancelled",
        )
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The kind, for example `not_found`.
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The JSON body.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                kind: self.kind.to_string(),
                message: self.message.clone(),
            },
        }
    }
}

fn cancelled_status() -> StatusCode {
    StatusCode::from_u16(CLIENT_CLOSED_REQUEST).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// The message of an image error, with the chain of its sources for backend
/// errors (whose own text says only what was being done).
fn message_of(error: &ImageError) -> String {
    let mut message = error.to_string();
    if matches!(error, ImageError::Backend { .. }) {
        let mut source = error.source();
        while let Some(cause) = source {
            let text = cause.to_string();
            if !message.contains(&text) {
                message.push_str(": ");
                message.push_str(&text);
            }
            source = cause.source();
        }
    }
    message
}

impl From<ImageError> for ApiError {
    fn from(error: ImageError) -> ApiError {
        let message = message_of(&error);
        let kind = error.kind();
        let (status, name) = match kind {
            ErrorKind::InvalidReference | ErrorKind::InvalidFilter | ErrorKind::InvalidArgument => {
                (StatusCode::BAD_REQUEST, kind.as_str())
            }
            ErrorKind::NotFound => (StatusCode::NOT_FOUND, kind.as_str()),
            ErrorKind::Conflict => (StatusCode::CONFLICT, kind.as_str()),
            // A registry refused the credentials: that is the registry's
            // answer, not this API's 401.
            ErrorKind::Unauthorized => (StatusCode::BAD_GATEWAY, "registry_unauthorized"),
            ErrorKind::Registry => (StatusCode::BAD_GATEWAY, kind.as_str()),
            ErrorKind::EngineUnavailable => (StatusCode::SERVICE_UNAVAILABLE, kind.as_str()),
            ErrorKind::NotSupported => (StatusCode::NOT_IMPLEMENTED, kind.as_str()),
            ErrorKind::Cancelled => (cancelled_status(), kind.as_str()),
            ErrorKind::Backend => (StatusCode::INTERNAL_SERVER_ERROR, kind.as_str()),
            other => (StatusCode::INTERNAL_SERVER_ERROR, other.as_str()),
        };
        ApiError::new(status, name, message)
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> ApiError {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("the JSON body is too large: {}", rejection.body_text()),
            );
        }
        ApiError::bad_request(format!("bad JSON body: {}", rejection.body_text()))
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> ApiError {
        ApiError::bad_request(format!("bad path: {}", rejection.body_text()))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = self.body();
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response.extensions_mut().insert(ErrorKindTag(self.kind));
        response
    }
}

/// The fallback for paths no route serves.
pub async fn no_route(method: Method, uri: Uri) -> ApiError {
    ApiError::no_route(&method, &uri)
}

/// The fallback for routes called with a method they do not accept.
pub async fn wrong_method(method: Method, uri: Uri) -> ApiError {
    ApiError::wrong_method(&method, &uri)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image_core::{AuthFailure, ConflictReason};

    fn mapped(error: ImageError) -> (u16, String) {
        let api = ApiError::from(error);
        (api.status().as_u16(), api.kind().to_string())
    }

    #[test]
    fn image_errors_map_to_the_contract_statuses() {
        let reference_error = image_core::Reference::parse_normalized("UPPER")
            .err()
            .map(|e| ImageError::invalid_reference("UPPER", e));
        let cases = [
            (ImageError::not_found("a"), 404, "not_found"),
            (
                ImageError::invalid_filter_key("bogus"),
                400,
                "invalid_filter",
            ),
            (ImageError::invalid_argument("x"), 400, "invalid_argument"),
            (
                ImageError::Conflict {
                    reference: "a".into(),
                    reason: ConflictReason::MultipleReferences,
                    message: "conflict".into(),
                },
                409,
                "conflict",
            ),
            (
                ImageError::Unauthorized {
                    kind: AuthFailure::Unauthorized,
                    registry: "r".into(),
                    message: "no".into(),
                },
                502,
                "registry_unauthorized",
            ),
            (
                ImageError::Registry {
                    registry: "r".into(),
                    message: "down".into(),
                },
                502,
                "registry",
            ),
            (
                ImageError::EngineUnavailable {
                    endpoint: "unix:///x".into(),
                    hint: "start it".into(),
                },
                503,
                "engine_unavailable",
            ),
            (
                ImageError::not_supported("search", "memory"),
                501,
                "not_supported",
            ),
            (ImageError::Cancelled, 499, "cancelled"),
            (
                ImageError::backend("writing", std::io::Error::other("disk on fire")),
                500,
                "backend",
            ),
        ];
        for (error, status, kind) in cases {
            assert_eq!(mapped(error), (status, kind.to_string()));
        }
        let (status, kind) = mapped(reference_error.expect("UPPER is not a reference"));
        assert_eq!((status, kind.as_str()), (400, "invalid_reference"));
    }

    #[test]
    fn backend_messages_keep_their_cause() {
        let api = ApiError::from(ImageError::backend(
            "writing layer",
            std::io::Error::other("disk on fire"),
        ));
        assert_eq!(api.message(), "writing layer: disk on fire");
    }

    #[test]
    fn unauthorized_says_bearer() {
        let response = ApiError::unauthorized().into_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            response.headers().get(header::WWW_AUTHENTICATE),
            Some(&HeaderValue::from_static("Bearer"))
        );
        assert_eq!(
            response.extensions().get::<ErrorKindTag>(),
            Some(&ErrorKindTag("unauthorized".into()))
        );
    }
}
