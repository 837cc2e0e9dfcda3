//! Streams in and out of the server: NDJSON progress responses (one
//! [`ProgressEvent`] per line, ending with a `done` or an `error` line),
//! archive downloads, and request bodies read as a [`ByteStream`] under a
//! size limit that fails mid-stream.
//!
//! A response stream owns the core stream, the work slot and the audit
//! record: when the client goes away the body is dropped, which drops the
//! core stream (cancelling the work), frees the slot and writes the audit
//! record. At shutdown a progress stream ends with an `error` line of kind
//! `cancelled`.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::body::Body;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::StreamExt as _;
use image_core::{ByteStream, ImageError, ProgressEvent, ProgressStream};
use serde::Serialize;
use tokio_util::sync::CancellationToken;
use utoipa::ToSchema;

use crate::audit::StreamAudit;
use crate::error::{ApiError, ErrorDetail};
use crate::metrics::InFlight;
use crate::queue::Slot;

/// The NDJSON media type.
pub const NDJSON: &str = "application/x-ndjson";

/// One line of an NDJSON progress stream: a [`ProgressEvent`] or, as the
/// last line of a failed operation, `{"type":"error","error":{...}}`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum StreamLine {
    /// A progress event; the last line of a successful operation is `done`.
    Event(ProgressEvent),
    /// The operation failed; always the last line.
    Error(ErrorLine),
}

/// The last line of a failed operation.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorLine {
    /// Always `error`.
    #[serde(rename = "type")]
    #[schema(example = "error")]
    pub kind: &'static str,
    /// What went wrong.
    pub error: ErrorDetail,
}

impl ErrorLine {
    /// The error line of `error`.
    pub fn new(error: &ApiError) -> ErrorLine {
        ErrorLine {
            kind: "error",
            error: error.body().error,
        }
    }
}

/// What a response stream holds until it ends.
#[derive(Debug)]
pub struct StreamGuards {
    /// The server's shutdown signal.
    pub shutdown: CancellationToken,
    /// Counts the stream in the in-flight gauge.
    pub in_flight: InFlight,
    /// The work slot, for queued operations.
    pub slot: Option<Slot>,
    /// The audit record, for mutating requests.
    pub audit: StreamAudit,
    /// Set when the request body went over the size limit, so that the error
    /// it caused is reported as `payload_too_large`.
    pub overflow: Option<UploadLimit>,
}

impl StreamGuards {
    fn api_error(&self, error: ImageError) -> ApiError {
        match &self.overflow {
            Some(limit) if limit.exceeded() => ApiError::payload_too_large(limit.max),
            _ => ApiError::from(error),
        }
    }
}

fn line(value: &impl Serialize) -> Bytes {
    let mut bytes = serde_json::to_vec(value).unwrap_or_else(|error| {
        // Events are plain data; this cannot fail, but never panic on it.
        format!(
            r#"{{"type":"error","error":{{"kind":"backend","message":"encoding an event: {error}"}}}}"#
        )
        .into_bytes()
    });
    bytes.push(b'\n');
    Bytes::from(bytes)
}

struct Progress {
    events: Option<ProgressStream>,
    guards: StreamGuards,
}

/// An NDJSON response over a progress stream. The stream ends after the
/// first `done` event or error; a core stream that ends without `done` is
/// reported as an `error` line of kind `backend`.
pub fn ndjson(events: ProgressStream, guards: StreamGuards) -> Response {
    let state = Progress {
        events: Some(events),
        guards,
    };
    let body = futures::stream::unfold(state, |mut state| async move {
        let mut events = state.events.take()?;
        let shutdown = state.guards.shutdown.clone();
        let next = tokio::select! {
            biased;
            () = shutdown.cancelled() => {
                drop(events);
                let error = ApiError::shutting_down();
                state.guards.audit.outcome(error.kind().to_string());
                return Some((line(&ErrorLine::new(&error)), state));
            }
            next = events.next() => next,
        };
        let bytes = match next {
            Some(Ok(event)) => {
                let done = matches!(event, ProgressEvent::Done(_));
                if done {
                    state.guards.audit.outcome("ok");
                } else {
                    state.events = Some(events);
                }
                line(&event)
            }
            Some(Err(error)) => {
                let error = state.guards.api_error(error);
                state.guards.audit.outcome(error.kind().to_string());
                line(&ErrorLine::new(&error))
            }
            None => {
                let error = ApiError::from(ImageError::backend(
                    "the operation ended without reporting success",
                    "progress stream ended early",
                ));
                state.guards.audit.outcome(error.kind().to_string());
                line(&ErrorLine::new(&error))
            }
        };
        Some((bytes, state))
    });
    let mut response = Body::from_stream(body.map(Ok::<Bytes, Infallible>)).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(NDJSON));
    // Ask proxies not to buffer the stream.
    response
        .headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// An error from a download stream, which ends the response abruptly (the
