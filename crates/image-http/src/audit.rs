//! The audit log: one `tracing` event (target `imgd::audit`) per request
//! that may change images, with its route, method, target image, outcome and
//! duration. Rejected requests (401, 403, bad input) are logged too. For an
//! NDJSON stream the event is written when the stream ends, with the
//! stream's real outcome (`ok`, an error kind, `client_disconnected` or
//! `cancelled` at shutdown). Scheduled cleanups write the same record
//! ([`scheduled`]). Bodies are never logged, so registry credentials never
//! are.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::extract::{FromRequestParts, MatchedPath, Request};
use axum::http::Method;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;

use crate::auth::is_mutating;
use crate::error::ErrorKindTag;
use crate::metrics::UNMATCHED;

/// The audit record of one mutating request, shared between the middleware
/// and the handler (which names the target and may hand the record to a
/// stream).
#[derive(Debug)]
struct Entry {
    route: String,
    method: Method,
    start: Instant,
    target: OnceLock<String>,
    /// Set when a stream took over writing the record.
    streamed: OnceLock<()>,
}

/// A handler's handle on the audit record of its request; a no-op for
/// requests that are not audited.
#[derive(Debug, Clone, Default)]
pub struct AuditNote(Option<Arc<Entry>>);

impl AuditNote {
    /// Names the image or reference the request is about.
    pub fn target(&self, target: impl Into<String>) {
        if let Some(entry) = &self.0 {
            let _ = entry.target.set(target.into());
        }
    }

    /// Hands the record to a stream: the middleware no longer writes it, and
    /// the returned [`StreamAudit`] writes it when dropped.
    pub fn into_stream(self) -> StreamAudit {
        if let Some(entry) = &self.0 {
            let _ = entry.streamed.set(());
        }
        StreamAudit {
            note: self,
            outcome: "client_disconnected".to_string(),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for AuditNote {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<AuditNote>()
            .cloned()
            .unwrap_or_default())
    }
}

/// The audit record of a stream: written when the stream ends or is dropped.
#[derive(Debug)]
pub struct StreamAudit {
    note: AuditNote,
    outcome: String,
}

impl StreamAudit {
    /// Sets the outcome to write (`ok`, an error kind, `cancelled`).
    pub fn outcome(&mut self, outcome: impl Into<String>) {
        self.outcome = outcome.into();
    }
}

impl Drop for StreamAudit {
    fn drop(&mut self) {
        if let Some(entry) = &self.note.0 {
            log(entry, None, &self.outcome);
        }
    }
}

fn log(entry: &Entry, status: Option<u16>, outcome: &str) {
    let target = entry.target.get().map_or("", String::as_str);
    let duration_ms = entry.start.elapsed().as_secs_f64() * 1000.0;
    tracing::info!(
        target: "imgd::audit",
        route = %entry.route,
        method = %entry.method,
        "target" = %target,
        status = status,
        outcome = %outcome,
        streamed = entry.streamed.get().is_some(),
        duration_ms,
        "audit"
    );
}

/// Records a change the server made by itself (a scheduled cleanup): the
/// same fields as a request's record, with `method` `SCHEDULED`, `route`
/// naming the task and no status.
pub fn scheduled(task: &str, target: &str, outcome: &str, duration: Duration) {
    tracing::info!(
        target: "imgd::audit",
        route = %task,
        method = "SCHEDULED",
        "target" = %target,
        status = Option::<u16>::None,
        outcome = %outcome,
        streamed = false,
        duration_ms = duration.as_secs_f64() * 1000.0,
        "audit"
    );
}

/// Middleware: records every mutating `/api/` request.
pub async fn record(mut request: Request, next: Next) -> Response {
    if !is_mutating(request.method()) || !request.uri().path().starts_with("/api/") {
        return next.run(request).await;
    }
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or(UNMATCHED.to_string(), |path| path.as_str().to_string());
    let entry = Arc::new(Entry {
        route,
        method: request.method().clone(),
        start: Instant::now(),
        target: OnceLock::new(),
        streamed: OnceLock::new(),
    });
    request
        .extensions_mut()
        .insert(AuditNote(Some(entry.clone())));
    let response = next.run(request).await;
    if entry.streamed.get().is_none() {
        let outcome = response
            .extensions()
            .get::<ErrorKindTag>()
            .map_or_else(|| "ok".to_string(), |tag| tag.0.to_string());
        log(&entry, Some(response.status().as_u16()), &outcome);
    }
    response
}