/// client sees a truncated body, never a silently short archive).
#[derive(Debug)]
struct DownloadError(String);

impl std::fmt::Display for DownloadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DownloadError {}

/// A download response over a byte stream (`save`). An error, or shutdown,
/// aborts the body.
pub fn download(
    bytes: ByteStream,
    shutdown: CancellationToken,
    in_flight: InFlight,
    content_type: &'static str,
    filename: &'static str,
) -> Response {
    let body = futures::stream::unfold(
        (Some(bytes), shutdown, in_flight),
        |(bytes, shutdown, in_flight)| async move {
            let mut bytes = bytes?;
            let next = tokio::select! {
                biased;
                () = shutdown.cancelled() => {
                    return Some((Err(DownloadError("the server is shutting down".into())), (None, shutdown, in_flight)));
                }
                next = bytes.next() => next,
            };
            match next {
                Some(Ok(chunk)) => Some((Ok(chunk), (Some(bytes), shutdown, in_flight))),
                Some(Err(error)) => {
                    tracing::warn!(%error, "download stream failed");
                    Some((
                        Err(DownloadError(error.to_string())),
                        (None, shutdown, in_flight),
                    ))
                }
                None => None,
            }
        },
    );
    let mut response = Body::from_stream(body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

/// The size limit of one request body; remembers whether it was exceeded.
#[derive(Debug, Clone)]
pub struct UploadLimit {
    max: u64,
    exceeded: Arc<AtomicBool>,
}

impl UploadLimit {
    /// A limit of `max` bytes.
    pub fn new(max: u64) -> UploadLimit {
        UploadLimit {
            max,
            exceeded: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The limit in bytes.
    pub fn max(&self) -> u64 {
        self.max
    }

    /// Whether the body went over the limit.
    pub fn exceeded(&self) -> bool {
        self.exceeded.load(Ordering::SeqCst)
    }

    /// The error to answer when the body went over the limit, or else
    /// `error` mapped as usual.
    pub fn explain(&self, error: ImageError) -> ApiError {
        if self.exceeded() {
            ApiError::payload_too_large(self.max)
        } else {
            ApiError::from(error)
        }
    }

    /// Reads `body` as a byte stream that fails (and marks the limit
    /// exceeded) as soon as more than `max` bytes have arrived. A body that
    /// breaks off is an `invalid_argument` error.
    pub fn stream(&self, body: Body) -> ByteStream {
        let limit = self.clone();
        let mut seen: u64 = 0;
        let mut failed = false;
        body.into_data_stream()
            .map(move |chunk| {
                if failed {
                    return Err(ImageError::invalid_argument("the upload already failed"));
                }
                let chunk = chunk.map_err(|error| {
                    failed = true;
                    ImageError::invalid_argument(format!("reading the upload: {error}"))
                })?;
                seen = seen.saturating_add(chunk.len() as u64);
                if seen > limit.max {
                    failed = true;
                    limit.exceeded.store(true, Ordering::SeqCst);
                    return Err(ImageError::invalid_argument(format!(
                        "the upload is larger than this server's limit of {} bytes (imgd --max-body)",
                        limit.max
                    )));
                }
                Ok(chunk)
            })
            .boxed()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use futures::TryStreamExt as _;

    use super::*;

    #[tokio::test]
    async fn the_limit_fails_mid_stream() {
        let chunks: Vec<Result<Bytes, Infallible>> = vec![
            Ok(Bytes::from_static(b"12345")),
            Ok(Bytes::from_static(b"67890")),
            Ok(Bytes::from_static(b"x")),
        ];
        let limit = UploadLimit::new(10);
        let stream = limit.stream(Body::from_stream(futures::stream::iter(chunks)));
        let mut stream = stream;
        assert_eq!(stream.try_next().await.unwrap().unwrap().len(), 5);
        assert_eq!(stream.try_next().await.unwrap().unwrap().len(), 5);
        assert!(!limit.exceeded());
        let error = stream.try_next().await.unwrap_err();
        assert!(limit.exceeded());
        let api = limit.explain(error);
        assert_eq!(
            (api.status().as_u16(), api.kind()),
            (413, "payload_too_large")
        );
    }

    #[tokio::test]
    async fn within_the_limit_passes_everything() {
        let limit = UploadLimit::new(10);
        let stream = limit.stream(Body::from("0123456789"));
        let chunks: Vec<Bytes> = stream.try_collect().await.unwrap();
        assert_eq!(chunks.concat(), b"0123456789");
        assert!(!limit.exceeded());
        let api = limit.explain(ImageError::not_found("x"));
        assert_eq!(api.kind(), "not_found");
    }
}
